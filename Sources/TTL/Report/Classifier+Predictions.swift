// Per-image predictions on labelled images: what a report needs beyond `evaluate`'s counts.
import Foundation
import TTLFineTune

/// One labelled image as the model saw it.
public struct ImagePrediction: Equatable, Sendable {
    /// The image and its true class (an index into the dataset's classes).
    public var sample: Sample
    /// The predicted class, an index into the dataset's classes (the model's labels matched by name).
    public var predicted: Int
    /// The model's probability of its prediction.
    public var predictedProbability: Double
    /// The model's probability of the true class (nil when the model has no label of that name).
    public var trueProbability: Double?
}

extension Classifier {
    /// ``evaluate(_:classes:)``'s counts and every image's prediction, in the order of `samples`.
    public func predictions(_ samples: [Sample], classes: [String]) throws -> (Evaluation, [ImagePrediction]) {
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes.count), count: classes.count)
        var out: [ImagePrediction] = []
        out.reserveCapacity(samples.count)
        // Model output index → dataset class, by name (else by position), and back.
        let column = { (predicted: Int) -> Int in
            let name = predicted < labels.count ? labels[predicted] : ""
            return classes.firstIndex(of: name) ?? (predicted < classes.count ? predicted : 0)
        }
        let outputOfClass = classes.map { name in labels.firstIndex(of: name) }
        func output(ofClass k: Int, outputs c: Int) -> Int? {
            let named = k < outputOfClass.count ? outputOfClass[k] : nil
            return named ?? (k < c ? k : nil)
        }
        for start in stride(from: 0, to: samples.count, by: 32) {
            let batch = Array(samples[start ..< min(start + 32, samples.count)])
            let p = try probabilities(batch.map(\.url))
            let c = p.shape[1], values = p.scalars
            for (i, s) in batch.enumerated() {
                let row = Array(values[i * c ..< (i + 1) * c])
                guard let best = row.indices.max(by: { row[$0] < row[$1] }) else { continue }
                let predicted = column(best)
                confusion[s.label][predicted] += 1
                let t = output(ofClass: s.label, outputs: c)
                out.append(ImagePrediction(sample: s, predicted: predicted, predictedProbability: Double(row[best]),
                                           trueProbability: t.flatMap { $0 < c ? Double(row[$0]) : nil }))
            }
        }
        return (Evaluation(classes: classes, confusion: confusion), out)
    }
}
