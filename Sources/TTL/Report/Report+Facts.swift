// Filling a Report from a model, its dataset and its predictions: the facts, the training
// curves a fine-tuned model carries, and the worst-classified images as thumbnails.
import Foundation
import TTLFineTune
import TTLNN

extension Report {
    /// The report of `model` (named `name`) on `data`: its facts, its training history when it
    /// was fine-tuned by ttl (metadata `training`), and, with `results` (the predictions on
    /// the images `evaluatedOn` describes), the confusion matrix, precision and recall and
    /// the ``worstCount`` worst-classified images.
    public init(title: String, model: Model, name: String, data: ImageFolder, evaluatedOn: String,
                results: (evaluation: Evaluation, predictions: [ImagePrediction])?, noEvaluationReason: String = "no images were evaluated") {
        self.init(title: title)
        let training = TrainingSummary(metadata: model.metadata)
        if let training {
            history = training.epochs.map(Epoch.init)
            keptEpoch = training.keptEpoch
        }
        facts = [Self.modelFacts(model, name: name), Self.dataFacts(data)]
        let (p, defaulted) = Classifier.preprocessingAndOrigin(of: model)
        facts.append(Self.preprocessingFacts(p, given: !defaulted))
        if let training { facts.append(Self.trainingFacts(training)) }
        self.evaluatedOn = evaluatedOn
        self.noEvaluationReason = noEvaluationReason
        if let results {
            evaluation = results.evaluation
            worst = Self.worstExamples(results.predictions, classes: results.evaluation.classes, root: data.root)
        }
    }

    /// The report of a multi-label run: `model` (named `name`) trained on `data` with `options`,
    /// its epochs `history` (the kept one `keptEpoch`), and `evaluation`, its figures per label
    /// on the images `evaluatedOn` describes (nil: none to judge on).
    public init(title: String, model: Model, name: String, data: MultiLabelData, history: [MultiLabelEpochReport], keptEpoch: Int,
                options: FineTuneOptions, evaluatedOn: String, evaluation: MultiLabelEvaluation?, noEvaluationReason: String = "no images were evaluated") {
        self.init(title: title)
        isMultiLabel = true
        self.history = history.map(Epoch.init)
        self.keptEpoch = keptEpoch
        facts = Self.multiLabelFacts(model, name: name, data: data, split: true)
        var training = [Fact("head", "one sigmoid output per label, binary cross-entropy, on the frozen backbone's cached features"),
                        Fact("epochs", "\(history.count), kept epoch \(keptEpoch)"),
                        Fact("optimizer", "\(options.optimizer.rawValue) at \(options.learningRate) (\(options.schedule.rawValue)), weight decay \(options.weightDecay ?? (options.optimizer == .adamw ? 0.01 : 0))"),
                        Fact("thresholds", data.validation.isEmpty ? "0.5 for every label (no validation images)" : "per label, the best F1 on the validation images")]
        if let k = history.first(where: { $0.epoch == keptEpoch }) {
            var line = String(format: "train loss %.4f", k.trainLoss)
            if let l = k.validationLoss { line += String(format: "; validation loss %.4f", l) }
            if let m = k.validationMAP { line += String(format: ", mAP %.3f", m) }
            training.append(Fact("kept epoch", line))
        }
        facts.append(FactGroup("Training", training))
        self.evaluatedOn = evaluatedOn
        self.noEvaluationReason = noEvaluationReason
        multiLabel = evaluation
    }

    /// The report of `ttl evaluate` on a multi-label `model` (named `name`): its facts, `data`
    /// (every image evaluated, as `evaluatedOn` describes) and `evaluation`, its figures per label
    /// at the thresholds the model carries. No curves: training is not part of an evaluation.
    public init(title: String, model: Model, name: String, data: MultiLabelData, evaluatedOn: String, evaluation: MultiLabelEvaluation) {
        self.init(title: title)
        isMultiLabel = true
        facts = Self.multiLabelFacts(model, name: name, data: data, split: false)
        self.evaluatedOn = evaluatedOn
        multiLabel = evaluation
    }

    /// The model, data and preprocessing facts of a multi-label report; `split`: the data was
    /// divided into training and validation images.
    static func multiLabelFacts(_ model: Model, name: String, data: MultiLabelData, split: Bool) -> [FactGroup] {
        var dataFacts = [Fact("folder", data.root.path),
                         Fact("labels", "\(data.labels.count): " + data.labels.prefix(20).joined(separator: ", ") + (data.labels.count > 20 ? ", …" : ""))]
        dataFacts += split ? [Fact("training images", grouped(data.train.count)), Fact("validation images", grouped(data.validation.count))]
                           : [Fact("images", grouped(data.train.count + data.validation.count))]
        if !data.skipped.isEmpty { dataFacts.append(Fact("skipped", "\(data.skipped.count) unreadable image(s)")) }
        let (p, defaulted) = Classifier.preprocessingAndOrigin(of: model)
        return [modelFacts(model, name: name), FactGroup("Data", dataFacts), preprocessingFacts(p, given: !defaulted)]
    }

    /// How many worst-classified images a report shows.
    public static let worstCount = 12
    /// The longest side of a thumbnail, in pixels.
    public static let thumbnailSide = 128

