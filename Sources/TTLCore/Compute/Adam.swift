import COneDNN

/// Adam's element-wise update, vectorised in C (`ttl_vector.c`): Swift's `squareRoot()` keeps
/// glibc's errno check and with it every lane scalar. Same operations in the same order as the
/// scalar form below, so the same bits.
public enum AdamUpdate {
    /// In place over `n` elements: `m = b1·m + (1−b1)·g`, `v = b2·v + (1−b2)·g·g`,
    /// `p = p − (lr·(m/c1)) / (√(v/c2) + eps)`, with `c1`, `c2` the bias corrections.
    public static func apply(parameters p: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                             gradient g: UnsafePointer<Float>, count n: Int, learningRate lr: Float, beta1: Float, beta2: Float,
                             correction1 c1: Float, correction2 c2: Float, epsilon: Float) {
        precondition(n >= 0)
        ttl_adam_update(p, m, v, g, n, lr, beta1, beta2, c1, c2, epsilon)
    }
}
