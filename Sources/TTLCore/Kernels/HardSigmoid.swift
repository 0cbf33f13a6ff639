/// Hard sigmoid, `max(0, min(1, alpha · x + beta))`. Any shape.
/// ONNX's defaults are alpha 0.2, beta 0.5; PyTorch's `hardsigmoid` is alpha 1/6, beta 0.5.
public enum HardSigmoid {
    /// ONNX's default alpha, 0.2.
    public static let onnxAlpha: Float = 0.2
    /// The alpha of PyTorch's `hardsigmoid`, 1/6.
    public static let torchAlpha: Float = 1.0 / 6.0

    /// The hard sigmoid of each element; same shape as `x`.
    public static func forward(_ x: Tensor, alpha: Float = onnxAlpha, beta: Float = 0.5) -> Tensor {
        x.map { min(1, max(0, alpha * $0 + beta)) }
    }
    /// dx = alpha · dy inside the linear part (0 < alpha·x + beta < 1), else 0.
    public static func backward(outputGradient dy: Tensor, input x: Tensor, alpha: Float = onnxAlpha, beta: Float = 0.5) -> Tensor {
        dy.zipMap(x) { g, v in
            let t = alpha * v + beta
            return t > 0 && t < 1 ? alpha * g : 0
        }
    }
}
