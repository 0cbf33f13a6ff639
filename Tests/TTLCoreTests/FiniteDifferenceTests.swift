import TTLCore
import XCTest
import _TestSupport

/// Every backward of the reference kernels against central finite differences in Float64.
/// The optimized kernels are tied to these by `OptimizedVsReferenceTests` and to PyTorch by
/// `KernelGoldenTests`.
final class FiniteDifferenceTests: XCTestCase {
    typealias R = ReferenceTensor<Double>
    var rng = SeededRandom(seed: 7)

    /// Compares `backward(dy, inputs)` with (f(x + h) − f(x − h)) / 2h of `Σ dy · forward(inputs)`
    /// for every element of every input; one result per input.
    func gradientCloseness(_ inputs: [R], forward: ([R]) -> R, backward: (R, [R]) -> [R]) -> [Closeness] {
        let y = forward(inputs)
        let dy = rng.reference(y.shape)
        let analytic = backward(dy, inputs)
        precondition(analytic.count == inputs.count && zip(analytic, inputs).allSatisfy { $0.shape == $1.shape })
        let h = 1e-6
        func objective(_ x: [R]) -> Double { zip(forward(x).scalars, dy.scalars).reduce(0) { $0 + $1.0 * $1.1 } }
        return inputs.indices.map { k in
            var numeric = [Double](repeating: 0, count: inputs[k].scalars.count)
            for i in numeric.indices {
                var plus = inputs, minus = inputs
                plus[k].scalars[i] += h
                minus[k].scalars[i] -= h
                numeric[i] = (objective(plus) - objective(minus)) / (2 * h)
            }
            return closeness(analytic[k].scalars, numeric, atol: 1e-7, rtol: 1e-6)
        }
    }

    func gradcheck(_ name: String, _ inputs: [R], forward: ([R]) -> R, backward: (R, [R]) -> [R],
                   file: StaticString = #filePath, line: UInt = #line) {
        for (k, c) in gradientCloseness(inputs, forward: forward, backward: backward).enumerated() {
            XCTAssertTrue(c.passes, "\(name): gradient of input \(k): \(c)", file: file, line: line)
        }
    }

    func testConv2D() {
        let configs: [(x: Shape, w: Shape, o: Conv2DOptions)] = [
            ([2, 3, 5, 5], [4, 3, 3, 3], Conv2DOptions(padding: Padding2D(1))),
            ([1, 4, 7, 6], [4, 2, 3, 3], Conv2DOptions(stride: Size2D(2), padding: Padding2D(1), groups: 2)),
            ([1, 3, 6, 6], [6, 1, 3, 3], Conv2DOptions(padding: Padding2D(top: 0, left: 1, bottom: 1, right: 0), groups: 3)),
            ([1, 2, 7, 7], [2, 2, 3, 2], Conv2DOptions(stride: Size2D(1, 2), dilation: Size2D(2, 1), padding: Padding2D(2))),
            ([2, 3, 4, 4], [2, 3, 1, 1], Conv2DOptions()),
        ]
        for c in configs {
            let ins = [rng.reference(c.x), rng.reference(c.w), rng.reference([c.w[0]])]
            gradcheck("conv2d \(c.x) \(c.w) \(c.o)", ins, forward: { Reference.conv2d($0[0], $0[1], $0[2], c.o) }) { dy, x in
                let g = Reference.conv2dBackward(dy, x[0], x[1], c.o)
                return [g.x, g.w, g.b]
            }
        }
    }

    func testBatchNormInference() {
        let mean = rng.array(3), variance = rng.array(3, 0.2, 2)
        let ins = [rng.reference([2, 3, 2, 3]), rng.reference([3]), rng.reference([3])]
        gradcheck("batchnorm inference", ins, forward: {
            Reference.batchNorm($0[0], scale: $0[1].scalars, bias: $0[2].scalars, mean: mean, variance: variance, epsilon: 1e-3)
        }) { dy, x in
            let g = Reference.batchNormBackward(dy, x[0], scale: x[1].scalars, mean: mean, variance: variance, epsilon: 1e-3)
            return [g.x, R(shape: [3], scalars: g.scale), R(shape: [3], scalars: g.bias)]
        }
    }

