// Fine-tuning: a new head for the dataset's classes on a pretrained backbone.
// With the backbone frozen and no augmentation, the backbone runs once per image (features
// cached, see FeatureCache) and the head trains on the features; otherwise every epoch runs
// the network on decoded images, training what is unfrozen. A run has one phase, or two
// (fastai's fine_tune: the head alone first, then end to end). It stops cooperatively between
// epochs or batches when asked, and continues from its FineTuneCheckpoint exactly as if it
// had not stopped: same shuffles, same optimizer state, same final weights.
import Dispatch
import Foundation
import TTLCore
import TTLNN

/// How to fine-tune: epochs, optimizer, schedule, what trains.
public struct FineTuneOptions: Codable, Equatable, Sendable {
    /// The optimizer's update rule.
    public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
        /// torch.optim.SGD, see ``SGD``.
        case sgd
        /// torch.optim.AdamW, see ``AdamW``.
        case adamw
    }
    /// Epochs (of the end-to-end phase when ``freezeEpochs`` is set).
    public var epochs = 5
    /// Images per optimizer step.
    public var batchSize = 32
    /// The head's learning rate (the peak rate for one-cycle).
    public var learningRate: Float = 1e-3
    /// The update rule.
    public var optimizer: OptimizerKind = .adamw
    /// SGD's momentum factor.
    public var momentum: Float = 0.9
    /// SGD with Nesterov momentum.
    public var nesterov = false
    /// Default: 0.01 for AdamW, 0 for SGD (PyTorch's defaults).
    public var weightDecay: Float? = nil
    /// The learning-rate schedule over each phase's steps.
    public var schedule: Schedule = .cosine
    /// Label smoothing ε of the cross-entropy.
    public var labelSmoothing: Float = 0
    /// Seeds the new head, the shuffling and the augmentation.
    public var seed: UInt64 = 0
    /// nil: only the head trains. Otherwise that stage and everything after it (`layer4`).
    public var unfreezeFrom: String? = nil
    /// Random resized crops and horizontal flips while training (the backbone runs every epoch).
    public var augment = false
    /// Stop after this many epochs without a better validation loss.
    public var patience: Int? = nil
    /// Two phases (fastai's `fine_tune`): first this many epochs train the head alone on the
    /// frozen backbone (on cached features unless ``augment``), then ``epochs`` epochs train end
    /// to end: ``unfreezeFrom`` and everything after it, or the whole backbone when that is nil.
    /// Each phase starts with a fresh optimizer and runs its own schedule. nil: one phase.
    public var freezeEpochs: Int? = nil
    /// The unfrozen backbone's learning rate in end-to-end training (the head keeps
    /// ``learningRate``; both follow ``schedule``). Default: learningRate / 10 with
    /// ``freezeEpochs``, otherwise learningRate.
    public var backboneLearningRate: Float? = nil
    /// How the head trains on cached features: nil (or ``HeadFitMethod/epochs``) runs the epoch
    /// loop above; ``HeadFitMethod/lbfgs`` fits it to convergence with an L2 penalty chosen on
    /// the validation images (see ``HeadFit``), ignoring the epochs, optimizer and schedule.
    public var headFit: HeadFitMethod? = nil

    /// The defaults above.
    public init() {}

    /// Epochs of the whole run: ``freezeEpochs`` and ``epochs``.
    public var totalEpochs: Int { (freezeEpochs ?? 0) + epochs }

    /// Throws ``FineTuneError/invalidOptions(_:)`` for settings no run can use.
    public func validate() throws(FineTuneError) {
        func fail(_ m: String) -> FineTuneError { .invalidOptions(m) }
        guard epochs >= 1 else { throw fail("epochs must be at least 1 (got \(epochs))") }
        guard batchSize >= 1 else { throw fail("the batch size must be at least 1 (got \(batchSize))") }
        if let f = freezeEpochs, f < 1 { throw fail("freeze epochs must be at least 1 (got \(f))") }
        if let p = patience, p < 1 { throw fail("patience must be at least 1 epoch (got \(p))") }
        guard learningRate.isFinite, learningRate >= 0 else { throw fail("the learning rate must be a number ≥ 0 (got \(learningRate))") }
        if let b = backboneLearningRate, !(b.isFinite && b >= 0) { throw fail("the backbone learning rate must be a number ≥ 0 (got \(b))") }
        if headFit == .lbfgs && (unfreezeFrom != nil || augment || freezeEpochs != nil || labelSmoothing != 0) {
            throw fail("the L-BFGS head fit trains the head alone on cached features: not with an unfrozen stage, augmentation, two phases or label smoothing")
        }
    }
}

