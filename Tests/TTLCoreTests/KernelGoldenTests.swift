import Foundation
import TTLCore
import XCTest
import _TestSupport

/// Every kernel against PyTorch: fixtures from `scripts/make_fixtures.py`.
/// The optimized Float32 kernel and the Float64 reference must both match.
final class KernelGoldenTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/kernels")
    static let forward = (atol: 1e-5, rtol: 1e-4)
    static let backward = (atol: 1e-4, rtol: 1e-3)

    /// Runs every case of `op`, comparing each expected array (`y`, `d*`, `*_out`) that the case holds.
    func check(_ op: String, minimumCases: Int = 2, file: StaticString = #filePath, line: UInt = #line) throws {
        let cases = try KernelFixture.all(in: Self.root).filter { $0.op == op }
        XCTAssertGreaterThanOrEqual(cases.count, minimumCases, "too few fixture cases for \(op)", file: file, line: line)
        for f in cases {
            let fast = try KernelRunner.optimized(f)
            let slow = try KernelRunner.reference(f)
            let files = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent(f.name).path)
            let expectedNames = files.map { String($0.dropLast(4)) }
                .filter { ($0 == "y" || $0.hasPrefix("d") || $0.hasSuffix("_out")) && $0 != "dy" }
            XCTAssertFalse(expectedNames.isEmpty, f.name, file: file, line: line)
            for name in expectedNames.sorted() {
                let expected = try f.tensor(name)
                let tol = name == "y" || name.hasSuffix("_out") ? Self.forward : Self.backward
                guard let got = fast[name], let ref = slow[name] else {
                    XCTFail("\(f.name): kernel produced no '\(name)'", file: file, line: line)
                    continue
                }
                assertClose(got, expected, atol: tol.atol, rtol: tol.rtol, "\(f.name).\(name) (optimized)", file: file, line: line)
                assertClose(ref, expected, atol: tol.atol, rtol: tol.rtol, "\(f.name).\(name) (reference)", file: file, line: line)
            }
        }
    }

    func testConv2D() throws { try check("conv2d", minimumCases: 10) }
    func testBatchNorm() throws { try check("batchnorm", minimumCases: 4) }
    func testReLU() throws { try check("relu", minimumCases: 1) }
    func testClip() throws { try check("clip") }
    func testLeakyReLU() throws { try check("leaky_relu") }
    func testSigmoid() throws { try check("sigmoid", minimumCases: 1) }
    func testHardSigmoid() throws { try check("hard_sigmoid") }
    func testHardSwish() throws { try check("hard_swish", minimumCases: 1) }
    func testMaxPool() throws { try check("maxpool", minimumCases: 5) }
    func testAvgPool() throws { try check("avgpool", minimumCases: 6) }
    func testGlobalAvgPool() throws { try check("global_avgpool", minimumCases: 1) }
    func testPad2D() throws { try check("pad2d") }
    func testBinaryBroadcast() throws { try check("binary", minimumCases: 8) }
    func testGemm() throws { try check("gemm", minimumCases: 4) }
    func testTranspose() throws { try check("transpose", minimumCases: 3) }
    func testFlatten() throws { try check("flatten") }
    func testReshape() throws { try check("reshape", minimumCases: 1) }
    func testSoftmax() throws { try check("softmax") }
    func testCrossEntropy() throws { try check("cross_entropy") }
    func testBinaryCrossEntropy() throws { try check("bce_with_logits") }

    /// No fixture is left unchecked because its op has no test above.
    func testEveryFixtureOpIsTested() throws {
        let tested: Set = ["conv2d", "batchnorm", "relu", "clip", "leaky_relu", "sigmoid", "hard_sigmoid", "hard_swish",
                           "maxpool", "avgpool", "global_avgpool", "pad2d", "binary", "gemm", "transpose", "flatten", "reshape",
                           "softmax", "cross_entropy", "bce_with_logits"]
        let ops = Set(try KernelFixture.all(in: Self.root).map(\.op))
        XCTAssertEqual(ops.subtracting(tested), [], "fixture ops without a test")
        XCTAssertEqual(tested.subtracting(ops), [], "tested ops without fixtures")
    }
}

/// Turns a fixture into calls of the optimized kernels or of the reference kernels.
enum KernelRunner {
    static func convOptions(_ f: KernelFixture) -> Conv2DOptions {
        let s = f.ints("stride"), d = f.ints("dilation"), p = f.ints("pads")
        return Conv2DOptions(stride: Size2D(s[0], s[1]), dilation: Size2D(d[0], d[1]),
                             padding: Padding2D(top: p[0], left: p[1], bottom: p[2], right: p[3]), groups: f.int("groups"))
    }

