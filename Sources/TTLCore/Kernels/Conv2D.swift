// 2-D convolution (cross-correlation, as PyTorch and ONNX define it).
//
// Forward lowers each group to one GEMM: the input patches are unrolled into a column
// matrix (im2col) of shape [C_in/g · kH · kW, B · H_out · W_out] for a chunk of B images,
// and W_g [C_out/g, C_in/g · kH · kW] × columns gives the output. Chunking several small
// images into one GEMM keeps N large for the late 7×7 layers. 1×1 stride-1 unpadded
// convolutions skip im2col (forward only packs planes of ≤ 64 pixels, several images per
// GEMM); depthwise convolutions (one input channel per group) use a direct loop, since their
// per-group GEMMs would be 1×9 by 9×P (Conv2D+Depthwise.swift).
//
// Backward: dW_g = dY_g · columnsᵀ, dColumns = W_gᵀ · dY_g scattered back (col2im), db = Σ dY.

/// Options of a 2-D convolution.
public struct Conv2DOptions: Hashable, Sendable {
    /// Step of the window along H and W.
    public var stride: Size2D
    /// Spacing of the kernel taps along H and W (1: adjacent).
    public var dilation: Size2D
    /// Zero padding on each side of the input plane.
    public var padding: Padding2D
    /// Channel groups: output group g reads only input group g (`groups == C_in` is depthwise).
    public var groups: Int

    /// Options; the defaults are stride 1, dilation 1, no padding and one group.
    public init(stride: Size2D = Size2D(1), dilation: Size2D = Size2D(1), padding: Padding2D = .zero, groups: Int = 1) {
        self.stride = stride; self.dilation = dilation; self.padding = padding; self.groups = groups
    }

    func window(kernel: Size2D) -> Window2D {
        Window2D(kernel: kernel, stride: stride, dilation: dilation, padding: padding)
    }
}

/// 2-D convolution (cross-correlation, as PyTorch and ONNX define it), forward and backward:
/// input `[N, C_in, H, W]`, weight `[C_out, C_in / groups, kH, kW]`, output `[N, C_out, H_out, W_out]`.
public enum Conv2D {
    /// The output shape, checking that input, weight and options agree.
    /// - Parameters:
    ///   - input: `[N, C_in, H, W]`
    ///   - weight: `[C_out, C_in / groups, kH, kW]`
    /// - Returns: `[N, C_out, H_out, W_out]`
    public static func outputShape(input: Shape, weight: Shape, options: Conv2DOptions) -> Shape {
        precondition(input.rank == 4 && weight.rank == 4, "conv2d wants 4-D input and weight, got \(input) and \(weight)")
        let g = options.groups
        precondition(g >= 1 && input[1] % g == 0 && weight[0] % g == 0 && weight[1] * g == input[1],
                     "conv2d: input \(input), weight \(weight), groups \(g) disagree")
        let out = options.window(kernel: Size2D(weight[2], weight[3])).outputSize(height: input[2], width: input[3])
        precondition(out.h > 0 && out.w > 0, "conv2d: window larger than padded input \(input)")
        return [input[0], weight[0], out.h, out.w]
    }

    /// What is applied to each output element after the bias, in the same pass: lets an
    /// inference graph fuse a following ReLU or ReLU6 into the convolution.
    public enum Epilogue: Sendable, Equatable {
        case none
        case relu
        case clip(min: Float, max: Float)
    }

