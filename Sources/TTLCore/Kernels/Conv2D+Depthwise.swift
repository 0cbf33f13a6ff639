// Depthwise 2-D convolution: one input channel per group, `mult = C_out / C_in` output
// channels per input channel (the channel multiplier), forward and backward.
//
//   x  [N, C_in, H, W]      w  [C_out, 1, kH, kW]      y  [N, C_out, H_out, W_out]
//   y[n, co, oh, ow] = Σ_{kh, kw} x[n, co / mult, oh·sh − pt + kh·dh, ow·sw − pl + kw·dw] · w[co, 0, kh, kw]
//
// A GEMM would be 1 × kH·kW by kH·kW × P per channel, so the kernel is a direct loop that
// runs over 16, 8 or 4 output columns at a time in SIMD registers, taps innermost: each tap is
// one vector load of input columns ow·sw − pl + kw·dw (contiguous for stride 1, de-interleaved
// for stride 2, gathered otherwise) and one multiply-add. No tap is bounds-tested:
//   - columns: where some output column has a tap outside 0 ..< W (zero padding, possibly
//     asymmetric as TF 'SAME' makes it), the input plane is first copied into a scratch plane
//     [H, W_p] with `pl` zero columns on the left and enough on the right that every tap lands
//     inside. Testing those taps instead cost more than the whole interior: after the interior
//     was vectorised, the bounds-tested border took ~3/4 of the forward's perf samples, and a
//     7×7 plane under a 5×5 kernel has only 3 of its 7 columns in the interior (`interior`).
//   - rows: an output row whose window hangs over the top or bottom (the border rows) runs
//     only its taps kh in `tapRange`, the rows that land inside 0 ..< H; interior rows run all kH.
//     A row with no tap inside (padding ≥ the window) is zero.
// The padded zeros enter as 0 · w, as in the im2col path of the GEMM convolution (so a NaN or
// infinite weight poisons border outputs there too); the reference skips those taps.
// Backward walks the same rows: dW[co, t] is a dot product of dY's rows with the scratch rows
// shifted by tap t, dX is dY scattered back through the same taps into a padded scratch dX,
// whose inner W columns are then added to dX.
//
// The vectors are Swift SIMD types, so they use whatever the compiler targets: SSE (4 lanes,
// SIMD8 is two registers) on the default x86-64 target, AVX2 with `-Xswiftc -target-cpu
// -Xswiftc znver3` (or haswell; Swift 6's LLVM rejects `x86-64-v3`), NEON on arm64. On the
// 2-core Zen 3 measured (shared, heavily loaded), the AVX2 build showed no difference beyond
// the run-to-run noise of `ttl-bench --depthwise`. The reference is `Reference.conv2d` with
// `groups == C_in`; OptimizedVsReferenceTests checks this kernel against it on interiors,
// borders, strides 1–3, dilation 2, asymmetric padding, multipliers and planes smaller than
// the window, forward and backward.

extension Conv2D {
    /// The output positions `o` along one axis, within `0 ..< outputs`, whose taps
    /// `o · stride − padding + k · dilation` for every `k` in `0 ..< kernel` land in `0 ..< inputs`.
    /// Empty when the window never fits (a plane smaller than the dilated kernel).
    static func interior(outputs: Int, inputs: Int, kernel: Int, stride: Int, dilation: Int, padding: Int) -> Range<Int> {
        // First tap inside: o · s ≥ p. Last tap inside: o · s ≤ inputs − 1 + p − (kernel − 1) · d.
        let lo = min(outputs, max(0, (padding + stride - 1) / stride))
        let last = inputs - 1 + padding - (kernel - 1) * dilation
        let hi = last < 0 ? 0 : last / stride + 1
        return lo ..< max(lo, min(outputs, hi))
    }

    /// The taps k in `0 ..< kernel` whose input position `first + k · dilation` lies in `0 ..< inputs`
    /// (a contiguous range, possibly empty): all of them on an interior row, fewer on a border row.
    @inline(__always)
    static func tapRange(first: Int, inputs: Int, kernel: Int, dilation: Int) -> Range<Int> {
        let lo = first >= 0 ? 0 : (-first + dilation - 1) / dilation
        let hi = first >= inputs ? 0 : min(kernel, (inputs - 1 - first) / dilation + 1)
        return min(lo, kernel) ..< max(min(lo, kernel), hi)
    }

