import Foundation
import SwiftProtobuf
import TTLCore
import TTLNN
@testable import TTLONNX
import XCTest
import _TestSupport

/// The operators of issue 13 (Sum, Mean, Max, Min, LRN, Dropout with its mask, ConstantOfShape
/// weights, PRelu, Elu, Selu, Tanh, Neg, Exp, Sqrt, Pow, Erf, Softplus, Pad on any axes and in
/// every mode) against onnxruntime (`scripts/make_onnx_op_fixtures.py`), and the onnx package's
/// Caffe2 Model Zoo classics against the package's expected outputs.
final class ONNXOperatorTests: XCTestCase {
    static let fixtures = ONNXModelTests.fixtures

    static func folders(_ sub: String) -> [URL] {
        let root = fixtures.appendingPathComponent(sub)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.sorted().map { root.appendingPathComponent($0) }
    }

    func testOperatorFixturesMatchOnnxruntimeAndRoundTrip() throws {
        let cases = Self.folders("ops")
        XCTAssertEqual(cases.count, 8)
        for folder in cases {
            let name = folder.lastPathComponent
            let (model, x) = try ONNXModelTests.checkFixture(folder)
            // Export → import keeps every weight and the outputs bit for bit.
            let back = try ONNXImporter.load(try ONNXExporter.serialize(model), file: name + " (exported)")
            XCTAssertEqual(back.parameters.paths, model.parameters.paths, name)
            let y1 = try model.run([model.inputs[0].name: x])[model.outputs[0]]!
            let y2 = try back.run([back.inputs[0].name: x])[back.outputs[0]]!
            XCTAssertTrue(y1.bitwiseEqual(y2), "\(name): outputs after the round trip")
        }
    }

    func testDetailsOfTheNewOperators() throws {
        let dir = Self.fixtures.appendingPathComponent("ops")
        let vgg = try ONNXImporter.load(contentsOf: dir.appendingPathComponent("vgg_fc6_constant_of_shape_25M/model.onnx"))
        XCTAssertEqual(vgg.parameters.tensor(vgg.parameters.paths[0])?.shape.count ?? 0 > 16_777_216, true, "a weight past the old cap")
        let squeeze = try ONNXImporter.load(contentsOf: dir.appendingPathComponent("caffe2_squeezenet_dropout_mask_opset9/model.onnx"))
        let dropout = try XCTUnwrap(squeeze.nodes.first { $0.name == "drop9" })
        XCTAssertTrue(dropout.operation is DropoutOp)
        XCTAssertEqual(dropout.outputs, ["drop", "drop_mask"])
        let pads = try ONNXImporter.load(contentsOf: dir.appendingPathComponent("opset13_pad_reflect_edge_nhwc/model.onnx"))
        XCTAssertEqual(pads.nodes.compactMap { ($0.operation as? PadNDOp)?.options.mode }, [.reflect, .edge, .constant])
        // The mask is all true, and backward through a Dropout with mask reaches its input.
        let x = Tensor(shape: [2, 3, 9, 9], scalars: (0 ..< 486).map { Float($0 % 7) / 7 })
        let mask = try squeeze.run(["data_0": x], outputs: ["drop_mask"])["drop_mask"]!
        XCTAssertTrue(mask.scalars.allSatisfy { $0 == 1 })
    }

