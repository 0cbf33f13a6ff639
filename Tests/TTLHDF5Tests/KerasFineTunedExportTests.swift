import Foundation
import TTLCore
import TTLHDF5
import TTLNN
import XCTest
import _TestSupport

/// The fine-tune path of each Keras family (issue 13), as scripts/check_keras_family_export.py
/// ran it: each family fixture fine-tuned by `ttl finetune` on the sample colours and exported by
/// `ttl export` to `.h5`; tf_keras and Keras 3 loaded those files and predicted (the script checks
/// both against `ttl run`). Here ttl reads the same committed files and must predict Keras 3's
/// probabilities on both engines, and find the new 3-class head.
final class KerasFineTunedExportTests: XCTestCase {
    static let fixtures = KerasImportTests.fixtures.appendingPathComponent("finetuned")

    func testFineTunedExportsPredictWhatKerasPredicts() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("MANIFEST.json"))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let list = try XCTUnwrap(root["fixtures"] as? [[String: String]])
        XCTAssertGreaterThanOrEqual(list.count, 15)
        for f in list {
            let file = try XCTUnwrap(f["file"])
            let model = try KerasImporter.load(contentsOf: Self.fixtures.appendingPathComponent(file))
            XCTAssertEqual(try model.findHead().outFeatures, 3, file)
            let x = try NPY.readTensor(Self.fixtures.appendingPathComponent(try XCTUnwrap(f["input"])))
            let expected = try NPY.readTensor(Self.fixtures.appendingPathComponent(try XCTUnwrap(f["keras3"])))
            try forEachEngine { engine in
                let y = try XCTUnwrap(model.run([model.inputs[0].name: x])[model.outputs[0]])
                // The suite's tolerance for whole applications (KerasFamilyTests).
                assertModelOutput(y, expected, relativeTolerance: 1e-4, "\(file) [\(engine.rawValue)]")
            }
        }
    }
}
