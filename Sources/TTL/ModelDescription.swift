import Foundation
import TTLCore
import TTLNN
import TTLFineTune

/// The facts `ttl import` and `ttl show` print about a model.
public struct ModelDescription {
    /// The recognised built-in family (`ResNet-50`, `EfficientNet-Lite0`), if any.
    public var family: String?
    /// Learnable scalars (buffers excluded).
    public var parameters: Int
    /// Learnable scalars that train.
    public var trainableParameters: Int
    /// FLOPs for one image (2 per multiply-add).
    public var flopsPerImage: Int
    /// The model's inputs and their shapes.
    public var inputs: [InputSpec]
    /// The input layout (`NCHW` unless the metadata says otherwise).
    public var layout: String
    /// The source file's ONNX opset, if it came from one.
    public var opset: String?
    /// The program that wrote the source file, if known.
    public var producer: String?
    /// The classification head, if one is found.
    public var head: Head?
    /// The per-layer table.
    public var summary: ModelSummary
    /// Class names in output order, when the model carries them.
    public var labels: [String]?
    /// For a multi-label model, each label's threshold (in label order); nil for one class per image.
    public var thresholds: [Float]?
    /// How images become its input, and whether the model said so (false: ImageNet's defaults).
    public var preprocessing: Preprocessing
    public var preprocessingGiven: Bool
    /// How it was fine-tuned, for a model ttl fine-tuned.
    public var training: TrainingSummary?

    /// Describes `model` (its summary needs a fixed input size apart from the batch).
    public init(_ model: Model) throws {
        summary = try model.summary()
        parameters = summary.totalParameters
        trainableParameters = summary.trainableParameters
        flopsPerImage = summary.flopsPerImage
        inputs = model.inputs
        layout = model.metadata["layout"] ?? model.imageLayout.rawValue.uppercased()
        opset = model.metadata["source.opset"] ?? model.metadata["onnx.opset"]
        producer = model.metadata["source.producer"] ?? model.metadata["onnx.producer"]
        head = try? model.findHead()
        family = Self.recognise(model, head: head)
        labels = model.info.labels
        if model.info.multiLabel {
            let t = model.info.thresholds ?? []
            thresholds = (0 ..< (labels?.count ?? t.count)).map { $0 < t.count ? t[$0] : 0.5 }
        }
        let (p, defaulted) = Classifier.preprocessingAndOrigin(of: model)
        (preprocessing, preprocessingGiven) = (p, !defaulted)
        training = TrainingSummary(metadata: model.metadata)
    }

    /// Recognises the built-in families by their structure (convolution count, groups, widths,
    /// head width), which survives renaming and batch-norm folding by exporters.
    static func recognise(_ model: Model, head: Head?) -> String? {
        if let arch = model.metadata["architecture.name"] { return arch }
        let convs = model.nodes.compactMap { $0.operation as? Conv2DOp }
        let grouped = convs.contains { $0.options.groups > 1 }
        let depthwise = model.nodes.contains { n in
            guard let c = n.operation as? Conv2DOp, c.options.groups > 1, let w = model.parameters.tensor(n.inputs[1]) else { return false }
            return w.shape[1] == 1
        }
        let features = head?.inFeatures ?? 0
        switch (convs.count, features, grouped, depthwise) {
        case (20, 512, false, _): return "ResNet-18"
        case (36, 512, false, _): return "ResNet-34"
        case (53, 2048, false, _):
            // The first 3×3 convolution is layer1's: 64 wide in ResNet-50, 128 in Wide ResNet-50-2.
            let layer1Width = model.nodes.lazy.compactMap { n -> Int? in
                guard n.operation is Conv2DOp, let w = model.parameters.tensor(n.inputs[1]), w.shape[2] == 3, w.shape[3] == 3 else { return nil }
                return w.shape[0]
            }.first
            return layer1Width == 128 ? "Wide ResNet-50-2" : "ResNet-50"
        case (53, 2048, true, false): return "ResNeXt-50 32x4d"
        case (104, 2048, false, _): return "ResNet-101"
        case (155, 2048, false, _): return "ResNet-152"
        case (_, 1280, _, true) where convs.count == 49: return "EfficientNet-Lite0"
        default: return nil
        }
    }

