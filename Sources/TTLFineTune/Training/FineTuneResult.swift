// What a fine-tuning run reports: each epoch's figures, the result, and why it could not run.
import Foundation
import TTLCore
import TTLNN

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
