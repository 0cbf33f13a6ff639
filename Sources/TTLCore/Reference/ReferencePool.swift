extension Reference {
    /// Max over each window's taps that fall inside the input (padding never wins).
    /// - Returns: the output and, per output element, the flat (h·W + w) position of its first maximum.
    public static func maxPool<T>(_ x: ReferenceTensor<T>, _ win: Window2D) -> (y: ReferenceTensor<T>, argmax: [Int]) {
        let out = win.outputSize(height: x.shape[2], width: x.shape[3])
        var y = ReferenceTensor<T>(zeros: [x.shape[0], x.shape[1], out.h, out.w])
        var argmax: [Int] = []
        for n in 0 ..< x.shape[0] { for c in 0 ..< x.shape[1] { for oh in 0 ..< out.h { for ow in 0 ..< out.w {
            var best: T? = nil, at = -1
            for kh in 0 ..< win.kernel.h { for kw in 0 ..< win.kernel.w {
                let ih = oh * win.stride.h - win.padding.top + kh * win.dilation.h
                let iw = ow * win.stride.w - win.padding.left + kw * win.dilation.w
                guard ih >= 0, ih < x.shape[2], iw >= 0, iw < x.shape[3] else { continue }
                if best == nil || x[n, c, ih, iw] > best! { best = x[n, c, ih, iw]; at = ih * x.shape[3] + iw }
            } }
            y[n, c, oh, ow] = best ?? 0
            argmax.append(at)
        } } } }
        return (y, argmax)
    }

    /// Each output gradient added at its window's first maximum; returns `x`'s shape.
    public static func maxPoolBackward<T>(_ dy: ReferenceTensor<T>, _ x: ReferenceTensor<T>, _ win: Window2D) -> ReferenceTensor<T> {
        let (_, argmax) = maxPool(x, win)
        var dx = ReferenceTensor<T>(zeros: x.shape)
        let outPlane = dy.shape[2] * dy.shape[3], plane = x.shape[2] * x.shape[3]
        for (o, at) in argmax.enumerated() where at >= 0 {
            dx.scalars[o / outPlane * plane + at] += dy.scalars[o]
        }
        return dx
    }

    /// The input taps of output (oh, ow), and how many positions its mean divides by:
    /// with `includePad`, every window position inside the padded input; without, those inside the input.
    static func avgWindow(_ oh: Int, _ ow: Int, _ win: Window2D, _ h: Int, _ w: Int, _ includePad: Bool) -> (taps: [(Int, Int)], divisor: Int) {
        var taps: [(Int, Int)] = [], padded = 0
        for kh in 0 ..< win.kernel.h { for kw in 0 ..< win.kernel.w {
            let ih = oh * win.stride.h - win.padding.top + kh, iw = ow * win.stride.w - win.padding.left + kw
            if ih >= -win.padding.top && ih < h + win.padding.bottom && iw >= -win.padding.left && iw < w + win.padding.right { padded += 1 }
            if ih >= 0 && ih < h && iw >= 0 && iw < w { taps.append((ih, iw)) }
        } }
        return (taps, includePad ? padded : taps.count)
    }

    /// The mean of each window's taps inside the input, with ``AvgPool2D``'s divisor (dilation ignored):
    /// `[N, C, H, W]` → `[N, C, H_out, W_out]`.
    public static func avgPool<T>(_ x: ReferenceTensor<T>, _ win: Window2D, countIncludePad: Bool) -> ReferenceTensor<T> {
        let out = win.outputSize(height: x.shape[2], width: x.shape[3])
        var y = ReferenceTensor<T>(zeros: [x.shape[0], x.shape[1], out.h, out.w])
        for n in 0 ..< x.shape[0] { for c in 0 ..< x.shape[1] { for oh in 0 ..< out.h { for ow in 0 ..< out.w {
            let (taps, divisor) = avgWindow(oh, ow, win, x.shape[2], x.shape[3], countIncludePad)
            y[n, c, oh, ow] = taps.reduce(T(0)) { $0 + x[n, c, $1.0, $1.1] } / T(divisor)
        } } } }
        return y
    }

    /// Each output gradient spread over its window's taps inside the input, divided as forward divides.
    public static func avgPoolBackward<T>(_ dy: ReferenceTensor<T>, inputShape: Shape, _ win: Window2D, countIncludePad: Bool) -> ReferenceTensor<T> {
        var dx = ReferenceTensor<T>(zeros: inputShape)
        for n in 0 ..< dy.shape[0] { for c in 0 ..< dy.shape[1] { for oh in 0 ..< dy.shape[2] { for ow in 0 ..< dy.shape[3] {
            let (taps, divisor) = avgWindow(oh, ow, win, inputShape[2], inputShape[3], countIncludePad)
            for (ih, iw) in taps { dx[n, c, ih, iw] += dy[n, c, oh, ow] / T(divisor) }
        } } } }
        return dx
    }

    /// Mean of each `[H, W]` plane: `[N, C, H, W]` → `[N, C, 1, 1]`.
    public static func globalAvgPool<T>(_ x: ReferenceTensor<T>) -> ReferenceTensor<T> {
        avgPool(x, Window2D(kernel: Size2D(x.shape[2], x.shape[3])), countIncludePad: true)
    }

    /// Each output gradient spread evenly over its `[H, W]` plane; returns `inputShape`.
    public static func globalAvgPoolBackward<T>(_ dy: ReferenceTensor<T>, inputShape: Shape) -> ReferenceTensor<T> {
        avgPoolBackward(dy, inputShape: inputShape, Window2D(kernel: Size2D(inputShape[2], inputShape[3])), countIncludePad: true)
    }
}

extension Reference {
    /// y[n, c, i, j] = x[n, c, i − top, j − left] inside, `value` outside.
    public static func pad2d<T>(_ x: ReferenceTensor<T>, _ p: Padding2D, value: T) -> ReferenceTensor<T> {
        let (h, w) = (x.shape[2], x.shape[3])
        var y = ReferenceTensor<T>(zeros: [x.shape[0], x.shape[1], h + p.top + p.bottom, w + p.left + p.right])
        for n in 0 ..< y.shape[0] { for c in 0 ..< y.shape[1] { for i in 0 ..< y.shape[2] { for j in 0 ..< y.shape[3] {
            let (si, sj) = (i - p.top, j - p.left)
            y[n, c, i, j] = si >= 0 && si < h && sj >= 0 && sj < w ? x[n, c, si, sj] : value
        } } } }
        return y
    }

    /// The interior of `dy`: `[N, C, H + top + bottom, W + left + right]` → `inputShape`.
    public static func pad2dBackward<T>(_ dy: ReferenceTensor<T>, _ p: Padding2D, inputShape: Shape) -> ReferenceTensor<T> {
        var dx = ReferenceTensor<T>(zeros: inputShape)
        for n in 0 ..< inputShape[0] { for c in 0 ..< inputShape[1] { for i in 0 ..< inputShape[2] { for j in 0 ..< inputShape[3] {
            dx[n, c, i, j] = dy[n, c, i + p.top, j + p.left]
        } } } }
        return dx
    }
}
