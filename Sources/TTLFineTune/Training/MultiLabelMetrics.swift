// Per-label metrics of a multi-label classifier: average precision (scikit-learn's
// `average_precision_score`), precision, recall and F1 at a threshold, and the threshold per
// label that maximises F1 on validation images.
import Foundation

/// Multi-label metrics on probabilities `scores[i][label]` and targets `targets[i][label]`.
public enum MultiLabelMetrics {
    /// Average precision of one label, as scikit-learn defines it: AP = Σₙ (Rₙ − Rₙ₋₁) Pₙ over
    /// the distinct scores in descending order (a cut at each; tied scores are one cut), with
    /// R₀ = 0 — the step-wise area under the precision-recall curve, no interpolation.
    /// nil when no image carries the label (AP is undefined; scikit-learn warns).
    public static func averagePrecision(scores: [Float], targets: [Bool]) -> Double? {
        precondition(scores.count == targets.count)
        let positives = targets.filter { $0 }.count
        guard positives > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0, seen = 0, lastRecall = 0.0, ap = 0.0
        for (k, i) in order.enumerated() {
            seen += 1
            if targets[i] { tp += 1 }
            // A cut after the last of a run of tied scores.
            if k + 1 < order.count && scores[order[k + 1]] == scores[i] { continue }
            let recall = Double(tp) / Double(positives), precision = Double(tp) / Double(seen)
            ap += (recall - lastRecall) * precision
            lastRecall = recall
        }
        return ap
    }

    /// The threshold on one label's probability that maximises F1 over the given images:
    /// halfway between the lowest score kept and the next lower score (the score itself when
    /// it is the lowest, so every image is predicted). The highest threshold wins ties. 0.5
    /// when no image carries the label or there are no images.
    public static func bestThreshold(scores: [Float], targets: [Bool]) -> Float {
        let positives = targets.filter { $0 }.count
        guard positives > 0 else { return 0.5 }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0, seen = 0
        var best = (f1: -1.0, threshold: Float(0.5))
        for (k, i) in order.enumerated() {
            seen += 1
            if targets[i] { tp += 1 }
            if k + 1 < order.count && scores[order[k + 1]] == scores[i] { continue }
            let f1 = 2 * Double(tp) / Double(seen + positives)
            if f1 > best.f1 {
                let next = k + 1 < order.count ? scores[order[k + 1]] : scores[i]
                best = (f1, k + 1 < order.count ? (scores[i] + next) / 2 : scores[i])
            }
        }
        return best.threshold
    }
}

/// Results of evaluating a multi-label classifier: per label, the counts at its threshold and
/// its average precision.
public struct MultiLabelEvaluation: Sendable {
    /// One label's figures.
    public struct PerLabel: Sendable {
        public var label: String
        public var threshold: Float
        public var truePositives: Int, falsePositives: Int, falseNegatives: Int
        /// Images carrying the label.
        public var support: Int { truePositives + falseNegatives }
        /// Of the images predicted with the label, the share that carry it (0 if none is predicted).
        public var precision: Double { truePositives + falsePositives == 0 ? 0 : Double(truePositives) / Double(truePositives + falsePositives) }
        /// Of the images carrying the label, the share predicted with it (0 if none carries it).
        public var recall: Double { support == 0 ? 0 : Double(truePositives) / Double(support) }
        /// Harmonic mean of precision and recall (0 when both are 0).
        public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }
        /// Average precision (nil: no image carries the label).
        public var averagePrecision: Double?
    }
    /// Images evaluated.
    public var images: Int
    public var labels: [PerLabel]
    /// Mean average precision over the labels that some image carries (nil if none does).
    public var meanAveragePrecision: Double? {
        let aps = labels.compactMap(\.averagePrecision)
        return aps.isEmpty ? nil : aps.reduce(0, +) / Double(aps.count)
    }

    /// Figures from probabilities `[N][labels]`, targets and thresholds.
    public init(labels names: [String], scores: [[Float]], targets: [[Bool]], thresholds: [Float]) {
        images = scores.count
        labels = names.indices.map { j in
            let s = scores.map { $0[j] }, t = targets.map { $0[j] }
            var r = PerLabel(label: names[j], threshold: thresholds[j], truePositives: 0, falsePositives: 0, falseNegatives: 0,
                             averagePrecision: MultiLabelMetrics.averagePrecision(scores: s, targets: t))
            for (p, y) in zip(s, t) {
                let predicted = p >= thresholds[j]
                if predicted && y { r.truePositives += 1 } else if predicted { r.falsePositives += 1 } else if y { r.falseNegatives += 1 }
            }
            return r
        }
    }

    /// `mAP: 0.xxx (N images)` and a line per label: threshold, precision, recall, F1, AP, images with it.
    public func render() -> String {
        let width = max(5, labels.map(\.label.count).max() ?? 5)
        func pad(_ s: String) -> String { s.padding(toLength: width, withPad: " ", startingAt: 0) }
        var lines = [meanAveragePrecision.map { String(format: "mAP: %.3f (%d images)", $0, images) } ?? "mAP: undefined (no image carries any label; \(images) images)"]
        lines.append(pad("label") + "  threshold  precision  recall     F1     AP  images")
        for l in labels {
            lines.append(pad(l.label) + String(format: "  %9.3f  %8.1f%%  %5.1f%%  %5.3f  %@  %6d", l.threshold, l.precision * 100, l.recall * 100, l.f1,
                                               l.averagePrecision.map { String(format: "%5.3f", $0) } ?? "    -", l.support))
        }
        return lines.joined(separator: "\n")
    }
}
