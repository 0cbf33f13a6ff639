import Foundation
import TTLCore
import TTLHDF5
import TTLNN
import XCTest
import _TestSupport

/// Keras models saved by tf.keras 2 and Keras 3 in every layout (`scripts/make_keras_fixtures.py`),
/// against the saving framework's own predictions.
final class KerasImportTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    struct Fixture {
        var file: String, layout: String, input: String, output: String
        var architecture: KerasResNet.Configuration?
    }

    static func manifest() throws -> [Fixture] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("MANIFEST.json"))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let list = try XCTUnwrap(root["fixtures"] as? [[String: Any]])
        return list.map { f in
            var arch: KerasResNet.Configuration?
            if let a = f["architecture"] as? [String: Any] {
                arch = KerasResNet.Configuration(stacks: a["stacks"] as! [Int], preactivation: a["preactivation"] as! Bool,
                                                 classes: a["classes"] as! Int, imageSize: a["image_size"] as! Int,
                                                 baseFilters: a["base_filters"] as! Int)
            }
            return Fixture(file: f["file"] as! String, layout: f["layout"] as! String, input: f["input"] as! String,
                           output: f["output"] as! String, architecture: arch)
        }
    }

    /// max |ttl − Keras| ≤ 1e-5 · max(1, max |Keras|), same top-1 per row. Ten times tighter than
    /// the ONNX tests: these nets are small (measured ≤ 7.2e-7), and a batch norm's epsilon mixed
    /// up in a single layer moves the outputs by only 6e-5.
    static func assertMatches(_ got: Tensor, _ expected: Tensor, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        assertModelOutput(got, expected, relativeTolerance: 1e-5, name, file: file, line: line)
    }

    /// A weights-only fixture goes onto its built-in architecture, or (with none) onto the
    /// model of the full file it was saved from (`NAME.weights_….h5` → `NAME.h5`).
    static func load(_ f: Fixture) throws -> Model {
        let url = fixtures.appendingPathComponent(f.file)
        guard f.layout.hasPrefix("weights") else { return try KerasImporter.load(contentsOf: url, configuration: nil) }
        if let a = f.architecture { return try KerasImporter.load(contentsOf: url, configuration: a) }
        let base = String(f.file[..<f.file.firstIndex(of: ".")!]) + ".h5"
        let model = try KerasImporter.load(contentsOf: fixtures.appendingPathComponent(base))
        return try KerasImporter.loadWeights(contentsOf: url, into: model)
    }

    func testEveryLayoutMatchesKeras() throws {
        let all = try Self.manifest()
        XCTAssertEqual(Set(all.map(\.layout)), ["full-h5-tfkeras", "full-h5-keras3", "keras-zip", "weights-h5-legacy", "weights-h5-keras3"])
        for f in all {
            let model = try Self.load(f)
            XCTAssertEqual(model.imageLayout, .nhwc, f.file)
            let x = try NPY.readTensor(Self.fixtures.appendingPathComponent(f.input))
            let expected = try NPY.readTensor(Self.fixtures.appendingPathComponent(f.output))
            try forEachEngine { engine in
                let y = try model.run([model.inputs[0].name: x])[model.outputs[0]]!
                Self.assertMatches(y, expected, "\(f.file) [\(engine.rawValue)]")
            }
        }
    }

    func testFullFileAndWeightsOnlyFilesGiveTheSameWeights() throws {
        let all = try Self.manifest()
        for arch in ["resnet_v1_tiny", "resnet_v2_tiny"] {
            let models = try all.filter { $0.file.hasPrefix(arch) }.map { try Self.load($0) }
            XCTAssertEqual(models.count, 4, arch)
            let reference = models[0]
            // Keras's `load_weights`: the weights-only files onto the model rebuilt from the full file's configuration.
            let config = try KerasImporter.load(contentsOf: Self.fixtures.appendingPathComponent(arch + ".tfkeras.h5"))
            let onConfig = try [".weights_legacy.h5", ".weights.h5", ".weights_keras34.h5"].map {
                try KerasImporter.loadWeights(contentsOf: Self.fixtures.appendingPathComponent(arch + $0), into: config)
            }
            for m in models.dropFirst() + onConfig {
                for path in reference.parameters.paths {
                    XCTAssertTrue(m.parameters.tensor(path)?.bitwiseEqual(reference.parameters.tensor(path)!) ?? false, "\(arch): \(path)")
                }
            }
        }
    }
}
