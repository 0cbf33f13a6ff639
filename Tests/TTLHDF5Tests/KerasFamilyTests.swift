import Foundation
import TTLCore
import TTLHDF5
import TTLNN
import XCTest
import _TestSupport

/// Small seeded members of Keras-application families (`scripts/make_keras_family_fixtures.py`,
/// issue 13), saved by tf_keras and Keras 3: each imports, runs on both engines equal to Keras,
/// has a head that fine-tuning finds, and exports to `.h5` and back bit-identical.
final class KerasFamilyTests: XCTestCase {
    static let fixtures = KerasImportTests.fixtures.appendingPathComponent("families")

    struct Fixture { var file: String, family: String, input: String, output: String }

    static func manifest() throws -> [Fixture] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("MANIFEST.json"))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let list = try XCTUnwrap(root["fixtures"] as? [[String: Any]])
        return try list.map { f in
            Fixture(file: try XCTUnwrap(f["file"] as? String), family: try XCTUnwrap(f["family"] as? String),
                    input: try XCTUnwrap(f["input"] as? String), output: try XCTUnwrap(f["output"] as? String))
        }
    }

    func run(_ m: Model, _ x: Tensor) throws -> Tensor { try XCTUnwrap(m.run([m.inputs[0].name: x])[m.outputs[0]]) }

    /// The few-layer replica: KerasImportTests' 1e-5. The real 28-layer MobileNet: 1e-4, the
    /// suite's tolerance for whole applications (TorchReaderTests' torchvision models,
    /// scripts/check_full_size_keras.py): Keras's own float32 output is 8.3e-5 from the same
    /// model run by tf_keras in float64 (logits up to 3.4), ttl's 4.8e-5 (oneDNN) and 5.4e-5 (reference).
    /// The families built by the applications' own builders or blocks (issue 13's second and third
    /// batches): 1e-4 too.
    static let relativeTolerance: [String: Float] = [
        "mobilenet_a025": 1e-4, "vgg_replica": 1e-5, "xception_replica": 1e-5, "mobilenetv3_small": 1e-4,
        "inception_resnet_v2_replica": 1e-4, "convnext_small_dims": 1e-4, "nasnet_small": 1e-4, "densenet_1111": 1e-4,
        "resnet50_small": 1e-4, "resnet50v2_small": 1e-4, "mobilenetv2_replica": 1e-4, "inception_v3_replica": 1e-4,
        "efficientnet_b0_small": 1e-4, "efficientnetv2_small": 1e-4, "extra_layers": 1e-5,
    ]

    func testEveryFamilyMatchesKerasOnBothEngines() throws {
        let all = try Self.manifest()
        XCTAssertEqual(Set(all.map(\.family)), Set(Self.relativeTolerance.keys))
        for f in all {
            let model = try KerasImporter.load(contentsOf: Self.fixtures.appendingPathComponent(f.file))
            let x = try NPY.readTensor(Self.fixtures.appendingPathComponent(f.input))
            let expected = try NPY.readTensor(Self.fixtures.appendingPathComponent(f.output))
            let tolerance = try XCTUnwrap(Self.relativeTolerance[f.family])
            try forEachEngine { engine in
                assertModelOutput(try run(model, x), expected, relativeTolerance: tolerance, "\(f.file) [\(engine.rawValue)]")
            }
        }
    }

    /// MobileNet's classifier is a 1×1 convolution after the global pooling (`conv_preds`),
    /// MobileNetV3's a 1×1 convolution (`Logits`) after pooling, a 1×1 convolution, hard swish and
    /// dropout; the others' the last Dense.
    func testFineTuningFindsTheHead() throws {
        let expected = ["mobilenet_a025": ("conv_preds", 256), "vgg_replica": ("predictions", 32), "xception_replica": ("predictions", 24),
                        "mobilenetv3_small": ("Logits", 64), "inception_resnet_v2_replica": ("predictions", 64),
                        "convnext_small_dims": ("convnext_tiny_head_dense", 32), "nasnet_small": ("predictions", 96), "densenet_1111": ("predictions", 68),
                        "resnet50_small": ("predictions", 32), "resnet50v2_small": ("predictions", 32), "mobilenetv2_replica": ("predictions", 64),
                        "inception_v3_replica": ("predictions", 48), "efficientnet_b0_small": ("predictions", 320),
                        "efficientnetv2_small": ("predictions", 320), "extra_layers": ("predictions", 16)]
        for f in try Self.manifest() {
            let model = try KerasImporter.load(contentsOf: Self.fixtures.appendingPathComponent(f.file))
            let head = try model.findHead()
            let (node, inFeatures) = try XCTUnwrap(expected[f.family])
            XCTAssertTrue(head.node.lowercased().hasPrefix(node.lowercased()), "\(f.file): head \(head.node)")
            XCTAssertEqual(head.inFeatures, inFeatures, f.file)
            XCTAssertEqual(head.outFeatures, 10, f.file)
        }
    }

    /// MobileNet's pooling → 1×1 convolution → reshape (and MobileNetV3's 1×1 convolution of
    /// pooled features) becomes pooling → flatten → Linear; with the convolution's own weights in
    /// the Linear it predicts what Keras predicted.
    func testReplacedConvolutionHeadComputesTheSame() throws {
        let features = ["mobilenet_a025": 256, "mobilenetv3_small": 64]
        for f in try Self.manifest() where features[f.family] != nil {
            var model = try KerasImporter.load(contentsOf: Self.fixtures.appendingPathComponent(f.file))
            let old = try model.findHead()
            let w = try XCTUnwrap(model.parameters.tensor(old.weight)), b = try XCTUnwrap(old.bias.flatMap { model.parameters.tensor($0) })
            let head = try model.replaceHead(classes: 10)
            let n = try XCTUnwrap(features[f.family])
            XCTAssertEqual(head.inFeatures, n, f.file)
            model.parameters[head.weight] = .init(w.reshaped([10, n]))
            model.parameters[try XCTUnwrap(head.bias)] = .init(b)
            let x = try NPY.readTensor(Self.fixtures.appendingPathComponent(f.input))
            let expected = try NPY.readTensor(Self.fixtures.appendingPathComponent(f.output))
            assertModelOutput(try run(model, x), expected, relativeTolerance: try XCTUnwrap(Self.relativeTolerance[f.family]), f.file)
        }
    }

    /// MobileNetV3 and ConvNeXt built with `include_preprocessing` rescale or normalise inside:
    /// they take 0–255 pixels, which their preprocessing says (input = pixel/255 / (1/255)).
    func testModelsThatPreprocessInsideTakePixels() throws {
        // Keras 3's generic MobileNetV3 builder (the fixture's) names the model "functional", not an
        // application name (its MobileNetV3Small names it "MobileNetV3Small"): tf_keras's file only.
        for f in try Self.manifest() where f.family == "convnext_small_dims" || f.file == "mobilenetv3_small_tfkeras.h5" {
            let model = try KerasImporter.load(contentsOf: Self.fixtures.appendingPathComponent(f.file))
            let p = try XCTUnwrap(model.info.preprocessing, f.file)
            XCTAssertEqual(p.mean, [0, 0, 0], f.file)
            XCTAssertEqual(p.std, [Float(1 / 255.0), Float(1 / 255.0), Float(1 / 255.0)], f.file)
            XCTAssertEqual(p.size, 32, f.file)
        }
        // A family that does not preprocess inside gets no such claim.
        for f in try Self.manifest() where f.family == "densenet_1111" {
            let model = try KerasImporter.load(contentsOf: Self.fixtures.appendingPathComponent(f.file))
            XCTAssertNotEqual(model.info.preprocessing?.std, [Float(1 / 255.0), Float(1 / 255.0), Float(1 / 255.0)], f.file)
        }
    }

    func testExportThenImportIsBitIdentical() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-keras-family-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for f in try Self.manifest() {
            let first = try KerasImporter.load(contentsOf: Self.fixtures.appendingPathComponent(f.file))
            let url = folder.appendingPathComponent("out.h5")
            try KerasExporter.write(first, to: url)
            let second = try KerasImporter.load(contentsOf: url)
            // Keras layer names cannot hold '/' (DenseNet's `conv1/conv`, MobileNetV3's
            // `Conv/BatchNorm`): the exporter writes '_' instead.
            let exported = { (path: String) in path.replacingOccurrences(of: "/", with: "_") }
            XCTAssertEqual(Set(second.parameters.paths), Set(first.parameters.paths.map(exported)), f.file)
            for path in first.parameters.paths {
                XCTAssertTrue(second.parameters.tensor(exported(path))?.bitwiseEqual(first.parameters.tensor(path)!) ?? false, "\(f.file): \(path)")
            }
            let x = try NPY.readTensor(Self.fixtures.appendingPathComponent(f.input))
            XCTAssertTrue(try run(second, x).bitwiseEqual(try run(first, x)), "\(f.file): outputs after the round trip")
        }
    }
}