    /// How a depthwise plane's columns are laid out for the taps: the scratch width `W_p` and
    /// whether a padded copy is needed at all (not when every column's taps lie inside 0 ..< W).
    struct DepthwiseColumns {
        /// Row length of the plane the taps read: `W`, or `W_p` ≥ pl + W when padded.
        let width: Int
        /// Whether the plane is copied into scratch with `pl` zero columns on the left.
        let padded: Bool
        /// Input column of scratch column 0 is `−offset`.
        let offset: Int

        init(_ geo: Geometry) {
            let cols = Conv2D.interior(outputs: geo.wo, inputs: geo.w, kernel: geo.kw, stride: geo.sw, dilation: geo.dw, padding: geo.pl)
            if cols == 0 ..< geo.wo {
                (width, padded, offset) = (geo.w, false, 0)
            } else {
                // The rightmost tap of the last output column sits at (wo − 1)·sw + (kW − 1)·dw.
                (width, padded, offset) = (max(geo.pl + geo.w, (geo.wo - 1) * geo.sw + (geo.kw - 1) * geo.dw + 1), true, geo.pl)
            }
        }

        /// Copies the plane `src` [H, W] into `dst` [H, width]: scratch column c holds input column c − offset, or 0.
        func pad(_ geo: Geometry, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
            let lo = min(width, max(0, offset)), hi = max(lo, min(width, offset + geo.w))
            for r in 0 ..< geo.h {
                let d = dst + r * width
                d.update(repeating: 0, count: lo)
                (d + lo).update(from: src + r * geo.w + lo - offset, count: hi - lo)
                (d + hi).update(repeating: 0, count: width - hi)
            }
        }

        /// dx [H, W] += the inner columns of the scratch gradient `padded` [H, width].
        func unpad(_ geo: Geometry, _ padded: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
            let lo = min(width, max(0, offset)), hi = max(lo, min(width, offset + geo.w))
            for r in 0 ..< geo.h {
                let s = padded + r * width + lo, d = dx + r * geo.w + lo - offset
                for i in 0 ..< hi - lo { d[i] += s[i] }
            }
        }
    }

    // MARK: - Forward

    static func depthwiseForward(_ geo: Geometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        switch geo.sw {
        case 1: depthwiseForward(geo, x, w, y, ColumnStride1.self)
        case 2: depthwiseForward(geo, x, w, y, ColumnStride2.self)
        default: depthwiseForward(geo, x, w, y, ColumnStrideAny.self)
        }
    }

    /// Forward with the column stride `S` fixed at compile time, so the vector loads specialize.
    static func depthwiseForward<S: ColumnStride>(_ geo: Geometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                                  _ y: UnsafeMutablePointer<Float>, _: S.Type) {
        let mult = geo.cOutG, taps = geo.kh * geo.kw
        let layout = DepthwiseColumns(geo)
        // One job per input plane (n, ci): it pads the plane once and writes the `mult` output
        // planes (n, ci·mult + j) that read it.
        parallelFor(geo.n * geo.cIn, costPerItem: mult * geo.outPlane * taps) { job in
            let src = x + job * geo.plane  // [H, W]
            withUnsafeTemporaryAllocation(of: Float.self, capacity: layout.padded ? geo.h * layout.width : 0) { scratch in
                let plane: UnsafePointer<Float>  // [H, width]
                if layout.padded {
                    layout.pad(geo, src, scratch.baseAddress!)
                    plane = UnsafePointer(scratch.baseAddress!)
                } else {
                    plane = src
                }
                for j in 0 ..< mult {
                    let n = job / geo.cIn, co = (job % geo.cIn) * mult + j
                    depthwisePlaneForward(geo, plane, layout.width, w + co * taps, y + (n * geo.cOut + co) * geo.outPlane, S.self)
                }
            }
        }
    }

