import Foundation
import TTLCore
@testable import TTLHDF5
import TTLNN
import XCTest
import _TestSupport

/// The Keras layer registry (Sources/TTLHDF5/Layers/, issue 13): one mapping per Keras class,
/// the supported list taken from it, export dispatched through it; and hard swish, which tf_keras
/// cannot load as an activation, written as layers both Keras flavours load.
final class KerasLayerRegistryTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-keras-registry-\(ProcessInfo.processInfo.processIdentifier)-\(name.hashValue)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// Each class is one mapping's, and the classes are those the README lists.
    func testEveryClassHasOneMapping() {
        let classes = KerasLayers.all.flatMap { $0.kerasClasses }
        XCTAssertEqual(classes.count, Set(classes).count)
        XCTAssertEqual(KerasLayers.supportedClasses, [
            "InputLayer", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Cropping2D", "BatchNormalization", "Activation", "ReLU",
            "LeakyReLU", "Softmax", "ZeroPadding2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
            "Add", "Multiply", "Subtract", "Concatenate", "Dense", "Flatten", "Reshape", "Dropout", "SpatialDropout2D", "Rescaling",
            "Normalization", "Permute", "TFOpLambda", "CustomScaleLayer", "LayerNormalization", "LayerScale", "ELU", "Average",
            "Maximum", "Minimum", "PReLU",
        ])
        XCTAssertEqual(KerasActivations.supported,
                       ["linear", "relu", "relu6", "sigmoid", "softmax", "swish", "silu", "hard_swish", "hard_silu", "leaky_relu", "gelu",
                        "tanh", "elu", "selu", "softplus", "exponential"])
    }

    /// An operation Keras has no layer for names its reason; nothing is written.
    func testInexpressibleOperationNamesItsReason() throws {
        var b = GraphBuilder(seed: 1)
        let x = b.input("x", [nil, 3, 8, 8])
        let c = b.conv("conv", x, in: 3, out: 4, kernel: 3)
        let n = b.add("norm", LRNOp(LRN.Options(size: 3)), [c])
        let model = b.build(outputs: [n])
        XCTAssertThrowsError(try KerasExporter.write(model, to: folder.appendingPathComponent("x.h5"))) { e in
            XCTAssertEqual("\(e)", "node 'norm' (LRN) cannot be written as a Keras layer: no Keras layer for this operation (Keras has no local response normalization layer)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
    }

    /// ONNX-style PRelu (a `[C, 1, 1]` slope) and Sum export as Keras's PReLU (shared over height
    /// and width) and Add, and read back computing the same, bit for bit.
    func testPReluAndSumExportAndReadBack() throws {
        var b = GraphBuilder(seed: 1)
        let x = b.input("x", [nil, 3, 8, 8])
        let c1 = b.conv("conv1", x, in: 3, out: 4, kernel: 3)
        let c2 = b.conv("conv2", x, in: 3, out: 4, kernel: 3)
        let s = b.add("sum", VariadicOp(.sum), [c1, c2])
        let p = b.add("act", PReluOp(), [s, "act.slope"])
        var parameters = b.parameters
        parameters["act.slope"] = .init(Tensor(shape: [4, 1, 1], scalars: [0.1, 0.2, 0.3, 0.4]), kind: .parameter)
        let model = try Model(inputs: b.inputs, outputs: [p], nodes: b.nodes, parameters: parameters)
        let url = folder.appendingPathComponent("prelu.h5")
        try KerasExporter.write(model, to: url)
        let json = try HDF5.serialized { try HDF5File.open(url).root.string("model_config") }
        XCTAssertTrue(json.contains("\"PReLU\"") && json.contains("\"Add\""), json)
        let back = try KerasImporter.load(contentsOf: url)
        let input = Tensor(shape: [1, 3, 8, 8], scalars: (0 ..< 192).map { Float($0 % 23) / 3 - 3 })
        XCTAssertTrue(try XCTUnwrap(back.run(["x": input])[back.outputs[0]]).bitwiseEqual(try XCTUnwrap(model.run(["x": input])[model.outputs[0]])))
    }

    /// HardSwish exports as Rescaling(offset 3) → ReLU(6) → Rescaling(1/6) → Multiply (no
    /// `hard_silu`, which tf_keras lacks) and reads back as the one HardSwish node, bit for bit.
    func testHardSwishExportsAsLayersAndReadsBackAsHardSwish() throws {
        var b = GraphBuilder(seed: 1)
        let x = b.input("x", [nil, 3, 8, 8])
        let c = b.conv("conv", x, in: 3, out: 4, kernel: 3)
        let h = b.add("hs", ActivationOp(.hardSwish), [c])
        let model = b.build(outputs: [h])
        let url = folder.appendingPathComponent("hs.h5")
        try KerasExporter.write(model, to: url)
        let json = try HDF5.serialized { try HDF5File.open(url).root.string("model_config") }
        XCTAssertFalse(json.contains("hard_silu") || json.contains("hard_swish"), json)
        let top = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let layers = try XCTUnwrap((top["config"] as? [String: Any])?["layers"] as? [[String: Any]])
        // Between the Permutes that keep the ONNX-style model's NCHW input and output.
        XCTAssertEqual(layers.compactMap { $0["class_name"] as? String },
                       ["InputLayer", "Permute", "Conv2D", "Rescaling", "ReLU", "Rescaling", "Multiply", "Permute"])
        let back = try KerasImporter.load(contentsOf: url)
        XCTAssertEqual(back.nodes.filter { ($0.operation as? ActivationOp)?.function == .hardSwish }.count, 1)
        XCTAssertFalse(back.nodes.contains { $0.operation is BinaryOp || $0.operation is ActivationOp && ($0.operation as? ActivationOp)?.function != .hardSwish })
        XCTAssertEqual(Set(back.parameters.paths), Set(model.parameters.paths))
        let input = Tensor(shape: [1, 3, 8, 8], scalars: (0 ..< 192).map { Float($0 % 23) / 3 - 3 })
        XCTAssertTrue(try XCTUnwrap(back.run(["x": input])[back.outputs[0]]).bitwiseEqual(try XCTUnwrap(model.run(["x": input])[model.outputs[0]])))
    }

    /// tf_keras's MobileNetV3 writes hard swish as `TFOpLambda` add 3 → ReLU(6) → `TFOpLambda`
    /// multiply 1/6 → Multiply with x: each becomes one HardSwish node; the squeeze-and-excite
    /// gates (`relu6(x + 3) / 6` times another tensor) stay arithmetic.
    func testTFKerasHardSwishArithmeticBecomesHardSwish() throws {
        let url = KerasImportTests.fixtures.appendingPathComponent("families/mobilenetv3_small_tfkeras.h5")
        let model = try KerasImporter.load(contentsOf: url)
        let hardSwish = model.nodes.filter { ($0.operation as? ActivationOp)?.function == .hardSwish }
        let keras3 = try KerasImporter.load(contentsOf: KerasImportTests.fixtures.appendingPathComponent("families/mobilenetv3_small_keras3.h5"))
        XCTAssertGreaterThan(hardSwish.count, 0)
        XCTAssertEqual(hardSwish.count, keras3.nodes.filter { ($0.operation as? ActivationOp)?.function == .hardSwish }.count)
        XCTAssertTrue(model.nodes.contains { ($0.operation as? ActivationOp)?.function == .clip(min: 0, max: 6) }, "the gates' ReLU6 stay")
    }
}
