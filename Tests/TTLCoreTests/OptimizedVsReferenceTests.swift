import TTLCore
import XCTest
import _TestSupport

/// The optimized Float32 kernels against the Float64 reference on seeded random inputs,
/// over more parameter combinations than the PyTorch fixtures hold, with one and two threads
/// (the two-thread convolution splits the batch; one thread, or a batch of one, does not).
final class OptimizedVsReferenceTests: XCTestCase {
    var rng = SeededRandom(seed: 11)
    let fwd = (atol: 1e-5, rtol: 1e-4), bwd = (atol: 1e-4, rtol: 1e-3)

    override func tearDown() { ComputeThreads.count = 2 }

    /// Conv2D's forward and its three gradients against the reference on seeded random
    /// values; returns the inputs, the output gradient and the gradients for further checks.
    func compareWithReference(_ xs: Shape, _ ws: Shape, _ o: Conv2DOptions, _ name: String)
        -> (x: Tensor, w: Tensor, dy: Tensor, g: Conv2D.Gradients)
    {
        let (x, xr) = rng.pair(xs), (w, wr) = rng.pair(ws), (b, br) = rng.pair([ws[0]])
        let y = Conv2D.forward(input: x, weight: w, bias: b, options: o)
        assertClose(Reference.conv2d(xr, wr, br, o), y, atol: fwd.atol, rtol: fwd.rtol, name)
        let (dy, dyr) = rng.pair(y.shape)
        let g = Conv2D.backward(outputGradient: dy, input: x, weight: w, options: o)
        let r = Reference.conv2dBackward(dyr, xr, wr, o)
        assertClose(r.x, g.input!, atol: bwd.atol, rtol: bwd.rtol, name + " dx")
        assertClose(r.w, g.weight!, atol: bwd.atol, rtol: bwd.rtol, name + " dw")
        assertClose(r.b, g.bias!, atol: bwd.atol, rtol: bwd.rtol, name + " db")
        return (x, w, dy, g)
    }

    func testConv2DConfigurations() {
        let configs: [(x: Shape, w: Shape, o: Conv2DOptions)] = [
            ([1, 3, 9, 9], [4, 3, 3, 3], Conv2DOptions(padding: Padding2D(1))),
            ([5, 3, 9, 9], [4, 3, 3, 3], Conv2DOptions(padding: Padding2D(1))),
            ([3, 8, 6, 6], [8, 2, 3, 3], Conv2DOptions(stride: Size2D(2), padding: Padding2D(1), groups: 4)),
            ([4, 6, 8, 7], [12, 1, 3, 3], Conv2DOptions(padding: Padding2D(1), groups: 6)),
            ([3, 4, 10, 10], [4, 1, 5, 5], Conv2DOptions(stride: Size2D(2), padding: .same(input: Size2D(10), kernel: Size2D(5), stride: Size2D(2)), groups: 4)),
            ([2, 5, 6, 6], [7, 5, 1, 1], Conv2DOptions()),
            ([3, 5, 7, 7], [7, 5, 1, 1], Conv2DOptions(stride: Size2D(2))),
            ([9, 6, 7, 7], [10, 6, 1, 1], Conv2DOptions()),  // pointwise 7×7: several images packed per GEMM
            ([5, 8, 5, 5], [6, 4, 1, 1], Conv2DOptions(groups: 2)),  // packed, per group
            ([3, 4, 9, 9], [5, 4, 1, 1], Conv2DOptions()),  // pointwise 9×9 (81 > 64): one image per GEMM, in place
            ([2, 3, 12, 11], [2, 3, 3, 3], Conv2DOptions(stride: Size2D(3, 2), dilation: Size2D(2, 3), padding: Padding2D(top: 2, left: 1, bottom: 0, right: 3))),
            ([7, 16, 3, 3], [16, 16, 3, 3], Conv2DOptions(padding: Padding2D(1))),  // many small images: multi-image chunks
            ([2, 16, 64, 64], [8, 16, 3, 3], Conv2DOptions(padding: Padding2D(1))),  // large images: unrolled in row bands
            ([1, 3, 128, 128], [4, 3, 7, 7], Conv2DOptions(stride: Size2D(2), padding: Padding2D(3))),  // a stem, banded and strided
        ]
        for threads in [1, 2] {
            ComputeThreads.count = threads
            for c in configs {
                let name = "conv \(c.x) \(c.w) \(c.o) threads \(threads)"
                let (x, w, dy, g) = compareWithReference(c.x, c.w, c.o, name)
                // Asking for fewer gradients must not change the ones computed.
                let onlyWeight = Conv2D.backward(outputGradient: dy, input: x, weight: w, options: c.o, wantInput: false, wantBias: false)
                XCTAssertNil(onlyWeight.input)
                XCTAssertEqual(onlyWeight.weight, g.weight, name)
            }
        }
    }