    /// One output plane `out` [H_out, W_out] from `plane` [H, width] (padded columns) and
    /// `wk` [kH, kW]. Blocks of 16 output columns (four SSE registers, so four independent add
    /// chains hide the add latency), then one of 8; what is left is covered by a last block of
    /// 8 (or 4 on rows narrower than 8) moved back to end at W_out: it recomputes a few
    /// outputs (the same taps in the same order, so the same values) instead of a scalar tail.
    /// Rows narrower than 4: scalar.
    @inline(__always)
    static func depthwisePlaneForward<S: ColumnStride>(_ geo: Geometry, _ plane: UnsafePointer<Float>, _ width: Int,
                                                       _ wk: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _: S.Type) {
        let sw = S.value(geo.sw), wo = geo.wo
        for oh in 0 ..< geo.ho {
            let ih0 = oh * geo.sh - geo.pt
            let khs = tapRange(first: ih0, inputs: geo.h, kernel: geo.kh, dilation: geo.dh)
            let row = out + oh * wo
            if khs.isEmpty {
                row.update(repeating: 0, count: wo)
                continue
            }
            @inline(__always) func block<V: DepthwiseVector>(_ ow: Int, _: V.Type) {
                var acc = V()
                for kh in khs {
                    let taps = plane + (ih0 + kh * geo.dh) * width + ow * sw  // tap (kh, 0) of column ow
                    let wrow = wk + kh * geo.kw
                    for kw in 0 ..< geo.kw { acc += V.load(taps + kw * geo.dw, S.self, sw) * wrow[kw] }
                }
                acc.store(to: row + ow)
            }
            if wo >= 8 {
                var ow = 0
                while ow + 16 <= wo { block(ow, SIMD16<Float>.self); ow += 16 }
                if ow + 8 <= wo { block(ow, SIMD8<Float>.self); ow += 8 }
                if ow < wo { block(wo - 8, SIMD8<Float>.self) }
            } else if wo >= 4 {
                block(0, SIMD4<Float>.self)
                if wo > 4 { block(wo - 4, SIMD4<Float>.self) }
            } else {
                for ow in 0 ..< wo {
                    var acc: Float = 0
                    for kh in khs {
                        let taps = plane + (ih0 + kh * geo.dh) * width + ow * sw
                        for kw in 0 ..< geo.kw { acc += taps[kw * geo.dw] * wk[kh * geo.kw + kw] }
                    }
                    row[ow] = acc
                }
            }
        }
    }

    // MARK: - Backward

    static func depthwiseBackward(_ geo: Geometry, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                  _ dx: UnsafeMutablePointer<Float>?, _ dw: UnsafeMutablePointer<Float>?) {
        switch geo.sw {
        case 1: depthwiseBackward(geo, dy, x, w, dx, dw, ColumnStride1.self)
        case 2: depthwiseBackward(geo, dy, x, w, dx, dw, ColumnStride2.self)
        default: depthwiseBackward(geo, dy, x, w, dx, dw, ColumnStrideAny.self)
        }
    }

