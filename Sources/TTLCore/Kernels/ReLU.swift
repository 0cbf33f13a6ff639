/// Rectified linear unit, `max(x, 0)`. Any shape.
public enum ReLU {
    /// `max(x, 0)` for each element; same shape as `x`.
    public static func forward(_ x: Tensor) -> Tensor { x.map { $0 > 0 ? $0 : 0 } }
    /// dx = dy where x > 0, else 0.
    public static func backward(outputGradient dy: Tensor, input x: Tensor) -> Tensor {
        dy.zipMap(x) { g, v in v > 0 ? g : 0 }
    }
}