    /// The `limit` predictions with the lowest probability of the true class (worst first; ties
    /// by file name), with thumbnails.
    public static func worstExamples(_ predictions: [ImagePrediction], classes: [String], root: URL, limit: Int = worstCount) -> [Example] {
        let ranked = predictions.sorted {
            let (a, b) = ($0.trueProbability ?? -1, $1.trueProbability ?? -1)
            return a != b ? a < b : $0.sample.url.path < $1.sample.url.path
        }
        let rootPath = root.standardizedFileURL.path + "/"
        return ranked.prefix(limit).map { p in
            let path = p.sample.url.standardizedFileURL.path
            let name = path.hasPrefix(rootPath) ? String(path.dropFirst(rootPath.count)) : p.sample.url.lastPathComponent
            var example = Example(name: name, trueLabel: label(p.sample.label, classes), predictedLabel: label(p.predicted, classes),
                                  trueProbability: p.trueProbability, predictedProbability: p.predictedProbability)
            let side = thumbnailSide
            if let image = try? ImageDecoder.decode(contentsOf: p.sample.url, atLeast: (side, side)) {
                let small = image.thumbnail(maxSide: side)
                example.thumbnail = try? ImageEncoder.jpeg(small, quality: 85)
                example.thumbnailSize = (small.width, small.height)
            }
            return example
        }
    }

    static func label(_ i: Int, _ classes: [String]) -> String { i >= 0 && i < classes.count ? classes[i] : "class \(i)" }

    static func modelFacts(_ model: Model, name: String) -> FactGroup {
        var f = [Fact("name", name)]
        if let d = try? ModelDescription(model) {
            if let family = d.family { f.append(Fact("architecture", family)) }
            if let base = model.metadata["architecture.base"] { f.append(Fact("fine-tuned from", base)) }
            f.append(Fact("parameters", grouped(d.parameters) + (d.trainableParameters != d.parameters && d.trainableParameters > 0 ? " (\(grouped(d.trainableParameters)) trained)" : "")))
            f.append(Fact("compute", d.flopsPerImage >= 100_000_000 ? String(format: "%.2f GFLOPs per image", Double(d.flopsPerImage) / 1e9)
                                                                  : String(format: "%.2f MFLOPs per image", Double(d.flopsPerImage) / 1e6)))
            for i in d.inputs {
                f.append(Fact("input", "\(i.name) [\(i.dimensions.map { $0.map(String.init) ?? "N" }.joined(separator: ", "))] \(d.layout)"))
            }
            if let h = d.head { f.append(Fact("head", "\(h.node): \(h.inFeatures) → \(h.outFeatures)")) }
        }
        if let labels = model.metadata["labels"].flatMap({ try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }) {
            f.append(Fact("labels", "\(labels.count): " + labels.prefix(20).joined(separator: ", ") + (labels.count > 20 ? ", …" : "")))
        }
        return FactGroup("Model", f)
    }

    static func dataFacts(_ data: ImageFolder) -> FactGroup {
        var f = [Fact("folder", data.root.path),
                 Fact("classes", "\(data.classes.count): " + data.classes.prefix(20).joined(separator: ", ") + (data.classes.count > 20 ? ", …" : "")),
                 Fact("training images", grouped(data.train.count)),
                 Fact("validation images", grouped(data.validation.count))]
        if !data.skipped.isEmpty { f.append(Fact("skipped", "\(data.skipped.count) unreadable image(s)")) }
        return FactGroup("Data", f)
    }

    static func preprocessingFacts(_ p: Preprocessing, given: Bool) -> FactGroup {
        func list(_ v: [Float]) -> String { v.map { String(format: "%.3f", $0) }.joined(separator: ", ") }
        return FactGroup("Preprocessing", [
            Fact("size", "\(p.size)×\(p.size)"),
            Fact("resize", p.resize == .crop ? "shorter side to \(p.size * 256 / 224), centre crop" : "squashed to the size"),
            Fact("mean", list(p.mean)), Fact("std", list(p.std)),
            Fact("channels", p.channels == .bgr ? "B, G, R" : "R, G, B"),
            Fact("from", given ? "the model's metadata" : "ImageNet's defaults (the model carries none)"),
        ])
    }

    static func trainingFacts(_ t: TrainingSummary) -> FactGroup {
        var f = [Fact("base model", t.base), Fact("data", "'\(t.data)': \(t.classes) classes, \(t.trainingImages) training and \(t.validationImages) validation images"),
                 Fact("epochs", "\(t.epochs.count), kept epoch \(t.keptEpoch)"),
                 Fact("optimizer", "\(t.optimizer) at \(t.learningRate) (\(t.schedule)), weight decay \(t.weightDecay)"),
                 Fact("backbone", t.unfrozenFrom.map { $0 == "all" ? "trained end to end" : "trained from \($0)" } ?? "frozen (head on cached features)"),
                 Fact("augmentation", t.augmented ? "random resized crops and flips" : "none")]
        if let k = t.kept {
            var line = String(format: "train loss %.4f, accuracy %.1f%%", k.trainLoss, k.trainAccuracy * 100)
            if let l = k.validationLoss, let a = k.validationAccuracy { line += String(format: "; validation loss %.4f, accuracy %.1f%%", l, a * 100) }
            f.append(Fact("kept epoch", line))
        }
        return FactGroup("Training", f)
    }
}
