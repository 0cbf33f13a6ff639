import Foundation
import TTLCore
@testable import TTLNN
import XCTest
import _TestSupport

/// The oneDNN engine's plans against ttl's reference Swift kernels (themselves checked against
/// PyTorch by the golden tests): every fusion, layout and fallback path of the plan builder,
/// on small graphs with seeded random weights.
final class EngineTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(OneDNN.isAvailable, "ttl was built without oneDNN here")
    }

    var rng = SplitMix64(seed: 7)

    func random(_ shape: Shape, _ lo: Float = -1, _ hi: Float = 1) -> Tensor { Tensor.uniform(shape, lo, hi, using: &rng) }

    /// Runs `model` on both engines and compares (forward tolerances of the golden tests).
    @discardableResult
    func check(_ model: Model, _ input: Tensor, _ name: String, planned: Bool = true, swiftOperations: [String] = [],
               file: StaticString = #filePath, line: UInt = #line) throws -> Tensor {
        Engine.current = .reference
        let expected = try model.run([model.inputs[0].name: input])[model.outputs[0]]!
        Engine.current = .oneDNN
        defer { Engine.current = .oneDNN }
        let summary = model.prepare([model.inputs[0].name: input.shape])
        XCTAssertEqual(summary != nil, planned, "\(name): planned", file: file, line: line)
        if let summary { XCTAssertEqual(summary.swiftOperations, swiftOperations, "\(name): \(summary)", file: file, line: line) }
        let got = try model.run([model.inputs[0].name: input])[model.outputs[0]]!
        XCTAssertEqual(got.shape, expected.shape, name, file: file, line: line)
        assertClose(got, expected, atol: 1e-5, rtol: 1e-4, name, file: file, line: line)
        // A second run reuses the plan and its buffers.
        let again = try model.run([model.inputs[0].name: input])[model.outputs[0]]!
        XCTAssertTrue(again.bitwiseEqual(got), "\(name): second run", file: file, line: line)
        return got
    }

    func model(_ input: Shape, _ nodes: [Node], _ params: [(String, Tensor)], output: String? = nil) throws -> Model {
        try Model(inputs: [InputSpec(name: "x", dimensions: [nil] + input.dimensions.dropFirst().map { Optional($0) })], outputs: [output ?? nodes.last!.outputs[0]],
                  nodes: nodes, parameters: ParameterTree(params))
    }

    func batchNorm(_ c: Int, _ prefix: String) -> [(String, Tensor)] {
        [("\(prefix).weight", random([c], 0.5, 1.5)), ("\(prefix).bias", random([c])),
         ("\(prefix).mean", random([c], -0.2, 0.2)), ("\(prefix).var", random([c], 0.5, 2))]
    }

    func bnNode(_ name: String, _ input: String, _ prefix: String) -> Node {
        Node(name, BatchNormOp(epsilon: 1e-5), inputs: [input, "\(prefix).weight", "\(prefix).bias", "\(prefix).mean", "\(prefix).var"])
    }

    func testConvolutionGeometries() throws {
        // (C_in, C_out, kernel, options)
        let cases: [(Int, Int, Size2D, Conv2DOptions, String)] = [
            (3, 8, Size2D(7), Conv2DOptions(stride: Size2D(2), padding: Padding2D(3)), "stem 7×7/2"),
            (8, 16, Size2D(3), Conv2DOptions(padding: Padding2D(1)), "3×3"),
            (16, 16, Size2D(3), Conv2DOptions(stride: Size2D(2), padding: Padding2D(top: 0, left: 0, bottom: 1, right: 1), groups: 16),
             "depthwise 3×3/2, TF same"),
            (8, 16, Size2D(5), Conv2DOptions(padding: Padding2D(2), groups: 8), "depthwise ×2, 5×5"),
            (8, 8, Size2D(3), Conv2DOptions(dilation: Size2D(2), padding: Padding2D(2)), "dilated"),
            (8, 12, Size2D(3), Conv2DOptions(padding: Padding2D(1), groups: 4), "grouped"),
            (12, 20, Size2D(1), Conv2DOptions(), "pointwise"),
            (6, 6, Size2D(3, 1), Conv2DOptions(stride: Size2D(1, 2), padding: Padding2D(top: 1, left: 0, bottom: 1, right: 0)), "3×1, strides 1×2"),
        ]
        for (cIn, cOut, k, o, name) in cases {
            for bias in [false, true] {
                var params = [("w", random([cOut, cIn / o.groups, k.h, k.w]))]
                if bias { params.append(("b", random([cOut]))) }
                let m = try model([1, cIn, 13, 12], [Node("conv", Conv2DOp(o), inputs: ["x", "w"] + (bias ? ["b"] : []))], params)
                try check(m, random([3, cIn, 13, 12]), "\(name), bias \(bias)")
            }
        }
    }

    /// ttl's Winograd F(4×4, 3×3) kernel (activations in nChw8c on AVX2 machines, nChw16c on
    /// AVX-512 ones, whose GEMMs then run as the AVX-512 kernel): partial
    /// tiles at the right and bottom edges, symmetric and asymmetric pads, bias or none, a
    /// folded batch norm, the residual sum and both activations of its epilogue.
    /// Each case runs with the transformed weights kept and made per panel of 16 output
    /// channels (`TTL_WINOGRAD=panels`, what layers above 256×256 channels do), in blocks of
    /// tiles (16 output channels) and split by output channels (32: batch 1's schedule), on
    /// several random samples, against a double-precision reference within Winograd's
    /// rounding bound (see `WinogradBound`).
    func testWinogradConvolution() throws {
        let before = ComputeThreads.count
        ComputeThreads.count = 2  // with more threads than blocks of tiles, direct convolution is chosen
        defer { ComputeThreads.count = before }
        for panels in [false, true] {
            if panels { setenv("TTL_WINOGRAD", "panels", 1) }
            defer { if panels { unsetenv("TTL_WINOGRAD") } }
            try winogradCases(panels ? "panels" : "kept")
        }
    }

    /// The Winograd kernel on each activation layout this machine's oneDNN has kernels for:
    /// nChw8c (AVX2 machines' layout, here with the GEMM kernel of this CPU), and on AVX-512
    /// machines also nChw16c (their default) and nhwc (oneDNN's own choice there), whose
    /// channel blocks are the whole channel count.
    func testWinogradInEveryLayout() throws {
        let before = ComputeThreads.count
        ComputeThreads.count = 2
        defer {
            ComputeThreads.count = before
            OneDNN.setActivationLayout("default")
        }
        let layouts = OneDNN.isa.hasPrefix("avx512_core") ? ["nChw8c", "nChw16c", "nhwc"] : ["nChw8c"]
        for layout in layouts {
            XCTAssertTrue(OneDNN.setActivationLayout(layout), layout)
            try winogradCases("kept, \(layout)")
        }
        XCTAssertFalse(OneDNN.setActivationLayout("nchw16"))
    }

    /// The Winograd cases on five random samples (seeds 7 to 11), each result within the
    /// first-order rounding bound of Winograd F(4×4, 3×3) around a double-precision direct
    /// convolution (`WinogradBound`). (A tolerance relative to |y| alone, 1e-5 + 1e-4·|y|,
    /// was exceeded by ~1.2e-6 on a sample whose terms cancelled: Winograd's rounding grows
    /// with its transformed terms, not with the result.)
    func winogradCases(_ mode: String) throws {
        defer { Engine.current = .oneDNN }
        let pads = [(Padding2D(1), "pad 1"), (Padding2D(top: 0, left: 2, bottom: 2, right: 0), "pads 0,2,2,0")]
        for seed: UInt64 in 7 ... 11 {
            rng = SplitMix64(seed: seed)
            for (pad, padName) in pads {
                for (cIn, cOut, bias) in [(16, 16, false), (8, 32, true)] {
                    try winogradConvolutionWithinBound(cIn: cIn, cOut: cOut, bias: bias, padding: pad,
                                                       "winograd (\(mode), seed \(seed)) \(cIn)→\(cOut), \(padName), bias \(bias)")
                }
            }
            try winogradBlockWithinBound("winograd (\(mode), seed \(seed)) residual block")
        }
    }

    /// Whether this machine's oneDNN runs on AVX2 or AVX-512 (with the nChw8c or nChw16c
    /// layout Winograd takes) and Winograd is not switched off.
    func winogradApplies() -> Bool {
        (OneDNN.isa.hasPrefix("avx2") || OneDNN.isa.hasPrefix("avx512_core")) && getenv("TTL_WINOGRAD").map { String(cString: $0) } != "0"
    }

    func assertWinograd(_ m: Model, _ shape: Shape, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        guard winogradApplies() else { return }
        let kernels = try XCTUnwrap(m.prepare(["x": shape])).kernels
        XCTAssertTrue(kernels.contains { $0.hasPrefix("ttl:winograd") }, "\(name): \(kernels)", file: file, line: line)
    }

    /// Conv → BN → ReLU → Conv → BN → Add(identity) → ReLU, the ResNet block, fused into two steps.
    func testResidualBlockFusion() throws {
        var params = [("w1", random([8, 8, 3, 3], -0.3, 0.3)), ("w2", random([8, 8, 3, 3], -0.3, 0.3))]
        params += batchNorm(8, "bn1") + batchNorm(8, "bn2")
        let nodes = [
            Node("stem", ActivationOp(.relu), inputs: ["x"]),
            Node("conv1", Conv2DOp(Conv2DOptions(padding: Padding2D(1))), inputs: ["stem", "w1"]),
            bnNode("bn1", "conv1", "bn1"),
            Node("relu1", ActivationOp(.relu), inputs: ["bn1"]),
            Node("conv2", Conv2DOp(Conv2DOptions(padding: Padding2D(1))), inputs: ["relu1", "w2"]),
            bnNode("bn2", "conv2", "bn2"),
            Node("add", BinaryOp(.add), inputs: ["bn2", "stem"]),
            Node("relu2", ActivationOp(.clip(min: 0, max: 6)), inputs: ["add"]),
        ]
        let m = try model([1, 8, 9, 9], nodes, params)
        try check(m, random([2, 8, 9, 9]), "residual block")
        XCTAssertEqual(m.prepare(["x": [2, 8, 9, 9]])?.engineSteps, 3, "ReLU, Conv+BN+ReLU, Conv+BN+Add+ReLU6")
    }

    /// The residual is read again after the Add: the convolution must not overwrite it.
    func testResidualStillNeededIsNotOverwritten() throws {
        let params = [("w", random([4, 4, 3, 3])), ("w2", random([4, 4, 1, 1]))]
        let nodes = [
            Node("r", ActivationOp(.relu), inputs: ["x"]),
            Node("conv", Conv2DOp(Conv2DOptions(padding: Padding2D(1))), inputs: ["r", "w"]),
            Node("add", BinaryOp(.add), inputs: ["conv", "r"]),
            Node("later", Conv2DOp(Conv2DOptions()), inputs: ["r", "w2"]),
            Node("sum", BinaryOp(.add), inputs: ["add", "later"]),
        ]
        try check(try model([1, 4, 6, 6], nodes, params), random([2, 4, 6, 6]), "residual read later")
    }

    func testPooling() throws {
        let windows: [(Window2D, String)] = [
            (Window2D(kernel: Size2D(3), stride: Size2D(2), padding: Padding2D(1)), "3×3/2 pad 1"),
            (Window2D(kernel: Size2D(3), stride: Size2D(2), ceilMode: true), "3×3/2 ceil"),
            (Window2D(kernel: Size2D(2), stride: Size2D(2)), "2×2/2"),
            (Window2D(kernel: Size2D(3), stride: Size2D(1), padding: Padding2D(top: 1, left: 0, bottom: 0, right: 1)), "asymmetric pads"),
        ]
        let x = random([2, 5, 11, 10])
        for (w, name) in windows {
            try check(try model([1, 5, 11, 10], [Node("p", MaxPoolOp(w), inputs: ["x"])], []), x, "max pool \(name)")
            try check(try model([1, 5, 11, 10], [Node("p", AvgPoolOp(w, countIncludePad: false), inputs: ["x"])], []), x, "avg pool \(name)")
            let includes = try model([1, 5, 11, 10], [Node("p", AvgPoolOp(w, countIncludePad: true), inputs: ["x"])], [])
            // Counting padding with ceil mode's extra cells is left to the Swift kernel.
            try check(includes, x, "avg pool counting pads \(name)", swiftOperations: w.ceilMode ? ["AveragePool"] : [])
        }
        var dilated = Window2D(kernel: Size2D(2), stride: Size2D(1))
        dilated.dilation = Size2D(2)
        try check(try model([1, 5, 11, 10], [Node("p", MaxPoolOp(dilated), inputs: ["x"])], []), x, "dilated max pool")
    }

    /// Global pool → Flatten → Linear: the inner product reads the pooled 4-D layout directly.
    func testClassifierHead() throws {
        let params = [("w", random([8, 16, 3, 3])), ("fc.weight", random([10, 8])), ("fc.bias", random([10]))]
        let nodes = [
            Node("conv", Conv2DOp(Conv2DOptions(padding: Padding2D(1))), inputs: ["x", "w"]),
            Node("gap", GlobalAvgPoolOp(), inputs: ["conv"]),
            Node("flat", FlattenOp(axis: 1), inputs: ["gap"]),
            Node("fc", GemmOp(Gemm.Options(transposeB: true)), inputs: ["flat", "fc.weight", "fc.bias"]),
        ]
        try check(try model([1, 16, 7, 7], nodes, params), random([3, 16, 7, 7]), "head")
        // From a batch of 8 the inner product's weights are reordered into oneDNN's layout.
        try check(try model([1, 16, 7, 7], nodes, params), random([12, 16, 7, 7]), "head, batch 12")
        // MatMul-style weights [in, out] and a Softmax left to Swift.
        let nodes2 = [
            Node("conv", Conv2DOp(Conv2DOptions(padding: Padding2D(1))), inputs: ["x", "w"]),
            Node("gap", GlobalAvgPoolOp(), inputs: ["conv"]),
            Node("flat", FlattenOp(axis: 1), inputs: ["gap"]),
            Node("fc", GemmOp(Gemm.Options()), inputs: ["flat", "fcT"]),
            Node("p", SoftmaxOp(axis: -1), inputs: ["fc"]),
        ]
        try check(try model([1, 16, 7, 7], nodes2, [("w", params[0].1), ("fcT", random([8, 10]))]), random([3, 16, 7, 7]), "head, MatMul",
                  swiftOperations: ["Softmax"])
    }

    /// Squeeze-and-excitation (a broadcast Mul), activations, a concat, a standalone batch
    /// norm, and Swift operations between oneDNN steps (their inputs made plain first).
    func testMixedGraph() throws {
        var params = [("w1", random([8, 6, 3, 3], -0.5, 0.5)), ("se.w", random([8, 8, 1, 1])), ("se.b", random([8])),
                      ("w2", random([6, 16, 1, 1], -0.5, 0.5))]
        params += batchNorm(6, "bn")
        let nodes = [
            Node("conv1", Conv2DOp(Conv2DOptions(padding: Padding2D(1))), inputs: ["x", "w1"]),
            Node("hs", ActivationOp(.hardSwish), inputs: ["conv1"]),
            Node("gap", GlobalAvgPoolOp(), inputs: ["hs"]),
            Node("se", Conv2DOp(Conv2DOptions()), inputs: ["gap", "se.w", "se.b"]),
            Node("gate", ActivationOp(.hardSigmoid(alpha: 1.0 / 6, beta: 0.5)), inputs: ["se"]),
            Node("scaled", BinaryOp(.mul), inputs: ["hs", "gate"]),
            Node("leaky", ActivationOp(.leakyReLU(slope: 0.1)), inputs: ["conv1"]),
            Node("cat", ConcatOp(axis: 1), inputs: ["scaled", "leaky"]),
            Node("t", TransposeOp([0, 1, 3, 2]), inputs: ["cat"]),
            Node("conv2", Conv2DOp(Conv2DOptions()), inputs: ["t", "w2"]),
            bnNode("bn", "conv2", "bn"),
            Node("sig", ActivationOp(.sigmoid), inputs: ["conv2"]),
            Node("out", BinaryOp(.sub), inputs: ["bn", "sig"]),
        ]
        try check(try model([1, 6, 8, 8], nodes, params), random([2, 6, 8, 8]), "mixed", swiftOperations: ["HardSigmoid", "Transpose"])
    }

    /// A changed weight makes a new plan: the result follows the weights, never a stale copy.
    func testPlanFollowsChangedWeights() throws {
        var m = try model([1, 3, 8, 8], [Node("conv", Conv2DOp(Conv2DOptions(padding: Padding2D(1))), inputs: ["x", "w"])], [("w", random([4, 3, 3, 3]))])
        let x = random([2, 3, 8, 8])
        let before = try check(m, x, "before")
        m.parameters["w"]!.tensor.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] *= 2 } }
        let after = try check(m, x, "after an in-place change")
        assertClose(after, before.map { $0 * 2 }, atol: 1e-5, rtol: 1e-4, "doubled weights double the output")
    }

    /// The built-in networks plan with no operation left to Swift.
    func testBuiltInNetworksPlanWhole() throws {
        var config = ResNet.Configuration.resnet18
        config.imageSize = 64
        let resnet = ResNet.build(config)
        let summary = try XCTUnwrap(resnet.prepare(["input": [2, 3, 64, 64]]))
        XCTAssertEqual(summary.swiftOperations, [], "\(summary)")
        XCTAssertEqual(summary.engineSteps, 23, "stem, max pool, 16 block convolutions (8 with their residual), 3 downsamples, pool, fc: \(summary)")
        try check(resnet, random([2, 3, 64, 64]), "resnet18 at 64×64")
    }

    /// Training convolutions through oneDNN: forward, dX, dW and db against the Swift kernels
    /// (backward tolerances of the golden tests).
    func testTrainingConvolutions() throws {
        let cases: [(Int, Int, Size2D, Conv2DOptions, String)] = [
            (3, 8, Size2D(7), Conv2DOptions(stride: Size2D(2), padding: Padding2D(3)), "stem"),
            (8, 8, Size2D(3), Conv2DOptions(padding: Padding2D(1)), "3×3"),
            // oneDNN's Winograd on AVX-512 machines (16-channel multiples), asserted below.
            (16, 32, Size2D(3), Conv2DOptions(padding: Padding2D(1)), "3×3, 16 → 32"),
            (8, 16, Size2D(3), Conv2DOptions(stride: Size2D(2), padding: Padding2D(top: 0, left: 0, bottom: 1, right: 1), groups: 8), "depthwise ×2, TF same"),
            (8, 12, Size2D(3), Conv2DOptions(dilation: Size2D(2), padding: Padding2D(2), groups: 4), "grouped, dilated"),
            (12, 20, Size2D(1), Conv2DOptions(), "pointwise"),
        ]
        for (cIn, cOut, k, o, name) in cases {
            let x = random([3, cIn, 11, 10]), w = random([cOut, cIn / o.groups, k.h, k.w]), b = random([cOut])
            let op = Conv2DOp(o)
            let ctx = ForwardContext(training: true, requiresGradient: [true, true, true], keepCache: true)
            Engine.current = .reference
            let ref = op.forward([x, w, b], ctx)
            let dy = random(ref.outputs[0].shape)
            let refGrads = op.backward([dy], cache: ref.cache!, needed: [true, true, true])
            Engine.current = .oneDNN
            let engine = try XCTUnwrap(OneDNNConvolution.shared(input: x.shape, weight: w.shape, options: o, bias: true), name)
            if cIn == 16 && OneDNN.isa.hasPrefix("avx512_core") && getenv("TTL_WINOGRAD").map({ String(cString: $0) }) != "0" {
                XCTAssertEqual(engine.implementations.filter { $0.hasPrefix("jit_wino") }.count, 3, "\(name): \(engine.implementations)")
            }
            let got = op.forward([x, w, b], ctx)
            assertClose(got.outputs[0], ref.outputs[0], atol: 1e-5, rtol: 1e-4, "\(name) forward")
            let grads = op.backward([dy], cache: got.cache!, needed: [true, true, true])
            for (k, what) in ["dX", "dW", "db"].enumerated() {
                assertClose(try XCTUnwrap(grads[k]), try XCTUnwrap(refGrads[k]), atol: 1e-4, rtol: 1e-3, "\(name) \(what)")
            }
            // Only some gradients asked for.
            let onlyWeight = op.backward([dy], cache: got.cache!, needed: [false, true, false])
            XCTAssertNil(onlyWeight[0], name)
            XCTAssertNil(onlyWeight[2], name)
            assertClose(try XCTUnwrap(onlyWeight[1]), try XCTUnwrap(refGrads[1]), atol: 1e-4, rtol: 1e-3, "\(name) dW alone")
        }
    }
}
