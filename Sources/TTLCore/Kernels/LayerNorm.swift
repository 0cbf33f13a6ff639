/// Layer normalization (ONNX LayerNormalization, `torch.nn.LayerNorm`): each row of the
/// trailing axes from `axis` on is normalized to zero mean and unit variance, then scaled and
/// shifted elementwise, `y = (x − mean) / √(var + ε) · scale + bias`.
public enum LayerNorm {
    /// What backward needs: the normalized input and each row's 1/σ.
    public struct Cache {
        public var normalized: Tensor
        public var inverseDeviation: [Float]
    }

    /// - Parameters:
    ///   - input: any shape; rows are the trailing axes from `axis` (`[outer, inner]` flattened)
    ///   - scale, bias: `inner` elements each (bias optional)
    /// - Returns: the input's shape, and the cache for ``backward(outputGradient:cache:scale:hasBias:)``
    public static func forward(_ input: Tensor, scale: Tensor, bias: Tensor?, inner: Int, epsilon: Float) -> (Tensor, Cache) {
        let total = input.shape.count
        precondition(inner > 0 && total % inner == 0 && scale.shape.count == inner && (bias?.shape.count ?? inner) == inner,
                     "layer norm: rows of \(inner) in \(input.shape), scale \(scale.shape)")
        let rows = total / inner
        var inverse = [Float](repeating: 0, count: rows)
        var normalized = Tensor(zeros: input.shape)
        let y = input.withUnsafeBufferPointer { x in
            scale.withUnsafeBufferPointer { g in
                normalized.withUnsafeMutableBufferPointer { xh in
                    Tensor(uninitialized: input.shape) { y in
                        let b = bias?.scalars
                        for r in 0 ..< rows {
                            let o = r * inner
                            var mean: Float = 0
                            for i in 0 ..< inner { mean += x[o + i] }
                            mean /= Float(inner)
                            var variance: Float = 0
                            for i in 0 ..< inner { let d = x[o + i] - mean; variance += d * d }
                            variance /= Float(inner)
                            let inv = 1 / (variance + epsilon).squareRoot()
                            inverse[r] = inv
                            for i in 0 ..< inner {
                                let n = (x[o + i] - mean) * inv
                                xh[o + i] = n
                                y[o + i] = n * g[i] + (b?[i] ?? 0)
                            }
                        }
                    }
                }
            }
        }
        return (y, Cache(normalized: normalized, inverseDeviation: inverse))
    }

    /// Gradients of the input, the scale and the bias (the bias's also when there was none).
    public static func backward(outputGradient dy: Tensor, cache: Cache, scale: Tensor) -> (input: Tensor, scale: Tensor, bias: Tensor) {
        let inner = scale.shape.count, rows = cache.inverseDeviation.count
        precondition(dy.shape == cache.normalized.shape, "layer norm backward: gradient \(dy.shape)")
        var dScale = Tensor(zeros: scale.shape), dBias = Tensor(zeros: scale.shape)
        let dx = dy.withUnsafeBufferPointer { g in
            cache.normalized.withUnsafeBufferPointer { xh in
                scale.withUnsafeBufferPointer { s in
                    dScale.withUnsafeMutableBufferPointer { ds in
                        dBias.withUnsafeMutableBufferPointer { db in
                            Tensor(uninitialized: dy.shape) { dx in
                                for r in 0 ..< rows {
                                    let o = r * inner
                                    // With h = dy · scale: dx = (h − mean(h) − x̂ · mean(h · x̂)) / σ.
                                    var meanH: Float = 0, meanHX: Float = 0
                                    for i in 0 ..< inner {
                                        let h = g[o + i] * s[i]
                                        meanH += h
                                        meanHX += h * xh[o + i]
                                        ds[i] += g[o + i] * xh[o + i]
                                        db[i] += g[o + i]
                                    }
                                    meanH /= Float(inner)
                                    meanHX /= Float(inner)
                                    let inv = cache.inverseDeviation[r]
                                    for i in 0 ..< inner {
                                        dx[o + i] = (g[o + i] * s[i] - meanH - xh[o + i] * meanHX) * inv
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dx, dScale, dBias)
    }
}