    func testBatchNormTraining() {
        let ins = [rng.reference([3, 2, 2, 2]), rng.reference([2]), rng.reference([2])]
        gradcheck("batchnorm training", ins, forward: {
            Reference.batchNormTraining($0[0], scale: $0[1].scalars, bias: $0[2].scalars, runningMean: [0, 0], runningVariance: [1, 1],
                                        momentum: 0.1, epsilon: 1e-5).y
        }) { dy, x in
            let g = Reference.batchNormTrainingBackward(dy, x[0], scale: x[1].scalars, epsilon: 1e-5)
            return [g.x, R(shape: [2], scalars: g.scale), R(shape: [2], scalars: g.bias)]
        }
    }

    func testActivations() {
        let all: [Reference.Activation] = [.relu, .clip(min: 0, max: 6), .clip(min: -0.5, max: 0.7), .leakyReLU(slope: 0.2), .sigmoid,
                                           .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSigmoid(alpha: 1.0 / 6, beta: 0.5), .hardSwish]
        for f in all {
            let x = R(shape: [40], scalars: rng.array(40, -8, 8))
            gradcheck("\(f)", [x], forward: { Reference.activation(f, $0[0]) }) { dy, x in [Reference.activationBackward(f, dy, x[0])] }
        }
    }

    func testMaxPool() {
        for win in [Window2D(kernel: Size2D(3), stride: Size2D(2), padding: Padding2D(1)),
                    Window2D(kernel: Size2D(2), stride: Size2D(2), ceilMode: true),
                    Window2D(kernel: Size2D(3), stride: Size2D(1), dilation: Size2D(2), padding: Padding2D(top: 1, left: 0, bottom: 0, right: 1))] {
            gradcheck("maxpool \(win)", [rng.reference([1, 2, 7, 7])], forward: { Reference.maxPool($0[0], win).y }) { dy, x in
                [Reference.maxPoolBackward(dy, x[0], win)]
            }
        }
    }

    func testAvgPool() {
        for include in [true, false] {
            for win in [Window2D(kernel: Size2D(3), stride: Size2D(2), padding: Padding2D(1)),
                        Window2D(kernel: Size2D(3), stride: Size2D(2), padding: Padding2D(1), ceilMode: true),
                        Window2D(kernel: Size2D(2, 3), stride: Size2D(2), padding: Padding2D(top: 1, left: 0, bottom: 0, right: 1))] {
                let s: Shape = [1, 2, 6, 7]
                gradcheck("avgpool \(win) include \(include)", [rng.reference(s)],
                          forward: { Reference.avgPool($0[0], win, countIncludePad: include) }) { dy, _ in
                    [Reference.avgPoolBackward(dy, inputShape: s, win, countIncludePad: include)]
                }
            }
        }
    }

    func testGlobalAvgPool() {
        gradcheck("global avgpool", [rng.reference([2, 3, 3, 4])], forward: { Reference.globalAvgPool($0[0]) }) { dy, x in
            [Reference.globalAvgPoolBackward(dy, inputShape: x[0].shape)]
        }
    }

    func testPad2D() {
        let p = Padding2D(top: 1, left: 0, bottom: 2, right: 1)
        gradcheck("pad2d", [rng.reference([1, 2, 3, 3])], forward: { Reference.pad2d($0[0], p, value: 0.5) }) { dy, x in
            [Reference.pad2dBackward(dy, p, inputShape: x[0].shape)]
        }
    }

    func testBinary() {
        for op in Binary.Op.allCases {
            for (sa, sb) in [([2, 3, 2, 2], [1, 3, 1, 1]), ([3, 4], [4]), ([3, 1, 2], [1, 4, 1]), ([2, 2], [2, 2])] as [(Shape, Shape)] {
                let b = op == .div ? R(shape: sb, scalars: rng.array(sb.count, 0.5, 2)) : rng.reference(sb)
                gradcheck("\(op) \(sa) \(sb)", [rng.reference(sa), b], forward: { Reference.binary(op, $0[0], $0[1]) }) { dy, x in
                    let g = Reference.binaryBackward(op, dy, x[0], x[1])
                    return [g.a, g.b]
                }
            }
        }
    }

