// Per-image predictions on labelled images: what a report needs beyond `evaluate`'s counts.
import Foundation
import TTLCore
import TTLFineTune
import TTLNN

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
    /// ``evaluate(_:classes:)``'s counts and every image's prediction, in the order of `samples`:
    /// the whole model run on the images.
    public func predictions(_ samples: [Sample], classes: [String]) throws -> (Evaluation, [ImagePrediction]) {
        var tally = Tally(self, classes: classes)
        for start in stride(from: 0, to: samples.count, by: 32) {
            let batch = Array(samples[start ..< min(start + 32, samples.count)])
            tally.add(batch, probabilities: try probabilities(batch.map(\.url)))
        }
        return (tally.evaluation, tally.predictions)
    }

    /// The same from the backbone's features of `samples` (`[samples.count · head.inFeatures]`,
    /// as ``FeatureExtractor/features(of:cache:imagesDone:shouldStop:)`` gives them from the
    /// cache): only the head runs. Nil when the model's head is not a `[classes, features]`
    /// Linear of that width.
    public func predictions(features: [Float], of samples: [Sample], classes: [String]) -> (Evaluation, [ImagePrediction])? {
        guard let head = try? model.findHead(), samples.count * head.inFeatures == features.count,
              let w = model.parameters.tensor(head.weight), w.shape.dimensions == [head.outFeatures, head.inFeatures] else { return nil }
        let b = head.bias.flatMap { model.parameters.tensor($0) }
        if let b, b.count != head.outFeatures { return nil }
        let logits = Gemm.forward(Tensor(shape: [samples.count, head.inFeatures], scalars: features), w, b, options: Gemm.Options(transposeB: true))
        var tally = Tally(self, classes: classes)
        tally.add(samples, probabilities: Softmax.forward(logits, axis: -1))
        return (tally.evaluation, tally.predictions)
    }
}

/// Counts and per-image predictions from rows of class probabilities in the model's label
/// order, mapped to the dataset's classes by name (else by position), as `evaluate` does.
struct Tally {
    let labels: [String], classes: [String]
    let outputOfClass: [Int?]
    var confusion: [[Int]]
    var predictions: [ImagePrediction] = []

    init(_ classifier: Classifier, classes: [String]) {
        labels = classifier.labels
        self.classes = classes
        outputOfClass = classes.map { classifier.labels.firstIndex(of: $0) }
        confusion = [[Int]](repeating: [Int](repeating: 0, count: classes.count), count: classes.count)
    }

    var evaluation: Evaluation { Evaluation(classes: classes, confusion: confusion) }

    /// `probabilities`: `[samples.count, outputs]`
    mutating func add(_ samples: [Sample], probabilities p: Tensor) {
        let c = p.count / max(samples.count, 1), values = p.scalars
        for (i, s) in samples.enumerated() where c > 0 {
            let row = values[i * c ..< (i + 1) * c]
            guard let best = row.indices.max(by: { row[$0] < row[$1] }).map({ $0 - i * c }) else { continue }
            let name = best < labels.count ? labels[best] : ""
            let predicted = classes.firstIndex(of: name) ?? (best < classes.count ? best : 0)
            if s.label < classes.count, predicted < classes.count { confusion[s.label][predicted] += 1 }
            let named = s.label < outputOfClass.count ? outputOfClass[s.label] : nil
            let t = named ?? (s.label < c ? s.label : nil)
            predictions.append(ImagePrediction(sample: s, predicted: predicted, predictedProbability: Double(row[i * c + best]),
                                               trueProbability: t.map { Double(row[i * c + $0]) }))
        }
    }
}