    /// The onnx package's "light" Model Zoo classics as Caffe2 exported them (IR 3, opset 9,
    /// every weight a ConstantOfShape; Sum residuals, LRN, Dropout), full size, on every engine.
    func testCaffe2ModelZooClassics() throws {
        let cases = Self.folders("light")
        XCTAssertEqual(cases.map(\.lastPathComponent), ["bvlc_alexnet", "inception_v1", "resnet50", "squeezenet", "zfnet512"])
        for folder in cases {
            let name = folder.lastPathComponent
            let model = try ONNXImporter.load(contentsOf: folder.appendingPathComponent("model.onnx"))
            XCTAssertEqual(model.metadata["onnx.ir_version"], "3", name)
            let x = try NPY.readTensor(folder.appendingPathComponent("input.npy"))
            // Every weight is one fill value, so all logits are equal in exact arithmetic and the
            // softmax after them reflects only rounding order: the logits are compared.
            let info = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("case.json"))) as? [String: Any]
            let logits = try XCTUnwrap(info?["logits"] as? String)
            let expected = try NPY.readTensor(folder.appendingPathComponent("logits.npy"))
            try forEachEngine { engine in
                let y = try model.run([model.inputs[0].name: x], outputs: [logits])[logits]!
                ONNXModelTests.assertMatches(y, expected, "\(name) [\(engine.rawValue)]")
            }
        }
    }

    // MARK: Bad input: a typed error naming the node and operator, never a crash

    /// x `[N, 3, 4, 4]` → one node `op` (inputs x plus `extra` initializers) → y.
    func single(_ op: String, opset: Int = 17, attributes: [Onnx_AttributeProto] = [], extra: [Onnx_TensorProto] = [],
                inputs: [String]? = nil, outputs: [String] = ["y"]) -> Onnx_ModelProto {
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var id = Onnx_OperatorSetIdProto()
        id.version = Int64(opset)
        m.opsetImport = [id]
        var node = Onnx_NodeProto()
        node.name = "n1"; node.opType = op
        node.input = inputs ?? (["x"] + extra.map(\.name)); node.output = outputs
        node.attribute = attributes
        var g = Onnx_GraphProto()
        g.node = [node]
        g.initializer = extra
        g.input = [ONNXExporter.valueInfo("x", [nil, 3, 4, 4])]
        g.output = [ONNXExporter.valueInfo(outputs[0], [])]
        m.graph = g
        return m
    }

    /// The error loading `m`: a `.node` error naming n1 and `op`, or an unsupported-operator list naming them.
    func assertRefused(_ m: Onnx_ModelProto, _ op: String, _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try ONNXImporter.load(try m.serializedData(), file: "bad.onnx")
            XCTFail("\(op): loaded", file: file, line: line)
        } catch let error as ONNXError {
            let text = "\(error)"
            switch error.reason {
            case let .node(name, o, problem):
                XCTAssertEqual([name, o], ["n1", op], text, file: file, line: line)
                XCTAssertTrue(problem.contains(needle), text, file: file, line: line)
            case let .unsupportedOperators(list):
                XCTAssertEqual(list.map(\.node), ["n1"], text, file: file, line: line)
                XCTAssertTrue(list[0].op.hasPrefix(op) && list[0].op.contains(needle), text, file: file, line: line)
            default:
                XCTFail(text, file: file, line: line)
            }
        } catch {
            XCTFail("\(op): untyped error \(error)", file: file, line: line)
        }
    }

    func int64s(_ name: String, _ v: [Int]) -> Onnx_TensorProto { ONNXExporter.int64Tensor(v, name: name) }
    func scalar(_ name: String, _ v: Float) -> Onnx_TensorProto { ONNXExporter.tensorProto(Tensor(shape: [], scalars: [v]), name: name) }

    func testBadAttributesAreTypedErrors() throws {
        typealias E = ONNXExporter
        assertRefused(single("LRN"), "LRN", "'size' is missing")
        assertRefused(single("LRN", attributes: [E.attribute("size", int: 0)]), "LRN", "size 0")
        assertRefused(single("LRN", attributes: [E.attribute("size", int: -(1 << 62))]), "LRN", "must be positive")
        assertRefused(single("Dropout", extra: [scalar("r", 1.5)]), "Dropout", "ratio 1.5")
        assertRefused(single("Dropout", opset: 9, attributes: [E.attribute("ratio", float: -0.1)]), "Dropout", "ratio -0.1")
        var yes = Onnx_TensorProto()
        yes.name = "t"; yes.dataType = Int32(Onnx_TensorProto.DataType.bool.rawValue); yes.rawData = Data([1])
        assertRefused(single("Dropout", extra: [scalar("r", 0.5), yes]), "Dropout", "training_mode=true")
        assertRefused(single("Pad", attributes: [E.attribute("mode", string: "bogus")], extra: [int64s("p", [0, 0, 1, 1, 0, 0, 1, 1])]),
                      "Pad", "mode 'bogus'")
        assertRefused(single("Pad", opset: 17, attributes: [E.attribute("mode", string: "wrap")], extra: [int64s("p", [0, 0, 1, 1, 0, 0, 1, 1])]),
                      "Pad", "mode 'wrap'")
        assertRefused(single("Pad", extra: [int64s("p", [0, 0, 1, 1])]), "Pad", "4 pads for a rank-4 input")
        assertRefused(single("Pad", attributes: [E.attribute("mode", string: "reflect")], extra: [int64s("p", [0, 0, 4, 0, 0, 0, 0, 0])]),
                      "Pad", "cannot pad")
        assertRefused(single("Pad", extra: [int64s("p", [0, 0, 1 << 62, 0, 0, 0, 1 << 62, 0])]), "Pad", "overflows")
        assertRefused(single("Pad", extra: [int64s("p", [0, 0, Int.max, 0, 0, 0, 0, 0])]), "Pad", "overflows")
        assertRefused(single("Pad", attributes: [E.attribute("mode", string: "edge")], extra: [int64s("p", [0, Int.max, 0, 0, 0, 1, 0, 0])]),
                      "Pad", "cannot pad")
        assertRefused(single("Pad", extra: [int64s("p", [0, 0, -9, 0, 0, 0, 0, 0])]), "Pad", "cannot pad")
        assertRefused(single("Pad", opset: 18, extra: [int64s("p", [1, 1]), scalar("v", 0), int64s("a", [7])]), "Pad", "axes 7")
        assertRefused(single("Sum", extra: [ONNXExporter.tensorProto(Tensor(zeros: [5]), name: "b")]), "Sum", "do not broadcast")
        assertRefused(single("Max", inputs: []), "Max", "no inputs")
        assertRefused(single("PRelu", extra: [ONNXExporter.tensorProto(Tensor(zeros: [2, 1, 1]), name: "s")]), "PRelu", "does not broadcast")
        assertRefused(single("Pow", extra: [ONNXExporter.tensorProto(Tensor(zeros: [7]), name: "e")]), "Pow", "do not broadcast")
        // ConstantOfShape: bounded by 1 GiB per constant, with overflow-checked sizes; nothing is allocated first.
        func constantOfShape(_ dims: [Int]) -> Onnx_ModelProto {
            var m = single("ConstantOfShape", extra: [int64s("s", dims)], inputs: ["s"], outputs: ["c"])
            var add = Onnx_NodeProto()
            add.name = "add"; add.opType = "Add"; add.input = ["x", "c"]; add.output = ["y"]
            m.graph.node.append(add)
            m.graph.output = [ONNXExporter.valueInfo("y", [])]
            return m
        }
        assertRefused(constantOfShape([1 << 31, 1 << 31]), "ConstantOfShape", "1024 MiB")
        assertRefused(constantOfShape([300_000_000]), "ConstantOfShape", "1024 MiB")
        assertRefused(constantOfShape([Int.max, 2]), "ConstantOfShape", "1024 MiB")
        assertRefused(constantOfShape([4, -1]), "ConstantOfShape", "negative")
        XCTAssertNoThrow(try ONNXImporter.load(try constantOfShape([4, 4]).serializedData(), file: "ok.onnx"))
    }
}