    /// The lines `ttl import` and `ttl show` print.
    public func render() -> String {
        var lines: [String] = []
        if let family { lines.append("architecture: \(family)") }
        lines.append("parameters:   \(grouped(parameters))" + (trainableParameters != parameters ? " (\(grouped(trainableParameters)) trainable)" : ""))
        lines.append(flopsPerImage >= 100_000_000 ? String(format: "FLOPs/image:  %.2f G", Double(flopsPerImage) / 1e9)
                                                  : String(format: "FLOPs/image:  %.2f M", Double(flopsPerImage) / 1e6))
        for i in inputs {
            lines.append("input:        \(i.name) [\(i.dimensions.map { $0.map(String.init) ?? "N" }.joined(separator: ", "))] \(layout)")
        }
        if let opset { lines.append("opset:        \(opset)") }
        if let producer { lines.append("producer:     \(producer)") }
        if let head {
            lines.append("head:         node '\(head.node)', \(head.inFeatures) → \(head.outFeatures)" + (head.softmax.map { ", then softmax '\($0)'" } ?? "")
                         + (head.sigmoid.map { ", then sigmoid '\($0)'" } ?? ""))
        } else {
            lines.append("head:         none found (the output does not come from a Linear/Gemm)")
        }
        if let labels {
            let shown = labels.prefix(8).joined(separator: ", ") + (labels.count > 8 ? ", … (\(labels.count - 8) more)" : "")
            lines.append("labels:       \(labels.count): \(shown)")
        }
        if let thresholds {
            let shown = thresholds.prefix(8).map { String(format: "%.3f", $0) }.joined(separator: ", ") + (thresholds.count > 8 ? ", …" : "")
            lines.append("multi-label:  thresholds \(shown)")
        }
        lines.append("images:       " + Self.describe(preprocessing))
        if !preprocessingGiven { lines.append("              (ImageNet's defaults: the model carries no preprocessing)") }
        if let t = training { lines.append(contentsOf: Self.describe(t)) }
        return lines.joined(separator: "\n")
    }

    static func describe(_ p: Preprocessing) -> String {
        func list(_ v: [Float]) -> String { v.map { String(format: "%.3f", $0) }.joined(separator: ",") }
        return "\(p.size)×\(p.size) \(p.resize == .crop ? "centre crop" : "squashed"), mean \(list(p.mean)), std \(list(p.std))"
            + (p.channels == .bgr ? " (B,G,R)" : "")
    }

    static func describe(_ t: TrainingSummary) -> [String] {
        let how = t.headFit.map { h in
            h.method == "adam"
                ? "Adam path as a linear probe's (1e-3, constant, no weight decay), \(h.epochs ?? 0) epochs chosen on "
                    + (t.validationImages > 0 ? "validation, then trained again on training and validation images" : "a held-out fifth, then trained again on every image")
                    + ", backbone frozen" :
            String(format: "L-BFGS head fit, L2 penalty %g chosen of %d (%d iterations) on ", h.l2, h.penaltiesTried, h.iterations)
                + (h.refit ? "a held-out fifth, then refitted on every image" : "validation") + ", backbone frozen"
        } ?? "\(t.epochs.count) epochs, \(t.optimizer) at \(t.learningRate) (\(t.schedule)), weight decay \(t.weightDecay)"
            + (t.unfrozenFrom.map { ", backbone trained from \($0)" } ?? ", backbone frozen") + (t.augmented ? ", augmented" : "")
        var lines = ["trained:      from \(t.base) on '\(t.data)': \(t.classes) classes, \(t.trainingImages) training and \(t.validationImages) validation images",
                     "              " + how]
        if let k = t.kept {
            var line = String(format: "              kept " + (t.headFit == nil || t.headFit?.method == "adam" ? "epoch" : "fit") + " %d: train loss %.4f acc %.1f%%", k.epoch, k.trainLoss, k.trainAccuracy * 100)
            if let l = k.validationLoss, let a = k.validationAccuracy { line += String(format: ", validation loss %.4f acc %.1f%%", l, a * 100) }
            lines.append(line)
        }
        return lines
    }
}
