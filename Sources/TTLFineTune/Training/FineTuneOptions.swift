// How to fine-tune: the options of a run and the checks every run makes of them.
import Foundation
import TTLCore

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
    /// the validation images (see ``HeadFit``), ``HeadFitMethod/adam`` runs a linear probe's
    /// Adam path with its epoch count chosen on them (see ``AdamPath``); both ignore the epochs,
    /// optimizer and schedule.
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
        if let method = headFit, method != .epochs && (unfreezeFrom != nil || augment || freezeEpochs != nil || labelSmoothing != 0) {
            throw fail("the \(method == .lbfgs ? "L-BFGS" : "Adam-path") head fit trains the head alone on cached features: not with an unfrozen stage, augmentation, two phases or label smoothing")
        }
    }
}