    static func window(_ f: KernelFixture) -> Window2D {
        let k = f.ints("kernel"), s = f.ints("stride"), p = f.ints("pads"), d = f.ints("dilation")
        return Window2D(kernel: Size2D(k[0], k[1]), stride: Size2D(s[0], s[1]), dilation: Size2D(d[0], d[1]),
                        padding: Padding2D(top: p[0], left: p[1], bottom: p[2], right: p[3]), ceilMode: f.bool("ceil_mode"))
    }

    static func activation(_ f: KernelFixture) -> Reference.Activation {
        switch f.op {
        case "relu": .relu
        case "clip": .clip(min: f.double("min"), max: f.double("max"))
        case "leaky_relu": .leakyReLU(slope: f.double("slope"))
        case "sigmoid": .sigmoid
        case "hard_sigmoid": .hardSigmoid(alpha: f.double("alpha"), beta: f.double("beta"))
        default: .hardSwish
        }
    }

    static func gemmOptions(_ f: KernelFixture) -> Gemm.Options {
        Gemm.Options(transposeA: f.bool("trans_a"), transposeB: f.bool("trans_b"), alpha: Float(f.double("alpha")), beta: Float(f.double("beta")))
    }

    static func optimized(_ f: KernelFixture) throws -> [String: Tensor] {
        switch f.op {
        case "conv2d":
            let (x, w, dy) = (try f.tensor("x"), try f.tensor("w"), try f.tensor("dy"))
            let b = f.has("b") ? try f.tensor("b") : nil
            let o = convOptions(f)
            let g = Conv2D.backward(outputGradient: dy, input: x, weight: w, options: o, wantBias: b != nil)
            var r = ["y": Conv2D.forward(input: x, weight: w, bias: b, options: o), "dx": g.input!, "dw": g.weight!]
            r["db"] = g.bias
            return r
        case "batchnorm":
            let (x, dy) = (try f.tensor("x"), try f.tensor("dy"))
            var p = BatchNorm.Parameters(scale: try f.tensor("scale"), bias: try f.tensor("bias"), mean: try f.tensor("mean"),
                                         variance: try f.tensor("variance"), epsilon: Float(f.double("epsilon")))
            if f.bool("training") {
                let (y, cache) = BatchNorm.training(input: x, &p, momentum: Float(f.double("momentum")))
                let g = BatchNorm.trainingBackward(outputGradient: dy, input: x, scale: p.scale, cache: cache)
                return ["y": y, "dx": g.input, "dscale": g.scale, "dbias": g.bias, "mean_out": p.mean, "variance_out": p.variance]
            }
            let g = BatchNorm.inferenceBackward(outputGradient: dy, input: x, p)
            return ["y": BatchNorm.inference(input: x, p), "dx": g.input, "dscale": g.scale, "dbias": g.bias]
        case "relu", "clip", "leaky_relu", "sigmoid", "hard_sigmoid", "hard_swish":
            let (x, dy) = (try f.tensor("x"), try f.tensor("dy"))
            switch activation(f) {
            case .relu: return ["y": ReLU.forward(x), "dx": ReLU.backward(outputGradient: dy, input: x)]
            case let .clip(lo, hi):
                return ["y": Clip.forward(x, min: Float(lo), max: Float(hi)), "dx": Clip.backward(outputGradient: dy, input: x, min: Float(lo), max: Float(hi))]
            case let .leakyReLU(s):
                return ["y": LeakyReLU.forward(x, slope: Float(s)), "dx": LeakyReLU.backward(outputGradient: dy, input: x, slope: Float(s))]
            case .sigmoid:
                let y = Sigmoid.forward(x)
                return ["y": y, "dx": Sigmoid.backward(outputGradient: dy, output: y)]
            case let .hardSigmoid(a, b):
                return ["y": HardSigmoid.forward(x, alpha: Float(a), beta: Float(b)),
                        "dx": HardSigmoid.backward(outputGradient: dy, input: x, alpha: Float(a), beta: Float(b))]
            case .hardSwish: return ["y": HardSwish.forward(x), "dx": HardSwish.backward(outputGradient: dy, input: x)]
            }
        case "maxpool":
            let (x, dy) = (try f.tensor("x"), try f.tensor("dy"))
            let (y, cache) = MaxPool2D.forward(x, window: window(f))
            return ["y": y, "dx": MaxPool2D.backward(outputGradient: dy, cache: cache)]
        case "avgpool":
            let (x, dy) = (try f.tensor("x"), try f.tensor("dy"))
            let inc = f.bool("count_include_pad")
            return ["y": AvgPool2D.forward(x, window: window(f), countIncludePad: inc),
                    "dx": AvgPool2D.backward(outputGradient: dy, inputShape: x.shape, window: window(f), countIncludePad: inc)]
        case "global_avgpool":
            let (x, dy) = (try f.tensor("x"), try f.tensor("dy"))
            return ["y": GlobalAvgPool.forward(x), "dx": GlobalAvgPool.backward(outputGradient: dy, inputShape: x.shape)]
        case "pad2d":
            let (x, dy) = (try f.tensor("x"), try f.tensor("dy"))
            let p = f.ints("pads")
            let pad = Padding2D(top: p[0], left: p[1], bottom: p[2], right: p[3])
            return ["y": Pad2D.forward(x, padding: pad, value: Float(f.double("value"))), "dx": Pad2D.backward(outputGradient: dy, padding: pad)]
        case "binary":
            let (a, b, dy) = (try f.tensor("a"), try f.tensor("b"), try f.tensor("dy"))
            let op = Binary.Op(rawValue: f.string("op"))!
            let g = Binary.backward(op, outputGradient: dy, a, b)
            return ["y": Binary.forward(op, a, b), "da": g.a, "db": g.b]
        case "gemm":
            let (a, b, dy) = (try f.tensor("a"), try f.tensor("b"), try f.tensor("dy"))
            let c = f.has("c") ? try f.tensor("c") : nil
            let g = Gemm.backward(outputGradient: dy, a, b, cShape: c?.shape, options: gemmOptions(f))
            var r = ["y": Gemm.forward(a, b, c, options: gemmOptions(f)), "da": g.a, "db": g.b]
            r["dc"] = g.c
            return r
        case "transpose":
            let (x, dy) = (try f.tensor("x"), try f.tensor("dy"))
            let perm = f.ints("perm")
            return ["y": Transpose.forward(x, permutation: perm), "dx": Transpose.backward(outputGradient: dy, permutation: perm)]
        case "flatten":
            let (x, dy) = (try f.tensor("x"), try f.tensor("dy"))
            return ["y": Flatten.forward(x, axis: f.int("axis")), "dx": Flatten.backward(outputGradient: dy, inputShape: x.shape)]
        case "reshape":
            let (x, dy) = (try f.tensor("x"), try f.tensor("dy"))
            return ["y": Reshape.forward(x, to: Shape(f.ints("shape"))), "dx": Reshape.backward(outputGradient: dy, inputShape: x.shape)]
        case "softmax":
            let (x, dy) = (try f.tensor("x"), try f.tensor("dy"))
            let y = Softmax.forward(x, axis: f.int("axis"))
            return ["y": y, "dx": Softmax.backward(outputGradient: dy, output: y, axis: f.int("axis"))]
        case "cross_entropy":
            let logits = try f.tensor("logits"), labels = try f.integers("labels")
            let eps = Float(f.double("label_smoothing"))
            let (loss, cache) = SoftmaxCrossEntropy.forward(logits: logits, labels: labels, labelSmoothing: eps)
            return ["y": Tensor(shape: [], scalars: [loss]),
                    "dlogits": SoftmaxCrossEntropy.backward(cache: cache, labels: labels, labelSmoothing: eps, lossGradient: try f.tensor("dy").scalars[0])]
        case "bce_with_logits":
            let logits = try f.tensor("logits"), targets = try f.tensor("targets")
            let (loss, cache) = BinaryCrossEntropy.forward(logits: logits, targets: targets)
            return ["y": Tensor(shape: [], scalars: [loss]),
                    "dlogits": BinaryCrossEntropy.backward(cache: cache, targets: targets, lossGradient: try f.tensor("dy").scalars[0])]
        default:
            XCTFail("unknown fixture op \(f.op)")
            return [:]
        }
    }