/// One epoch's figures.
public struct EpochReport: Codable, Sendable {
    /// 1-based, counting every phase.
    public var epoch: Int
    /// Mean training loss over the epoch's batches, per image.
    public var trainLoss: Double
    /// Share of training images classified right while training.
    public var trainAccuracy: Double
    /// Mean validation loss at the epoch's end (nil without validation images).
    public var validationLoss: Double?
    /// Validation accuracy at the epoch's end (nil without validation images).
    public var validationAccuracy: Double?
    /// Wall time of the epoch (the first one includes computing features).
    public var seconds: Double
    /// Training and validation images over ``seconds``.
    public var imagesPerSecond: Double
    /// The head's learning rate at the epoch's last step.
    public var learningRate: Double
    /// True when this epoch's weights are the best so far (kept).
    public var best: Bool
    /// For an L-BFGS head fit (``HeadFitMethod/lbfgs``), where each report is one fit of the
    /// penalty sweep (and ``learningRate`` is 0): the L2 penalty λ and the fit's iterations.
    public var l2: Double? = nil
    public var iterations: Int? = nil
}

/// What a fit produced.
public struct FineTuneResult {
    /// The backbone with the new head, the best epoch's weights, labels and preprocessing in metadata.
    public var model: Model
    /// Every finished epoch, those before a resume included.
    public var history: [EpochReport]
    /// The epoch whose weights ``model`` holds (0: none finished yet).
    public var bestEpoch: Int
    /// Why training stopped early, if it did (patience, a non-finite loss).
    public var stoppedEarly: String?
    /// Set when `shouldStop` stopped the run before its last epoch: save it with
    /// ``FineTuneCheckpoint/write(to:)`` and pass it to `fit` as `resumingFrom` to continue.
    /// ``model`` then holds the best weights so far.
    public var checkpoint: FineTuneCheckpoint?
}

/// Why fine-tuning could not run or continue.
public enum FineTuneError: Error, CustomStringConvertible {
    /// The backbone cannot be fine-tuned (no head found, an unknown stage).
    case model(String)
    /// An image that cannot be decoded.
    case image(ImageError)
    /// Options no run can use.
    case invalidOptions(String)
    /// The loss became NaN or infinite before any epoch finished: no weights worth keeping.
    case diverged(epoch: Int)
    /// A checkpoint that cannot be read or written: its folder or file, and what is wrong.
    case checkpoint(path: String, reason: String)
    /// A checkpoint made by another run (other data, options, backbone or preprocessing).
    case checkpointMismatch(path: String, reason: String)

    /// One line for people.
    public var description: String {
        switch self {
        case let .model(m): m
        case let .image(e): "\(e)"
        case let .invalidOptions(m): m
        case let .diverged(epoch):
            "the loss became NaN or infinite in epoch \(epoch), before any epoch finished; nothing to keep (try a lower learning rate)"
        case let .checkpoint(path, reason): "\(path): \(reason)"
        case let .checkpointMismatch(path, reason):
            "\(path): this checkpoint is of another run (\(reason)); start over without resuming, or remove it"
        }
    }
}

