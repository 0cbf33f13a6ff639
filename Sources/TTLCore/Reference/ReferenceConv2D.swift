extension Reference {
    /// y[n, co, oh, ow] = b[co] + Σ_{ci ∈ group(co), kh, kw} x[n, ci, oh·s − p + kh·d, ow·s − p + kw·d] · w[co, ci − g·Cg, kh, kw]
    /// - Parameters: `x` `[N, C_in, H, W]`, `w` `[C_out, C_in/groups, kH, kW]`, `b` `[C_out]`
    /// - Returns: `[N, C_out, H_out, W_out]`
    public static func conv2d<T>(_ x: ReferenceTensor<T>, _ w: ReferenceTensor<T>, _ b: ReferenceTensor<T>?, _ o: Conv2DOptions) -> ReferenceTensor<T> {
        let outShape = Conv2D.outputShape(input: x.shape, weight: w.shape, options: o)
        var y = ReferenceTensor<T>(zeros: outShape)
        forEachConvTap(x.shape, w.shape, outShape, o) { n, co, oh, ow, ci, wc, kh, kw, ih, iw in
            y[n, co, oh, ow] += x[n, ci, ih, iw] * w[co, wc, kh, kw]
        }
        if let b {
            for n in 0 ..< outShape[0] { for co in 0 ..< outShape[1] { for oh in 0 ..< outShape[2] { for ow in 0 ..< outShape[3] {
                y[n, co, oh, ow] += b.scalars[co]
            } } } }
        }
        return y
    }

    /// The chain rule through the same taps: dx += dy · w, dw += dy · x, db = Σ dy.
    public static func conv2dBackward<T>(_ dy: ReferenceTensor<T>, _ x: ReferenceTensor<T>, _ w: ReferenceTensor<T>, _ o: Conv2DOptions)
        -> (x: ReferenceTensor<T>, w: ReferenceTensor<T>, b: ReferenceTensor<T>)
    {
        var dx = ReferenceTensor<T>(zeros: x.shape), dw = ReferenceTensor<T>(zeros: w.shape)
        var db = ReferenceTensor<T>(zeros: [w.shape[0]])
        forEachConvTap(x.shape, w.shape, dy.shape, o) { n, co, oh, ow, ci, wc, kh, kw, ih, iw in
            let g = dy[n, co, oh, ow]
            dx[n, ci, ih, iw] += g * w[co, wc, kh, kw]
            dw[co, wc, kh, kw] += g * x[n, ci, ih, iw]
        }
        for n in 0 ..< dy.shape[0] { for co in 0 ..< dy.shape[1] { for oh in 0 ..< dy.shape[2] { for ow in 0 ..< dy.shape[3] {
            db.scalars[co] += dy[n, co, oh, ow]
        } } } }
        return (dx, dw, db)
    }

    /// Calls `body` for every (output element, weight tap) pair that lands inside the input.
    static func forEachConvTap(_ xs: Shape, _ ws: Shape, _ ys: Shape, _ o: Conv2DOptions,
                               _ body: (_ n: Int, _ co: Int, _ oh: Int, _ ow: Int, _ ci: Int, _ wc: Int,
                                        _ kh: Int, _ kw: Int, _ ih: Int, _ iw: Int) -> Void) {
        let cinPerGroup = xs[1] / o.groups, coutPerGroup = ws[0] / o.groups
        for n in 0 ..< ys[0] {
            for co in 0 ..< ys[1] {
                let g = co / coutPerGroup
                for oh in 0 ..< ys[2] {
                    for ow in 0 ..< ys[3] {
                        for wc in 0 ..< cinPerGroup {
                            for kh in 0 ..< ws[2] {
                                for kw in 0 ..< ws[3] {
                                    let ih = oh * o.stride.h - o.padding.top + kh * o.dilation.h
                                    let iw = ow * o.stride.w - o.padding.left + kw * o.dilation.w
                                    guard ih >= 0, ih < xs[2], iw >= 0, iw < xs[3] else { continue }
                                    body(n, co, oh, ow, g * cinPerGroup + wc, wc, kh, kw, ih, iw)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
