/// Hard swish, `x · max(0, min(1, x/6 + 1/2))` (ONNX HardSwish, PyTorch hardswish). Any shape.
public enum HardSwish {
    /// The hard swish of each element; same shape as `x`.
    public static func forward(_ x: Tensor) -> Tensor {
        x.map { $0 * min(1, max(0, $0 / 6 + 0.5)) }
    }
    /// dx = 0 for x < −3, dy for x > 3, and dy · (2x + 3) / 6 between (PyTorch's convention:
    /// the middle formula also at ±3).
    public static func backward(outputGradient dy: Tensor, input x: Tensor) -> Tensor {
        dy.zipMap(x) { g, v in v < -3 ? 0 : v > 3 ? g : g * (2 * v + 3) / 6 }
    }
}