/// One phase of a run: which epochs, what trains, how.
struct Phase {
    enum Kind { case headOnFeatures, endToEnd }
    var kind: Kind
    /// Global epoch numbers (1-based).
    var epochs: ClosedRange<Int>
    /// The model's frozen set during the phase.
    var frozen: Set<String>
    /// The learning rate of trainable parameters outside the head.
    var backboneRate: Float
    /// Whether early stopping applies (not to the head-only warm-up of two phases).
    var patience: Bool
}

/// Everything a run carries from step to step; a checkpoint is this plus the run's identity.
struct RunState {
    /// The best weights so far (whole models) and the loss they were chosen on.
    struct Best { var loss: Double; var epoch: Int; var parameters: ParameterTree }
    var epochsDone = 0
    /// Optimizer steps in the current phase (the schedule's position).
    var step = 0
    var rng: SplitMix64
    var history: [EpochReport] = []
    /// The current weights of the whole model.
    var parameters: ParameterTree
    var best: Best
    var optimizer = OptimizerState()
    /// End-to-end training stopped between batches: the epoch's order and sums so far.
    var epochInProgress: EpochInProgress? = nil
    /// Why the run stops early (not saved: a run that stops this way finishes).
    var stopped: String? = nil

    init(seed: UInt64, parameters: ParameterTree) {
        rng = SplitMix64(seed: seed)
        self.parameters = parameters
        best = Best(loss: .infinity, epoch: 0, parameters: parameters)
    }
}

/// An end-to-end epoch stopped between batches.
struct EpochInProgress: Codable, Equatable {
    /// The epoch's shuffled training indices.
    var order: [Int]
    var batchesDone: Int
    /// Sums over the finished batches: loss · images, correct images.
    var loss: Double
    var correct: Double
    var learningRate: Float
}

/// Thrown inside a run when `shouldStop` says so; `fit` turns it into a checkpoint.
public struct Interrupted: Error {}

