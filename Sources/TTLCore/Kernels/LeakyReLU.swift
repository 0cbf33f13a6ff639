/// Leaky ReLU, `x > 0 ? x : slope · x` (ONNX `alpha`, PyTorch `negative_slope`). Any shape.
public enum LeakyReLU {
    /// The leaky ReLU of each element; same shape as `x`.
    public static func forward(_ x: Tensor, slope: Float = 0.01) -> Tensor { x.map { $0 > 0 ? $0 : slope * $0 } }
    /// dx = dy where x > 0, else slope · dy.
    public static func backward(outputGradient dy: Tensor, input x: Tensor, slope: Float = 0.01) -> Tensor {
        dy.zipMap(x) { g, v in v > 0 ? g : slope * g }
    }
}
