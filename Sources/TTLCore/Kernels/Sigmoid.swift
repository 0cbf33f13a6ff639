import Foundation

/// Logistic sigmoid, `1 / (1 + e^−x)`. Any shape.
public enum Sigmoid {
    @inlinable static func scalar(_ v: Float) -> Float {
        // Split by sign so that exp never overflows.
        v >= 0 ? 1 / (1 + expf(-v)) : { let e = expf(v); return e / (1 + e) }()
    }
    /// The sigmoid of each element, computed so that `exp` never overflows; same shape as `x`.
    public static func forward(_ x: Tensor) -> Tensor { x.map(scalar) }
    /// dx = dy · y · (1 − y), from the forward *output* y.
    public static func backward(outputGradient dy: Tensor, output y: Tensor) -> Tensor {
        dy.zipMap(y) { g, s in g * s * (1 - s) }
    }
}
