import Foundation
import TTLCore
import TTLNN
@testable import TTLFineTune
import XCTest
import _TestSupport

/// The L-BFGS head fit (`HeadFit.swift`): its gradient, its optimum against scikit-learn, the
/// penalty chosen on validation images only, the same bits every time.
final class HeadFitTests: XCTestCase {
    /// A seeded problem: `n` examples of `f` features, `c` classes.
    static func problem(n: Int, f: Int, c: Int, seed: UInt64, bias: Bool = true) -> SoftmaxRegression {
        var rng = SplitMix64(seed: seed)
        let x = (0 ..< n * f).map { _ in Float(rng.uniform(-1.5, 1.5)) }
        let y = (0 ..< n).map { $0 % c }
        return SoftmaxRegression(x: x, labels: y, classes: c, features: f, bias: bias)
    }

    /// The Float64 reference gradient against central differences, and the BLAS one against the reference.
    func testGradientAgainstFiniteDifferences() {
        for bias in [true, false] {
            let p = Self.problem(n: 7, f: 4, c: 3, seed: 11, bias: bias)
            var rng = SplitMix64(seed: 5)
            let theta = (0 ..< p.parameterCount).map { _ in rng.uniform(-1, 1) }
            let l2 = 0.3
            let (loss, gradient) = p.referenceLossAndGradient(theta, l2: l2)
            let h = 1e-6
            var numeric = [Double](repeating: 0, count: theta.count)
            for j in theta.indices {
                var up = theta, down = theta
                up[j] += h; down[j] -= h
                numeric[j] = (p.referenceLossAndGradient(up, l2: l2).loss - p.referenceLossAndGradient(down, l2: l2).loss) / (2 * h)
            }
            assertClose([theta.count], gradient, [theta.count], numeric, atol: 1e-7, rtol: 1e-6, "reference vs finite differences, bias \(bias)")
            // The fast path: the logits and Gᵀ X through BLAS (dgemm), the same sums in another order.
            let fast = p.lossAndGradient(theta, l2: l2)
            XCTAssertEqual(fast.loss, loss, accuracy: 1e-12 * max(1, abs(loss)))
            assertClose([theta.count], fast.gradient, [theta.count], gradient, atol: 1e-12, rtol: 1e-10, "BLAS vs reference, bias \(bias)")
        }
    }

    struct SklearnCase: Decodable {
        var name: String
        var count: Int, features: Int, classes: Int
        var l2: Double
        var x: [Float], labels: [Int]
        var weight: [Double], bias: [Double]
        var loss: Double
    }

