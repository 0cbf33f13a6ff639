import Foundation
import TTLCore
import TTLFineTune
import TTLNN

/// A model with its class labels and preprocessing: what `ttl predict` and `ttl evaluate` use,
/// and what fine-tuning produces.
///
/// ```swift
/// let backbone = try ModelStore().load("resnet18")
/// let data = try ImageFolder(root: URL(fileURLWithPath: "photos"), validationSplit: 0.2)
/// var options = FineTuneOptions(); options.epochs = 5
/// let result = try FineTuner.fit(backbone, data: data, preprocessing: Classifier.preprocessing(of: backbone), options: options)
/// let classifier = try Classifier(result.model)
/// print(try classifier.predict([URL(fileURLWithPath: "cone.jpg")], top: 3))
/// try ModelFile.save(classifier.model, to: URL(fileURLWithPath: "cones.onnx"))
/// ```
public struct Classifier {
    /// The network, ending in its classification head.
    public var model: Model
    /// Class names in output order (from the `labels` metadata, else `class 0`, `class 1`, …).
    public var labels: [String]
    /// How images are prepared for ``model``.
    public var preprocessing: Preprocessing
    /// True when the model carried no preprocessing and ImageNet's defaults are used.
    public var usesDefaultPreprocessing: Bool

    /// A classifier for `model`, reading its labels and preprocessing from its metadata.
    public init(_ model: Model) throws {
        self.model = model
        let (p, isDefault) = Self.preprocessingAndOrigin(of: model)
        preprocessing = p
        usesDefaultPreprocessing = isDefault
        let outputs = (try? model.findHead().outFeatures) ?? 0
        if let l = model.info.labels {
            labels = l
        } else {
            labels = (0 ..< outputs).map { "class \($0)" }
        }
    }

    /// The model's preprocessing (metadata key `preprocessing`), else ImageNet's at the model's input size.
    public static func preprocessing(of model: Model) -> Preprocessing { preprocessingAndOrigin(of: model).0 }

    static func preprocessingAndOrigin(of model: Model) -> (Preprocessing, Bool) {
        if let p = model.info.preprocessing { return (p, false) }
        var p = Preprocessing.imagenet
        if let s = model.imageInputSize, s.height == s.width { p.size = s.height }
        return (p, true)
    }

    /// Class probabilities `[N, classes]` for images: softmax of the logits (or the model's
    /// own output when it ends with a softmax); for a multi-label model, each label's
    /// probability: the output of its final Sigmoid (or the sigmoid of its logits).
    public func probabilities(_ urls: [URL]) throws -> Tensor {
        var x = try preprocessing.batch(urls)
        if model.imageLayout == .nhwc { x = Transpose.forward(x, permutation: [0, 2, 3, 1]) }
        let head = try? model.findHead()
        let output = model.outputs[0]
        let y = try model.run([model.inputs[0].name: x], outputs: [output])[output]!
        let flat = y.reshaped([y.shape[0], y.count / max(y.shape[0], 1)])
        let p = head?.softmax != nil || head?.sigmoid != nil ? flat : model.info.multiLabel ? Sigmoid.forward(flat) : Softmax.forward(flat, axis: -1)
        let c = p.count / max(p.shape[0], 1)
        if let bad = p.scalars.firstIndex(where: { !$0.isFinite }), c > 0 {
            throw TTLError.nonFiniteOutput(file: urls[min(bad / c, urls.count - 1)].path)
        }
        return p
    }

    /// The `top` most likely labels of each image, most likely first.
    public func predict(_ urls: [URL], top: Int = 5) throws -> [[(label: String, probability: Float)]] {
        try probabilityRows(urls).map { row in
            row.indices.sorted { row[$0] > row[$1] }.prefix(top).map { (label($0), row[$0]) }
        }
    }

    /// Each image's probabilities, in batches of 32.
    func probabilityRows(_ urls: [URL]) throws -> [[Float]] {
        var rows: [[Float]] = []
        for start in stride(from: 0, to: urls.count, by: 32) {
            let batch = Array(urls[start ..< min(start + 32, urls.count)])
            let p = try probabilities(batch)
            let c = p.shape[1], values = p.scalars
            for i in 0 ..< batch.count { rows.append(Array(values[i * c ..< (i + 1) * c])) }
        }
        return rows
    }

    /// The name of output `k` ("class k" past the labels the model carries).
    func label(_ k: Int) -> String { k < labels.count ? labels[k] : "class \(k)" }

    /// Accuracy, per-class precision and recall, and the confusion matrix on `samples`.
    public func evaluate(_ samples: [Sample], classes: [String]) throws -> Evaluation {
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes.count), count: classes.count)
        for start in stride(from: 0, to: samples.count, by: 32) {
            let batch = Array(samples[start ..< min(start + 32, samples.count)])
            let p = try probabilities(batch.map(\.url))
            let c = p.shape[1], values = p.scalars
            for (i, s) in batch.enumerated() {
                let row = values[i * c ..< (i + 1) * c]
                let predicted = row.firstIndex(of: row.max()!)! - i * c
                // Predictions are in the model's label order; map them to the dataset's classes by name.
                let name = predicted < labels.count ? labels[predicted] : ""
                let column = classes.firstIndex(of: name) ?? (predicted < classes.count ? predicted : 0)
                confusion[s.label][column] += 1
            }
        }
        return Evaluation(classes: classes, confusion: confusion)
    }
}

/// Results of `Classifier.evaluate`.
public struct Evaluation {
    /// Class names, indexing ``confusion``.
    public var classes: [String]
    /// `confusion[true][predicted]`
    public var confusion: [[Int]]
    /// Images evaluated.
    public var total: Int { confusion.joined().reduce(0, +) }
    /// Share of images whose top prediction is their class.
    public var accuracy: Double { Double(confusion.indices.reduce(0) { $0 + confusion[$1][$1] }) / Double(max(total, 1)) }
    /// Of the images predicted as class `c`, the share that are `c` (0 if none is predicted so).
    public func precision(_ c: Int) -> Double {
        let predicted = confusion.reduce(0) { $0 + $1[c] }
        return predicted == 0 ? 0 : Double(confusion[c][c]) / Double(predicted)
    }
    /// Of the images of class `c`, the share predicted as `c` (0 if there are none).
    public func recall(_ c: Int) -> Double {
        let actual = confusion[c].reduce(0, +)
        return actual == 0 ? 0 : Double(confusion[c][c]) / Double(actual)
    }

    /// `accuracy: NN.N%`, a precision/recall line per class, and the confusion matrix.
    public func render() -> String {
        var lines = [String(format: "accuracy: %.1f%% (%d images)", accuracy * 100, total)]
        let width = max(5, classes.map(\.count).max() ?? 5)
        lines.append("class".padding(toLength: width, withPad: " ", startingAt: 0) + "  precision  recall  images")
        for (i, name) in classes.enumerated() {
            lines.append(name.padding(toLength: width, withPad: " ", startingAt: 0)
                         + String(format: "  %8.1f%%  %5.1f%%  %6d", precision(i) * 100, recall(i) * 100, confusion[i].reduce(0, +)))
        }
        lines.append("confusion matrix (rows: true class, columns: predicted):")
        for (i, row) in confusion.enumerated() {
            lines.append(classes[i].padding(toLength: width, withPad: " ", startingAt: 0) + "  " + row.map { String(format: "%5d", $0) }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}
