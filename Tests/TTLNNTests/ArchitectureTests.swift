import Foundation
import TTLCore
import TTLNN
import XCTest
import _TestSupport

/// The built-in architectures name and shape every weight exactly as the reference frameworks
/// do (`scripts/make_architecture_fixtures.py`), so their files load without renaming.
final class ArchitectureTests: XCTestCase {
    nonisolated(unsafe) static let reference: [String: Any] = {
        let url = TinyNetworkTests.root.appendingPathComponent("architectures.json")
        return (try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) as? [String: Any] ?? [:]
    }()

    /// `[[path, shape]]` from the fixture.
    func pairs(_ framework: String, _ name: String) -> [(String, Shape)] {
        let list = (Self.reference[framework] as? [String: Any])?[name] as? [[Any]] ?? []
        return list.map { ($0[0] as! String, Shape($0[1] as! [Int])) }
    }

    /// Same paths with the same shapes; in the same order unless `anyOrder` (Keras lists layers
    /// in its own topological order, which weight loading by name does not depend on).
    func assertSameParameters(_ model: Model, _ expected: [(String, Shape)], _ name: String, anyOrder: Bool = false) {
        XCTAssertFalse(expected.isEmpty, "no reference for \(name)")
        var ours = model.parameters.entriesInOrder.map { ($0.path, $0.entry.tensor.shape) }
        var expected = expected
        if anyOrder {
            ours.sort { $0.0 < $1.0 }
            expected.sort { $0.0 < $1.0 }
        }
        XCTAssertEqual(ours.map(\.0), expected.map(\.0), "\(name): paths")
        for ((p, s), (_, e)) in zip(ours, expected) where s != e { XCTFail("\(name): \(p) is \(s), reference \(e)") }
    }

    func testTorchvisionResNets() throws {
        for (name, config) in ResNet.named.sorted(by: { $0.key < $1.key }) {
            let model = ResNet.build(config)
            assertSameParameters(model, pairs("torchvision", name), name)
            XCTAssertNoThrow(try model.summary(), name)
        }
    }

    func testEfficientNetLite0MatchesThePretrainedStateDict() throws {
        let model = EfficientNetLite.build(.lite0)
        assertSameParameters(model, pairs("efficientnet_pytorch", "efficientnet-lite0"), "efficientnet-lite0")
        let summary = try model.summary()
        XCTAssertEqual(summary.totalParameters, pairs("efficientnet_pytorch", "efficientnet-lite0")
            .filter { !$0.0.contains("running_") }.reduce(0) { $0 + $1.1.count })
    }

    /// Keras layers map to ttl paths through the layout adapter: HWIO kernels become OIHW,
    /// `[in, out]` dense kernels `[out, in]`, gamma/beta/moving_mean/moving_variance become
    /// weight/bias/running_mean/running_var.
    func testKerasResNets() throws {
        for (name, config) in KerasResNet.named.sorted(by: { $0.key < $1.key }) {
            let layers = (Self.reference["keras"] as? [String: Any])?[name] as? [[Any]] ?? []
            var expected: [(String, Shape)] = []
            for layer in layers {
                let (lname, kind, shapes) = (layer[0] as! String, layer[1] as! String, (layer[2] as! [[Int]]).map(Shape.init))
                switch kind {
                case "Conv2D":
                    let k = shapes[0]
                    expected.append((lname + ".weight", [k[3], k[2], k[0], k[1]]))
                    if shapes.count > 1 { expected.append((lname + ".bias", shapes[1])) }
                case "BatchNormalization":
                    expected += ["weight", "bias", "running_mean", "running_var"].map { (lname + "." + $0, shapes[0]) }
                case "Dense":
                    expected.append((lname + ".weight", [shapes[0][1], shapes[0][0]]))
                    expected.append((lname + ".bias", shapes[1]))
                default:
                    XCTAssertTrue(shapes.isEmpty, "\(name): unexpected weights in \(kind) \(lname)")
                }
            }
            let model = KerasResNet.build(config)
            assertSameParameters(model, expected, name, anyOrder: true)
            // Every Keras layer with weights is a node of the same name.
            for layer in layers where !(layer[2] as! [[Int]]).isEmpty {
                XCTAssertNotNil(model.node(named: layer[0] as! String), "\(name): no node \(layer[0])")
            }
        }
    }

    func testHeadFreezingAndFeatureExtractor() throws {
        var model = ResNet.build(.resnet18)
        let head = try model.findHead()
        XCTAssertEqual(head, Head(node: "fc", weight: "fc.weight", bias: "fc.bias", inFeatures: 512, outFeatures: 1000,
                                  features: "flatten", logits: "fc", softmax: nil))
        try model.replaceHead(classes: 10, seed: 3)
        XCTAssertEqual(model.parameters.tensor("fc.weight")?.shape, [10, 512])
        let bound = 1 / Float(512).squareRoot()
        XCTAssertTrue(model.parameters.tensor("fc.weight")!.scalars.allSatisfy { abs($0) <= bound })

        try model.unfreeze(from: "layer4")
        let layer4 = model.parameterPaths.filter { $0.hasPrefix("layer4.") || $0.hasPrefix("fc.") }
        XCTAssertEqual(model.trainableParameterCount, layer4.reduce(0) { $0 + model.parameters.tensor($1)!.count })
        XCTAssertThrowsError(try model.unfreeze(from: "layer7"))
        model.freeze()
        XCTAssertEqual(model.trainableParameterCount, 0)
        model.unfreeze()
        XCTAssertEqual(model.trainableParameterCount, model.parameterCount)

        let features = try model.cut(at: head.features)
        XCTAssertEqual(features.outputs, ["flatten"])
        XCTAssertNil(features.parameters.tensor("fc.weight"))
        let shapes = try features.inferShapes(["input": [2, 3, 224, 224]])
        XCTAssertEqual(shapes["flatten"], [2, 512])

        let keras = KerasResNet.build(.resnet50v2)
        let kerasHead = try keras.findHead()
        XCTAssertEqual(kerasHead.node, "predictions")
        XCTAssertEqual(kerasHead.softmax, "predictions_softmax")
        XCTAssertEqual(kerasHead.inFeatures, 2048)
        var kerasModel = keras
        try kerasModel.unfreeze(from: "conv5")
        XCTAssertTrue(kerasModel.isTrainable("conv5_block1_0_conv.weight"))
        XCTAssertFalse(kerasModel.isTrainable("conv4_block6_3_conv.weight"))
    }

    func testSummary() throws {
        var model = ResNet.build(.resnet18)
        model.freeze()
        model.unfreeze(prefix: "fc")
        let s = try model.summary()
        XCTAssertEqual(s.totalParameters, pairs("torchvision", "resnet18").filter { !$0.0.contains("running_") }.reduce(0) { $0 + $1.1.count })
        XCTAssertEqual(s.trainableParameters, 512 * 1000 + 1000)
        XCTAssertEqual(s.rows.first?.name, "conv1")
        XCTAssertEqual(s.rows.first?.outputShape, [1, 64, 112, 112])
        XCTAssertEqual(s.rows.first?.flops, 2 * 64 * 112 * 112 * 3 * 49)
        XCTAssertEqual(s.rows.last?.trainable, "yes")
        let text = s.render()
        XCTAssertTrue(text.contains("layer4.1.conv2"))
        XCTAssertTrue(text.contains("trainable"))
    }
}
