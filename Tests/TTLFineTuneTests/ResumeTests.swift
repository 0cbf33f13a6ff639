import Foundation
import TTLCore
import TTLNN
@testable import TTLFineTune
import XCTest
import _TestSupport

/// Stopping a run and resuming it from its checkpoint ends exactly as the run without a stop;
/// a checkpoint of another run is refused; a diverging run keeps its last good weights; the
/// two-phase schedule trains what it says.
final class ResumeTests: XCTestCase {
    var folder: URL!
    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-resume-\(ProcessInfo.processInfo.processIdentifier)-\(name.hashValue)")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    let preprocessing = Preprocessing(size: 32, resize: .squash)

    /// Every figure of two histories but the timings.
    func assertSameHistory(_ a: [EpochReport], _ b: [EpochReport], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        func figures(_ h: [EpochReport]) -> [[Double?]] {
            h.map { [Double($0.epoch), $0.trainLoss, $0.trainAccuracy, $0.validationLoss, $0.validationAccuracy, $0.learningRate, $0.best ? 1 : 0] }
        }
        XCTAssertEqual(figures(a), figures(b), message, file: file, line: line)
    }

    func assertSameWeights(_ a: Model, _ b: Model, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.parameters.paths, b.parameters.paths, message, file: file, line: line)
        for path in a.parameters.paths {
            XCTAssertTrue(a.parameters.tensor(path)!.bitwiseEqual(b.parameters.tensor(path)!), "\(message): \(path) differs", file: file, line: line)
        }
    }

    /// Runs `options` once without stopping, and once stopped at the `stopAt`-th call of
    /// `shouldStop`, written to disk, read back and resumed; returns the checkpoint.
    @discardableResult
    func assertResumeIsExact(_ options: FineTuneOptions, data: ImageFolder, stopAt: Int, _ message: String,
                             file: StaticString = #filePath, line: UInt = #line) throws -> FineTuneCheckpoint {
        let backbone = try FineTuneTests.backbone()
        let whole = try FineTuner.fit(backbone, data: data, preprocessing: preprocessing, options: options)
        XCTAssertNil(whole.checkpoint, file: file, line: line)
        XCTAssertEqual(whole.history.count, options.totalEpochs, file: file, line: line)

        var calls = 0
        let first = try FineTuner.fit(backbone, data: data, preprocessing: preprocessing, options: options, shouldStop: {
            calls += 1
            return calls == stopAt
        })
        let paused = try XCTUnwrap(first.checkpoint, "\(message): the run did not stop", file: file, line: line)
        XCTAssertEqual(first.history.count, paused.epochsDone, file: file, line: line)
        let place = folder.appendingPathComponent("run.ttlckpt")
        try paused.write(to: place)
        let read = try FineTuneCheckpoint.read(from: place)
        XCTAssertEqual(read.location, place)
        XCTAssertEqual(read.epochsDone, paused.epochsDone, file: file, line: line)
        XCTAssertEqual(read.batchesDone, paused.batchesDone, file: file, line: line)

        var later: [EpochReport] = []
        let resumed = try FineTuner.fit(backbone, data: data, preprocessing: preprocessing, options: options, resumingFrom: read,
                                        progress: { later.append($0) })
        XCTAssertNil(resumed.checkpoint, file: file, line: line)
        XCTAssertEqual(later.map(\.epoch), Array(paused.epochsDone + 1 ... options.totalEpochs), "only the remaining epochs run", file: file, line: line)
        assertSameHistory(resumed.history, whole.history, message, file: file, line: line)
        XCTAssertEqual(resumed.bestEpoch, whole.bestEpoch, message, file: file, line: line)
        assertSameWeights(resumed.model, whole.model, message, file: file, line: line)
        return paused
    }

    func testResumeOnCachedFeaturesIsExact() throws {
        let data = try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0.25, seed: 1)
        var options = FineTuneOptions()
        options.epochs = 6
        options.batchSize = 8
        options.learningRate = 0.05
        options.seed = 0xFEED_FACE_CAFE_BEEF  // beyond 2⁵³: must survive the JSON manifest
        try assertResumeIsExact(options, data: data, stopAt: 2, "AdamW")
        options.optimizer = .sgd
        options.nesterov = true
        options.schedule = .oneCycle
        let paused = try assertResumeIsExact(options, data: data, stopAt: 4, "SGD, Nesterov, one-cycle")
        XCTAssertEqual(paused.epochsDone, 4)
        XCTAssertEqual(paused.batchesDone, 0, "the head trains on features: it stops between epochs")
    }

    func testResumeEndToEndIsExact() throws {
        let backbone = try FineTuneTests.backbone()
        let data = try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0.25, seed: 1)
        var options = FineTuneOptions()
        options.epochs = 3
        options.batchSize = 8
        options.augment = true
        options.optimizer = .sgd
        options.learningRate = 0.01
        options.seed = 5
        options.unfreezeFrom = backbone.nodes.last { $0.operation is Conv2DOp }!.inputs[1]
        // 18 training images, batches of 8: shouldStop is asked after batches 1 and 2 and at
        // the end of each epoch but the last. Call 3 ends epoch 1; call 4 is inside epoch 2.
        let between = try assertResumeIsExact(options, data: data, stopAt: 3, "stopped between epochs")
        XCTAssertEqual([between.epochsDone, between.batchesDone], [1, 0])
        let inside = try assertResumeIsExact(options, data: data, stopAt: 4, "stopped between batches")
        XCTAssertEqual([inside.epochsDone, inside.batchesDone], [1, 1])
        options.optimizer = .adamw
        try assertResumeIsExact(options, data: data, stopAt: 5, "AdamW, stopped between batches")
    }

    /// Progress through end-to-end epochs: one pass per epoch over training and validation
    /// images, from (0, total) up to (total, total).
    func testEndToEndReportsImagesDone() throws {
        let data = try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0.25, seed: 1)
        var options = FineTuneOptions()
        options.epochs = 2
        options.batchSize = 8
        options.augment = true
        var calls: [[Int]] = []
        _ = try FineTuner.fit(try FineTuneTests.backbone(), data: data, preprocessing: preprocessing, options: options,
                              imagesDone: { calls.append([$0, $1]) })
        // Per epoch: the start, three training batches (8, 8, 2), one validation batch (6).
        let epoch = [[0, 24], [8, 24], [16, 24], [18, 24], [24, 24]]
        XCTAssertEqual(calls, epoch + epoch)
    }

    func testResumeRefusesAnotherRun() throws {
        let backbone = try FineTuneTests.backbone()
        let data = try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0.25, seed: 1)
        var options = FineTuneOptions()
        options.epochs = 3
        options.batchSize = 8
        options.learningRate = 0.05
        let place = folder.appendingPathComponent("run.ttlckpt")
        let paused = try XCTUnwrap(try FineTuner.fit(backbone, data: data, preprocessing: preprocessing, options: options, shouldStop: { true }).checkpoint)
        try paused.write(to: place)
        try paused.write(to: place)  // replaces the first, leaves nothing beside it
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["run.ttlckpt"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: place.path).sorted(), ["checkpoint.json", "tensors"])
        let checkpoint = try FineTuneCheckpoint.read(from: place)

        func assertRefused(_ backbone: Model, _ data: ImageFolder, _ p: Preprocessing, _ o: FineTuneOptions, _ expected: String,
                           file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try FineTuner.fit(backbone, data: data, preprocessing: p, options: o, resumingFrom: checkpoint), file: file, line: line) {
                guard case let .checkpointMismatch(path, reason)? = $0 as? FineTuneError else { return XCTFail("\($0)", file: file, line: line) }
                XCTAssertEqual(path, place.path, file: file, line: line)
                XCTAssertTrue(reason.contains(expected), reason, file: file, line: line)
            }
        }
        var lr = options
        lr.learningRate = 0.1
        assertRefused(backbone, data, preprocessing, lr, "options: learningRate 0.05 in the checkpoint, 0.1 now")
        assertRefused(backbone, try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0.5, seed: 1), preprocessing, options,
                      "18 training and 6 validation images in the checkpoint, 12 and 12 now")
        assertRefused(backbone, try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0.25, seed: 2), preprocessing, options,
                      "other image files or another validation split")
        assertRefused(backbone, data, Preprocessing(size: 32, resize: .squash, mean: [0.5, 0.5, 0.5]), options, "preprocessing")
        var other = backbone
        let path = other.parameterPathsInExecutionOrder[0]
        let shape = other.parameters.tensor(path)!.shape
        other.parameters[path]?.tensor = Tensor(zeros: shape)
        assertRefused(other, data, preprocessing, options, "another backbone")
        XCTAssertThrowsError(try checkpoint.verify(backbone: backbone, data: data, preprocessing: preprocessing, options: lr))
        XCTAssertNoThrow(try checkpoint.verify(backbone: backbone, data: data, preprocessing: preprocessing, options: options))

        // Damaged checkpoints: a typed error naming the file, never a crash.
        func assertUnreadable(_ expectedPath: URL, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try FineTuneCheckpoint.read(from: place), file: file, line: line) {
                guard case let .checkpoint(path, reason)? = $0 as? FineTuneError else { return XCTFail("\($0)", file: file, line: line) }
                XCTAssertEqual(path, expectedPath.path, file: file, line: line)
                XCTAssertTrue(reason.contains(expected), reason, file: file, line: line)
            }
        }
        let manifest = place.appendingPathComponent("checkpoint.json")
        let good = try Data(contentsOf: manifest)
        try good.prefix(good.count / 2).write(to: manifest)
        assertUnreadable(manifest, "not a ttl checkpoint manifest")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: good) as? [String: Any])
        json["epochsDone"] = 2
        try JSONSerialization.data(withJSONObject: json).write(to: manifest)
        assertUnreadable(manifest, "inconsistent progress")
        json["epochsDone"] = 1
        json["rng"] = "not hex"
        try JSONSerialization.data(withJSONObject: json).write(to: manifest)
        assertUnreadable(manifest, "rng 'not hex'")
        try good.write(to: manifest)
        let tensor = place.appendingPathComponent("tensors/0.npy")
        try Data("not numpy".utf8).write(to: tensor)
        assertUnreadable(tensor, "not a .npy file")
        try FileManager.default.removeItem(at: place)
        assertUnreadable(place, "no checkpoint here")
        // A checkpoint cannot be written where a file is in the way.
        let blocker = folder.appendingPathComponent("file")
        try Data().write(to: blocker)
        XCTAssertThrowsError(try paused.write(to: blocker.appendingPathComponent("run.ttlckpt"))) {
            guard case .checkpoint(_, let reason)? = $0 as? FineTuneError else { return XCTFail("\($0)") }
            XCTAssertTrue(reason.hasPrefix("cannot write the checkpoint"), reason)
        }
    }

    /// A loss that overflows (an absurd learning rate) stops training with a message and keeps
    /// the last finished epoch's weights: finite, and those of a run that stops there.
    func testNonFiniteLossKeepsTheLastGoodWeights() throws {
        let backbone = try FineTuneTests.backbone()
        let data = try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0, seed: 1)  // best = last epoch
        for augment in [false, true] {  // cached features; end to end
            var options = FineTuneOptions()
            options.epochs = 40
            options.batchSize = 8
            options.optimizer = .sgd
            options.schedule = .constant  // a shorter run is the same run up to its end
            options.learningRate = 5e37
            options.augment = augment
            let result = try FineTuner.fit(backbone, data: data, preprocessing: preprocessing, options: options)
            let good = result.history.count
            XCTAssertGreaterThan(good, 0, "some epochs finish before the loss overflows")
            XCTAssertLessThan(good, 40, "the loss overflows")
            XCTAssertEqual(result.bestEpoch, good)
            XCTAssertEqual(result.stoppedEarly, "the loss became NaN or infinite in epoch \(good + 1); kept the weights of epoch \(good) (try a lower --lr)")
            for (path, entry) in result.model.parameters.entriesInOrder {
                XCTAssertTrue(entry.tensor.scalars.allSatisfy(\.isFinite), "\(path) is not finite")
            }
            options.epochs = good
            let shorter = try FineTuner.fit(backbone, data: data, preprocessing: preprocessing, options: options)
            XCTAssertNil(shorter.stoppedEarly)
            assertSameWeights(result.model, shorter.model, "augment \(augment): the weights of epoch \(good)")
            assertSameHistory(result.history, shorter.history, "augment \(augment)")

            // Overflowing in the first epoch leaves nothing worth keeping: an error.
            options.epochs = 3
            options.learningRate = 3e38
            XCTAssertThrowsError(try FineTuner.fit(backbone, data: data, preprocessing: preprocessing, options: options)) {
                guard case .diverged(epoch: 1)? = $0 as? FineTuneError else { return XCTFail("\($0)") }
            }
        }
    }

    /// `freezeEpochs`: the first phase trains the head on cached features with the backbone's
    /// bytes unchanged; the second trains the backbone too, at its own rate; a stop at the
    /// boundary resumes exactly.
    func testTwoPhaseSchedule() throws {
        let backbone = try FineTuneTests.backbone()
        let data = try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0, seed: 1)  // best = last epoch
        var options = FineTuneOptions()
        options.freezeEpochs = 1
        options.epochs = 1
        options.batchSize = 8
        options.optimizer = .sgd
        options.learningRate = 0.01
        let cache = FeatureCache(folder: folder.appendingPathComponent("cache"))
        let phase1 = try FineTuner.fit(backbone, data: data, preprocessing: preprocessing, options: options, cache: cache, shouldStop: { true })
        let paused = try XCTUnwrap(phase1.checkpoint)
        XCTAssertEqual([paused.epochsDone, paused.totalEpochs], [1, 2])
        XCTAssertEqual(cache.computed, 24, "phase 1 trains on features")
        var fresh = backbone
        let head = try fresh.replaceHead(classes: 3)
        for path in backbone.parameters.paths where path != head.weight && path != head.bias {
            XCTAssertTrue(paused.state.parameters.tensor(path)!.bitwiseEqual(backbone.parameters.tensor(path)!), "phase 1 changed \(path)")
        }
        XCTAssertFalse(paused.state.parameters.tensor(head.weight)!.bitwiseEqual(fresh.parameters.tensor(head.weight)!), "phase 1 trains the head")

        let resumed = try FineTuner.fit(backbone, data: data, preprocessing: preprocessing, options: options, resumingFrom: paused)
        XCTAssertEqual(resumed.history.map(\.epoch), [1, 2])
        let first = backbone.parameterPathsInExecutionOrder[0]
        XCTAssertFalse(resumed.model.parameters.tensor(first)!.bitwiseEqual(backbone.parameters.tensor(first)!), "phase 2 trains the whole backbone")
        let whole = try FineTuner.fit(backbone, data: data, preprocessing: preprocessing, options: options)
        assertSameWeights(resumed.model, whole.model, "resumed at the phase boundary")

        // The backbone at rate 0 stays as it was while the head goes on training.
        options.backboneLearningRate = 0
        let still = try FineTuner.fit(backbone, data: data, preprocessing: preprocessing, options: options)
        for path in backbone.parameters.paths where path != head.weight && path != head.bias {
            XCTAssertTrue(still.model.parameters.tensor(path)!.bitwiseEqual(backbone.parameters.tensor(path)!), "\(path) moved at rate 0")
        }
        XCTAssertFalse(still.model.parameters.tensor(head.weight)!.bitwiseEqual(paused.state.parameters.tensor(head.weight)!), "phase 2 trains the head")
    }

    func testInvalidOptions() throws {
        let data = try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0.25, seed: 1)
        var options = FineTuneOptions()
        options.epochs = 0
        XCTAssertThrowsError(try FineTuner.fit(try FineTuneTests.backbone(), data: data, preprocessing: preprocessing, options: options)) {
            XCTAssertEqual("\($0)", "epochs must be at least 1 (got 0)")
        }
    }
}
