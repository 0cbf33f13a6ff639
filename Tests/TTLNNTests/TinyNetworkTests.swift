import Foundation
import TTLCore
import TTLNN
import XCTest
import _TestSupport

/// Small networks built in Swift, with weights, inputs, logits and gradients from PyTorch
/// (`scripts/make_runtime_fixtures.py`).
final class TinyNetworkTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    let forward = (atol: 1e-5, rtol: 1e-4), backward = (atol: 1e-4, rtol: 1e-3)

    struct Fixture {
        let folder: URL
        let config: [String: Any]
        func array(_ name: String) throws -> Tensor { try NPY.readTensor(folder.appendingPathComponent(name + ".npy")) }
        /// Every `.npy` under `sub/` as a tree keyed by file name.
        func tree(_ sub: String) throws -> ParameterTree {
            let dir = folder.appendingPathComponent(sub)
            var tree = ParameterTree()
            for file in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where file.hasSuffix(".npy") {
                let path = String(file.dropLast(4))
                tree[path] = .init(try NPY.readTensor(dir.appendingPathComponent(file)), kind: path.contains("running_") ? .buffer : .parameter)
            }
            return tree
        }
        var unfreezeFrom: String { config["unfreeze_from"] as! String }
        var trainable: Set<String> { Set(config["trainable"] as! [String]) }
    }

    static func fixture(_ name: String) throws -> Fixture {
        let folder = root.appendingPathComponent(name)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("config.json")))
        return Fixture(folder: folder, config: json as! [String: Any])
    }

    /// The Swift architecture named by a fixture's config, at the fixture's input size (32×32 unless it says).
    static func model(for f: Fixture) -> Model {
        let c = f.config
        let classes = c["classes"] as! Int
        if c["family"] as! String == "resnet" {
            var config = ResNet.Configuration(block: c["block"] as! String == "basic" ? .basic : .bottleneck, layers: c["layers"] as! [Int],
                                              groups: c["groups"] as! Int, widthPerGroup: c["width_per_group"] as! Int,
                                              baseWidth: c["base"] as! Int, classes: classes)
            config.imageSize = c["size"] as? Int ?? 32
            return ResNet.build(config)
        }
        let stages = (c["stages"] as! [[Int]]).map {
            EfficientNetLite.Stage(expandRatio: $0[0], kernel: $0[1], stride: $0[2], inChannels: $0[3], outChannels: $0[4], repeats: $0[5])
        }
        return EfficientNetLite.build(.init(stemChannels: c["stem"] as! Int, stages: stages, headChannels: c["head"] as! Int,
                                            classes: classes, imageSize: 32))
    }

    func checkNetwork(_ fixtureName: String) throws {
        let f = try Self.fixture(fixtureName)
        let name = "\(fixtureName) [\(Engine.current.rawValue)]"
        var model = Self.model(for: f)
        let weights = try f.tree("weights")
        let report = try model.load(weights)
        XCTAssertTrue(report.isComplete, "\(name): \(report)")
        let x = try f.array("x")
        let labels = try NPY.read(f.folder.appendingPathComponent("labels.npy")).integers()!

        // Inference.
        let logits = try model.run(["input": x])[model.outputs[0]]!
        assertClose(logits, try f.array("logits_eval"), atol: forward.atol, rtol: forward.rtol, "\(name) eval logits")

        // Training forward and backward with everything before the last stage frozen.
        try model.unfreeze(from: f.unfreezeFrom)
        XCTAssertEqual(Set(model.parameterPaths.filter { model.isTrainable($0) }), f.trainable, name)

        // The same step without the input's gradient: the frozen stages run as the engine's plan.
        var frozenFirst = model
        let (prefixOuts, prefixTape) = try frozenFirst.forward(["input": x])
        assertClose(prefixOuts[model.outputs[0]]!, try f.array("logits_train"), atol: forward.atol, rtol: forward.rtol, "\(name) train logits, frozen stages planned")
        let (_, prefixCache) = SoftmaxCrossEntropy.forward(logits: prefixOuts[model.outputs[0]]!, labels: labels)
        let prefixGrads = frozenFirst.backward(prefixTape, outputGradients: [model.outputs[0]: SoftmaxCrossEntropy.backward(cache: prefixCache, labels: labels)])
        XCTAssertEqual(Set(prefixGrads.keys), f.trainable, name)
        for (path, g) in try f.tree("grads").entriesInOrder {
            assertClose(prefixGrads[path] ?? Tensor(zeros: [1]), g.tensor, atol: backward.atol, rtol: backward.rtol, "\(name) grad \(path), frozen stages planned")
        }

        let (outs, tape) = try model.forward(["input": x], gradientInputs: ["input"])
        let trainLogits = outs[model.outputs[0]]!
        assertClose(trainLogits, try f.array("logits_train"), atol: forward.atol, rtol: forward.rtol, "\(name) train logits")
        let (loss, cache) = SoftmaxCrossEntropy.forward(logits: trainLogits, labels: labels)
        XCTAssertEqual(Double(loss), Double(try f.array("loss").scalars[0]), accuracy: 1e-5, name)
        let grads = model.backward(tape, outputGradients: [model.outputs[0]: SoftmaxCrossEntropy.backward(cache: cache, labels: labels)])
        XCTAssertEqual(Set(grads.keys), f.trainable.union(["input"]), "\(name): gradients for exactly the trainable parameters and the input")
        assertClose(grads["input"] ?? Tensor(zeros: [1]), try f.array("dx"), atol: backward.atol, rtol: backward.rtol, "\(name) input gradient")
        let expected = try f.tree("grads")
        for path in expected.paths {
            guard let g = grads[path] else { XCTFail("\(name): no gradient for \(path)"); continue }
            assertClose(g, expected.tensor(path)!, atol: backward.atol, rtol: backward.rtol, "\(name) grad \(path)")
        }
        // Running statistics: updated where the batch norm trains, untouched where frozen.
        let after = try f.tree("after")
        for path in after.paths {
            let now = model.parameters.tensor(path)!
            assertClose(now, after.tensor(path)!, atol: forward.atol, rtol: forward.rtol, "\(name) \(path) after the step")
            let bn = String(path.prefix(upTo: path.range(of: ".running_")!.lowerBound))
            if !model.isTrainable(bn + ".weight") {
                XCTAssertTrue(now.bitwiseEqual(weights.tensor(path)!), "\(name): frozen \(path) changed")
            }
        }
        XCTAssertEqual(tape.cachedNodeCount, model.nodes.count, "\(name): with the input's gradient asked for, every node keeps its cache")
    }

    func testTinyResNetBasicBlocks() throws { try forEachEngine { _ in try checkNetwork("tiny_resnet_basic") } }
    func testTinyResNeXtBottlenecks() throws { try forEachEngine { _ in try checkNetwork("tiny_resnext_bottleneck") } }
    func testTinyEfficientNetLite() throws { try forEachEngine { _ in try checkNetwork("tiny_efficientnet_lite") } }

    /// After k SGD steps on a new head with the backbone frozen, the backbone's bytes (weights
    /// and running statistics) are unchanged and the head moved.
    func testFrozenBackboneTrainsOnlyTheHead() throws { try forEachEngine { _ in try checkFrozenBackbone() } }

    func checkFrozenBackbone() throws {
        let f = try Self.fixture("tiny_resnet_basic")
        var model = Self.model(for: f)
        try model.load(try f.tree("weights"))
        let head = try model.replaceHead(classes: 3, seed: 1)
        model.freeze()
        model.unfreeze(prefix: "fc")
        XCTAssertEqual(model.trainableParameterCount, 3 * head.inFeatures + 3)
        let before = model.parameters
        let x = try f.array("x")
        let labels = [0, 1, 2, 1]
        var losses: [Float] = []
        for _ in 0 ..< 5 {
            let (outs, tape) = try model.forward(["input": x])
            let (loss, cache) = SoftmaxCrossEntropy.forward(logits: outs[model.outputs[0]]!, labels: labels)
            losses.append(loss)
            let grads = model.backward(tape, outputGradients: [model.outputs[0]: SoftmaxCrossEntropy.backward(cache: cache, labels: labels)])
            XCTAssertEqual(Set(grads.keys), ["fc.weight", "fc.bias"])
            XCTAssertEqual(tape.cachedNodeCount, 1, "only the head keeps a cache")
            for (path, g) in grads {
                model.parameters[path]!.tensor = Binary.forward(.sub, model.parameters.tensor(path)!, g.map { $0 * 0.5 })
            }
        }
        for path in before.paths where !path.hasPrefix("fc.") {
            XCTAssertTrue(model.parameters.tensor(path)!.bitwiseEqual(before.tensor(path)!), "\(path) changed")
        }
        XCTAssertFalse(model.parameters.tensor("fc.weight")!.bitwiseEqual(before.tensor("fc.weight")!))
        XCTAssertLessThan(losses.last!, losses.first!, "the head learns: \(losses)")
    }

    func testLoadReportCatchesMissingUnusedAndMisshaped() throws {
        let f = try Self.fixture("tiny_resnet_basic")
        var model = Self.model(for: f)
        var tree = try f.tree("weights")
        tree["layer1.0.conv1.weight"] = nil                                            // missing
        tree["layer9.extra.weight"] = .init(Tensor(zeros: [2]))                       // unused
        tree["fc.bias"] = .init(Tensor(zeros: [7]))                                   // mis-shaped
        let original = model.parameters
        XCTAssertThrowsError(try model.load(tree)) { error in
            let report = (error as! LoadError).report
            XCTAssertEqual(report.missing, ["layer1.0.conv1.weight"])
            XCTAssertEqual(report.unused, ["layer9.extra.weight"])
            XCTAssertEqual(report.mismatched, [.init(path: "fc.bias", expected: [5], found: [7])])
            XCTAssertTrue("\(error)".contains("layer1.0.conv1.weight"))
        }
        XCTAssertEqual(model.parameters, original, "a failed load changes nothing")
        let report = try model.load(tree, policy: [.allowMissing, .allowUnused, .allowMismatched])
        XCTAssertEqual(report.applied.count, original.count - 2)
        XCTAssertTrue(model.parameters.tensor("fc.bias")!.bitwiseEqual(original.tensor("fc.bias")!))
    }

    func testDynamicBatch() throws {
        let f = try Self.fixture("tiny_efficientnet_lite")
        var model = Self.model(for: f)
        try model.load(try f.tree("weights"))
        let x = try f.array("x")
        let all = try model.run(["input": x])[model.outputs[0]]!
        for i in 0 ..< 2 {
            let one = try model.run(["input": x.batch(i ..< i + 1)])[model.outputs[0]]!
            assertClose(one, all.batch(i ..< i + 1), atol: 1e-5, rtol: 1e-4, "image \(i) alone")
        }
        XCTAssertThrowsError(try model.run(["input": Tensor(zeros: [1, 3, 31, 32])])) {
            XCTAssertEqual($0 as? GraphError, .inputShape("input", expected: [nil, 3, 32, 32], got: [1, 3, 31, 32]))
        }
        XCTAssertThrowsError(try model.run([:])) { XCTAssertEqual($0 as? GraphError, .missingInput("input")) }
    }
}
