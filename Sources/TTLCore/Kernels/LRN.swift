// Local response normalization across channels (ONNX LRN, AlexNet/GoogLeNet/ZFNet;
// https://onnx.ai/onnx/operators/onnx__LRN.html):
//   square_sum[n,c,h,w] = Σ_{i = c − ⌊(size−1)/2⌋ … c + ⌈(size−1)/2⌉, 0 ≤ i < C} x[n,i,h,w]²
//   y = x · (bias + alpha/size · square_sum)^(−beta)
import Foundation

/// Local response normalization over the channels of `[N, C, H, W]`.
public enum LRN {
    /// The constants of one LRN.
    public struct Options: Sendable, Equatable {
        /// Channels summed over (odd in practice; an even size reaches one further ahead).
        public var size: Int
        public var alpha: Float, beta: Float, bias: Float
        public init(size: Int, alpha: Float = 1e-4, beta: Float = 0.75, bias: Float = 1) {
            self.size = size; self.alpha = alpha; self.beta = beta; self.bias = bias
        }
        /// Channels before and after `c` in its window.
        var before: Int { (size - 1) / 2 }
        var after: Int { size - 1 - (size - 1) / 2 }
    }

    /// What backward needs: the input and the per-element scale `bias + alpha/size · square_sum`.
    public struct Cache { public var input: Tensor; public var scale: Tensor }

    /// - Parameter x: `[N, C, H, W]` (any rank ≥ 2: channels are axis 1, the rest are positions)
    /// - Returns: `x`'s shape, and the cache
    public static func forward(_ x: Tensor, _ o: Options) -> (Tensor, Cache) {
        precondition(x.rank >= 2 && o.size >= 1, "LRN of \(x.shape) with size \(o.size)")
        let n = x.shape[0], c = x.shape[1], plane = x.count / max(n * c, 1)
        let k = o.alpha / Float(o.size)
        var scale = Tensor(zeros: x.shape)
        let y: Tensor = x.withUnsafeBufferPointer { xv in
            scale.withUnsafeMutableBufferPointer { sv in
                Tensor(uninitialized: x.shape) { yv in
                    parallelChunks(n * plane) { r in
                        for job in r {
                            let (b, p) = (job / plane, job % plane)
                            let base = b * c * plane + p
                            for ch in 0 ..< c {
                                var acc: Float = 0
                                for i in Swift.max(0, ch - o.before) ... Swift.min(c - 1, ch + o.after) {
                                    let v = xv[base + i * plane]
                                    acc += v * v
                                }
                                let s = o.bias + k * acc
                                sv[base + ch * plane] = s
                                yv[base + ch * plane] = xv[base + ch * plane] * powf(s, -o.beta)
                            }
                        }
                    }
                }
            }
        }
        return (y, Cache(input: x, scale: scale))
    }

    /// dx_j = dy_j · s_j^(−β) − 2β·(α/size)·x_j · Σ_{c whose window holds j} dy_c · x_c · s_c^(−β−1)
    public static func backward(outputGradient dy: Tensor, cache: Cache, _ o: Options) -> Tensor {
        let x = cache.input
        let n = x.shape[0], c = x.shape[1], plane = x.count / max(n * c, 1)
        let k = o.alpha / Float(o.size)
        return x.withUnsafeBufferPointer { xv in
            cache.scale.withUnsafeBufferPointer { sv in
                dy.withUnsafeBufferPointer { gv in
                    Tensor(uninitialized: x.shape) { dx in
                        parallelChunks(n * plane) { r in
                            for job in r {
                                let (b, p) = (job / plane, job % plane)
                                let base = b * c * plane + p
                                for j in 0 ..< c {
                                    var acc: Float = 0
                                    // c's window [c − before, c + after] holds j when j − after ≤ c ≤ j + before.
                                    for ch in Swift.max(0, j - o.after) ... Swift.min(c - 1, j + o.before) {
                                        let at = base + ch * plane
                                        acc += gv[at] * xv[at] * powf(sv[at], -o.beta - 1)
                                    }
                                    let at = base + j * plane
                                    dx[at] = gv[at] * powf(sv[at], -o.beta) - 2 * o.beta * k * xv[at] * acc
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
