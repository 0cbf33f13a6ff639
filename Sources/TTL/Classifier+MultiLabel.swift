import Foundation
import TTLCore
import TTLFineTune
import TTLNN

extension Classifier {
    /// True for a model whose outputs are independent label probabilities (metadata `multi_label`).
    public var isMultiLabel: Bool { model.info.multiLabel }

    /// Each label's threshold: the model's (metadata `thresholds`), 0.5 for any it lacks.
    public var thresholds: [Float] {
        let t = model.info.thresholds ?? []
        return labels.indices.map { $0 < t.count ? t[$0] : 0.5 }
    }

    /// Every label whose probability reaches its threshold, most likely first, for each image
    /// (possibly none).
    public func predictLabels(_ urls: [URL]) throws -> [[(label: String, probability: Float)]] {
        let thresholds = self.thresholds
        return try probabilityRows(urls).map { row in
            let above = row.indices.filter { row[$0] >= ($0 < thresholds.count ? thresholds[$0] : 0.5) }
            return above.sorted { row[$0] > row[$1] }.map { (label($0), row[$0]) }
        }
    }

    /// Per-label precision, recall, F1 (at the model's thresholds) and average precision, and
    /// mAP, on `samples` whose labels index `labels` (matched to the model's labels by name).
    public func evaluate(_ samples: [MultiLabelSample], labels names: [String]) throws -> MultiLabelEvaluation {
        let columns = names.map { labels.firstIndex(of: $0) }
        var scores: [[Float]] = [], targets: [[Bool]] = []
        for start in stride(from: 0, to: samples.count, by: 32) {
            let batch = Array(samples[start ..< min(start + 32, samples.count)])
            let p = try probabilities(batch.map(\.url))
            let c = p.shape[1], values = p.scalars
            for (i, s) in batch.enumerated() {
                scores.append(columns.map { $0.map { $0 < c ? values[i * c + $0] : 0 } ?? 0 })
                let carried = Set(s.labels)
                targets.append(names.indices.map { carried.contains($0) })
            }
        }
        let t = thresholds
        return MultiLabelEvaluation(labels: names, scores: scores, targets: targets, thresholds: columns.map { $0.map { t[$0] } ?? 0.5 })
    }
}
