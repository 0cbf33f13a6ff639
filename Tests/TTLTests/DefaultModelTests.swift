import Foundation
import TTL
import TTLCore
import TTLFineTune
import TTLNN
import XCTest
import _TestSupport

/// The embedded default backbone (`weights/efficientnet-lite0.onnx`, made by
/// `scripts/make_default_model.py`) against its PyTorch reference.
final class DefaultModelTests: XCTestCase {
    static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let model = Result { try ModelFile.load(checkout.appendingPathComponent("weights/efficientnet-lite0.onnx")) }

    func testItCarriesItsLabelsAndPreprocessing() throws {
        let classifier = try Classifier(Self.model.get())
        XCTAssertEqual(classifier.labels.count, 1000)
        XCTAssertEqual(classifier.labels[985], "daisy")
        XCTAssertFalse(classifier.usesDefaultPreprocessing)
        XCTAssertEqual(classifier.preprocessing.resize, .squash)
        XCTAssertEqual(classifier.preprocessing.size, 224)
        XCTAssertEqual(try Self.model.get().parameterCount, 4_652_008)
    }

    /// From the same input tensor, PyTorch's probabilities (float32 kernels: 1e-5); from the
    /// JPEG files, the same top-1 and probabilities within 1e-3.
    func testClassifiesThePhotosAsPyTorch() throws {
        let model = try Self.model.get()
        let classifier = try Classifier(model)
        for name in ["flower", "china"] {
            let reference = try NPY.readTensor(Self.fixtures.appendingPathComponent("default-model/\(name).probabilities.npy"))
            let x = try NPY.readTensor(Self.fixtures.appendingPathComponent("default-model/\(name).input.npy"))
            try forEachEngine { engine in
                let logits = try model.run(["input": x])[model.outputs[0]]!
                assertClose(Softmax.forward(logits, axis: -1).reshaped([1000]), reference, atol: 1e-5, rtol: 0, "\(name) from PyTorch's input [\(engine.rawValue)]")
            }

            let p = try classifier.probabilities([Self.fixtures.appendingPathComponent("photos/\(name).jpg")]).reshaped([1000])
            assertClose(p, reference, atol: 1e-3, rtol: 0, "\(name) from the JPEG")
            let (ours, theirs) = (p.scalars, reference.scalars)
            XCTAssertEqual(ours.firstIndex(of: ours.max()!), theirs.firstIndex(of: theirs.max()!), name)
        }
        let top = try classifier.predict([Self.fixtures.appendingPathComponent("photos/flower.jpg"), Self.fixtures.appendingPathComponent("photos/china.jpg")], top: 1)
        XCTAssertEqual(top.map { $0[0].label }, ["daisy", "bell cote"])
    }

    /// A shortened `make demo`: three Fashion-MNIST classes, eight training and four validation
    /// images each, on the default backbone.
    func testShortDemo() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-demo-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: root) }
        let source = Self.checkout.appendingPathComponent("examples/fashion-mnist")
        for (split, count) in [("train", 8), ("val", 4)] {
            for c in ["bag", "sneaker", "trouser"] {
                let dir = root.appendingPathComponent("\(split)/\(c)")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                let files = try FileManager.default.contentsOfDirectory(atPath: source.appendingPathComponent("\(split)/\(c)").path).sorted().prefix(count)
                for f in files { try FileManager.default.copyItem(at: source.appendingPathComponent("\(split)/\(c)/\(f)"), to: dir.appendingPathComponent(f)) }
            }
        }
        let data = try ImageFolder(root: root)
        XCTAssertEqual(data.train.count, 24)
        XCTAssertEqual(data.validation.count, 12)
        var options = FineTuneOptions()
        options.epochs = 15
        let model = try Self.model.get()
        let result = try FineTuner.fit(model, data: data, preprocessing: Classifier.preprocessing(of: model), options: options)
        let accuracy = result.history.first { $0.epoch == result.bestEpoch }?.validationAccuracy ?? 0
        print("short demo: validation accuracy \(accuracy)")
        XCTAssertGreaterThanOrEqual(accuracy, 0.75, "validation accuracy (chance: 1/3; measured 1.0)")
    }
}
