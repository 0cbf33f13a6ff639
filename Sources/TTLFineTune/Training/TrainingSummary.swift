import Foundation

/// What a fine-tuned model remembers of its training, kept in its metadata under
/// ``metadataKey`` (as JSON, so every format carries it) and printed by `ttl show`.
///
/// Only facts that the same data and options reproduce are kept (no dates, paths or timings),
/// so that two runs that train the same weights write the same file.
public struct TrainingSummary: Codable, Equatable, Sendable {
    public static let metadataKey = "training"

    /// One finished epoch: its losses and accuracies.
    public struct Epoch: Codable, Equatable, Sendable {
        public var epoch: Int
        public var trainLoss: Double
        public var trainAccuracy: Double
        public var validationLoss: Double?
        public var validationAccuracy: Double?
    }

    /// A head fit on cached features (``HeadFitMethod/lbfgs`` or ``HeadFitMethod/adam``): what was chosen and how.
    public struct HeadFitSummary: Codable, Equatable, Sendable {
        /// `lbfgs` or `adam`.
        public var method: String
        /// The L2 penalty λ of the kept fit (on standardised features).
        public var l2: Double
        /// L-BFGS iterations of the kept fit.
        public var iterations: Int
        /// Penalties tried in the sweep.
        public var penaltiesTried: Int
        /// Whether the kept head was refitted on every training image (no validation images:
        /// λ was chosen on a held-out fifth of the training images); for `adam`, trained again
        /// on the training and validation images (or every training image) for ``epochs``.
        public var refit: Bool
        /// `adam`: the epoch count chosen on validation (``l2`` and ``penaltiesTried`` are 0).
        public var epochs: Int? = nil
    }

    /// The backbone's short name (`efficientnet-lite0`, a stored name, a file's base name).
    public var base: String
    /// The dataset folder's name (not its path: the same data elsewhere is the same run).
    public var data: String
    public var classes: Int
    public var trainingImages: Int
    public var validationImages: Int
    /// The optimizer, its head learning rate, schedule and weight decay, as given or defaulted.
    public var optimizer: String
    public var learningRate: Double
    public var schedule: String
    public var weightDecay: Double
    /// The first unfrozen stage (nil: the backbone stayed frozen).
    public var unfrozenFrom: String?
    public var augmented: Bool
    /// The epoch whose weights the model holds.
    public var keptEpoch: Int
    public var epochs: [Epoch]
    /// Set for an L-BFGS head fit, whose ``epochs`` are the fits of its sweep (then
    /// ``optimizer`` is `lbfgs`, and ``learningRate``, ``schedule`` and ``weightDecay`` do not apply).
    public var headFit: HeadFitSummary?

    /// The summary of a finished fit.
    public init(_ result: FineTuneResult, data: ImageFolder, options: FineTuneOptions, base: String) {
        self.base = base
        self.data = data.root.standardizedFileURL.lastPathComponent
        classes = data.classes.count
        trainingImages = data.train.count
        validationImages = data.validation.count
        optimizer = options.optimizer.rawValue
        learningRate = Self.decimal(options.learningRate)
        schedule = options.schedule.rawValue
        weightDecay = Self.decimal(options.weightDecay ?? (options.optimizer == .adamw ? 0.01 : 0))
        unfrozenFrom = options.unfreezeFrom ?? (options.freezeEpochs != nil ? "all" : nil)
        augmented = options.augment
        keptEpoch = result.bestEpoch
        if options.headFit == .lbfgs, let kept = result.history.first(where: { $0.epoch == result.bestEpoch }), let l2 = kept.l2 {
            let refit = data.validation.isEmpty && kept.validationLoss == nil && result.history.count > 1
            headFit = HeadFitSummary(method: "lbfgs", l2: l2, iterations: kept.iterations ?? 0,
                                     penaltiesTried: result.history.count - (refit ? 1 : 0), refit: refit)
            optimizer = "lbfgs"; learningRate = 0; schedule = "none"; weightDecay = 0
        }
        if options.headFit == .adam {
            let chosen = result.history.filter { $0.validationLoss == nil }.count
            headFit = HeadFitSummary(method: "adam", l2: 0, iterations: 0, penaltiesTried: 0, refit: true, epochs: chosen)
            optimizer = "adam"; learningRate = Double(AdamPath.learningRate); schedule = "constant"; weightDecay = 0
        }
        epochs = result.history.map {
            Epoch(epoch: $0.epoch, trainLoss: $0.trainLoss, trainAccuracy: $0.trainAccuracy,
                  validationLoss: $0.validationLoss, validationAccuracy: $0.validationAccuracy)
        }
    }

    /// A Float option as the decimal the user wrote (0.001, not 0.0010000000474974513).
    static func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }

    /// The summary in a model's metadata, if it has one that reads.
    public init?(metadata: [String: String]) {
        guard let json = metadata[Self.metadataKey],
              let s = try? JSONDecoder().decode(TrainingSummary.self, from: Data(json.utf8)) else { return nil }
        self = s
    }

    /// The JSON kept in the metadata (keys sorted, so the same summary is the same bytes).
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The kept epoch's report, if it finished.
    public var kept: Epoch? { epochs.first { $0.epoch == keptEpoch } }
}
