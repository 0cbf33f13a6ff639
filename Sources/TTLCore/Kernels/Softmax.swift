import Foundation

/// Softmax along one axis (ONNX Softmax from opset 13, `torch.softmax(dim:)`).
public enum Softmax {
    /// (outer, axis length, inner) of `shape` around `axis`.
    static func split(_ s: Shape, _ axis: Int) -> (Int, Int, Int) {
        let a = axis < 0 ? axis + s.rank : axis
        precondition(a >= 0 && a < s.rank, "softmax axis \(axis) for \(s)")
        return (s.dimensions[..<a].reduce(1, *), s[a], s.dimensions[(a + 1)...].reduce(1, *))
    }

    /// `exp(x − max) / Σ exp(x − max)` over each slice along `axis` (negative counts from the end).
    /// - Returns: same shape as `input`, each slice along `axis` summing to 1.
    public static func forward(_ input: Tensor, axis: Int = -1) -> Tensor {
        let (outer, len, inner) = split(input.shape, axis)
        return input.withUnsafeBufferPointer { x in
            Tensor(uninitialized: input.shape) { y in
                parallelFor(outer * inner, costPerItem: len * 4) { job in
                    let base = (job / inner) * len * inner + job % inner
                    var mx = -Float.infinity
                    for i in 0 ..< len { mx = max(mx, x[base + i * inner]) }
                    var sum: Float = 0
                    for i in 0 ..< len { let e = expf(x[base + i * inner] - mx); y[base + i * inner] = e; sum += e }
                    for i in 0 ..< len { y[base + i * inner] /= sum }
                }
            }
        }
    }

    /// dx = y ⊙ (dy − Σ(dy ⊙ y)) along `axis`, from the forward *output* y.
    public static func backward(outputGradient dy: Tensor, output y: Tensor, axis: Int = -1) -> Tensor {
        precondition(dy.shape == y.shape)
        let (outer, len, inner) = split(y.shape, axis)
        return dy.withUnsafeBufferPointer { g in
            y.withUnsafeBufferPointer { p in
                Tensor(uninitialized: y.shape) { dx in
                    for job in 0 ..< outer * inner {
                        let base = (job / inner) * len * inner + job % inner
                        var dot: Float = 0
                        for i in 0 ..< len { dot += g[base + i * inner] * p[base + i * inner] }
                        for i in 0 ..< len { dx[base + i * inner] = p[base + i * inner] * (g[base + i * inner] - dot) }
                    }
                }
            }
        }
    }
}

/// Softmax cross-entropy over class logits, averaged over the batch, with label smoothing
/// (PyTorch `CrossEntropyLoss(label_smoothing: ε)`): the target distribution is
/// `(1 − ε) · onehot(label) + ε / C`.
public enum SoftmaxCrossEntropy {
    /// What backward needs: the softmax probabilities `[N, C]`.
    public struct Cache { public var probabilities: Tensor }

    /// The mean smoothed cross-entropy of the batch, and the probabilities for backward.
    /// - Parameters:
    ///   - logits: `[N, C]`
    ///   - labels: N class indices in `0 ..< C`
    /// - Returns: the mean loss over the batch.
    public static func forward(logits: Tensor, labels: [Int], labelSmoothing eps: Float = 0) -> (loss: Float, cache: Cache) {
        precondition(logits.rank == 2 && logits.shape[0] == labels.count, "cross-entropy: logits \(logits.shape), \(labels.count) labels")
        let (n, c) = (logits.shape[0], logits.shape[1])
        precondition(labels.allSatisfy { $0 >= 0 && $0 < c }, "cross-entropy: label outside 0..<\(c)")
        var total = 0.0
        let probs = logits.withUnsafeBufferPointer { x in
            Tensor(uninitialized: logits.shape) { p in
                for i in 0 ..< n {
                    let row = x.baseAddress! + i * c
                    var mx = -Float.infinity
                    for j in 0 ..< c { mx = max(mx, row[j]) }
                    var sum: Double = 0
                    for j in 0 ..< c { sum += Double(expf(row[j] - mx)) }
                    let logZ = Double(mx) + log(sum)
                    var rowLoss = 0.0
                    for j in 0 ..< c {
                        let logp = Double(row[j]) - logZ
                        p[i * c + j] = Float(exp(logp))
                        let q = Double(eps) / Double(c) + (j == labels[i] ? 1 - Double(eps) : 0)
                        rowLoss -= q * logp
                    }
                    total += rowLoss
                }
            }
        }
        return (Float(total / Double(max(n, 1))), Cache(probabilities: probs))
    }

    /// dL/dlogits = (softmax − target) / N, times `lossGradient` (dL/dloss, 1 for the loss itself).
    /// - Returns: `[N, C]`
    public static func backward(cache: Cache, labels: [Int], labelSmoothing eps: Float = 0, lossGradient: Float = 1) -> Tensor {
        let (n, c) = (cache.probabilities.shape[0], cache.probabilities.shape[1])
        let scale = lossGradient / Float(max(n, 1))
        return cache.probabilities.withUnsafeBufferPointer { p in
            Tensor(uninitialized: cache.probabilities.shape) { d in
                for i in 0 ..< n {
                    for j in 0 ..< c {
                        let q = eps / Float(c) + (j == labels[i] ? 1 - eps : 0)
                        d[i * c + j] = (p[i * c + j] - q) * scale
                    }
                }
            }
        }
    }
}
