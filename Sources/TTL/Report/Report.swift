// The page `ttl finetune --report DIR` and `ttl evaluate --report DIR` write: one self-contained
// HTML file (inline CSS and SVG, thumbnails as data URIs, no script, a Content-Security-Policy
// that forbids every network request), built from plain values so any caller can fill it.
import Foundation
import TTLFineTune

/// A training or evaluation report: what the model is, what it was trained and judged on, how
/// the epochs went, and where it errs. ``html()`` renders it; ``write(to:)`` writes
/// `DIR/index.html`.
public struct Report {
    /// One named fact (`optimizer` → `adamw at 0.001`).
    public struct Fact: Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) { self.name = name; self.value = value }
    }

    /// Facts under a heading (Model, Data, Preprocessing, Training).
    public struct FactGroup: Equatable {
        public var title: String
        public var facts: [Fact]
        public init(_ title: String, _ facts: [Fact]) { self.title = title; self.facts = facts }
    }

    /// An image with its true and predicted labels, as a thumbnail.
    public struct Example: Equatable {
        /// What the page calls the image (its path relative to the dataset).
        public var name: String
        public var trueLabel: String
        public var predictedLabel: String
        /// The model's probability of ``trueLabel`` (nil when the model has no such label).
        public var trueProbability: Double?
        /// The model's probability of ``predictedLabel``.
        public var predictedProbability: Double
        /// A JPEG of the image (nil: it could not be read; the page says so).
        public var thumbnail: Data?
        /// The thumbnail's size in pixels.
        public var thumbnailSize: (width: Int, height: Int)?

        public init(name: String, trueLabel: String, predictedLabel: String, trueProbability: Double?, predictedProbability: Double,
                    thumbnail: Data? = nil, thumbnailSize: (width: Int, height: Int)? = nil) {
            self.name = name; self.trueLabel = trueLabel; self.predictedLabel = predictedLabel
            self.trueProbability = trueProbability; self.predictedProbability = predictedProbability
            self.thumbnail = thumbnail; self.thumbnailSize = thumbnailSize
        }

        public var isCorrect: Bool { trueLabel == predictedLabel }

        public static func == (a: Example, b: Example) -> Bool {
            a.name == b.name && a.trueLabel == b.trueLabel && a.predictedLabel == b.predictedLabel && a.trueProbability == b.trueProbability
                && a.predictedProbability == b.predictedProbability && a.thumbnail == b.thumbnail
                && a.thumbnailSize?.width == b.thumbnailSize?.width && a.thumbnailSize?.height == b.thumbnailSize?.height
        }
    }

    /// One epoch's losses and accuracies.
    public struct Epoch: Equatable {
        public var epoch: Int
        public var trainLoss: Double
        public var trainAccuracy: Double
        /// Nil without validation images.
        public var validationLoss: Double?
        public var validationAccuracy: Double?
        /// A multi-label run's validation mean average precision (nil otherwise).
        public var validationMAP: Double?
        public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, validationLoss: Double? = nil, validationAccuracy: Double? = nil,
                    validationMAP: Double? = nil) {
            self.epoch = epoch; self.trainLoss = trainLoss; self.trainAccuracy = trainAccuracy
            self.validationLoss = validationLoss; self.validationAccuracy = validationAccuracy; self.validationMAP = validationMAP
        }
        /// A multi-label epoch: binary cross-entropies and validation mAP (no accuracy).
        public init(_ e: MultiLabelEpochReport) {
            self.init(epoch: e.epoch, trainLoss: e.trainLoss, trainAccuracy: .nan, validationLoss: e.validationLoss, validationMAP: e.validationMAP)
        }
        public init(_ e: TrainingSummary.Epoch) {
            self.init(epoch: e.epoch, trainLoss: e.trainLoss, trainAccuracy: e.trainAccuracy, validationLoss: e.validationLoss, validationAccuracy: e.validationAccuracy)
        }
    }

    /// The page's heading (`Fine-tuning efficientnet-lite0 on photos`).
    public var title: String
    /// Facts about the model, the data, the preprocessing and the training, in this order.
    public var facts: [FactGroup] = []
    /// Losses and accuracies per epoch (empty: no training section).
    public var history: [Epoch] = []
    /// The epoch whose weights the model keeps, marked on the curves.
    public var keptEpoch: Int?
    /// Accuracy, confusion matrix and per-class precision and recall (nil: nothing was evaluated).
    public var evaluation: Evaluation?
    /// A multi-label model's figures per label at its thresholds, and mAP (nil: single-label, or
    /// nothing was evaluated). A multi-label report shows these instead of ``evaluation``.
    public var multiLabel: MultiLabelEvaluation?
    /// Whether the report is of a multi-label model: its curves show binary cross-entropy and
    /// validation mAP, and its evaluation is per label.
    public var isMultiLabel = false
    /// Which images ``evaluation`` counts (`the validation split: 140 images`).
    public var evaluatedOn: String = ""
    /// Why there is no ``evaluation``, said in its place.
    public var noEvaluationReason: String = "no images were evaluated"
    /// The evaluated images the model gives the lowest probability to their true class, worst first.
    public var worst: [Example] = []
    /// Lines shown under the heading (early stopping, skipped images).
    public var notes: [String] = []

    public init(title: String) { self.title = title }

    /// The file ``write(to:)`` writes in its folder.
    public static let fileName = "index.html"

    /// Checks, writing nothing, that ``write(to:)`` can make `directory` (its nearest existing
    /// ancestor is a writable folder) or write into it, so that a long run does not end at an
    /// unwritable folder.
    public static func checkWritable(_ directory: URL) throws(TTLError) {
        var path = directory.standardizedFileURL.path
        while true {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
                guard isDir.boolValue else {
                    throw TTLError.io(file: directory.path, message: "cannot create the report folder: \(path) is not a folder")
                }
                guard access(path, W_OK | X_OK) == 0 else {
                    throw TTLError.io(file: directory.path, message: "cannot write the report there: \(path): \(String(cString: strerror(errno)))")
                }
                return
            }
            let parent = (path as NSString).deletingLastPathComponent
            if parent == path || parent.isEmpty { return }
            path = parent
        }
    }

    /// Creates `directory` if missing.
    static func makeFolder(_ directory: URL) throws(TTLError) {
        try checkWritable(directory)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TTLError.io(file: directory.path, message: "cannot create the report folder: \(Self.reason(error))")
        }
    }

    /// Writes the page as `directory/index.html` (under a temporary name, then renamed into
    /// place), creating `directory` if missing; returns the file.
    @discardableResult
    public func write(to directory: URL) throws(TTLError) -> URL {
        try Self.makeFolder(directory)
        let file = directory.appendingPathComponent(Self.fileName)
        let temporary = directory.appendingPathComponent(".\(Self.fileName).tmp-\(getpid())")
        do {
            try Data(html().utf8).write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw TTLError.io(file: file.path, message: "cannot write the report: \(Self.reason(error))")
        }
        guard rename(temporary.path, file.path) == 0 else {
            let message = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw TTLError.io(file: file.path, message: "cannot write the report: \(message)")
        }
        return file
    }

    static func reason(_ error: Error) -> String {
        let e = error as NSError
        if let underlying = e.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return e.localizedDescription
    }
}
