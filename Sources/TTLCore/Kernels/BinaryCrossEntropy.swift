import Foundation

/// Binary cross-entropy on logits (multi-label training), as PyTorch's
/// `binary_cross_entropy_with_logits(z, y, reduction="mean")`: every output is its own
/// two-class problem, the loss is the mean over all N·C entries.
///
/// Per entry, with t ∈ [0, 1] the target: ℓ = max(z, 0) − z·t + log(1 + e^−|z|), the
/// numerically stable form of −t·log σ(z) − (1 − t)·log(1 − σ(z)) (no overflow for any z).
public enum BinaryCrossEntropy {
    /// What backward needs: σ(z) `[N, C]`.
    public struct Cache { public var probabilities: Tensor }

    /// The mean loss over every entry, and σ(z) for backward.
    /// - Parameters:
    ///   - logits: `[N, C]`
    ///   - targets: `[N, C]`, each in [0, 1] (1: the label applies)
    public static func forward(logits: Tensor, targets: Tensor) -> (loss: Float, cache: Cache) {
        precondition(logits.rank == 2 && logits.shape == targets.shape, "binary cross-entropy: logits \(logits.shape), targets \(targets.shape)")
        var total = 0.0
        let probs = logits.withUnsafeBufferPointer { z in
            targets.withUnsafeBufferPointer { t in
                Tensor(uninitialized: logits.shape) { p in
                    for i in 0 ..< z.count {
                        let x = Double(z[i])
                        total += max(x, 0) - x * Double(t[i]) + log1p(exp(-abs(x)))
                        // σ(x) without overflow: e^x / (1 + e^x) for negative x.
                        p[i] = Float(x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)))
                    }
                }
            }
        }
        return (Float(total / Double(max(logits.count, 1))), Cache(probabilities: probs))
    }

    /// dL/dz = (σ(z) − t) / (N·C), times `lossGradient` (dL/dloss, 1 for the loss itself).
    /// - Returns: `[N, C]`
    public static func backward(cache: Cache, targets: Tensor, lossGradient: Float = 1) -> Tensor {
        precondition(cache.probabilities.shape == targets.shape)
        let scale = lossGradient / Float(max(targets.count, 1))
        return cache.probabilities.withUnsafeBufferPointer { p in
            targets.withUnsafeBufferPointer { t in
                Tensor(uninitialized: targets.shape) { d in
                    for i in 0 ..< t.count { d[i] = (p[i] - t[i]) * scale }
                }
            }
        }
    }
}
