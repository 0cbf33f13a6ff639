import Foundation
import TTLCore
import TTLNN
import TTLONNX
@testable import TTLFineTune
import XCTest
import _TestSupport

final class OptimizerTests: XCTestCase {
    /// Five steps against torch.optim (`scripts/make_optimizer_fixtures.py`).
    func testAgainstPyTorch() throws {
        let root = ImageTests.images.deletingLastPathComponent().appendingPathComponent("optimizers")
        for name in try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() {
            let folder = root.appendingPathComponent(name)
            let config = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("case.json"))) as! [String: Any]
            func num(_ k: String, _ d: Double) -> Float { Float((config[k] as? NSNumber)?.doubleValue ?? d) }
            var optimizer: any Optimizer
            if config["optimizer"] as! String == "SGD" {
                optimizer = SGD(momentum: num("momentum", 0), nesterov: config["nesterov"] as? Bool ?? false, weightDecay: num("weight_decay", 0))
            } else {
                let betas = (config["betas"] as? [NSNumber])?.map(\.floatValue) ?? [0.9, 0.999]
                optimizer = AdamW(beta1: betas[0], beta2: betas[1], epsilon: num("eps", 1e-8), weightDecay: num("weight_decay", 0.01))
            }
            var params = ParameterTree()
            params["p"] = .init(try NPY.readTensor(folder.appendingPathComponent("p0.npy")))
            let rates = try NPY.readTensor(folder.appendingPathComponent("lr.npy")).scalars
            for (k, lr) in rates.enumerated() {
                optimizer.step(&params, gradients: ["p": try NPY.readTensor(folder.appendingPathComponent("g\(k).npy"))], learningRate: lr)
            }
            assertClose(params.tensor("p")!, try NPY.readTensor(folder.appendingPathComponent("p5.npy")), atol: 1e-5, rtol: 1e-4, name)
        }
    }

    func testSchedules() {
        XCTAssertEqual(Schedule.cosine.rate(1, step: 0, totalSteps: 10), 1)
        XCTAssertEqual(Schedule.cosine.rate(1, step: 5, totalSteps: 10), 0.5, accuracy: 1e-6)
        XCTAssertEqual(Schedule.oneCycle.rate(1, step: 0, totalSteps: 100), 0.04, accuracy: 1e-6)
        XCTAssertEqual(Schedule.oneCycle.rate(1, step: 29, totalSteps: 100), 1, accuracy: 1e-6)
        XCTAssertLessThan(Schedule.oneCycle.rate(1, step: 99, totalSteps: 100), 1e-5)
    }
}

final class FineTuneTests: XCTestCase {
    static let dataset = ImageTests.images.deletingLastPathComponent().appendingPathComponent("dataset")
    /// A small ResNet (random weights) exported by PyTorch: 32×32 input.
    static func backbone() throws -> Model {
        let url = ImageTests.images.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TTLONNXTests/Fixtures/models/torchscript_folded_bn/model.onnx")
        return try ONNXImporter.load(contentsOf: url)
    }

