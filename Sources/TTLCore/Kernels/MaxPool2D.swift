/// 2-D max pooling. Padding counts as −∞: only taps inside the input compete (the output-size
/// rule keeps every window overlapping the input).
public enum MaxPool2D {
    /// What backward needs: for each output element, the flat index of its maximum within
    /// its input plane. `[N, C, H_out, W_out]` as Int32.
    public struct Cache { public var argmax: [Int32]; public var inputShape: Shape }

    /// The maximum over each window's taps that fall inside the input.
    /// - Parameters:
    ///   - input: `[N, C, H, W]`
    ///   - recordArgmax: false at inference, where backward will not run
    /// - Returns: `[N, C, H_out, W_out]`, and the positions of the maxima for backward.
    public static func forward(_ input: Tensor, window: Window2D, recordArgmax: Bool = true) -> (output: Tensor, cache: Cache) {
        let s = input.shape
        precondition(s.rank == 4, "max pool wants [N, C, H, W], got \(s)")
        let (h, w) = (s[2], s[3])
        let out = window.outputSize(height: h, width: w)
        precondition(out.h > 0 && out.w > 0, "max pool window larger than padded input \(s)")
        let outPlane = out.h * out.w
        // The taps of each output row and column that fall inside the input, computed once.
        let rows = (0 ..< out.h).map { taps($0, window.stride.h, window.padding.top, window.dilation.h, window.kernel.h, h) }
        let cols = (0 ..< out.w).map { taps($0, window.stride.w, window.padding.left, window.dilation.w, window.kernel.w, w) }
        let (dh, dw) = (window.dilation.h, window.dilation.w)
        var argmax = [Int32](repeating: 0, count: recordArgmax ? s[0] * s[1] * outPlane : 0)
        let output = input.withUnsafeBufferPointer { x in
            argmax.withUnsafeMutableBufferPointer { am in
                Tensor(uninitialized: [s[0], s[1], out.h, out.w]) { y in
                    parallelFor(s[0] * s[1], costPerItem: Int(min(Double(outPlane) * Double(window.kernel.h) * Double(window.kernel.w), 1e15))) { nc in
                        let src = x.baseAddress! + nc * h * w
                        let dst = y.baseAddress! + nc * outPlane
                        for oh in 0 ..< out.h {
                            let r = rows[oh]
                            if !recordArgmax {
                                // Inference: no positions to record. A NaN wins and stays, as in PyTorch.
                                for ow in 0 ..< out.w {
                                    let c = cols[ow]
                                    var best = -Float.infinity
                                    var row = src + r.first * w + c.first
                                    for _ in 0 ..< r.count {
                                        var p = row
                                        for _ in 0 ..< c.count {
                                            if p.pointee > best || p.pointee.isNaN { best = p.pointee }
                                            p += dw
                                        }
                                        row += dh * w
                                    }
                                    dst[oh * out.w + ow] = best
                                }
                                continue
                            }
                            for ow in 0 ..< out.w {
                                let c = cols[ow]
                                var best = -Float.infinity, at = r.first * w + c.first
                                var ih = r.first
                                for _ in 0 ..< r.count {
                                    var iw = c.first
                                    for _ in 0 ..< c.count {
                                        let v = src[ih * w + iw]
                                        if v > best || v.isNaN { best = v; at = ih * w + iw }
                                        iw += dw
                                    }
                                    ih += dh
                                }
                                dst[oh * out.w + ow] = best
                                if recordArgmax { am[nc * outPlane + oh * out.w + ow] = Int32(at) }
                            }
                        }
                    }
                }
            }
        }
        return (output, Cache(argmax: argmax, inputShape: s))
    }

    /// First in-range input coordinate and number of in-range taps for output coordinate `o`.
    static func taps(_ o: Int, _ stride: Int, _ pad: Int, _ dilation: Int, _ kernel: Int, _ size: Int) -> (first: Int, count: Int) {
        let start = o * stride - pad
        var k0 = 0
        while k0 < kernel && start + k0 * dilation < 0 { k0 += 1 }
        var k1 = kernel
        while k1 > k0 && start + (k1 - 1) * dilation >= size { k1 -= 1 }
        return (start + k0 * dilation, k1 - k0)
    }

    /// Routes each output gradient to the position of its maximum.
    /// - Parameter outputGradient: `[N, C, H_out, W_out]`
    /// - Returns: `[N, C, H, W]`
    public static func backward(outputGradient: Tensor, cache: Cache) -> Tensor {
        let s = cache.inputShape
        let plane = s[2] * s[3], outPlane = outputGradient.shape[2] * outputGradient.shape[3]
        precondition(outputGradient.count == cache.argmax.count, "max pool backward needs the argmax recorded by forward")
        var dx = Tensor(zeros: s)
        outputGradient.withUnsafeBufferPointer { dy in
            dx.withUnsafeMutableBufferPointer { d in
                parallelFor(s[0] * s[1], costPerItem: outPlane) { nc in
                    for o in 0 ..< outPlane {
                        let at = Int(cache.argmax[nc * outPlane + o])
                        d[nc * plane + at] += dy[nc * outPlane + o]
                    }
                }
            }
        }
        return dx
    }
}