    /// dW[co, t] += Σ_{n, oh, ow} dY[n, co, oh, ow] · x[n, ci, ih(oh, t), iw(ow, t)] and
    /// dX[n, ci, ih, iw] += Σ dY[n, co, oh, ow] · w[co, t] over the taps t that reach (ih, iw).
    static func depthwiseBackward<S: ColumnStride>(_ geo: Geometry, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                                   _ w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>?,
                                                   _ dw: UnsafeMutablePointer<Float>?, _: S.Type) {
        let mult = geo.cOutG
        let taps = geo.kh * geo.kw
        let layout = DepthwiseColumns(geo)
        let sw = S.value(geo.sw), wo = geo.wo
        let scratchCount = layout.padded ? geo.h * layout.width : 0
        // Parallel over input channels: each owns its dX planes and its `mult` weight rows.
        parallelFor(geo.cIn, costPerItem: geo.n * mult * geo.outPlane * taps) { ci in
            // [H, width] twice: the padded input plane, then the padded dX plane.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * scratchCount) { scratch in
                for n in 0 ..< geo.n {
                    let src = x + (n * geo.cIn + ci) * geo.plane  // [H, W]
                    let plane: UnsafePointer<Float>  // [H, width]
                    if layout.padded {
                        layout.pad(geo, src, scratch.baseAddress!)
                        plane = UnsafePointer(scratch.baseAddress!)
                    } else {
                        plane = src
                    }
                    // dX is accumulated in place when unpadded, else in the scratch plane.
                    var dplane: UnsafeMutablePointer<Float>? = nil  // [H, width]
                    if let dx {
                        if layout.padded {
                            dplane = scratch.baseAddress! + scratchCount
                            dplane!.update(repeating: 0, count: scratchCount)
                        } else {
                            dplane = dx + (n * geo.cIn + ci) * geo.plane
                        }
                    }
                    for j in 0 ..< mult {
                        let co = ci * mult + j
                        let g = dy + (n * geo.cOut + co) * geo.outPlane  // [H_out, W_out]
                        let wk = w + co * taps  // [kH, kW]
                        let dwk = dw.map { $0 + co * taps }  // [kH, kW]
                        for oh in 0 ..< geo.ho {
                            let ih0 = oh * geo.sh - geo.pt
                            let grow = g + oh * wo  // dY[oh, ·]
                            for kh in tapRange(first: ih0, inputs: geo.h, kernel: geo.kh, dilation: geo.dh) {
                                let r = (ih0 + kh * geo.dh) * layout.width
                                for kw in 0 ..< geo.kw {
                                    let t = kh * geo.kw + kw, at = r + kw * geo.dw
                                    if let dwk { dwk[t] += depthwiseDot(grow, plane + at, wo, S.self, sw) }
                                    if let dplane { depthwiseScatter(grow, wk[t], dplane + at, wo, S.self, sw) }
                                }
                            }
                        }
                    }
                    if let dx, let dplane, layout.padded { layout.unpad(geo, dplane, dx + (n * geo.cIn + ci) * geo.plane) }
                }
            }
        }
    }

    /// Σ_{i < count} g[i] · x[i · sw]: one tap's contribution to dW from one output row.
    /// Blocks of 16 in a vector accumulator (four add chains), one of 8, then a scalar tail
    /// (a reduction cannot overlap blocks).
    @inline(__always)
    static func depthwiseDot<S: ColumnStride>(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int,
                                              _: S.Type, _ sw: Int) -> Float {
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= count {
            acc += SIMD16<Float>.load(g + i, ColumnStride1.self, 1) * SIMD16<Float>.load(x + i * sw, S.self, sw)
            i += 16
        }
        var acc8 = acc.lowHalf + acc.highHalf
        if i + 8 <= count {
            acc8 += SIMD8<Float>.load(g + i, ColumnStride1.self, 1) * SIMD8<Float>.load(x + i * sw, S.self, sw)
            i += 8
        }
        var sum = acc8.sum()
        while i < count { sum += g[i] * x[i * sw]; i += 1 }
        return sum
    }

    /// dx[i · sw] += g[i] · weight for i < count: one tap's share of dX from one output row.
    /// Stride 1 in blocks of 8. Stride 2 in blocks of 8 outputs: dx[2i ..< 2i + 16] += the 8
    /// products at the even lanes and zeros at the odd ones; a block runs only while output
    /// i + 8 exists, so its last, odd, element dx[2i + 15] lies before dx[2(i + 8)], inside the
    /// row (writing past it could race with another thread's plane). Other strides: scalar, unchecked.
    @inline(__always)
    static func depthwiseScatter<S: ColumnStride>(_ g: UnsafePointer<Float>, _ weight: Float, _ dx: UnsafeMutablePointer<Float>,
                                                  _ count: Int, _: S.Type, _ sw: Int) {
        var i = 0
        if S.self == ColumnStride1.self {
            while i + 8 <= count {
                let sum = SIMD8<Float>.load(dx + i, ColumnStride1.self, 1) + SIMD8<Float>.load(g + i, ColumnStride1.self, 1) * weight
                sum.store(to: dx + i)
                i += 8
            }
        } else if S.self == ColumnStride2.self {
            while i + 8 < count {
                var spread = SIMD16<Float>()
                spread.evenHalf = SIMD8<Float>.load(g + i, ColumnStride1.self, 1) * weight
                let sum = SIMD16<Float>.load(dx + 2 * i, ColumnStride1.self, 1) + spread
                sum.store(to: dx + 2 * i)
                i += 8
            }
        }
        while i < count { dx[i * sw] += g[i] * weight; i += 1 }
    }
}

// MARK: - Strided vector loads

