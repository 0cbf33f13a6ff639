// The state a fine-tuning run carries from epoch to epoch and batch to batch (a checkpoint
// saves it), and its phases.
import Foundation
import TTLCore
import TTLNN

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