    /// The depthwise kernel's paths (Conv2D+Depthwise.swift): interior rows and border rows
    /// (taps clamped), padded and unpadded columns, 8- and 4-wide blocks with the overlapping
    /// last block, scalar rows, strides 1, 2 and 3 (contiguous, de-interleaved and gathered
    /// loads), dilation, TF-'SAME' asymmetric padding, multiplier 2, planes smaller than the
    /// window, and rows and columns whose taps all fall in the padding.
    func testDepthwiseInteriorAndBorder() {
        func dw(_ x: Shape, mult: Int = 1, _ k: Int, stride: Size2D = Size2D(1), dilation: Size2D = Size2D(1),
                _ padding: Padding2D) -> (x: Shape, w: Shape, o: Conv2DOptions) {
            (x, [x[1] * mult, 1, k, k], Conv2DOptions(stride: stride, dilation: dilation, padding: padding, groups: x[1]))
        }
        let same = { (size: Size2D, k: Int, s: Int) in Padding2D.same(input: size, kernel: Size2D(k), stride: Size2D(s)) }
        let configs: [(x: Shape, w: Shape, o: Conv2DOptions)] = [
            dw([2, 3, 9, 10], 3, Padding2D(1)),  // k3 s1: W_out 10, one 8-block and an overlapping one
            dw([2, 3, 9, 27], 3, Padding2D(1)),  // three 8-blocks and an overlapping one
            dw([2, 3, 17, 19], 3, stride: Size2D(2), same(Size2D(17, 19), 3, 2)),  // TF SAME s2 on odd sides: 1 all round
            dw([2, 3, 16, 34], 3, stride: Size2D(2), same(Size2D(16, 34), 3, 2)),  // TF SAME s2 on even sides: t0 l0 b1 r1, W_out 17
            dw([2, 4, 12, 13], mult: 2, 5, Padding2D(2)),  // k5, multiplier 2
            dw([1, 2, 20, 21], 5, stride: Size2D(2), same(Size2D(20, 21), 5, 2)),  // k5 s2 SAME: t1 b2 on the even side
            dw([2, 3, 14, 15], 3, dilation: Size2D(2), Padding2D(2)),  // dilation 2
            dw([2, 2, 15, 30], mult: 2, 3, stride: Size2D(2), dilation: Size2D(2), Padding2D(top: 0, left: 1, bottom: 1, right: 2)),
            dw([1, 2, 11, 40], mult: 2, 5, stride: Size2D(1, 2), Padding2D(2)),  // stride (1, 2), W_out 20
            dw([2, 2, 16, 29], 3, stride: Size2D(3), Padding2D(1)),  // stride 3: gathered loads, W_out 10
            dw([2, 3, 7, 7], 5, Padding2D(2)),  // EfficientNet's 7×7 k5: 3 interior columns of 7
            dw([3, 2, 6, 6], 3, Padding2D(1)),  // W_out 6: two overlapping 4-blocks
            dw([2, 2, 5, 3], 3, Padding2D(1)),  // W_out 3: scalar
            dw([2, 3, 3, 2], 5, Padding2D(2)),  // plane smaller than the kernel: no interior
            dw([1, 2, 3, 4], mult: 2, 5, Padding2D(top: 1, left: 2, bottom: 3, right: 0)),  // smaller, asymmetric
            dw([2, 3, 8, 12], 3, Padding2D(top: 1, left: 0, bottom: 1, right: 0)),  // rows padded, columns not
            dw([2, 3, 9, 11], 3, .zero),  // no padding: every output interior
            dw([1, 2, 5, 9], 3, Padding2D(top: 3, left: 0, bottom: 0, right: 4)),  // a row and columns entirely in padding
        ]
        for threads in [1, 2] {
            ComputeThreads.count = threads
            for c in configs {
                let name = "depthwise \(c.x) \(c.w) \(c.o) threads \(threads)"
                let (x, w, dy, g) = compareWithReference(c.x, c.w, c.o, name)
                // dX alone and dW alone take their own branches; each must equal the joint result.
                let onlyInput = Conv2D.backward(outputGradient: dy, input: x, weight: w, options: c.o, wantWeight: false, wantBias: false)
                XCTAssertNil(onlyInput.weight)
                XCTAssertEqual(onlyInput.input, g.input, name)
                let onlyWeight = Conv2D.backward(outputGradient: dy, input: x, weight: w, options: c.o, wantInput: false, wantBias: false)
                XCTAssertNil(onlyWeight.input)
                XCTAssertEqual(onlyWeight.weight, g.weight, name)
            }
        }
    }

