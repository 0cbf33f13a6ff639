import Foundation
import TTLCore
import TTLNN
import TTLONNX
import XCTest
import _TestSupport

/// One member of every torchvision CNN family, at reduced width with seeded random weights,
/// exported by both PyTorch exporters (`scripts/make_torchvision_fixtures.py`), against
/// onnxruntime's outputs. The fine-tune path of each family is in TTLFineTuneTests.
final class ONNXTorchvisionTests: XCTestCase {
    static var cases: [URL] {
        let root = ONNXModelTests.fixtures.appendingPathComponent("torchvision")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.sorted().map { root.appendingPathComponent($0) }
    }

    /// The parameter path `case.json` names as the family's classification head.
    static func headPath(_ folder: URL) throws -> String {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("case.json"))) as! [String: Any]
        return json["head"] as! String
    }

    func testEveryFamilyMatchesOnnxruntime() throws {
        XCTAssertGreaterThanOrEqual(Self.cases.count, 20)
        for folder in Self.cases {
            let (model, _) = try ONNXModelTests.checkFixture(folder)
            let head = try model.findHead()
            XCTAssertEqual(head.weight, try Self.headPath(folder), folder.lastPathComponent)
            XCTAssertEqual(head.outFeatures, 10, folder.lastPathComponent)
        }
    }

    func testImportExportImportIsBitIdentical() throws {
        for folder in Self.cases { try ONNXModelTests.checkRoundTrip(folder) }
    }

    /// SqueezeNet's head is its last 1×1 convolution: replacing it gives pooling, flatten and a
    /// Linear under the convolution's paths, and the model still runs and exports.
    func testConvolutionalHeadIsReplacedByALinearOne() throws {
        for folder in Self.cases where folder.lastPathComponent.hasPrefix("squeezenet") {
            var model = try ONNXImporter.load(contentsOf: folder.appendingPathComponent("model.onnx"))
            let head = try model.findHead()
            XCTAssertEqual(head.convolutionNodes.count, 4, "\(head)")
            XCTAssertEqual(head.inFeatures, model.parameters.tensor(head.weight)?.shape[1])
            let new = try model.replaceHead(classes: 3, seed: 1)
            XCTAssertEqual(model.parameters.tensor(new.weight)?.shape, [3, head.inFeatures])
            XCTAssertEqual(try model.findHead(), new)
            let x = try NPY.readTensor(folder.appendingPathComponent("input.npy"))
            let y = try model.run([model.inputs[0].name: x])[model.outputs[0]]!
            XCTAssertEqual(y.shape, [x.shape[0], 3])
            let back = try ONNXImporter.load(try ONNXExporter.serialize(model), file: "squeezenet (exported)")
            XCTAssertTrue(try back.run([back.inputs[0].name: x])[back.outputs[0]]!.bitwiseEqual(y))
        }
    }
}
