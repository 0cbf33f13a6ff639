import Foundation
import TTLCore
@testable import TTLHDF5
import XCTest

/// Malformed Keras files: typed errors naming the file and the HDF5 path, never a crash.
final class KerasBadInputTests: XCTestCase {
    let fixtures = KerasImportTests.fixtures
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-keras-bad-\(ProcessInfo.processInfo.processIdentifier)-\(name.hashValue)")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func badFixture(_ file: String) throws -> [String: Any] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("MANIFEST.json"))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let bad = try XCTUnwrap(root["bad_fixtures"] as? [[String: Any]])
        return try XCTUnwrap(bad.first { $0["file"] as? String == file })
    }

    func message(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "no error" } catch { return "\(error)" }
    }

    func testNotHDF5() throws {
        let url = folder.appendingPathComponent("model.h5")
        try Data("this is not a model\n".utf8).write(to: url)
        XCTAssertEqual(message { try KerasImporter.load(contentsOf: url) }, "\(url.path): not an HDF5 file")
    }

    func testTruncatedFilesThrow() throws {
        let whole = try Data(contentsOf: fixtures.appendingPathComponent("layers_tfkeras.h5"))
        for fraction in [0.05, 0.3, 0.6, 0.9, 0.99] {
            let url = folder.appendingPathComponent("cut.h5")
            try whole.prefix(Int(Double(whole.count) * fraction)).write(to: url)
            let m = message { try KerasImporter.load(contentsOf: url) }
            XCTAssertNotEqual(m, "no error", "cut at \(fraction)")
            XCTAssertTrue(m.hasPrefix(url.path + ": "), m)
        }
    }

    func testMissingDataset() throws {
        let info = try badFixture("bad_missing_dataset.h5")
        let path = try XCTUnwrap(info["deleted_path"] as? String)
        let url = fixtures.appendingPathComponent("bad_missing_dataset.h5")
        XCTAssertEqual(message { try KerasImporter.load(contentsOf: url) }, "\(url.path): no object '\(path.trimmingCharacters(in: ["/"]))' in the file")
    }

    func testKernelOfTheWrongShape() throws {
        let info = try badFixture("bad_kernel_shape.h5")
        let path = try XCTUnwrap(info["path"] as? String)
        let expected = try XCTUnwrap(info["original_shape"] as? [Int]), found = try XCTUnwrap(info["bad_shape"] as? [Int])
        let url = fixtures.appendingPathComponent("bad_kernel_shape.h5")
        XCTAssertEqual(message { try KerasImporter.load(contentsOf: url) },
                       "\(url.path): '\(path.trimmingCharacters(in: ["/"]))' has shape \(found), expected \(expected)")
    }

    func testUnsupportedLayersAreListedAtOnce() throws {
        let info = try badFixture("bad_unsupported_layers.h5")
        let layers = try XCTUnwrap(info["layers"] as? [[String: String]])
        let url = fixtures.appendingPathComponent("bad_unsupported_layers.h5")
        let listed = layers.map { "\($0["name"]!) (\($0["class_name"]!))" }.joined(separator: ", ")
        XCTAssertEqual(message { try KerasImporter.load(contentsOf: url) }, "\(url.path): unsupported Keras layers: \(listed)")
    }

    func testWeightsOnlyFileNeedsAnArchitecture() throws {
        let url = fixtures.appendingPathComponent("resnet_v1_tiny.weights_legacy.h5")
        XCTAssertEqual(message { try KerasImporter.load(contentsOf: url) },
                       "\(url.path): holds weights only; name the architecture with --arch (resnet101, resnet101v2, resnet152, resnet152v2, resnet50, resnet50v2)")
        // The wrong architecture: shapes do not fit, and the error says where.
        XCTAssertTrue(message { try KerasImporter.load(contentsOf: url, architecture: "resnet50") }.contains("conv2_block1_1_conv"))
    }

    /// Numbers no real model has (from a damaged or hostile configuration) are errors, never an overflow.
    func testAbsurdConfigurationNumbers() throws {
        let huge = "9223372036854775807"
        for (layer, input) in [("{\"class_name\": \"ZeroPadding2D\", \"config\": {\"padding\": \(huge)}}", "[null, 8, 8, 3]"),
                               ("{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 4, \"kernel_size\": [\(huge), 3]}}", "[null, 8, 8, 3]"),
                               ("{\"class_name\": \"MaxPooling2D\", \"config\": {\"pool_size\": 2, \"strides\": -\(huge)}}", "[null, 8, 8, 3]"),
                               ("{\"class_name\": \"Reshape\", \"config\": {\"target_shape\": [\(huge), 2]}}", "[null, 8, 8, 3]"),
                               ("{\"class_name\": \"Flatten\", \"config\": {}}", "[null, 4294967296, 4294967296, 3]")] {
            let json = """
                {"class_name": "Sequential", "config": {"name": "m", "layers": [
                  {"class_name": "InputLayer", "config": {"name": "x", "batch_input_shape": \(input)}}, \(layer)]}}
                """
            let config = try KerasModelConfig(json: json, file: "m.h5")
            XCTAssertThrowsError(try KerasGraphBuilder.build(config, weights: KerasWeights(), file: "m.h5"), layer) { e in
                XCTAssertTrue(e is KerasError, "\(e)")
            }
        }
    }

    func testDamagedKerasZip() throws {
        let whole = try Data(contentsOf: fixtures.appendingPathComponent("layers.keras"))
        let url = folder.appendingPathComponent("model.keras")
        try whole.prefix(whole.count / 2).write(to: url)
        XCTAssertTrue(message { try KerasImporter.load(contentsOf: url) }.hasPrefix(url.path + ": not a zip archive"))
    }
}
