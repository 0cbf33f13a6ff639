// Batch normalization over the channel axis of `[N, C, H, W]` (or `[N, C]`).
//
//   y = (x − μ) / √(σ² + ε) · γ + β
//
// Inference uses the running statistics. Training uses the batch's mean and biased
// variance, and updates the running statistics with PyTorch's momentum convention:
//
//   running ← (1 − momentum) · running + momentum · batch      (momentum = 0.1 by default)
//
// where the running variance takes the *unbiased* batch variance (× m / (m − 1)).
// Keras's `momentum` is the weight of the old value instead: Keras m ↔ ttl 1 − m.

/// Batch normalization over axis 1 of `[N, C, H, W]` or `[N, C]`: `y = (x − μ) / √(σ² + ε) · γ + β`.
/// Training updates the running statistics as PyTorch does: `running ← (1 − momentum) · running + momentum · batch`,
/// with the unbiased batch variance. Keras's momentum `m` is `1 − m` here.
public enum BatchNorm {
    /// The per-channel parameters and statistics; each is `[C]`.
    public struct Parameters {
        /// γ, β, and the running mean and variance, each `[C]`.
        public var scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor
        /// Added to the variance before its square root.
        public var epsilon: Float
        /// Parameters from their four `[C]` tensors and ε.
        public init(scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Float) {
            self.scale = scale; self.bias = bias; self.mean = mean; self.variance = variance; self.epsilon = epsilon
        }
    }

    static func layout(_ s: Shape) -> (n: Int, c: Int, plane: Int) {
        precondition(s.rank >= 2, "batch norm wants [N, C, ...], got \(s)")
        return (s[0], s[1], s.count / max(1, s[0] * s[1]))
    }

    // MARK: Inference

    /// Inference forward with running statistics.
    /// - Parameter input: `[N, C, H, W]` (or `[N, C]`)
    /// - Returns: same shape as `input`
    public static func inference(input: Tensor, _ p: Parameters) -> Tensor {
        let (n, c, plane) = layout(input.shape)
        let (a, b) = foldedAffine(p)
        return input.withUnsafeBufferPointer { x in
            Tensor(uninitialized: input.shape) { y in
                parallelFor(n * c, costPerItem: plane) { nc in
                    let ch = nc % c, sa = a[ch], sb = b[ch]
                    let src = x.baseAddress! + nc * plane, dst = y.baseAddress! + nc * plane
                    for i in 0 ..< plane { dst[i] = src[i] * sa + sb }
                }
            }
        }
    }

    /// BN at inference is `y = a·x + b` with `a = γ/√(σ²+ε)`, `b = β − μ·a`, per channel.
    public static func foldedAffine(_ p: Parameters) -> (scale: [Float], shift: [Float]) {
        let g = p.scale.scalars, be = p.bias.scalars, m = p.mean.scalars, v = p.variance.scalars
        precondition(g.count == be.count && g.count == m.count && g.count == v.count)
        var a = [Float](repeating: 0, count: g.count), b = a
        for i in 0 ..< g.count {
            a[i] = g[i] / (v[i] + p.epsilon).squareRoot()
            b[i] = be[i] - m[i] * a[i]
        }
        return (a, b)
    }

    /// Gradients of batch norm: `input` like the forward input, `scale` and `bias` `[C]`.
    public struct Gradients { public var input: Tensor; public var scale: Tensor; public var bias: Tensor }

    /// Inference backward: the statistics are constants.
    /// - Parameters:
    ///   - outputGradient: `[N, C, H, W]`
    ///   - input: forward input, same shape
    public static func inferenceBackward(outputGradient: Tensor, input: Tensor, _ p: Parameters) -> Gradients {
        precondition(outputGradient.shape == input.shape)
        let (n, c, plane) = layout(input.shape)
        let g = p.scale.scalars, m = p.mean.scalars, v = p.variance.scalars
        let invStd = v.map { 1 / ($0 + p.epsilon).squareRoot() }
        var dScale = [Float](repeating: 0, count: c), dBias = dScale
        let dx = outputGradient.withUnsafeBufferPointer { dy in
            input.withUnsafeBufferPointer { x in
                Tensor(uninitialized: input.shape) { dxb in
                    for ch in 0 ..< c {
                        var sdy: Float = 0, sdyx: Float = 0
                        let a = g[ch] * invStd[ch]
                        for i in 0 ..< n {
                            let o = (i * c + ch) * plane
                            for j in 0 ..< plane {
                                let d = dy[o + j]
                                sdy += d
                                sdyx += d * (x[o + j] - m[ch])
                                dxb[o + j] = d * a
                            }
                        }
                        dBias[ch] = sdy
                        dScale[ch] = sdyx * invStd[ch]
                    }
                }
            }
        }
        return Gradients(input: dx, scale: Tensor(shape: [c], scalars: dScale), bias: Tensor(shape: [c], scalars: dBias))
    }