    /// Forward pass.
    /// - Parameters:
    ///   - input: `[N, C_in, H, W]`
    ///   - weight: `[C_out, C_in / groups, kH, kW]`
    ///   - bias: `[C_out]` or nil
    ///   - epilogue: an activation applied to the result
    /// - Returns: `[N, C_out, H_out, W_out]`
    public static func forward(input: Tensor, weight: Tensor, bias: Tensor?, options: Conv2DOptions, epilogue: Epilogue = .none) -> Tensor {
        let outShape = outputShape(input: input.shape, weight: weight.shape, options: options)
        if let bias { precondition(bias.shape == [weight.shape[0]], "conv2d bias \(bias.shape) for \(weight.shape[0]) channels") }
        let geo = Geometry(input: input.shape, weight: weight.shape, output: outShape, options: options)
        // Every element is written by the GEMM or the depthwise loop, so no zero fill first.
        return input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                Tensor(uninitialized: outShape) { y in
                    if geo.isDepthwise {
                        depthwiseForward(geo, x.baseAddress!, w.baseAddress!, y.baseAddress!)
                    } else {
                        gemmForward(geo, x.baseAddress!, w.baseAddress!, y.baseAddress!)
                    }
                    if let bias {
                        bias.withUnsafeBufferPointer { b in finish(geo, b.baseAddress!, epilogue, y.baseAddress!) }
                    } else if epilogue != .none {
                        finish(geo, nil, epilogue, y.baseAddress!)
                    }
                }
            }
        }
    }

    /// Gradients of a convolution; each is nil when not asked for.
    public struct Gradients {
        /// `[N, C_in, H, W]`
        public var input: Tensor?
        /// `[C_out, C_in / groups, kH, kW]`
        public var weight: Tensor?
        /// `[C_out]`
        public var bias: Tensor?
    }

    /// Backward pass: given dL/dY, returns dL/dX, dL/dW and dL/db as requested.
    /// - Parameters:
    ///   - outputGradient: `[N, C_out, H_out, W_out]`
    ///   - input: the forward input `[N, C_in, H, W]`
    ///   - weight: `[C_out, C_in / groups, kH, kW]`
    public static func backward(outputGradient: Tensor, input: Tensor, weight: Tensor, options: Conv2DOptions,
                                wantInput: Bool = true, wantWeight: Bool = true, wantBias: Bool = true) -> Gradients {
        let outShape = outputShape(input: input.shape, weight: weight.shape, options: options)
        precondition(outputGradient.shape == outShape, "conv2d backward: gradient \(outputGradient.shape), output \(outShape)")
        let geo = Geometry(input: input.shape, weight: weight.shape, output: outShape, options: options)
        var grads = Gradients()
        var dx = wantInput ? Tensor(zeros: input.shape) : nil
        var dw = wantWeight ? Tensor(zeros: weight.shape) : nil
        outputGradient.withUnsafeBufferPointer { dy in
            input.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { w in
                    withOptionalMutablePointer(&dx) { dxp in
                        withOptionalMutablePointer(&dw) { dwp in
                            if geo.isDepthwise {
                                depthwiseBackward(geo, dy.baseAddress!, x.baseAddress!, w.baseAddress!, dxp, dwp)
                            } else {
                                gemmBackward(geo, dy.baseAddress!, x.baseAddress!, w.baseAddress!, dxp, dwp)
                            }
                        }
                    }
                }
            }
        }
        grads.input = dx
        grads.weight = dw
        if wantBias { grads.bias = biasGradient(outputGradient) }
        return grads
    }

    /// db[c] = Σ_{n,h,w} dY[n, c, h, w]; `outputGradient` is `[N, C, H, W]`, the result `[C]`.
    public static func biasGradient(_ outputGradient: Tensor) -> Tensor {
        let s = outputGradient.shape
        let (n, c, plane) = (s[0], s[1], s[2] * s[3])
        return outputGradient.withUnsafeBufferPointer { dy in
            Tensor(uninitialized: [c]) { db in
                for ch in 0 ..< c {
                    var acc: Float = 0
                    for i in 0 ..< n {
                        let p = dy.baseAddress! + (i * c + ch) * plane
                        for j in 0 ..< plane { acc += p[j] }
                    }
                    db[ch] = acc
                }
            }
        }
    }

    // MARK: - Geometry

    struct Geometry {
        let n, cIn, h, w: Int
        let cOut, kh, kw: Int
        let ho, wo: Int
        let sh, sw, dh, dw, pt, pl: Int
        let groups: Int
        var cInG: Int { cIn / groups }
        var cOutG: Int { cOut / groups }
        var k: Int { cInG * kh * kw }  // GEMM depth per group
        var plane: Int { h * w }
        var outPlane: Int { ho * wo }
        var isDepthwise: Bool { groups > 1 && cInG == 1 }
        var isPointwise: Bool { kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && ho == h && wo == w }

        init(input: Shape, weight: Shape, output: Shape, options o: Conv2DOptions) {
            (n, cIn, h, w) = (input[0], input[1], input[2], input[3])
            (cOut, kh, kw) = (weight[0], weight[2], weight[3])
            (ho, wo) = (output[2], output[3])
            (sh, sw, dh, dw) = (o.stride.h, o.stride.w, o.dilation.h, o.dilation.w)
            (pt, pl) = (o.padding.top, o.padding.left)
            groups = o.groups
        }

        /// Output rows per band when one large image is unrolled band by band: a band of
        /// columns fills about 1 MiB, the L2 cache of the machines measured (ResNet-18's stem
        /// and layer1 ran ~10 % faster than unrolling the whole image).
        var rowsPerBlock: Int { max(1, (256 << 10) / max(1, k * wo)) }

        /// Images per GEMM: at least ~2048 columns to keep BLAS efficient on the late 7×7
        /// layers, and a column buffer of at most 16 MiB per thread (it stays in L3).
        /// Both numbers were tuned with `ttl-bench` on ResNet-18's layers.
        /// Pointwise convolutions use `pointwiseImagesPerChunk` in forward, and one image per GEMM
        /// in backward (not measured).
        var imagesPerChunk: Int {
            if isPointwise { return 1 }
            let wanted = (2048 + outPlane - 1) / outPlane
            let memoryCap = max(1, (4 << 20) / max(1, k * outPlane))
            return max(1, min(n, wanted, memoryCap))
        }

        /// Images per forward GEMM of a pointwise (1×1, stride 1, unpadded) convolution. Its
        /// per-image GEMM is W [C_out, C_in] × X_n [C_in, P], skinny for small planes, so planes
        /// of at most 64 pixels are packed several images to one [C_in, b · P] matrix, as
        /// im2col does, at the cost of a copy in and a scatter out. `ttl-bench --pointwise`,
        /// batch 32, 2 threads: EfficientNet-Lite0's 7×7 layers 10–30 % faster; at 14×14 and
        /// 28×28 no consistent gain, so those stay one image per GEMM, read in place.
        var pointwiseImagesPerChunk: Int {
            if outPlane > 64 { return 1 }
            let wanted = (2048 + outPlane - 1) / outPlane
            let memoryCap = max(1, (4 << 20) / max(1, k * outPlane))
            return max(1, min(n, wanted, memoryCap))
        }
    }

    // MARK: - im2col / col2im

    /// Unrolls output rows `rows` (all by default) of images `n0 ..< n0 + b`, channels of group
    /// `g`, into `cols` `[K, b · |rows| · W_out]`.
    static func im2col(_ geo: Geometry, _ x: UnsafePointer<Float>, n0: Int, b: Int, g: Int, rows: Range<Int>? = nil,
                       _ cols: UnsafeMutablePointer<Float>, serial: Bool) {
        let rows = rows ?? 0 ..< geo.ho
        let segment = rows.count * geo.wo
        let ld = b * segment
        parallelFor(geo.k, costPerItem: ld, serial: serial) { r in
            let c = r / (geo.kh * geo.kw), kh = r / geo.kw % geo.kh, kw = r % geo.kw
            for i in 0 ..< b {
                let src = x + ((n0 + i) * geo.cIn + g * geo.cInG + c) * geo.plane
                var dst = cols + r * ld + i * segment
                for oh in rows {
                    let ih = oh * geo.sh - geo.pt + kh * geo.dh
                    if ih < 0 || ih >= geo.h {
                        dst.update(repeating: 0, count: geo.wo)
                    } else {
                        let row = src + ih * geo.w
                        let iw0 = -geo.pl + kw * geo.dw
                        if geo.sw == 1 {
                            // Contiguous: zeros, a copied run, zeros.
                            let lo = min(max(0, -iw0), geo.wo), hi = max(lo, min(geo.wo, geo.w - iw0))
                            dst.update(repeating: 0, count: lo)
                            (dst + lo).update(from: row + iw0 + lo, count: hi - lo)
                            (dst + hi).update(repeating: 0, count: geo.wo - hi)
                        } else {
                            // Strided: the outputs whose tap lands inside the row, then zeros around them.
                            let lo = min(geo.wo, iw0 >= 0 ? 0 : (-iw0 + geo.sw - 1) / geo.sw)
                            let hi = max(lo, min(geo.wo, iw0 >= geo.w ? 0 : (geo.w - 1 - iw0) / geo.sw + 1))
                            dst.update(repeating: 0, count: lo)
                            var src = row + iw0 + lo * geo.sw
                            for ow in lo ..< hi {
                                dst[ow] = src.pointee
                                src += geo.sw
                            }
                            (dst + hi).update(repeating: 0, count: geo.wo - hi)
                        }
                    }
                    dst += geo.wo
                }
            }
        }
    }

    /// Packs images `n0 ..< n0 + b`, channels of group `g`, of a pointwise convolution into
    /// `cols` `[C_in/g, b · P]`: row c is image n0's plane of channel c, then image n0 + 1's, …
    /// (im2col of a 1×1 window, one contiguous copy per plane).
    static func packPointwise(_ geo: Geometry, _ x: UnsafePointer<Float>, n0: Int, b: Int, g: Int,
                              _ cols: UnsafeMutablePointer<Float>, serial: Bool) {
        let p = geo.plane
        parallelFor(geo.cInG, costPerItem: b * p, serial: serial) { c in
            for i in 0 ..< b {
                (cols + (c * b + i) * p).update(from: x + ((n0 + i) * geo.cIn + g * geo.cInG + c) * p, count: p)
            }
        }
    }

    /// Adds `cols` `[K, b · P]` back into dX for images `n0 ..< n0 + b`, group `g`.
    static func col2im(_ geo: Geometry, _ cols: UnsafePointer<Float>, n0: Int, b: Int, g: Int,
                       _ dx: UnsafeMutablePointer<Float>, serial: Bool) {
        let ld = b * geo.outPlane
        let taps = geo.kh * geo.kw
        // Each input channel only receives from its own rows, so channels run in parallel.
        parallelFor(geo.cInG, costPerItem: taps * ld, serial: serial) { c in
            for i in 0 ..< b {
                let plane = dx + ((n0 + i) * geo.cIn + g * geo.cInG + c) * geo.plane
                for t in 0 ..< taps {
                    let kh = t / geo.kw, kw = t % geo.kw
                    var src = cols + (c * taps + t) * ld + i * geo.outPlane
                    for oh in 0 ..< geo.ho {
                        let ih = oh * geo.sh - geo.pt + kh * geo.dh
                        if ih >= 0 && ih < geo.h {
                            let row = plane + ih * geo.w
                            let iw0 = -geo.pl + kw * geo.dw
                            for ow in 0 ..< geo.wo {
                                let iw = iw0 + ow * geo.sw
                                if iw >= 0 && iw < geo.w { row[iw] += src[ow] }
                            }
                        }
                        src += geo.wo
                    }
                }
            }
        }
    }

    // MARK: - GEMM path

    /// Runs `body` over the batch. With at least as many images as threads, each thread takes
    /// its own images and runs im2col and single-threaded GEMMs on them, so BLAS's thread pool
    /// never competes with ours (measured: 1.4–1.8× faster than alternating parallel im2col and
    /// multithreaded GEMM). With fewer images (batch 1 inference), one worker uses all threads.
    static func splitBatch(_ geo: Geometry, _ body: (_ images: Range<Int>, _ worker: Int, _ serial: Bool) -> Void) {
        let threads = ComputeThreads.count
        if threads > 1 && geo.n >= threads {
            BLAS.withThreadCount(1) {
                onThreads(threads) { t in body(geo.n * t / threads ..< geo.n * (t + 1) / threads, t, true) }
            }
        } else {
            body(0 ..< geo.n, 0, false)
        }
    }

    static func gemmForward(_ geo: Geometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        splitBatch(geo) { images, _, serial in
            gemmForward(geo, x, w, y, images: images, serial: serial)
        }
    }

    static func gemmForward(_ geo: Geometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                            images: Range<Int>, serial: Bool) {
        let chunk = min(geo.isPointwise ? geo.pointwiseImagesPerChunk : geo.imagesPerChunk, max(images.count, 1))
        let p = geo.outPlane
        let packs = !geo.isPointwise || chunk > 1
        let cols = packs ? UnsafeMutablePointer<Float>.allocate(capacity: geo.k * chunk * p) : nil
        let staged = chunk > 1 ? UnsafeMutablePointer<Float>.allocate(capacity: geo.cOutG * chunk * p) : nil
        defer { cols?.deallocate(); staged?.deallocate() }
        var n0 = images.lowerBound
        while n0 < images.upperBound {
            let b = min(chunk, images.upperBound - n0)
            for g in 0 ..< geo.groups {
                let wg = w + g * geo.cOutG * geo.k
                if b == 1, !geo.isPointwise, let cols, geo.rowsPerBlock < geo.ho {
                    // One large image: unroll a band of output rows at a time, so that the
                    // column block is still in cache when BLAS reads it.
                    var oh0 = 0
                    while oh0 < geo.ho {
                        let rows = oh0 ..< min(geo.ho, oh0 + geo.rowsPerBlock)
                        im2col(geo, x, n0: n0, b: 1, g: g, rows: rows, cols, serial: serial)
                        BLAS.sgemm(m: geo.cOutG, n: rows.count * geo.wo, k: geo.k, a: wg, lda: geo.k,
                                   b: cols, ldb: rows.count * geo.wo,
                                   c: y + (n0 * geo.cOut + g * geo.cOutG) * p + oh0 * geo.wo, ldc: p)
                        oh0 = rows.upperBound
                    }
                    continue
                }
                let colPtr: UnsafePointer<Float>
                if geo.isPointwise && b == 1 {
                    colPtr = x + (n0 * geo.cIn + g * geo.cInG) * geo.plane
                } else if geo.isPointwise, let cols {
                    packPointwise(geo, x, n0: n0, b: b, g: g, cols, serial: serial)
                    colPtr = UnsafePointer(cols)
                } else if let cols {
                    im2col(geo, x, n0: n0, b: b, g: g, cols, serial: serial)
                    colPtr = UnsafePointer(cols)
                } else {
                    colPtr = x + (n0 * geo.cIn + g * geo.cInG) * geo.plane
                }
                if b == 1 {
                    BLAS.sgemm(m: geo.cOutG, n: p, k: geo.k, a: wg, lda: geo.k, b: colPtr, ldb: p,
                               c: y + (n0 * geo.cOut + g * geo.cOutG) * p, ldc: p)
                } else if let staged {
                    BLAS.sgemm(m: geo.cOutG, n: b * p, k: geo.k, a: wg, lda: geo.k, b: colPtr, ldb: b * p,
                               c: staged, ldc: b * p)
                    // staged [C_out/g, b, P] → y [b, C_out, P]
                    parallelFor(geo.cOutG, costPerItem: b * p, serial: serial) { m in
                        for i in 0 ..< b {
                            (y + ((n0 + i) * geo.cOut + g * geo.cOutG + m) * p)
                                .update(from: staged + (m * b + i) * p, count: p)
                        }
                    }
                }
            }
            n0 += b
        }
    }

    static func gemmBackward(_ geo: Geometry, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                             _ dx: UnsafeMutablePointer<Float>?, _ dw: UnsafeMutablePointer<Float>?) {
        let threads = ComputeThreads.count
        let weightCount = geo.cOut * geo.k
        // Worker 0 accumulates into dw itself; the others into partial sums added at the end.
        let partials = dw != nil && threads > 1 && geo.n >= threads
            ? UnsafeMutablePointer<Float>.allocate(capacity: (threads - 1) * weightCount) : nil
        partials?.initialize(repeating: 0, count: (threads - 1) * weightCount)
        defer { partials?.deallocate() }
        splitBatch(geo) { images, worker, serial in
            let dwWorker = worker == 0 ? dw : partials.map { $0 + (worker - 1) * weightCount }
            gemmBackward(geo, dy, x, w, dx, dwWorker, images: images, serial: serial)
        }
        if let dw, let partials {
            for t in 0 ..< threads - 1 {
                let part = partials + t * weightCount
                for i in 0 ..< weightCount { dw[i] += part[i] }
            }
        }
    }

    static func gemmBackward(_ geo: Geometry, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                             _ dx: UnsafeMutablePointer<Float>?, _ dw: UnsafeMutablePointer<Float>?,
                             images: Range<Int>, serial: Bool) {
        let chunk = min(geo.imagesPerChunk, max(images.count, 1))
        let p = geo.outPlane
        let cols = geo.isPointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: geo.k * chunk * p)
        let staged = chunk > 1 ? UnsafeMutablePointer<Float>.allocate(capacity: geo.cOutG * chunk * p) : nil
        defer { cols?.deallocate(); staged?.deallocate() }
        var n0 = images.lowerBound
        while n0 < images.upperBound {
            let b = min(chunk, images.upperBound - n0)
            for g in 0 ..< geo.groups {
                // dY_g as a [C_out/g, b · P] matrix.
                let dyg: UnsafePointer<Float>
                if b == 1 {
                    dyg = dy + (n0 * geo.cOut + g * geo.cOutG) * p
                } else {
                    let staged = staged!
                    parallelFor(geo.cOutG, costPerItem: b * p, serial: serial) { m in
                        for i in 0 ..< b {
                            (staged + (m * b + i) * p).update(from: dy + ((n0 + i) * geo.cOut + g * geo.cOutG + m) * p, count: p)
                        }
                    }
                    dyg = UnsafePointer(staged)
                }
                let wg = w + g * geo.cOutG * geo.k
                if let dw {
                    let colPtr: UnsafePointer<Float>
                    if let cols {
                        im2col(geo, x, n0: n0, b: b, g: g, cols, serial: serial)
                        colPtr = UnsafePointer(cols)
                    } else {
                        colPtr = x + (n0 * geo.cIn + g * geo.cInG) * geo.plane
                    }
                    // dW_g [C_out/g, K] += dY_g [C_out/g, bP] · colsᵀ [bP, K]
                    BLAS.sgemm(transposeB: true, m: geo.cOutG, n: geo.k, k: b * p,
                               a: dyg, lda: b * p, b: colPtr, ldb: b * p,
                               beta: 1, c: dw + g * geo.cOutG * geo.k, ldc: geo.k)
                }
                if let dx {
                    if let cols {
                        // dCols [K, bP] = W_gᵀ [K, C_out/g] · dY_g [C_out/g, bP]
                        BLAS.sgemm(transposeA: true, m: geo.k, n: b * p, k: geo.cOutG,
                                   a: wg, lda: geo.k, b: dyg, ldb: b * p, c: cols, ldc: b * p)
                        col2im(geo, cols, n0: n0, b: b, g: g, dx, serial: serial)
                    } else {
                        BLAS.sgemm(transposeA: true, m: geo.k, n: p, k: geo.cOutG,
                                   a: wg, lda: geo.k, b: dyg, ldb: p,
                                   c: dx + (n0 * geo.cIn + g * geo.cInG) * geo.plane, ldc: p)
                    }
                }
            }
            n0 += b
        }
    }

    /// Adds the bias and applies the epilogue, one pass over each output plane.
    static func finish(_ geo: Geometry, _ bias: UnsafePointer<Float>?, _ epilogue: Epilogue, _ y: UnsafeMutablePointer<Float>) {
        let p = geo.outPlane
        let (lo, hi): (Float, Float) = switch epilogue {
        case .none: (-.infinity, .infinity)
        case .relu: (0, .infinity)
        case let .clip(a, b): (a, b)
        }
        parallelFor(geo.n * geo.cOut, costPerItem: p) { nc in
            let v = bias?[nc % geo.cOut] ?? 0
            let row = y + nc * p
            if epilogue == .none {
                for i in 0 ..< p { row[i] += v }
            } else {
                for i in 0 ..< p { row[i] = min(max(row[i] + v, lo), hi) }
            }
        }
    }
}