/// Fine-tuning a pretrained backbone on an ``ImageFolder``: ``fit(_:data:preprocessing:options:cache:resumingFrom:progress:imagesDone:shouldStop:)``.
public enum FineTuner {
    /// Fits a new head (and any unfrozen stages) to `data`.
    /// - Parameters:
    ///   - resumingFrom: a checkpoint of an interrupted run with the same backbone, data,
    ///     preprocessing and options (anything else throws ``FineTuneError/checkpointMismatch(path:reason:)``);
    ///     the run continues where it stopped and ends as it would have without stopping
    ///   - progress: called after every epoch
    ///   - imagesDone: (done, total) as images go through the backbone, for progress bars: while
    ///     features are computed (total: the images not in the cache), and through every
    ///     end-to-end epoch (total: training and validation images). Each pass starts with a
    ///     call of (images already done, total).
    ///   - shouldStop: asked after every chunk of feature extraction, every end-to-end batch and
    ///     every epoch but the last; true stops the run there and returns its
    ///     ``FineTuneResult/checkpoint``
    public static func fit(_ backbone: Model, data: ImageFolder, preprocessing: Preprocessing, options: FineTuneOptions,
                           cache: FeatureCache = FeatureCache(folder: nil), resumingFrom checkpoint: FineTuneCheckpoint? = nil,
                           progress: (EpochReport) -> Void = { _ in }, imagesDone: (Int, Int) -> Void = { _, _ in },
                           shouldStop: () -> Bool = { false }) throws -> FineTuneResult {
        try options.validate()
        // Images are decoded NCHW; a channels-last (Keras) model trains without its input
        // transpose and gets it back at the end.
        var model = backbone.removingNHWCAdapter()
        let head: Head
        do { head = try model.replaceHead(classes: data.classes.count, seed: options.seed) } catch { throw FineTuneError.model("\(error)") }
        model.freeze()
        model.unfreeze(prefix: head.weight)
        if let b = head.bias { model.unfreeze(prefix: b) }
        var unfrozen = model
        if let stage = options.unfreezeFrom {
            do { try unfrozen.unfreeze(from: stage) } catch { throw FineTuneError.model("\(error)") }
        } else if options.freezeEpochs != nil {
            unfrozen.unfreeze()
        }

        var phases: [Phase] = []
        if let warmUp = options.freezeEpochs {
            phases.append(Phase(kind: options.augment ? .endToEnd : .headOnFeatures, epochs: 1 ... warmUp, frozen: model.frozen,
                                backboneRate: options.learningRate, patience: false))
            phases.append(Phase(kind: .endToEnd, epochs: warmUp + 1 ... options.totalEpochs, frozen: unfrozen.frozen,
                                backboneRate: options.backboneLearningRate ?? options.learningRate / 10, patience: true))
        } else {
            let endToEnd = options.unfreezeFrom != nil || options.augment
            phases.append(Phase(kind: endToEnd ? .endToEnd : .headOnFeatures, epochs: 1 ... options.epochs, frozen: unfrozen.frozen,
                                backboneRate: options.backboneLearningRate ?? options.learningRate, patience: true))
        }
        // What a checkpoint keeps: whatever trains in some phase, and the buffers (batch-norm statistics).
        let savedPaths = model.parameters.paths.filter { !unfrozen.frozen.contains($0) }
        let identity = { RunIdentity(options: options, preprocessing: preprocessing, data: data, backbone: backbone) }

        var state = RunState(seed: options.seed, parameters: model.parameters)
        if let checkpoint {
            state = try checkpoint.restore(for: identity(), onto: model.parameters, savedPaths: savedPaths)
        }
        var paused: FineTuneCheckpoint? = nil
        do {
            for phase in phases where phase.epochs.upperBound > state.epochsDone && state.stopped == nil {
                if state.epochsDone == phase.epochs.lowerBound - 1 && state.epochInProgress == nil {
                    state.optimizer = OptimizerState()
                    state.step = 0
                }
                var m = model
                m.frozen = phase.frozen
                switch phase.kind {
                case .headOnFeatures where options.headFit == .lbfgs:
                    try fitHeadOnFeatures(m, head: head, data: data, preprocessing: preprocessing, options: options, cache: cache,
                                          state: &state, progress: progress, imagesDone: imagesDone, shouldStop: shouldStop)
                case .headOnFeatures:
                    try trainHeadOnFeatures(m, head: head, phase: phase, data: data, preprocessing: preprocessing, options: options, cache: cache,
                                            state: &state, progress: progress, imagesDone: imagesDone, shouldStop: shouldStop)
                case .endToEnd:
                    try trainEndToEnd(m, head: head, phase: phase, data: data, preprocessing: preprocessing, options: options,
                                      state: &state, progress: progress, imagesDone: imagesDone, shouldStop: shouldStop)
                }
            }
        } catch is Interrupted {
            paused = FineTuneCheckpoint(identity: identity(), state: state, savedPaths: savedPaths)
        }
        var out = model
        out.frozen = phases[phases.count - 1].frozen
        out.parameters = state.best.parameters
        out.info = ModelInfo(labels: data.classes, preprocessing: preprocessing)
        if let adapter = backbone.nhwcAdapterName { out = out.addingNHWCAdapter(named: adapter) }
        return FineTuneResult(model: out, history: state.history, bestEpoch: state.best.epoch, stoppedEarly: state.stopped, checkpoint: paused)
    }

    static func makeOptimizer(_ o: FineTuneOptions, state: OptimizerState) -> any CheckpointableOptimizer {
        var optimizer: any CheckpointableOptimizer = switch o.optimizer {
        case .sgd: SGD(momentum: o.momentum, nesterov: o.nesterov, weightDecay: o.weightDecay ?? 0)
        case .adamw: AdamW(weightDecay: o.weightDecay ?? 0.01)
        }
        optimizer.state = state
        return optimizer
    }

