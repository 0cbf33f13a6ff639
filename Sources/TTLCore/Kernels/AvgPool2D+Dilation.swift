// Dilated average pooling (ONNX AveragePool's `dilations`, opset 19): the window's taps are
// `dilation` apart. The divisor follows the specification's reference implementation
// (onnx/reference/ops/op_pool_common.py, `pool`): the taps inside the padded input (ceil mode's
// overhang excluded) with `count_include_pad`, else the taps inside the input.

extension AvgPool2D {
    /// Work per plane for `parallelFor`, saturated: kernel sizes come from files (up to 2^24).
    static func cost(_ oh: Int, _ ow: Int, _ kernel: Size2D) -> Int {
        Int(min(Double(oh) * Double(ow) * Double(kernel.h) * Double(kernel.w), 1e15))
    }

    /// The taps of output `o` along one axis of `n` elements: the input indices it reads, and
    /// how many of its taps the divisor counts. Counted, not enumerated, so that a crafted
    /// kernel of 2^24 taps costs no more than the input indices it reads.
    static func dilatedTaps(_ o: Int, n: Int, kernel: Int, stride: Int, dilation: Int, before: Int, after: Int,
                            countIncludePad: Bool) -> (indices: [Int], counted: Int) {
        // Tap k reads index base + k·dilation; it exists while inside the padded input.
        func ceilDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }
        let base = o * stride - before
        let kept = min(max(ceilDiv(n + after - base, dilation), 0), kernel)
        let lo = max(0, ceilDiv(-base, dilation)), hi = min(kept, ceilDiv(n - base, dilation))
        let indices = lo < hi ? (lo ..< hi).map { base + $0 * dilation } : []
        return (indices, countIncludePad ? kept : indices.count)
    }

    /// The per-axis taps of every output row and column.
    static func dilatedTaps(_ window: Window2D, height h: Int, width w: Int, countIncludePad: Bool)
        -> (rows: [(indices: [Int], counted: Int)], columns: [(indices: [Int], counted: Int)])
    {
        let out = window.outputSize(height: h, width: w)
        let rows = (0 ..< out.h).map {
            dilatedTaps($0, n: h, kernel: window.kernel.h, stride: window.stride.h, dilation: window.dilation.h,
                        before: window.padding.top, after: window.padding.bottom, countIncludePad: countIncludePad)
        }
        let columns = (0 ..< out.w).map {
            dilatedTaps($0, n: w, kernel: window.kernel.w, stride: window.stride.w, dilation: window.dilation.w,
                        before: window.padding.left, after: window.padding.right, countIncludePad: countIncludePad)
        }
        return (rows, columns)
    }

    /// ``forward(_:window:countIncludePad:)`` for a dilated window.
    /// - Parameter input: `[N, C, H, W]`
    /// - Returns: `[N, C, H_out, W_out]`
    static func dilatedForward(_ input: Tensor, window: Window2D, countIncludePad: Bool) -> Tensor {
        let s = input.shape
        let (h, w) = (s[2], s[3])
        let (rows, columns) = dilatedTaps(window, height: h, width: w, countIncludePad: countIncludePad)
        let (oh, ow) = (rows.count, columns.count)
        return input.withUnsafeBufferPointer { x in
            Tensor(uninitialized: [s[0], s[1], oh, ow]) { y in
                parallelFor(s[0] * s[1], costPerItem: cost(oh, ow, window.kernel)) { nc in
                    let src = x.baseAddress! + nc * h * w
                    for (r, row) in rows.enumerated() {
                        for (c, column) in columns.enumerated() {
                            var acc: Float = 0
                            for ih in row.indices { for iw in column.indices { acc += src[ih * w + iw] } }
                            let divisor = row.counted * column.counted
                            y[(nc * oh + r) * ow + c] = divisor > 0 ? acc / Float(divisor) : 0
                        }
                    }
                }
            }
        }
    }

    /// ``backward(outputGradient:inputShape:window:countIncludePad:)`` for a dilated window.
    static func dilatedBackward(outputGradient: Tensor, inputShape s: Shape, window: Window2D, countIncludePad: Bool) -> Tensor {
        let (h, w) = (s[2], s[3])
        let (rows, columns) = dilatedTaps(window, height: h, width: w, countIncludePad: countIncludePad)
        let (oh, ow) = (rows.count, columns.count)
        precondition(outputGradient.shape == [s[0], s[1], oh, ow])
        var dx = Tensor(zeros: s)
        outputGradient.withUnsafeBufferPointer { dy in
            dx.withUnsafeMutableBufferPointer { d in
                parallelFor(s[0] * s[1], costPerItem: cost(oh, ow, window.kernel)) { nc in
                    let dst = d.baseAddress! + nc * h * w
                    for (r, row) in rows.enumerated() {
                        for (c, column) in columns.enumerated() {
                            let divisor = row.counted * column.counted
                            guard divisor > 0 else { continue }
                            let g = dy[(nc * oh + r) * ow + c] / Float(divisor)
                            for ih in row.indices { for iw in column.indices { dst[ih * w + iw] += g } }
                        }
                    }
                }
            }
        }
        return dx
    }
}