    /// L-BFGS reaches the optimum scikit-learn 1.9.1's LogisticRegression finds
    /// (`scripts/make_headfit_fixtures.py`: its solution polished by Newton steps to a gradient
    /// below 1e-13). Asked for no gradient tolerance, the fit stops where float64 rounding of
    /// the loss stops any decrease, as scikit-learn's own solver does (its gradients there,
    /// recorded in the fixture: 6e-9 to 6e-8): a largest gradient component ≤ 1e-7, the loss
    /// equal to the optimum's within 1e-12 relative, and coefficients and centred intercepts
    /// within 1e-5 of the optimum's (the worst case from λ-strong convexity, √d·‖∇‖∞/λ, is 1e-3
    /// for the weakest penalty here; the fit does far better).
    func testReachesScikitLearnOptimum() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/headfit/sklearn_cases.json")
        struct File: Decodable { var cases: [SklearnCase] }
        let cases = try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).cases
        XCTAssertEqual(cases.count, 3)
        for t in cases {
            let p = SoftmaxRegression(x: t.x, labels: t.labels, classes: t.classes, features: t.features)
            let r = p.fit(l2: t.l2, tolerance: 0, maxIterations: 5000)
            let cf = t.classes * t.features
            assertClose([cf], Array(r.theta[0 ..< cf]), [cf], t.weight, atol: 1e-5, rtol: 0, "\(t.name): W")
            let b = Array(r.theta[cf...]), mean = b.reduce(0, +) / Double(b.count)
            assertClose([t.classes], b.map { $0 - mean }, [t.classes], t.bias, atol: 1e-5, rtol: 0, "\(t.name): b (centred)")
            XCTAssertEqual(p.referenceLossAndGradient(r.theta, l2: t.l2).loss, t.loss, accuracy: 1e-12 * abs(t.loss), t.name)
            XCTAssertLessThanOrEqual(r.gradientNorm, 1e-7, "\(t.name): converged (\(r.iterations) iterations)")
        }
    }

    /// Random features whose class shows in a few of them: training and validation parts.
    static func split(seed: UInt64, train n: Int, validation v: Int, f: Int = 12, c: Int = 3) -> (x: [Float], y: [Int], vx: [Float], vy: [Int]) {
        var rng = SplitMix64(seed: seed)
        func draw(_ m: Int) -> ([Float], [Int]) {
            let y = (0 ..< m).map { _ in Int(rng.next() % UInt64(c)) }
            var x: [Float] = []
            for label in y { x += (0 ..< f).map { j in Float(rng.uniform(-1, 1) + (j == label ? 1.2 : 0)) } }
            return (x, y)
        }
        let (x, y) = draw(n), (vx, vy) = draw(v)
        return (x, y, vx, vy)
    }

    /// The fits see the training images only (the same training figures whatever the
    /// validation images), and the penalty kept is the best on validation (loss, then
    /// accuracy), the sweep stopping after ``HeadFit/patience`` fits without a better one.
    func testSweepChoosesOnValidationOnly() throws {
        let d = Self.split(seed: 1, train: 90, validation: 60)
        let other = Self.split(seed: 2, train: 1, validation: 60)
        let a = try XCTUnwrap(HeadFit.fit(train: d.x, trainLabels: d.y, validation: d.vx, validationLabels: d.vy, classes: 3, features: 12))
        let b = try XCTUnwrap(HeadFit.fit(train: d.x, trainLabels: d.y, validation: other.vx, validationLabels: other.vy, classes: 3, features: 12))
        for (sa, sb) in zip(a.steps, b.steps) {
            XCTAssertEqual(sa.l2, sb.l2)
            XCTAssertEqual(sa.trainLoss, sb.trainLoss, "fits do not depend on the validation images")
            XCTAssertEqual(sa.iterations, sb.iterations)
        }
        for r in [a, b] {
            XCTAssertTrue(r.steps.allSatisfy { $0.validationAccuracy != nil })
            let scores = r.steps.map { (-$0.validationLoss!, $0.validationAccuracy!) }
            let best = scores.indices.max { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) }!
            XCTAssertEqual(r.chosen, best, "the best validation score")
            XCTAssertEqual(r.l2, r.steps[best].l2)
            XCTAssertTrue(r.steps.count == HeadFit.penalties.count || r.steps.count - 1 - best == HeadFit.patience, "patience")
            XCTAssertEqual(r.steps.map(\.l2), Array(HeadFit.penalties.prefix(r.steps.count)), "strongest first")
        }
        // Without validation images: a held-out fifth of the training images chooses, then a refit on all.
        let c = try XCTUnwrap(HeadFit.fit(train: d.x, trainLabels: d.y, validation: [], validationLabels: [], classes: 3, features: 12))
        XCTAssertEqual(c.chosen, c.steps.count - 1)
        XCTAssertNil(c.steps.last?.validationLoss)
        XCTAssertTrue(c.steps.dropLast().allSatisfy { $0.validationLoss != nil })
        XCTAssertEqual(c.l2, c.steps.dropLast().first { $0.best && $0.l2 == c.l2 }?.l2)
        // Stopped between fits: no result.
        var fits = 0
        XCTAssertNil(HeadFit.fit(train: d.x, trainLabels: d.y, validation: d.vx, validationLabels: d.vy, classes: 3, features: 12,
                                 step: { _ in fits += 1 }, shouldStop: { true }))
        XCTAssertEqual(fits, 1)
    }

    /// The same head, bit for bit, on every call and whatever the BLAS thread count outside.
    func testDeterministic() throws {
        let d = Self.split(seed: 3, train: 120, validation: 30)
        func run() throws -> HeadFit.Result {
            try XCTUnwrap(HeadFit.fit(train: d.x, trainLabels: d.y, validation: d.vx, validationLabels: d.vy, classes: 3, features: 12, seed: 4))
        }
        let a = try run()
        let b = try BLAS.withThreadCount(2) { try run() }
        XCTAssertEqual(a.weight.map(\.bitPattern), b.weight.map(\.bitPattern))
        XCTAssertEqual(a.bias.map(\.bitPattern), b.bias.map(\.bitPattern))
        XCTAssertEqual(a.steps.map(\.trainLoss), b.steps.map(\.trainLoss))
    }

    /// `FineTuner.fit` with ``HeadFitMethod/lbfgs`` on the sample colours: one report per fit,
    /// the kept one marked, the backbone unchanged, the same model twice; two phases refused.
    func testFineTunerWithLBFGSHead() throws {
        let backbone = try FineTuneTests.backbone()
        let data = try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0.25, seed: 1)
        var options = FineTuneOptions()
        options.headFit = .lbfgs
        let p = Preprocessing(size: 32, resize: .squash)
        var reports: [EpochReport] = []
        let result = try FineTuner.fit(backbone, data: data, preprocessing: p, options: options) { reports.append($0) }
        XCTAssertEqual(reports.map(\.epoch), Array(1 ... reports.count))
        XCTAssertEqual(result.history.count, reports.count)
        XCTAssertTrue(reports.allSatisfy { $0.l2 != nil && $0.iterations != nil && $0.validationAccuracy != nil })
        let kept = try XCTUnwrap(result.history.first { $0.epoch == result.bestEpoch })
        XCTAssertGreaterThan(kept.validationAccuracy ?? 0, 0.8, "well above chance (1/3)")
        XCTAssertEqual(kept.validationAccuracy, result.history.compactMap(\.validationAccuracy).max())
        let head = try result.model.findHead()
        for path in backbone.parameters.paths where path != head.weight && path != head.bias {
            XCTAssertTrue(result.model.parameters.tensor(path)!.bitwiseEqual(backbone.parameters.tensor(path)!), "\(path) changed")
        }
        let again = try FineTuner.fit(backbone, data: data, preprocessing: p, options: options)
        XCTAssertTrue(again.model.parameters.tensor(head.weight)!.bitwiseEqual(result.model.parameters.tensor(head.weight)!))
        let summary = TrainingSummary(result, data: data, options: options, base: "tiny")
        XCTAssertEqual(summary.headFit?.l2, kept.l2)
        XCTAssertEqual(summary.headFit?.refit, false)
        XCTAssertEqual(summary.keptEpoch, result.bestEpoch)

        var twoPhases = options
        twoPhases.freezeEpochs = 1
        XCTAssertThrowsError(try twoPhases.validate()) { XCTAssertTrue("\($0)".contains("L-BFGS"), "\($0)") }
    }

    struct AdamCase: Decodable {
        var features: Int, classes: Int, seed: UInt64, maxEpochs: Int
        var x: [Float], labels: [Int], validationX: [Float], validationLabels: [Int]
        var startWeight: [Float], startBias: [Float]
        var validationLosses: [Double], chosenEpochs: Int
        var weight: [Float], bias: [Float]
    }

    /// The default head (``AdamPath``) against PyTorch (`scripts/make_headfit_fixtures.py`:
    /// torch.optim.Adam at 1e-3 over batches of 32 in ttl's shuffle order, from the same start):
    /// the validation loss after each of the 30 epochs (float32 on both sides: within 1e-5), the
    /// epoch count with the lowest one, and the head trained again from the start on training
    /// and validation examples for that many epochs (within 1e-5; the weights are about 0.05).
    func testAdamPathMatchesPyTorch() throws {
        try checkAdamPath("adam_path.json")
    }

    /// The same without validation examples (`--val-split 0`): the seeded stratified fifth of the
    /// training examples that ``HeadFit/holdout`` holds out (ported to the script) scores the
    /// epochs, then the head is trained again on every training example.
    func testAdamPathWithoutValidationMatchesPyTorch() throws {
        try checkAdamPath("adam_path_holdout.json")
    }

    func checkAdamPath(_ file: String) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/headfit/\(file)")
        let t = try JSONDecoder().decode(AdamCase.self, from: Data(contentsOf: url))
        var steps: [AdamPath.Step] = []
        let r = try XCTUnwrap(AdamPath.fit(train: t.x, trainLabels: t.labels, validation: t.validationX, validationLabels: t.validationLabels,
                                           classes: t.classes, features: t.features, weight: t.startWeight, bias: t.startBias, seed: t.seed,
                                           maxEpochs: t.maxEpochs, step: { steps.append($0) }))
        let path = steps.filter { $0.validationLoss != nil }
        XCTAssertEqual(path.count, t.maxEpochs)
        assertClose([t.maxEpochs], path.map { $0.validationLoss! }, [t.maxEpochs], t.validationLosses, atol: 1e-5, rtol: 0, "validation loss per epoch")
        XCTAssertEqual(r.epochs, t.chosenEpochs)
        XCTAssertEqual(path.last { $0.best }?.epoch, t.chosenEpochs)
        XCTAssertEqual(steps.count, t.maxEpochs + t.chosenEpochs, "then trained again for the chosen epochs")
        XCTAssertTrue(steps.dropFirst(t.maxEpochs).allSatisfy { $0.validationLoss == nil && $0.best })
        XCTAssertTrue(r.refit)
        let cf = t.classes * t.features
        assertClose([cf], r.weight.map(Double.init), [cf], t.weight.map(Double.init), atol: 1e-5, rtol: 0, "W")
        assertClose([t.classes], r.bias.map(Double.init), [t.classes], t.bias.map(Double.init), atol: 1e-5, rtol: 0, "b")
    }

    /// The fast inner loop of the default head (``AdamHeadTrainer``: rows gathered into one
    /// buffer, two GEMMs, Adam's update sixteen lanes at a time) against the plain one through the
    /// generic kernels (``AdamPath/referenceTrain``: Gemm, SoftmaxCrossEntropy, AdamW on a
    /// ParameterTree), with and without a bias, over epochs whose last batch is short and a
    /// feature count that is no multiple of sixteen: the same training figures and head.
    func testAdamHeadTrainerMatchesReference() throws {
        let (n, f, c, epochs) = (70, 37, 5, 3)
        var rng = SplitMix64(seed: 11)
        let x = (0 ..< n * f).map { _ in Float(rng.uniform(-3, 3)) }
        let y = (0 ..< n).map { ($0 * 7) % c }
        let w0 = (0 ..< c * f).map { _ in Float(rng.uniform(-0.1, 0.1)) }
        for bias in [true, false] {
            let b0 = bias ? (0 ..< c).map { _ in Float(rng.uniform(-0.1, 0.1)) } : []
            var reference: [(loss: Double, accuracy: Double)] = []
            let params = try XCTUnwrap(AdamPath.referenceTrain(x: x, labels: y, classes: c, features: f, weight: w0, bias: b0, epochs: epochs, seed: 3,
                                                               after: { _, _, loss, accuracy in reference.append((loss, accuracy)) }))
            let trainer = AdamHeadTrainer(classes: c, features: f, hasBias: bias, batchSize: AdamPath.batchSize)
            trainer.reset(weight: w0, bias: b0)
            var fast: [(loss: Double, accuracy: Double)] = []
            var order = SplitMix64(seed: 3)
            try x.withUnsafeBufferPointer { xp in
                let rows = AdamPath.rowPointers(xp, count: n, features: f)
                for _ in 0 ..< epochs {
                    fast.append(try XCTUnwrap(trainer.epoch(rows: rows, labels: y, order: FineTuner.shuffled(n, &order), learningRate: AdamPath.learningRate)))
                }
            }
            XCTAssertEqual(trainer.steps, epochs * 3)
            assertClose([epochs], fast.map(\.loss), [epochs], reference.map(\.loss), atol: 1e-6, rtol: 0, "training loss per epoch, bias \(bias)")
            XCTAssertEqual(fast.map(\.accuracy), reference.map(\.accuracy), "bias \(bias)")
            let head = trainer.head
            assertClose([c * f], head.weight.map(Double.init), [c * f], params.tensor("weight")!.scalars.map(Double.init), atol: 1e-6, rtol: 0, "W, bias \(bias)")
            XCTAssertEqual(head.bias.count, bias ? c : 0)
            if bias {
                assertClose([c], head.bias.map(Double.init), [c], params.tensor("bias")!.scalars.map(Double.init), atol: 1e-6, rtol: 0, "b")
            }
        }
    }

    /// `FineTuner.fit` with ``HeadFitMethod/adam`` on the sample colours: the path's epochs
    /// scored on validation, then the chosen count trained again (no validation figures), the
    /// last one kept; the summary says so; the same model twice; the backbone unchanged.
    func testFineTunerWithAdamPathHead() throws {
        let backbone = try FineTuneTests.backbone()
        let data = try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0.25, seed: 1)
        var options = FineTuneOptions()
        options.headFit = .adam
        let p = Preprocessing(size: 32, resize: .squash)
        var reports: [EpochReport] = []
        let result = try FineTuner.fit(backbone, data: data, preprocessing: p, options: options) { reports.append($0) }
        XCTAssertEqual(reports.map(\.epoch), Array(1 ... reports.count))
        let scored = reports.prefix { $0.validationLoss != nil }
        XCTAssertEqual(scored.count, AdamPath.maxEpochs)
        let chosen = try XCTUnwrap(scored.last { $0.best })
        XCTAssertEqual(chosen.validationLoss, scored.compactMap(\.validationLoss).min())
        XCTAssertEqual(reports.count, AdamPath.maxEpochs + chosen.epoch)
        XCTAssertEqual(result.bestEpoch, reports.count)
        let summary = TrainingSummary(result, data: data, options: options, base: "tiny")
        XCTAssertEqual(summary.headFit?.method, "adam")
        XCTAssertEqual(summary.headFit?.epochs, chosen.epoch)
        XCTAssertEqual(summary.optimizer, "adam")
        XCTAssertEqual(summary.weightDecay, 0)
        let head = try result.model.findHead()
        for path in backbone.parameters.paths where path != head.weight && path != head.bias {
            XCTAssertTrue(result.model.parameters.tensor(path)!.bitwiseEqual(backbone.parameters.tensor(path)!), "\(path) changed")
        }
        let again = try FineTuner.fit(backbone, data: data, preprocessing: p, options: options)
        XCTAssertTrue(again.model.parameters.tensor(head.weight)!.bitwiseEqual(result.model.parameters.tensor(head.weight)!))
        var twoPhases = options
        twoPhases.freezeEpochs = 1
        XCTAssertThrowsError(try twoPhases.validate()) { XCTAssertTrue("\($0)".contains("Adam-path"), "\($0)") }
    }

    /// Stopped between two epochs of the Adam path, a run leaves a checkpoint of no finished
    /// epoch (the head still at its start); resumed, it fits again from the cached features and
    /// ends with the head and history of a run that never stopped.
    func testAdamPathHeadResumes() throws {
        let backbone = try FineTuneTests.backbone()
        let data = try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0.25, seed: 1)
        var options = FineTuneOptions()
        options.headFit = .adam
        let p = Preprocessing(size: 32, resize: .squash)
        let whole = try FineTuner.fit(backbone, data: data, preprocessing: p, options: options)
        var calls = 0, seen = 0
        let first = try FineTuner.fit(backbone, data: data, preprocessing: p, options: options, progress: { _ in seen += 1 }, shouldStop: {
            calls += 1
            return calls == 5
        })
        let paused = try XCTUnwrap(first.checkpoint)
        XCTAssertGreaterThan(seen, 0, "stopped inside the path")
        XCTAssertEqual(paused.epochsDone, 0)
        let resumed = try FineTuner.fit(backbone, data: data, preprocessing: p, options: options, resumingFrom: paused)
        XCTAssertNil(resumed.checkpoint)
        XCTAssertEqual(resumed.history.map(\.trainLoss), whole.history.map(\.trainLoss))
        XCTAssertEqual(resumed.bestEpoch, whole.bestEpoch)
        let head = try whole.model.findHead()
        XCTAssertTrue(resumed.model.parameters.tensor(head.weight)!.bitwiseEqual(whole.model.parameters.tensor(head.weight)!))
    }
}