    /// `0 ..< n` shuffled (Fisher–Yates) with `rng`.
    static func shuffled(_ n: Int, _ rng: inout SplitMix64) -> [Int] {
        var order = Array(0 ..< n)
        for i in stride(from: n - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return order
    }

    /// Records a finished epoch: its report, the best weights so far, and whether patience ran
    /// out (`state.stopped`). `train` and `validation` are per-image means.
    static func finishEpoch(_ epoch: Int, phase: Phase, train: (loss: Double, accuracy: Double), validation: (loss: Double, accuracy: Double)?,
                            learningRate: Float, seconds: Double, data: ImageFolder, options: FineTuneOptions,
                            state: inout RunState, progress: (EpochReport) -> Void) throws {
        let monitored = validation?.loss ?? train.loss
        guard monitored.isFinite else {
            state.stopped = try diverged(epoch, state)
            return
        }
        let isBest = validation == nil || monitored < state.best.loss
        if isBest { state.best = RunState.Best(loss: monitored, epoch: epoch, parameters: state.parameters) }
        let images = Double(data.train.count + data.validation.count)
        let report = EpochReport(epoch: epoch, trainLoss: train.loss, trainAccuracy: train.accuracy,
                                 validationLoss: validation?.loss, validationAccuracy: validation?.accuracy,
                                 seconds: seconds, imagesPerSecond: images / max(seconds, 1e-9), learningRate: Double(learningRate), best: isBest)
        state.history.append(report)
        state.epochsDone = epoch
        progress(report)
        if phase.patience, let patience = options.patience, validation != nil, epoch - state.best.epoch >= patience {
            state.stopped = "no better validation loss for \(patience) epochs; kept epoch \(state.best.epoch)"
        }
    }

    /// The message for a loss that stopped being finite, keeping the best weights; throws when
    /// no epoch finished before.
    static func diverged(_ epoch: Int, _ state: RunState) throws -> String {
        guard state.best.epoch > 0 else { throw FineTuneError.diverged(epoch: epoch) }
        return "the loss became NaN or infinite in epoch \(epoch); kept the weights of epoch \(state.best.epoch) (try a lower --lr)"
    }

    /// Whether every weight of `model` that trains, and every buffer, is finite.
    static func allFinite(_ parameters: ParameterTree, frozen: Set<String>) -> Bool {
        parameters.entriesInOrder.allSatisfy { path, entry in
            frozen.contains(path) || entry.tensor.withUnsafeBufferPointer { $0.allSatisfy(\.isFinite) }
        }
    }

    /// Decodes and preprocesses images into a `[N, 3, size, size]` batch, in parallel; `augment` draws a random
    /// resized crop and flip per image from `seed`.
    public static func load(_ samples: ArraySlice<Sample>, _ p: Preprocessing, augment: Bool = false, seed: UInt64 = 0) throws -> Tensor {
        let n = samples.count, plane = 3 * p.size * p.size
        var out = Tensor(zeros: [n, 3, p.size, p.size])
        let list = Array(samples)
        var failure: (any Error)? = nil
        let lock = NSLock()
        out.withUnsafeMutableBufferPointer { buf in
            parallelFor(n, costPerItem: 1 << 20) { i in
                do {
                    let url = list[i].url
                    var image: RGBImage
                    if augment {
                        image = try ImageDecoder.decode(contentsOf: url)
                        var rng = SplitMix64(seed: seed &+ UInt64(i) &* 0x9E37_79B9)
                        image = Augmentation.randomResizedCrop(image, using: &rng)
                    } else {
                        image = try ImageDecoder.decode(contentsOf: url, minimumSize: p.minimumDecodeSize)
                    }
                    let t = (augment ? Preprocessing(size: p.size, resize: .squash, mean: p.mean, std: p.std) : p).apply(image)
                    t.withUnsafeBufferPointer { src in (buf.baseAddress! + i * plane).update(from: src.baseAddress!, count: plane) }
                } catch {
                    lock.withLock { failure = failure ?? error }
                }
            }
        }
        if let failure = failure as? ImageError { throw FineTuneError.image(failure) }
        if let failure { throw failure }
        return out
    }

    // MARK: Frozen backbone: cached features, head only

    static func trainHeadOnFeatures(_ model: Model, head: Head, phase: Phase, data: ImageFolder, preprocessing: Preprocessing, options: FineTuneOptions,
                                    cache: FeatureCache, state: inout RunState, progress: (EpochReport) -> Void,
                                    imagesDone: (Int, Int) -> Void, shouldStop: () -> Bool) throws {
        let extractor = try FeatureExtractor(model, head: head, preprocessing: preprocessing)
        let f = head.inFeatures
        let started = DispatchTime.now().uptimeNanoseconds
        let all = try extractor.features(of: data.allSamples, cache: cache, imagesDone: imagesDone, shouldStop: shouldStop)
        cache.enforceLimit(keeping: extractor.key)
        let trainX = Array(all[0 ..< data.train.count * f]), valX = Array(all[data.train.count * f ..< all.count])
        var extractSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let trainY = data.train.map(\.label), valY = data.validation.map(\.label)

        var params = ParameterTree()
        params[head.weight] = state.parameters[head.weight]
        if let b = head.bias { params[b] = state.parameters[b] }
        var optimizer = makeOptimizer(options, state: state.optimizer)
        let gemm = Gemm.Options(transposeB: true)
        func logits(_ x: Tensor, _ p: ParameterTree) -> Tensor {
            Gemm.forward(x, p.tensor(head.weight)!, head.bias.flatMap { p.tensor($0) }, options: gemm)
        }
        let steps = max(1, (trainY.count + options.batchSize - 1) / options.batchSize) * phase.epochs.count
        // One BLAS thread: a threaded GEMM's sums depend on how many threads split it, and a
        // head must come out the same bits however many cores the machine (or Slurm task) has; on
        // cached features an epoch is small next to extracting them.
        try BLAS.withThreadCount(1) {
            for epoch in state.epochsDone + 1 ... phase.epochs.upperBound {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let order = shuffled(trainY.count, &state.rng)
                var totalLoss = 0.0, correct = 0.0
                var lr: Float = options.learningRate
                var bad = false
                for start in stride(from: 0, to: order.count, by: options.batchSize) {
                    let idx = Array(order[start ..< min(start + options.batchSize, order.count)])
                    var xb = [Float](); xb.reserveCapacity(idx.count * f)
                    for i in idx { xb += trainX[i * f ..< (i + 1) * f] }
                    let x = Tensor(shape: [idx.count, f], scalars: xb), y = idx.map { trainY[$0] }
                    let z = logits(x, params)
                    let (loss, ce) = SoftmaxCrossEntropy.forward(logits: z, labels: y, labelSmoothing: options.labelSmoothing)
                    guard loss.isFinite else { bad = true; break }
                    let dz = SoftmaxCrossEntropy.backward(cache: ce, labels: y, labelSmoothing: options.labelSmoothing)
                    let g = Gemm.backward(outputGradient: dz, x, params.tensor(head.weight)!, cShape: head.bias.map { _ in [head.outFeatures] }, options: gemm)
                    var grads = [head.weight: g.b]
                    if let b = head.bias, let gc = g.c { grads[b] = gc }
                    lr = options.schedule.rate(options.learningRate, step: state.step, totalSteps: steps)
                    optimizer.step(&params, gradients: grads, learningRate: lr)
                    state.step += 1
                    totalLoss += Double(loss) * Double(idx.count)
                    correct += accuracy(z, y) * Double(idx.count)
                }
                for (path, entry) in params.entriesInOrder { state.parameters[path] = entry }
                state.optimizer = optimizer.state
                if bad || !allFinite(params, frozen: []) {
                    state.stopped = try diverged(epoch, state)
                    return
                }
                var validation: (loss: Double, accuracy: Double)? = nil
                if !valY.isEmpty {
                    let z = logits(Tensor(shape: [valY.count, f], scalars: valX), params)
                    let (loss, _) = SoftmaxCrossEntropy.forward(logits: z, labels: valY, labelSmoothing: options.labelSmoothing)
                    validation = (Double(loss), accuracy(z, valY))
                }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 + extractSeconds
                extractSeconds = 0
                let n = Double(trainY.count)
                try finishEpoch(epoch, phase: phase, train: (totalLoss / n, correct / n), validation: validation, learningRate: lr, seconds: seconds,
                                data: data, options: options, state: &state, progress: progress)
                if state.stopped != nil { return }
                if epoch < options.totalEpochs && shouldStop() { throw Interrupted() }
            }
        }
    }

    static func accuracy(_ logits: Tensor, _ labels: [Int]) -> Double {
        let c = logits.shape[1], z = logits.scalars
        var hits = 0
        for (i, y) in labels.enumerated() {
            let row = z[i * c ..< (i + 1) * c]
            if row.firstIndex(of: row.max()!)! - i * c == y { hits += 1 }
        }
        return labels.isEmpty ? .nan : Double(hits) / Double(labels.count)
    }

    // MARK: End to end: unfrozen stages or augmentation

    static func trainEndToEnd(_ model: Model, head: Head, phase: Phase, data: ImageFolder, preprocessing: Preprocessing, options: FineTuneOptions,
                              state: inout RunState, progress: (EpochReport) -> Void,
                              imagesDone: (Int, Int) -> Void, shouldStop: () -> Bool) throws {
        var model = model
        model.parameters = state.parameters
        let input = model.inputs[0].name
        let headPaths = Set([head.weight] + (head.bias.map { [$0] } ?? []))
        var optimizer = makeOptimizer(options, state: state.optimizer)
        let batchSize = options.batchSize, batches = (data.train.count + batchSize - 1) / batchSize
        let steps = max(1, batches) * phase.epochs.count
        let images = data.train.count + data.validation.count
        for epoch in state.epochsDone + 1 ... phase.epochs.upperBound {
            let t0 = DispatchTime.now().uptimeNanoseconds
            var run = state.epochInProgress
                ?? EpochInProgress(order: shuffled(data.train.count, &state.rng), batchesDone: 0, loss: 0, correct: 0, learningRate: options.learningRate)
            state.epochInProgress = nil
            var done = min(run.batchesDone * batchSize, data.train.count)
            imagesDone(done, images)
            var bad = false
            for b in run.batchesDone ..< batches {
                let idx = Array(run.order[b * batchSize ..< min((b + 1) * batchSize, data.train.count)])
                let x = try load(ArraySlice(idx.map { data.train[$0] }), preprocessing, augment: options.augment, seed: state.rng.next())
                let y = idx.map { data.train[$0].label }
                let (outs, tape): ([String: Tensor], Tape)
                do { (outs, tape) = try model.forward([input: x], outputs: [head.logits]) } catch { throw FineTuneError.model("\(error)") }
                let z = outs[head.logits]!
                let (loss, ce) = SoftmaxCrossEntropy.forward(logits: z, labels: y, labelSmoothing: options.labelSmoothing)
                guard loss.isFinite else { bad = true; break }
                let grads = model.backward(tape, outputGradients: [head.logits: SoftmaxCrossEntropy.backward(cache: ce, labels: y, labelSmoothing: options.labelSmoothing)])
                let lr = options.schedule.rate(options.learningRate, step: state.step, totalSteps: steps)
                let backboneLR = options.schedule.rate(phase.backboneRate, step: state.step, totalSteps: steps)
                optimizer.step(&model.parameters, gradients: grads, learningRate: { headPaths.contains($0) ? lr : backboneLR })
                state.step += 1
                run.loss += Double(loss) * Double(idx.count)
                run.correct += accuracy(z, y) * Double(idx.count)
                run.batchesDone = b + 1
                run.learningRate = lr
                done += idx.count
                imagesDone(done, images)
                if b + 1 < batches && shouldStop() {
                    state.parameters = model.parameters
                    state.optimizer = optimizer.state
                    state.epochInProgress = run
                    throw Interrupted()
                }
            }
            state.parameters = model.parameters
            state.optimizer = optimizer.state
            if bad || !allFinite(model.parameters, frozen: model.frozen) {
                state.stopped = try diverged(epoch, state)
                return
            }
            var validation: (loss: Double, accuracy: Double)? = nil
            if !data.validation.isEmpty {
                var valLoss = 0.0, valCorrect = 0.0
                for start in stride(from: 0, to: data.validation.count, by: batchSize) {
                    let slice = data.validation[start ..< min(start + batchSize, data.validation.count)]
                    let x = try load(slice, preprocessing)
                    let z: Tensor
                    do { z = try model.run([input: x], outputs: [head.logits])[head.logits]! } catch { throw FineTuneError.model("\(error)") }
                    let y = slice.map(\.label)
                    valLoss += Double(SoftmaxCrossEntropy.forward(logits: z, labels: y, labelSmoothing: options.labelSmoothing).loss) * Double(y.count)
                    valCorrect += accuracy(z, y) * Double(y.count)
                    done += y.count
                    imagesDone(done, images)
                }
                let n = Double(data.validation.count)
                validation = (valLoss / n, valCorrect / n)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let n = Double(data.train.count)
            try finishEpoch(epoch, phase: phase, train: (run.loss / n, run.correct / n), validation: validation, learningRate: run.learningRate,
                            seconds: seconds, data: data, options: options, state: &state, progress: progress)
            if state.stopped != nil { return }
            if epoch < options.totalEpochs && shouldStop() { throw Interrupted() }
        }
    }
}

/// The next chunk's decoded images, handed from the decoding thread to the training loop
/// (the `DispatchGroup` wait orders the write before the read).
final class ResultBox: @unchecked Sendable {
    var value: Result<Tensor, Error>?
}

/// A closure sent to one other thread, which alone runs it.
struct UncheckedWork<T>: @unchecked Sendable {
    let run: () -> T
}

/// Training-time image augmentation (torchvision RandomResizedCrop's defaults and a horizontal flip).
enum Augmentation {
    /// A crop of 8–100 % of the area with aspect ratio 3/4–4/3 (10 tries, then the centre),
    /// flipped horizontally half the time.
    static func randomResizedCrop(_ image: RGBImage, using rng: inout SplitMix64) -> RGBImage {
        let (w, h) = (image.width, image.height)
        var (cw, ch, x0, y0) = (w, h, 0, 0)
        for _ in 0 ..< 10 {
            let area = Double(w * h) * rng.uniform(0.08, 1)
            let ratio = exp(rng.uniform(log(3.0 / 4), log(4.0 / 3)))
            let tw = Int((area * ratio).squareRoot().rounded()), th = Int((area / ratio).squareRoot().rounded())
            if tw > 0 && th > 0 && tw <= w && th <= h {
                (cw, ch) = (tw, th)
                x0 = Int(rng.next() % UInt64(w - tw + 1))
                y0 = Int(rng.next() % UInt64(h - th + 1))
                break
            }
        }
        let flip = rng.next() & 1 == 1
        var pixels = [UInt8](repeating: 0, count: cw * ch * 3)
        for y in 0 ..< ch {
            for x in 0 ..< cw {
                let sx = x0 + (flip ? cw - 1 - x : x)
                for c in 0 ..< 3 { pixels[(y * cw + x) * 3 + c] = image.pixels[((y0 + y) * w + sx) * 3 + c] }
            }
        }
        return RGBImage(width: cw, height: ch, pixels: pixels)
    }
}
