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
                case .headOnFeatures where options.headFit == .lbfgs || options.headFit == .adam:
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

    static func accuracy(_ logits: Tensor, _ labels: [Int]) -> Double {
        let c = logits.shape[1], z = logits.scalars
        var hits = 0
        for (i, y) in labels.enumerated() {
            let row = z[i * c ..< (i + 1) * c]
            if row.firstIndex(of: row.max()!)! - i * c == y { hits += 1 }
        }
        return labels.isEmpty ? .nan : Double(hits) / Double(labels.count)
    }

    /// Decodes and preprocesses training images (``Preprocessing/batch(_:augment:seed:)``); an
    /// image that cannot be decoded throws ``FineTuneError/image(_:)``.
    public static func load(_ samples: ArraySlice<Sample>, _ p: Preprocessing, augment: Bool = false, seed: UInt64 = 0) throws -> Tensor {
        do { return try p.batch(samples.map(\.url), augment: augment, seed: seed) } catch let e as ImageError { throw FineTuneError.image(e) }
    }
}