/// A column stride known at compile time (1, 2) or read at run time (any other).
protocol ColumnStride {
    /// The stride: the constant, or `runtime` for the run-time case.
    static func value(_ runtime: Int) -> Int
}
enum ColumnStride1: ColumnStride { @inline(__always) static func value(_: Int) -> Int { 1 } }
enum ColumnStride2: ColumnStride { @inline(__always) static func value(_: Int) -> Int { 2 } }
enum ColumnStrideAny: ColumnStride { @inline(__always) static func value(_ runtime: Int) -> Int { runtime } }

/// The SIMD widths the depthwise kernel runs in: loads of every `stride`-th float, and stores.
/// Loads never read past the last element they return, so they are safe at a plane's end.
protocol DepthwiseVector: SIMD where Scalar == Float {
    static func load<S: ColumnStride>(_ p: UnsafePointer<Float>, _: S.Type, _ stride: Int) -> Self
}

extension DepthwiseVector {
    @inline(__always)
    func store(to p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: self, as: Self.self)
    }
}

extension SIMD16: DepthwiseVector where Scalar == Float {
    /// p[0], p[s], …, p[15s].
    @inline(__always)
    static func load<S: ColumnStride>(_ p: UnsafePointer<Float>, _: S.Type, _ stride: Int) -> SIMD16<Float> {
        let raw = UnsafeRawPointer(p)
        if S.self == ColumnStride1.self {
            return raw.loadUnaligned(as: SIMD16<Float>.self)
        } else if S.self == ColumnStride2.self {
            // p[0 ... 15] → 0, 2, …, 14; p[15 ... 30] → 16, …, 30 at its odd lanes.
            let a = raw.loadUnaligned(as: SIMD16<Float>.self)
            let b = raw.loadUnaligned(fromByteOffset: 15 * MemoryLayout<Float>.stride, as: SIMD16<Float>.self)
            return SIMD16(lowHalf: a.evenHalf, highHalf: b.oddHalf)
        } else {
            return SIMD16(lowHalf: SIMD8.load(p, S.self, stride), highHalf: SIMD8.load(p + 8 * stride, S.self, stride))
        }
    }
}

extension SIMD8: DepthwiseVector where Scalar == Float {
    /// p[0], p[s], …, p[7s].
    @inline(__always)
    static func load<S: ColumnStride>(_ p: UnsafePointer<Float>, _: S.Type, _ stride: Int) -> SIMD8<Float> {
        let raw = UnsafeRawPointer(p)
        if S.self == ColumnStride1.self {
            return raw.loadUnaligned(as: SIMD8<Float>.self)
        } else if S.self == ColumnStride2.self {
            // p[0 ... 7] gives the even elements 0, 2, 4, 6; p[7 ... 14] gives 8, 10, 12, 14 at
            // its odd lanes. Reading p[7 ...] rather than p[8 ...] keeps the load inside p[0 ... 14].
            let a = raw.loadUnaligned(as: SIMD8<Float>.self)
            let b = raw.loadUnaligned(fromByteOffset: 7 * MemoryLayout<Float>.stride, as: SIMD8<Float>.self)
            return SIMD8(lowHalf: a.evenHalf, highHalf: b.oddHalf)
        } else {
            return SIMD8(p[0], p[stride], p[2 * stride], p[3 * stride],
                         p[4 * stride], p[5 * stride], p[6 * stride], p[7 * stride])
        }
    }
}

extension SIMD4: DepthwiseVector where Scalar == Float {
    /// p[0], p[s], p[2s], p[3s].
    @inline(__always)
    static func load<S: ColumnStride>(_ p: UnsafePointer<Float>, _: S.Type, _ stride: Int) -> SIMD4<Float> {
        let raw = UnsafeRawPointer(p)
        if S.self == ColumnStride1.self {
            return raw.loadUnaligned(as: SIMD4<Float>.self)
        } else if S.self == ColumnStride2.self {
            // p[0 ... 3] → 0, 2; p[3 ... 6] → 4, 6 at its odd lanes.
            let a = raw.loadUnaligned(as: SIMD4<Float>.self)
            let b = raw.loadUnaligned(fromByteOffset: 3 * MemoryLayout<Float>.stride, as: SIMD4<Float>.self)
            return SIMD4(lowHalf: a.evenHalf, highHalf: b.oddHalf)
        } else {
            return SIMD4(p[0], p[stride], p[2 * stride], p[3 * stride])
        }
    }
}