    func testLargeTensorsTakeTheParallelPaths() {
        ComputeThreads.count = 2
        let (x, xr) = rng.pair([4, 16, 24, 24], -6, 6)
        for f in [Reference.Activation.relu, .hardSwish, .sigmoid] {
            let y: Tensor = switch f {
            case .relu: ReLU.forward(x)
            case .hardSwish: HardSwish.forward(x)
            default: Sigmoid.forward(x)
            }
            assertClose(Reference.activation(f, xr), y, atol: fwd.atol, rtol: fwd.rtol, "\(f)")
        }
        let win = Window2D(kernel: Size2D(3), stride: Size2D(2), padding: Padding2D(1))
        assertClose(Reference.maxPool(xr, win).y, MaxPool2D.forward(x, window: win).output, atol: fwd.atol, rtol: fwd.rtol, "maxpool")
        XCTAssertEqual(MaxPool2D.forward(x, window: win, recordArgmax: false).output, MaxPool2D.forward(x, window: win).output)
        for epilogue in [Conv2D.Epilogue.relu, .clip(min: 0, max: 6), .clip(min: -1, max: 0.5)] {
            let (w, _) = rng.pair([8, 16, 3, 3]), (b, _) = rng.pair([8])
            let options = Conv2DOptions(padding: Padding2D(1))
            let plain = Conv2D.forward(input: x, weight: w, bias: b, options: options)
            let expected: Tensor = switch epilogue {
            case .relu: ReLU.forward(plain)
            case let .clip(lo, hi): Clip.forward(plain, min: lo, max: hi)
            case .none: plain
            }
            XCTAssertEqual(Conv2D.forward(input: x, weight: w, bias: b, options: options, epilogue: epilogue), expected, "\(epilogue)")
        }
        assertClose(Reference.avgPool(xr, win, countIncludePad: false), AvgPool2D.forward(x, window: win, countIncludePad: false),
                    atol: fwd.atol, rtol: fwd.rtol, "avgpool")
        assertClose(Reference.globalAvgPool(xr), GlobalAvgPool.forward(x), atol: fwd.atol, rtol: fwd.rtol, "global avgpool")
        let (s, sr) = rng.pair([1, 16, 1, 1])
        assertClose(Reference.binary(.mul, xr, sr), Binary.forward(.mul, x, s), atol: fwd.atol, rtol: fwd.rtol, "mul")
        let p = BatchNorm.Parameters(scale: s.reshaped([16]), bias: s.reshaped([16]), mean: s.reshaped([16]),
                                     variance: s.reshaped([16]).map { abs($0) + 0.5 }, epsilon: 1e-5)
        assertClose(Reference.batchNorm(xr, scale: sr.scalars, bias: sr.scalars, mean: sr.scalars,
                                        variance: sr.scalars.map { Double(Float(abs($0)) + 0.5) }, epsilon: Double(Float(1e-5))),
                    BatchNorm.inference(input: x, p), atol: fwd.atol, rtol: fwd.rtol, "batchnorm")
    }

    func testTransposeAndBroadcastShapes() {
        for (perm, s) in [([0, 2, 3, 1], [2, 3, 4, 5]), ([3, 2, 1, 0], [2, 1, 3, 2]), ([0, 1], [3, 3]), ([1, 0, 2], [2, 3, 1])] as [([Int], Shape)] {
            let (x, xr) = rng.pair(s)
            XCTAssertEqual(Transpose.forward(x, permutation: perm), Reference.transpose(xr, perm).tensor, "\(perm) \(s)")
        }
        for (sa, sb) in [([2, 3, 4], [3, 1]), ([1], [2, 2]), ([4, 1, 3], [2, 1]), ([2, 1, 1, 5], [1, 3, 4, 1])] as [(Shape, Shape)] {
            let (a, ar) = rng.pair(sa), (b, br) = rng.pair(sb, 0.5, 2)
            for op in Binary.Op.allCases {
                let y = Binary.forward(op, a, b)
                assertClose(Reference.binary(op, ar, br), y, atol: fwd.atol, rtol: fwd.rtol, "\(op) \(sa) \(sb)")
                let (dy, dyr) = rng.pair(y.shape)
                let g = Binary.backward(op, outputGradient: dy, a, b), r = Reference.binaryBackward(op, dyr, ar, br)
                assertClose(r.a, g.a, atol: bwd.atol, rtol: bwd.rtol, "\(op) \(sa) \(sb) da")
                assertClose(r.b, g.b, atol: bwd.atol, rtol: bwd.rtol, "\(op) \(sa) \(sb) db")
            }
        }
        XCTAssertNil(Broadcast.shape([2, 3], [4]))
    }

    func testPaddingSameMatchesTensorFlow() {
        // TF: out = ceil(in / stride); the odd pixel of padding goes bottom/right.
        XCTAssertEqual(Padding2D.same(input: Size2D(224), kernel: Size2D(3), stride: Size2D(2)), Padding2D(top: 0, left: 0, bottom: 1, right: 1))
        XCTAssertEqual(Padding2D.same(input: Size2D(7), kernel: Size2D(3), stride: Size2D(1)), Padding2D(1))
        XCTAssertEqual(Padding2D.same(input: Size2D(112), kernel: Size2D(5), stride: Size2D(2)), Padding2D(top: 1, left: 1, bottom: 2, right: 2))
        let w = Window2D(kernel: Size2D(5), stride: Size2D(2), padding: .same(input: Size2D(113), kernel: Size2D(5), stride: Size2D(2)))
        XCTAssertEqual(w.outputSize(height: 113, width: 113), Size2D(57))
    }
}
