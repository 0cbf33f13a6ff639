import Foundation
import TTLCore
import TTLNN
import TTLONNX
import XCTest
import _TestSupport

/// Models exported by PyTorch in every style, against onnxruntime's outputs
/// (`scripts/make_onnx_fixtures.py`).
final class ONNXModelTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static var cases: [URL] {
        let root = fixtures.appendingPathComponent("models")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.sorted().map { root.appendingPathComponent($0) }
    }

    /// max |ttl − reference| ≤ 1e-4 · max(1, max |reference|), and the same top-1 in every row.
    static func assertMatches(_ got: Tensor, _ expected: Tensor, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        assertModelOutput(got, expected, relativeTolerance: 1e-5, name, file: file, line: line)
    }

    /// Imports `folder/model.onnx`, runs it on `input.npy` on both engines and compares with
    /// onnxruntime's `output.npy`; returns the model and its input.
    @discardableResult
    static func checkFixture(_ folder: URL) throws -> (model: Model, input: Tensor) {
        let name = folder.lastPathComponent
        let model = try ONNXImporter.load(contentsOf: folder.appendingPathComponent("model.onnx"))
        let x = try NPY.readTensor(folder.appendingPathComponent("input.npy"))
        let expected = try NPY.readTensor(folder.appendingPathComponent("output.npy"))
        try forEachEngine { engine in
            let y = try model.run([model.inputs[0].name: x])[model.outputs[0]]!
            assertMatches(y, expected, "\(name) [\(engine.rawValue)]")
        }
        return (model, x)
    }

    func testEveryExportStyleMatchesOnnxruntime() throws {
        XCTAssertGreaterThanOrEqual(Self.cases.count, 7)
        for folder in Self.cases { try Self.checkFixture(folder) }
    }

    func testImportExportImportIsBitIdentical() throws {
        for folder in Self.cases { try Self.checkRoundTrip(folder) }
    }

    /// Exports the model of `folder` and imports it again: the same parameter paths, kinds and
    /// bytes, and bit-identical outputs on `input.npy`.
    static func checkRoundTrip(_ folder: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let name = folder.lastPathComponent
        let first = try ONNXImporter.load(contentsOf: folder.appendingPathComponent("model.onnx"))
        let bytes = try ONNXExporter.serialize(first)
        let second = try ONNXImporter.load(bytes, file: name + " (exported)")
        XCTAssertEqual(second.parameters.paths, first.parameters.paths, name, file: file, line: line)
        for path in first.parameters.paths {
            XCTAssertTrue(second.parameters.tensor(path)!.bitwiseEqual(first.parameters.tensor(path)!), "\(name): \(path)", file: file, line: line)
            XCTAssertEqual(second.parameters[path]?.kind, first.parameters[path]?.kind, "\(name): \(path)", file: file, line: line)
        }
        let x = try NPY.readTensor(folder.appendingPathComponent("input.npy"))
        let y1 = try first.run([first.inputs[0].name: x])[first.outputs[0]]!
        let y2 = try second.run([second.inputs[0].name: x])[second.outputs[0]]!
        XCTAssertTrue(y1.bitwiseEqual(y2), "\(name): outputs after the round trip", file: file, line: line)
    }

    /// Past the threshold (2 GB in use; 0 here) weights go to FILE.data beside the model.
    func testExportWithExternalData() throws {
        let folder = Self.cases.first { $0.lastPathComponent == "grouped_conv_resnext" }!
        let model = try ONNXImporter.load(contentsOf: folder.appendingPathComponent("model.onnx"))
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-ext-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: out) }
        let url = out.appendingPathComponent("m.onnx")
        try ONNXExporter.write(model, to: url, externalDataThreshold: 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.path + ".data"))
        let back = try ONNXImporter.load(contentsOf: url)
        XCTAssertEqual(back.metadata["onnx.external_data"], "true")
        for path in model.parameters.paths {
            XCTAssertTrue(back.parameters.tensor(path)!.bitwiseEqual(model.parameters.tensor(path)!), path)
        }
    }

    func testDetails() throws {
        let zoo = try ONNXImporter.load(contentsOf: Self.fixtures.appendingPathComponent("models/zoo_preact_reshape/model.onnx"))
        XCTAssertEqual(zoo.inputs.map(\.name), ["input"], "initializers listed as inputs are weights")
        XCTAssertEqual(zoo.inputs[0].dimensions, [nil, 3, 16, 16])
        XCTAssertEqual(zoo.metadata["onnx.opset"], "9")
        XCTAssertNotNil(zoo.parameters["bn1.running_mean"])
        XCTAssertEqual(zoo.parameters["bn1.running_mean"]?.kind, .buffer)
        let head = try zoo.findHead()
        XCTAssertNotNil(head.softmax)
        XCTAssertEqual(head.outFeatures, 5)

        // The dynamo export keeps every weight in model.onnx.data; all of them arrive.
        let folder = Self.fixtures.appendingPathComponent("models/dynamo_external_data")
        let dynamo = try ONNXImporter.load(contentsOf: folder.appendingPathComponent("model.onnx"))
        let dataBytes = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent("model.onnx.data").path)[.size] as! Int
        XCTAssertGreaterThanOrEqual(dynamo.parameters.scalarCount() * 4, dataBytes / 2)
        XCTAssertTrue(dynamo.metadata["onnx.producer"]?.contains("pytorch") ?? false, "\(dynamo.metadata)")
    }
}
