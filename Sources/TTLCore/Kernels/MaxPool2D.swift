/// 2-D max pooling. Padding counts as −∞ (never selected unless a window is all padding,
/// which the output-size rule prevents).
public enum MaxPool2D {
    /// What backward needs: for each output element, the flat index of its maximum within
    /// its input plane. `[N, C, H_out, W_out]` as Int32.
    public struct Cache { public var argmax: [Int32]; public var inputShape: Shape }

    /// - Parameter input: `[N, C, H, W]`
    /// - Returns: `[N, C, H_out, W_out]`, and the positions of the maxima for backward.
    public static func forward(_ input: Tensor, window: Window2D) -> (output: Tensor, cache: Cache) {
        let s = input.shape
        precondition(s.rank == 4, "max pool wants [N, C, H, W], got \(s)")
        let (h, w) = (s[2], s[3])
        let out = window.outputSize(height: h, width: w)
        precondition(out.h > 0 && out.w > 0, "max pool window larger than padded input \(s)")
        let outPlane = out.h * out.w
        var argmax = [Int32](repeating: 0, count: s[0] * s[1] * outPlane)
        let output = input.withUnsafeBufferPointer { x in
            argmax.withUnsafeMutableBufferPointer { am in
                Tensor(uninitialized: [s[0], s[1], out.h, out.w]) { y in
                    parallelFor(s[0] * s[1], costPerItem: outPlane * window.kernel.h * window.kernel.w) { nc in
                        let src = x.baseAddress! + nc * h * w
                        for oh in 0 ..< out.h {
                            for ow in 0 ..< out.w {
                                var best = -Float.infinity, at = -1
                                for kh in 0 ..< window.kernel.h {
                                    let ih = oh * window.stride.h - window.padding.top + kh * window.dilation.h
                                    if ih < 0 || ih >= h { continue }
                                    for kw in 0 ..< window.kernel.w {
                                        let iw = ow * window.stride.w - window.padding.left + kw * window.dilation.w
                                        if iw < 0 || iw >= w { continue }
                                        let v = src[ih * w + iw]
                                        if v > best || at < 0 || v.isNaN { best = v; at = ih * w + iw }
                                    }
                                }
                                let o = nc * outPlane + oh * out.w + ow
                                y[o] = best
                                am[o] = Int32(at)
                            }
                        }
                    }
                }
            }
        }
        return (output, Cache(argmax: argmax, inputShape: s))
    }

    /// Routes each output gradient to the position of its maximum.
    /// - Parameter outputGradient: `[N, C, H_out, W_out]`
    /// - Returns: `[N, C, H, W]`
    public static func backward(outputGradient: Tensor, cache: Cache) -> Tensor {
        let s = cache.inputShape
        let plane = s[2] * s[3], outPlane = outputGradient.shape[2] * outputGradient.shape[3]
        precondition(outputGradient.count == cache.argmax.count)
        var dx = Tensor(zeros: s)
        outputGradient.withUnsafeBufferPointer { dy in
            dx.withUnsafeMutableBufferPointer { d in
                parallelFor(s[0] * s[1], costPerItem: outPlane) { nc in
                    for o in 0 ..< outPlane {
                        let at = Int(cache.argmax[nc * outPlane + o])
                        if at >= 0 { d[nc * plane + at] += dy[nc * outPlane + o] }
                    }
                }
            }
        }
        return dx
    }
}
