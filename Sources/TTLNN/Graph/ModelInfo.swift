// What a classifier needs besides its graph: its labels, its preprocessing, and whether its
// outputs are independent per label (multi-label, sigmoid) with a decision threshold each.
// One typed value, encoded to and decoded from the model's metadata dictionary in one place,
// so that every format (ONNX metadata_props, Keras `ttl_metadata`, PyTorch/safetensors
// metadata, the store) carries the same keys with the same spelling.
import Foundation

/// A model's classifier metadata: labels, preprocessing, multi-label outputs and thresholds.
///
/// Stored in ``Model/metadata`` as JSON strings under ``Key``: `labels` (a JSON array in
/// output order), `preprocessing` (``Preprocessing/json``), `multi_label` (`"true"`) and
/// `thresholds` (a JSON array of numbers, one per label, in output order).
public struct ModelInfo: Equatable, Sendable {
    /// Class or label names in output order; nil when the model carries none.
    public var labels: [String]?
    /// How images are prepared for the model; nil when the model carries none.
    public var preprocessing: Preprocessing?
    /// True when every output is an independent probability (sigmoid) and an image may carry
    /// any number of labels; false for one class per image (softmax).
    public var multiLabel: Bool
    /// The probability at or above which each label is predicted (multi-label models), in output order.
    public var thresholds: [Float]?

    /// The metadata keys, as written in every format.
    public enum Key {
        public static let labels = "labels"
        public static let preprocessing = "preprocessing"
        public static let multiLabel = "multi_label"
        public static let thresholds = "thresholds"
        /// Every key this value reads and writes.
        public static let all = [labels, preprocessing, multiLabel, thresholds]
    }

    /// A value with the given fields (all empty by default).
    public init(labels: [String]? = nil, preprocessing: Preprocessing? = nil, multiLabel: Bool = false, thresholds: [Float]? = nil) {
        self.labels = labels; self.preprocessing = preprocessing; self.multiLabel = multiLabel; self.thresholds = thresholds
    }

    /// Decodes the value from a metadata dictionary. A key that is absent or does not read
    /// (not JSON of the right form) is treated as absent.
    public init(metadata: [String: String]) {
        labels = metadata[Key.labels].flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
        preprocessing = metadata[Key.preprocessing].flatMap(Preprocessing.init(json:))
        multiLabel = metadata[Key.multiLabel] == "true"
        thresholds = metadata[Key.thresholds].flatMap { try? JSONDecoder().decode([Float].self, from: Data($0.utf8)) }
            .flatMap { $0.allSatisfy(\.isFinite) ? $0 : nil }
    }

    /// The metadata entries of this value (absent fields have none; `multi_label` only when true).
    public var metadata: [String: String] {
        var m: [String: String] = [:]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        if let labels, let d = try? encoder.encode(labels) { m[Key.labels] = String(decoding: d, as: UTF8.self) }
        if let preprocessing { m[Key.preprocessing] = preprocessing.json }
        if multiLabel { m[Key.multiLabel] = "true" }
        if let thresholds, let d = try? encoder.encode(thresholds) { m[Key.thresholds] = String(decoding: d, as: UTF8.self) }
        return m
    }

    /// Writes this value into `metadata`, replacing (or removing) every key it owns and leaving the others.
    public func write(to metadata: inout [String: String]) {
        for key in Key.all { metadata[key] = nil }
        metadata.merge(self.metadata) { _, new in new }
    }
}

extension Model {
    /// The model's labels, preprocessing and multi-label facts, read from and written to ``metadata``.
    public var info: ModelInfo {
        get { ModelInfo(metadata: metadata) }
        set { newValue.write(to: &metadata) }
    }
}