    static func reference(_ f: KernelFixture) throws -> [String: ReferenceTensor<Double>] {
        func r(_ name: String) throws -> ReferenceTensor<Double> { ReferenceTensor(try f.tensor(name)) }
        func v(_ name: String) throws -> [Double] { try r(name).scalars }
        func vec(_ a: [Double]) -> ReferenceTensor<Double> { ReferenceTensor(shape: [a.count], scalars: a) }
        switch f.op {
        case "conv2d":
            let (x, w, dy) = (try r("x"), try r("w"), try r("dy"))
            let g = Reference.conv2dBackward(dy, x, w, convOptions(f))
            var out = ["y": Reference.conv2d(x, w, f.has("b") ? try r("b") : nil, convOptions(f)), "dx": g.x, "dw": g.w]
            if f.has("b") { out["db"] = g.b }
            return out
        case "batchnorm":
            let (x, dy) = (try r("x"), try r("dy"))
            let (scale, bias, mean, variance) = (try v("scale"), try v("bias"), try v("mean"), try v("variance"))
            let eps = Double(Float(f.double("epsilon")))
            if f.bool("training") {
                let t = Reference.batchNormTraining(x, scale: scale, bias: bias, runningMean: mean, runningVariance: variance,
                                                    momentum: f.double("momentum"), epsilon: eps)
                let g = Reference.batchNormTrainingBackward(dy, x, scale: scale, epsilon: eps)
                return ["y": t.y, "dx": g.x, "dscale": vec(g.scale), "dbias": vec(g.bias), "mean_out": vec(t.mean), "variance_out": vec(t.variance)]
            }
            let g = Reference.batchNormBackward(dy, x, scale: scale, mean: mean, variance: variance, epsilon: eps)
            return ["y": Reference.batchNorm(x, scale: scale, bias: bias, mean: mean, variance: variance, epsilon: eps),
                    "dx": g.x, "dscale": vec(g.scale), "dbias": vec(g.bias)]
        case "relu", "clip", "leaky_relu", "sigmoid", "hard_sigmoid", "hard_swish":
            let (x, dy) = (try r("x"), try r("dy"))
            return ["y": Reference.activation(activation(f), x), "dx": Reference.activationBackward(activation(f), dy, x)]
        case "maxpool":
            let (x, dy) = (try r("x"), try r("dy"))
            return ["y": Reference.maxPool(x, window(f)).y, "dx": Reference.maxPoolBackward(dy, x, window(f))]
        case "avgpool":
            let (x, dy) = (try r("x"), try r("dy"))
            let inc = f.bool("count_include_pad")
            return ["y": Reference.avgPool(x, window(f), countIncludePad: inc),
                    "dx": Reference.avgPoolBackward(dy, inputShape: x.shape, window(f), countIncludePad: inc)]
        case "global_avgpool":
            let (x, dy) = (try r("x"), try r("dy"))
            return ["y": Reference.globalAvgPool(x), "dx": Reference.globalAvgPoolBackward(dy, inputShape: x.shape)]
        case "pad2d":
            let (x, dy) = (try r("x"), try r("dy"))
            let p = f.ints("pads")
            let pad = Padding2D(top: p[0], left: p[1], bottom: p[2], right: p[3])
            return ["y": Reference.pad2d(x, pad, value: f.double("value")), "dx": Reference.pad2dBackward(dy, pad, inputShape: x.shape)]
        case "binary":
            let (a, b, dy) = (try r("a"), try r("b"), try r("dy"))
            let op = Binary.Op(rawValue: f.string("op"))!
            let g = Reference.binaryBackward(op, dy, a, b)
            return ["y": Reference.binary(op, a, b), "da": g.a, "db": g.b]
        case "gemm":
            let (a, b, dy) = (try r("a"), try r("b"), try r("dy"))
            let c = f.has("c") ? try r("c") : nil
            let g = Reference.gemmBackward(dy, a, b, cShape: c?.shape, gemmOptions(f))
            var out = ["y": Reference.gemm(a, b, c, gemmOptions(f)), "da": g.a, "db": g.b]
            out["dc"] = g.c
            return out
        case "transpose":
            let (x, dy) = (try r("x"), try r("dy"))
            return ["y": Reference.transpose(x, f.ints("perm")), "dx": Reference.transposeBackward(dy, f.ints("perm"))]
        case "flatten", "reshape":
            let (x, dy) = (try r("x"), try r("dy"))
            let shape = f.op == "flatten" ? Flatten.outputShape(x.shape, axis: f.int("axis")) : Shape(f.ints("shape"))
            return ["y": ReferenceTensor(shape: shape, scalars: x.scalars), "dx": ReferenceTensor(shape: x.shape, scalars: dy.scalars)]
        case "softmax":
            let (x, dy) = (try r("x"), try r("dy"))
            return ["y": Reference.softmax(x, axis: f.int("axis")), "dx": Reference.softmaxBackward(dy, x, axis: f.int("axis"))]
        case "cross_entropy":
            let logits = try r("logits"), labels = try f.integers("labels")
            let eps = f.double("label_smoothing")
            return ["y": ReferenceTensor(shape: [], scalars: [Reference.crossEntropy(logits, labels, labelSmoothing: eps)]),
                    "dlogits": Reference.crossEntropyBackward(logits, labels, labelSmoothing: eps)]
        case "bce_with_logits":
            let logits = try r("logits"), targets = try r("targets")
            return ["y": ReferenceTensor(shape: [], scalars: [Reference.binaryCrossEntropy(logits, targets)]),
                    "dlogits": Reference.binaryCrossEntropyBackward(logits, targets)]
        default:
            return [:]
        }
    }
}