    // MARK: Training

    /// What training backward needs: the batch mean and 1/√(σ²_batch + ε), each `[C]`.
    public struct TrainingCache { public var mean: [Float]; public var invStd: [Float] }

    /// Training forward: normalizes with batch statistics and updates `p.mean`/`p.variance`
    /// (the running statistics) in place with `momentum` (PyTorch convention, see top of file).
    /// - Parameter input: `[N, C, H, W]` (or `[N, C]`), with N·H·W > 1
    public static func training(input: Tensor, _ p: inout Parameters, momentum: Float) -> (output: Tensor, cache: TrainingCache) {
        let (n, c, plane) = layout(input.shape)
        let count = n * plane
        precondition(count > 1, "batch norm training needs more than one value per channel, got \(input.shape)")
        var mean = [Float](repeating: 0, count: c), invStd = mean, unbiased = mean
        input.withUnsafeBufferPointer { x in
            // Two passes in Double per channel: mean, then centred sum of squares.
            for ch in 0 ..< c {
                var s = 0.0
                for i in 0 ..< n { let o = (i * c + ch) * plane; for j in 0 ..< plane { s += Double(x[o + j]) } }
                let mu = s / Double(count)
                var ss = 0.0
                for i in 0 ..< n { let o = (i * c + ch) * plane; for j in 0 ..< plane { let d = Double(x[o + j]) - mu; ss += d * d } }
                mean[ch] = Float(mu)
                invStd[ch] = Float(1 / (ss / Double(count) + Double(p.epsilon)).squareRoot())
                unbiased[ch] = Float(ss / Double(count - 1))
            }
        }
        let g = p.scale.scalars, b = p.bias.scalars
        let output = input.withUnsafeBufferPointer { x in
            Tensor(uninitialized: input.shape) { y in
                parallelFor(n * c, costPerItem: plane) { nc in
                    let ch = nc % c, a = g[ch] * invStd[ch], shift = b[ch] - mean[ch] * a
                    let o = nc * plane
                    for j in 0 ..< plane { y[o + j] = x[o + j] * a + shift }
                }
            }
        }
        p.mean.withUnsafeMutableBufferPointer { rm in
            for ch in 0 ..< c { rm[ch] = (1 - momentum) * rm[ch] + momentum * mean[ch] }
        }
        p.variance.withUnsafeMutableBufferPointer { rv in
            for ch in 0 ..< c { rv[ch] = (1 - momentum) * rv[ch] + momentum * unbiased[ch] }
        }
        return (output, TrainingCache(mean: mean, invStd: invStd))
    }

    /// Training backward through the batch statistics:
    /// dx = γ·invStd/m · (m·dy − Σdy − x̂·Σ(dy·x̂)).
    public static func trainingBackward(outputGradient: Tensor, input: Tensor, scale: Tensor, cache: TrainingCache) -> Gradients {
        precondition(outputGradient.shape == input.shape)
        let (n, c, plane) = layout(input.shape)
        let m = Float(n * plane)
        let g = scale.scalars
        var dScale = [Float](repeating: 0, count: c), dBias = dScale
        let dx = outputGradient.withUnsafeBufferPointer { dy in
            input.withUnsafeBufferPointer { x in
                Tensor(uninitialized: input.shape) { dxb in
                    for ch in 0 ..< c {
                        let mu = cache.mean[ch], inv = cache.invStd[ch]
                        var sdy: Float = 0, sdyx: Float = 0
                        for i in 0 ..< n {
                            let o = (i * c + ch) * plane
                            for j in 0 ..< plane { sdy += dy[o + j]; sdyx += dy[o + j] * (x[o + j] - mu) * inv }
                        }
                        dBias[ch] = sdy
                        dScale[ch] = sdyx
                        let k = g[ch] * inv / m
                        for i in 0 ..< n {
                            let o = (i * c + ch) * plane
                            for j in 0 ..< plane {
                                let xhat = (x[o + j] - mu) * inv
                                dxb[o + j] = k * (m * dy[o + j] - sdy - xhat * sdyx)
                            }
                        }
                    }
                }
            }
        }
        return Gradients(input: dx, scale: Tensor(shape: [c], scalars: dScale), bias: Tensor(shape: [c], scalars: dBias))
    }
}