    func testGemm() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for cShape in [nil, [4] as Shape, [3, 1] as Shape, [3, 4] as Shape] {
                let o = Gemm.Options(transposeA: ta, transposeB: tb, alpha: 0.7, beta: 1.5)
                var ins = [rng.reference(ta ? [5, 3] : [3, 5]), rng.reference(tb ? [4, 5] : [5, 4])]
                if let cShape { ins.append(rng.reference(cShape)) }
                gradcheck("gemm \(o) C \(String(describing: cShape))", ins,
                          forward: { Reference.gemm($0[0], $0[1], $0.count > 2 ? $0[2] : nil, o) }) { dy, x in
                    let g = Reference.gemmBackward(dy, x[0], x[1], cShape: cShape, o)
                    return [g.a, g.b] + (g.c.map { [$0] } ?? [])
                }
            }
        }
    }

    func testTranspose() {
        for (perm, s) in [([0, 2, 3, 1], [2, 3, 2, 2]), ([1, 0], [3, 4]), ([2, 0, 1], [2, 3, 2])] as [([Int], Shape)] {
            gradcheck("transpose \(perm)", [rng.reference(s)], forward: { Reference.transpose($0[0], perm) }) { dy, _ in
                [Reference.transposeBackward(dy, perm)]
            }
        }
    }

    func testSoftmax() {
        for (s, axis) in [([3, 5], -1), ([2, 4, 3], 1)] as [(Shape, Int)] {
            gradcheck("softmax \(s) axis \(axis)", [rng.reference(s, -3, 3)], forward: { Reference.softmax($0[0], axis: axis) }) { dy, x in
                [Reference.softmaxBackward(dy, x[0], axis: axis)]
            }
        }
    }

    func testCrossEntropy() {
        let labels = [2, 0, 3, 3, 1]
        for eps in [0.0, 0.1] {
            gradcheck("cross-entropy ε \(eps)", [rng.reference([5, 4], -3, 3)], forward: {
                R(shape: [], scalars: [Reference.crossEntropy($0[0], labels, labelSmoothing: eps)])
            }) { dy, x in
                let g = Reference.crossEntropyBackward(x[0], labels, labelSmoothing: eps)
                return [R(shape: g.shape, scalars: g.scalars.map { $0 * dy.scalars[0] })]
            }
        }
    }

    func testBinaryCrossEntropy() {
        let targets = R(shape: [4, 3], scalars: [1, 0, 0.25, 0, 1, 1, 0.5, 0, 1, 0, 0, 0.75])
        gradcheck("binary cross-entropy", [rng.reference([4, 3], -4, 4)], forward: {
            R(shape: [], scalars: [Reference.binaryCrossEntropy($0[0], targets)])
        }) { dy, x in
            let g = Reference.binaryCrossEntropyBackward(x[0], targets)
            return [R(shape: g.shape, scalars: g.scalars.map { $0 * dy.scalars[0] })]
        }
    }

    /// Reshape and flatten move no values: their backward is the inverse reshape, checked here
    /// on the optimized kernels directly.
    func testReshapeAndFlatten() {
        let (x, _) = rng.pair([2, 3, 4])
        let y = Flatten.forward(x, axis: 2)
        XCTAssertEqual(y.shape, [6, 4])
        XCTAssertEqual(Flatten.backward(outputGradient: y, inputShape: x.shape), x)
        XCTAssertEqual(Reshape.backward(outputGradient: Reshape.forward(x, to: [4, 6]), inputShape: x.shape), x)
    }

    /// A gradient check that cannot fail proves nothing: a wrong backward must be caught.
    func testGradcheckCatchesAWrongGradient() {
        let results = gradientCloseness([rng.reference([5])], forward: { Reference.activation(.sigmoid, $0[0]) }) { dy, x in
            [Reference.activationBackward(.hardSwish, dy, x[0])]
        }
        XCTAssertFalse(results[0].passes)
    }
}
