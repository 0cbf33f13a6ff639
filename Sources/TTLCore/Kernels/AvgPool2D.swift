/// 2-D average pooling.
///
/// The divisor follows PyTorch (and ONNX): with `countIncludePad` it is the window's
/// extent clipped to the padded input (padding counts, the ceil-mode overhang does not);
/// without it, only the input elements under the window count.
public enum AvgPool2D {
    /// The mean over each window (see ``AvgPool2D`` for the divisor).
    /// - Parameter input: `[N, C, H, W]`
    /// - Returns: `[N, C, H_out, W_out]`
    public static func forward(_ input: Tensor, window: Window2D, countIncludePad: Bool) -> Tensor {
        let s = input.shape
        precondition(s.rank == 4, "average pool wants [N, C, H, W], got \(s)")
        let out = window.outputSize(height: s[2], width: s[3])
        precondition(out.h > 0 && out.w > 0, "average pool window larger than padded input \(s)")
        if window.dilation != Size2D(1) { return dilatedForward(input, window: window, countIncludePad: countIncludePad) }
        let (h, w) = (s[2], s[3])
        return input.withUnsafeBufferPointer { x in
            Tensor(uninitialized: [s[0], s[1], out.h, out.w]) { y in
                parallelFor(s[0] * s[1], costPerItem: cost(out.h, out.w, window.kernel)) { nc in
                    let src = x.baseAddress! + nc * h * w
                    for oh in 0 ..< out.h {
                        for ow in 0 ..< out.w {
                            let r = region(oh, ow, window, h, w, countIncludePad)
                            var acc: Float = 0
                            for ih in r.h0 ..< r.h1 { for iw in r.w0 ..< r.w1 { acc += src[ih * w + iw] } }
                            y[(nc * out.h + oh) * out.w + ow] = r.divisor > 0 ? acc / Float(r.divisor) : 0
                        }
                    }
                }
            }
        }
    }

    /// Spreads each output gradient evenly over its window's input elements.
    /// - Parameter outputGradient: `[N, C, H_out, W_out]`
    /// - Returns: `inputShape`, `[N, C, H, W]`
    public static func backward(outputGradient: Tensor, inputShape s: Shape, window: Window2D, countIncludePad: Bool) -> Tensor {
        if window.dilation != Size2D(1) {
            return dilatedBackward(outputGradient: outputGradient, inputShape: s, window: window, countIncludePad: countIncludePad)
        }
        let (h, w) = (s[2], s[3])
        let out = window.outputSize(height: h, width: w)
        precondition(outputGradient.shape == [s[0], s[1], out.h, out.w])
        var dx = Tensor(zeros: s)
        outputGradient.withUnsafeBufferPointer { dy in
            dx.withUnsafeMutableBufferPointer { d in
                parallelFor(s[0] * s[1], costPerItem: cost(out.h, out.w, window.kernel)) { nc in
                    let dst = d.baseAddress! + nc * h * w
                    for oh in 0 ..< out.h {
                        for ow in 0 ..< out.w {
                            let r = region(oh, ow, window, h, w, countIncludePad)
                            guard r.divisor > 0 else { continue }
                            let g = dy[(nc * out.h + oh) * out.w + ow] / Float(r.divisor)
                            for ih in r.h0 ..< r.h1 { for iw in r.w0 ..< r.w1 { dst[ih * w + iw] += g } }
                        }
                    }
                }
            }
        }
        return dx
    }

    /// The input rows/columns under output (oh, ow) and the divisor of its mean.
    /// For an undilated window (dilated ones: `AvgPool2D+Dilation.swift`).
    static func region(_ oh: Int, _ ow: Int, _ win: Window2D, _ h: Int, _ w: Int, _ countIncludePad: Bool)
        -> (h0: Int, h1: Int, w0: Int, w1: Int, divisor: Int)
    {
        var h0 = oh * win.stride.h - win.padding.top, w0 = ow * win.stride.w - win.padding.left
        var h1 = min(h0 + win.kernel.h, h + win.padding.bottom), w1 = min(w0 + win.kernel.w, w + win.padding.right)
        let padded = (h1 - h0) * (w1 - w0)
        h0 = max(h0, 0); w0 = max(w0, 0); h1 = min(h1, h); w1 = min(w1, w)
        return (h0, h1, w0, w1, countIncludePad ? padded : (h1 - h0) * (w1 - w0))
    }
}
