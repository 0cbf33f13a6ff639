/// Clamp to `[min, max]` (ONNX Clip, PyTorch clamp; ReLU6 is `min: 0, max: 6`). Any shape.
public enum Clip {
    /// Each element clamped to `[min, max]`; same shape as `x`.
    public static func forward(_ x: Tensor, min lo: Float = -.infinity, max hi: Float = .infinity) -> Tensor {
        x.map { Swift.min(Swift.max($0, lo), hi) }
    }
    /// dx = dy where lo ≤ x ≤ hi (PyTorch clamp's convention at the bounds), else 0.
    public static func backward(outputGradient dy: Tensor, input x: Tensor, min lo: Float = -.infinity, max hi: Float = .infinity) -> Tensor {
        dy.zipMap(x) { g, v in v >= lo && v <= hi ? g : 0 }
    }
}