    /// A copy of a PNG whose IHDR claims another size, with a correct CRC (so libpng reads the header).
    static func pngClaiming(width: UInt32, height: UInt32, from url: URL) throws -> [UInt8] {
        var bytes = try [UInt8](Data(contentsOf: url))
        let be = { (v: UInt32) in [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        bytes.replaceSubrange(16 ..< 24, with: be(width) + be(height))
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes[12 ..< 29] {  // chunk type and data of IHDR
            crc ^= UInt32(b)
            for _ in 0 ..< 8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        bytes.replaceSubrange(29 ..< 33, with: be(~crc))
        return bytes
    }

    var cacheFolder: URL!
    override func setUp() {
        cacheFolder = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-cache-\(ProcessInfo.processInfo.processIdentifier)-\(name.hashValue)")
    }
    override func tearDown() { try? FileManager.default.removeItem(at: cacheFolder) }

    func testDatasetSplit() throws {
        let data = try ImageFolder(root: Self.dataset, validationSplit: 0.25, seed: 1)
        XCTAssertEqual(data.classes, ["blue", "green", "red"])
        XCTAssertEqual(data.train.count, 18)
        XCTAssertEqual(data.validation.count, 6)
        XCTAssertEqual(data.validation.map(\.label), [0, 0, 1, 1, 2, 2], "stratified")
        XCTAssertEqual(try ImageFolder(root: Self.dataset, validationSplit: 0.25, seed: 1).validation, data.validation, "seeded")
        XCTAssertEqual(try ImageFolder(root: Self.dataset, validationSplit: 0).validation.count, 0)
    }

    func testBadDatasets() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-bad-data-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: root) }
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("cats"), withIntermediateDirectories: true)
        let png = ImageTests.images.appendingPathComponent("rgb.png")
        try fm.copyItem(at: png, to: root.appendingPathComponent("cats/a.png"))
        XCTAssertThrowsError(try ImageFolder(root: root)) {
            XCTAssertEqual(($0 as? DatasetError)?.description.contains("at least two"), true, "\($0)")
        }
        try fm.createDirectory(at: root.appendingPathComponent("dogs"), withIntermediateDirectories: true)
        try Data("not an image".utf8).write(to: root.appendingPathComponent("dogs/broken.jpg"))
        XCTAssertThrowsError(try ImageFolder(root: root)) {
            XCTAssertEqual($0 as? DatasetError, .emptyClass(root.appendingPathComponent("dogs").path))
        }
        try fm.copyItem(at: png, to: root.appendingPathComponent("dogs/b.png"))
        let data = try ImageFolder(root: root)
        XCTAssertEqual(data.skipped.count, 1, "the broken file is skipped with a warning")
        XCTAssertThrowsError(try ImageFolder(root: root, strict: true)) {
            guard case .unreadableImages? = $0 as? DatasetError else { return XCTFail("\($0)") }
        }
        try Data(Self.pngClaiming(width: 100_000, height: 100_000, from: png)).write(to: root.appendingPathComponent("dogs/huge.png"))
        XCTAssertThrowsError(try ImageFolder(root: root)) { XCTAssertTrue("\($0)".contains("huge.png"), "\($0)") }
        XCTAssertThrowsError(try ImageFolder(root: root.appendingPathComponent("missing")))
    }

    /// On the sample colours, a head on a frozen random backbone learns well above chance;
    /// the backbone's bytes do not change; a second run takes every feature from the cache.
    func testFrozenBackboneWithFeatureCache() throws {
        let backbone = try Self.backbone()
        let data = try ImageFolder(root: Self.dataset, validationSplit: 0.25, seed: 1)
        var options = FineTuneOptions()
        options.epochs = 30
        options.batchSize = 8
        options.learningRate = 0.05
        options.seed = 3
        let p = Preprocessing(size: 32, resize: .squash)
        let cache = FeatureCache(folder: cacheFolder)
        var reports: [EpochReport] = []
        let result = try FineTuner.fit(backbone, data: data, preprocessing: p, options: options, cache: cache) { reports.append($0) }
        XCTAssertEqual(cache.computed, 24, "each image through the backbone once")
        XCTAssertEqual(cache.found, 0)
        XCTAssertEqual(reports.count, 30)
        XCTAssertGreaterThan(result.history.map { $0.validationAccuracy ?? 0 }.max()!, 0.8, "well above chance (1/3)")
        XCTAssertLessThan(result.history.last!.trainLoss, result.history.first!.trainLoss)
        XCTAssertEqual(result.model.metadata["labels"], "[\"blue\",\"green\",\"red\"]")
        XCTAssertEqual(Preprocessing(json: result.model.metadata["preprocessing"] ?? ""), p)
        let head = try result.model.findHead()
        XCTAssertEqual(head.outFeatures, 3)
        for path in backbone.parameters.paths where path != head.weight && path != head.bias {
            XCTAssertTrue(result.model.parameters.tensor(path)!.bitwiseEqual(backbone.parameters.tensor(path)!), "\(path) changed")
        }
        // The same run again: the backbone is not run at all.
        let again = FeatureCache(folder: cacheFolder)
        let second = try FineTuner.fit(backbone, data: data, preprocessing: p, options: options, cache: again)
        XCTAssertEqual(again.computed, 0)
        XCTAssertEqual(again.found, 24)
        XCTAssertEqual(second.history.map(\.trainLoss), result.history.map(\.trainLoss), "seeded and reproducible")
        // Bounded: a cache over its limit drops other backbones' features, never the current one's.
        try FileManager.default.createDirectory(at: cacheFolder.appendingPathComponent("old"), withIntermediateDirectories: true)
        try Data(count: 10_000).write(to: cacheFolder.appendingPathComponent("old/x.f32"))
        let bounded = FeatureCache(folder: cacheFolder, limitBytes: 5_000)
        let current = try FileManager.default.contentsOfDirectory(atPath: cacheFolder.path).first { $0 != "old" }!
        bounded.enforceLimit(keeping: current)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cacheFolder.path), [current])
    }

    func testUnfrozenStageAndAugmentation() throws {
        let backbone = try Self.backbone()
        let data = try ImageFolder(root: Self.dataset, validationSplit: 0.25, seed: 1)
        var options = FineTuneOptions()
        options.epochs = 2
        options.batchSize = 8
        options.augment = true
        options.optimizer = .sgd
        options.learningRate = 0.01
        let head = try backbone.findHead()
        let lastConv = backbone.nodes.last { $0.operation is Conv2DOp }!.inputs[1]
        options.unfreezeFrom = lastConv
        let result = try FineTuner.fit(backbone, data: data, preprocessing: Preprocessing(size: 32, resize: .squash), options: options)
        XCTAssertEqual(result.history.count, 2)
        XCTAssertFalse(result.model.parameters.tensor(lastConv)!.bitwiseEqual(backbone.parameters.tensor(lastConv)!), "the unfrozen stage trained")
        let first = backbone.parameterPathsInExecutionOrder.first!
        XCTAssertTrue(result.model.parameters.tensor(first)!.bitwiseEqual(backbone.parameters.tensor(first)!), "earlier stages stay frozen: \(first) of \(backbone.parameterPaths), unfrozen from \(lastConv)")
        _ = head
    }
}
