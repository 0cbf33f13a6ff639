import Foundation
import TTLCore
import TTLNN
import TTLONNX
@testable import TTLFineTune
import XCTest
import _TestSupport

/// The fine-tune path on one member of every torchvision family (the ONNX fixtures of
/// `scripts/make_torchvision_fixtures.py`): the head is found where the family keeps it, a new
/// head for the sample colours trains on the frozen backbone, and the tuned model exports to
/// ONNX and imports back predicting the same.
final class TorchvisionFineTuneTests: XCTestCase {
    static let fixtures = FineTuneTests.dataset.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("TTLONNXTests/Fixtures/torchvision")
    /// One export of each family, and the family's other members with a fixture; SqueezeNet from both
    /// exporters (its head is a convolution).
    static let members = [
        "alexnet_torchscript_opset9", "convnext_torchscript_opset17", "densenet_dynamo_opset18", "efficientnet_b0_torchscript_opset17",
        "googlenet_torchscript_opset11", "inception_v3_dynamo_opset18", "mnasnet_torchscript_opset13", "mobilenet_v2_torchscript_opset9",
        "mobilenet_v3_small_torchscript_opset17", "regnet_y_dynamo_opset20", "resnext_torchscript_opset13", "shufflenet_v2_torchscript_opset13",
        "squeezenet1_0_torchscript_opset9", "squeezenet1_1_dynamo_opset18", "vgg11_torchscript_opset13", "wide_resnet_dynamo_opset20",
        "efficientnet_v2_dynamo_opset18", "mobilenet_v3_large_dynamo_opset18", "regnet_x_torchscript_opset13", "resnet18_torchscript_opset10",
        "resnet50_dynamo_opset21", "vgg11_bn_torchscript_opset12",
    ]

    var cacheFolder: URL!
    override func setUp() {
        cacheFolder = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-tv-cache-\(ProcessInfo.processInfo.processIdentifier)")
    }
    override func tearDown() { try? FileManager.default.removeItem(at: cacheFolder) }

    func testEveryFamilyFineTunesAndExports() throws {
        let data = try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0.25, seed: 1)
        for name in Self.members {
            let folder = Self.fixtures.appendingPathComponent(name)
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("case.json"))) as! [String: Any]
            let backbone = try ONNXImporter.load(contentsOf: folder.appendingPathComponent("model.onnx"))
            let size = try NPY.readTensor(folder.appendingPathComponent("input.npy")).shape[2]
            var options = FineTuneOptions()
            options.epochs = 15
            options.batchSize = 8
            options.learningRate = 0.05
            options.seed = 3
            let result = try FineTuner.fit(backbone, data: data, preprocessing: Preprocessing(size: size, resize: .squash), options: options,
                                           cache: FeatureCache(folder: cacheFolder))
            let head = try result.model.findHead()
            XCTAssertEqual(head.weight, json["head"] as? String, name)
            XCTAssertEqual(head.outFeatures, 3, name)
            XCTAssertLessThan(result.history.last!.trainLoss, result.history.first!.trainLoss, name)
            for path in backbone.parameters.paths where path != head.weight && path != head.bias {
                XCTAssertTrue(result.model.parameters.tensor(path)!.bitwiseEqual(backbone.parameters.tensor(path)!), "\(name): \(path) changed")
            }

            let back = try ONNXImporter.load(try ONNXExporter.serialize(result.model), file: name + " (tuned, exported)")
            XCTAssertEqual(try back.findHead().outFeatures, 3, name)
            var rng = SplitMix64(seed: 7)
            let x = Tensor.uniform([2, 3, size, size], -1, 1, using: &rng)
            let y = try result.model.run([result.model.inputs[0].name: x])[result.model.outputs[0]]!
            XCTAssertEqual(y.shape, [2, 3], name)
            XCTAssertTrue(try back.run([back.inputs[0].name: x])[back.outputs[0]]!.bitwiseEqual(y), "\(name): the exported model predicts the same")
        }
    }
}
