// PyTorch state dicts onto ttl's built-in architectures: read the file (TorchReader), find
// the architecture from the keys (TorchArchitecture, TorchEfficientNet) or take the one named,
// build it and load the weights strictly, so that a missing, unexpected or mis-shaped key is
// an error naming it.
import Foundation
import TTLCore
import TTLNN

public enum TorchImporter {
    /// The EfficientNet-Lite names `--arch` takes: efficientnet_pytorch's (`efficientnet-lite0`),
    /// timm's TensorFlow port (`tf_efficientnet_lite0`) and timm's PyTorch-trained one (`efficientnet_lite0`).
    public static let efficientNetNames = ["efficientnet-lite0", "tf_efficientnet_lite0", "efficientnet_lite0"]

    /// Every name `architecture` takes.
    public static var architectures: [String] { TorchArchitecture.names + efficientNetNames }

    /// Reads `url` (torch.save zip or legacy, or safetensors, sniffed by content) onto a built-in
    /// architecture: the one named by `architecture` (a torchvision or timm name, `resnet50`), else
    /// the one its keys describe. The model's input is `[N, 3, imageSize, imageSize]`.
    public static func load(contentsOf url: URL, architecture: String? = nil, imageSize: Int = 224) throws(TorchImportError) -> Model {
        let state = try TorchReader.read(contentsOf: url)
        return try model(from: state, file: url.path, architecture: architecture, imageSize: imageSize)
    }

    /// Builds the architecture of `state` (or the one named) and loads its weights strictly.
    public static func model(from state: StateDict, file: String, architecture: String? = nil, imageSize: Int = 224) throws(TorchImportError) -> Model {
        var shapes: [String: [Int]] = [:]
        for (p, e) in state.tree.entriesInOrder { shapes[p] = e.tensor.shape.dimensions }
        let known = architectures.joined(separator: ", ")
        var model: Model
        var tree = state.tree
        let asked = architecture?.lowercased()
        if let naming = TorchEfficientNet.naming(of: shapes), asked == nil || efficientNetNames.contains(asked ?? "") {
            (model, tree) = try efficientNet(state.tree, shapes: shapes, naming: naming, asked: asked, file: file, imageSize: imageSize)
        } else {
            let arch: TorchArchitecture
            if let asked {
                guard let a = TorchArchitecture.named(asked, shapes: shapes) else {
                    throw TorchImportError(file: file, .architecture(efficientNetNames.contains(asked)
                            ? "the keys are not an EfficientNet-Lite's (efficientnet_pytorch's _conv_stem/_blocks/_fc or timm's conv_stem/blocks/classifier)"
                            : "unknown architecture '\(asked)' (ttl builds \(known))"))
                }
                arch = a
            } else {
                switch TorchArchitecture.detect(shapes) {
                case let .success(a): arch = a
                case let .failure(f): throw TorchImportError(file: file, .architecture(f.message + "; name one with --arch (\(known))"))
                }
            }
            var c = arch.configuration
            c.imageSize = imageSize
            model = ResNet.build(c, initializeWeights: false)
            model.metadata["architecture.name"] = arch.name
        }
        do { try model.load(tree) } catch { throw TorchImportError(file: file, .load(error.report)) }
        model.metadata["source_format"] = "pytorch"
        model.metadata["pytorch.format"] = state.format.rawValue
        model.metadata["pytorch.dtypes"] = state.dtypes.sorted().joined(separator: ",")
        if let w = state.wrapper { model.metadata["pytorch.state_dict_key"] = w }
        // A file ttl exported carries its labels and preprocessing.
        let saved = ModelInfo(metadata: state.metadata)
        if saved.labels != nil || saved.preprocessing != nil || saved.multiLabel {
            model.info = ModelInfo(labels: saved.labels, preprocessing: saved.preprocessing ?? model.info.preprocessing,
                                   multiLabel: saved.multiLabel, thresholds: saved.thresholds)
        }
        return model
    }

    /// EfficientNet-Lite: timm's names renamed to ttl's, the configuration from the keys, the
    /// padding and ε from the variant (named with --arch for timm's names, which fit both).
    static func efficientNet(_ source: ParameterTree, shapes: [String: [Int]], naming: TorchEfficientNet.Naming, asked: String?,
                             file: String, imageSize: Int) throws(TorchImportError) -> (Model, ParameterTree) {
        var tree = source
        var renamed = shapes
        if naming == .timm {
            guard let asked, asked != "efficientnet-lite0" else {
                throw TorchImportError(file: file, .architecture(
                    "timm EfficientNet-Lite keys fit two variants that the keys cannot tell apart: name one with --arch tf_efficientnet_lite0 (TensorFlow 'SAME' padding, batch norm eps 1e-3) or --arch efficientnet_lite0 (symmetric padding, eps 1e-5)"))
            }
            let map = TorchEfficientNet.fromTimm(source.paths)
            tree = ParameterTree()
            renamed = [:]
            for (p, e) in source.entriesInOrder {
                let q = map[p] ?? p
                tree[q] = e
                renamed[q] = e.tensor.shape.dimensions
            }
        } else if let asked, asked != "efficientnet-lite0" {
            throw TorchImportError(file: file, .architecture("the keys are efficientnet_pytorch's (_conv_stem, _blocks, _fc): --arch efficientnet-lite0, not \(asked)"))
        }
        var c: EfficientNetLite.Configuration
        var lengths: [Int]
        switch TorchEfficientNet.detect(renamed) {
        case let .success(r): (c, lengths) = r
        case let .failure(f): throw TorchImportError(file: file, .architecture("EfficientNet-Lite keys, but " + f.message))
        }
        c.imageSize = imageSize
        let pytorchTrained = asked == "efficientnet_lite0"
        if pytorchTrained { c.padding = .symmetric; c.batchNormEpsilon = 1e-5 }
        var model = EfficientNetLite.build(c, initializeWeights: false)
        let variant = TorchEfficientNet.variantName(c)
        switch naming {
        case .efficientnetPytorch:
            model.metadata["architecture.name"] = "efficientnet-" + variant
            // efficientnet_pytorch's Lite weights take (x − 127) / 128.
            model.info.preprocessing = preprocessing(size: imageSize, mean: 127.0 / 255, std: 128.0 / 255)
        case .timm:
            model.metadata["architecture.name"] = (pytorchTrained ? "efficientnet_" : "tf_efficientnet_") + variant.replacingOccurrences(of: "-", with: "_")
            model.metadata["pytorch.naming"] = "timm"
            model.metadata["pytorch.stages"] = lengths.map(String.init).joined(separator: ",")
            model.info.preprocessing = pytorchTrained
                ? preprocessing(size: imageSize, mean: nil, std: nil)
                : preprocessing(size: imageSize, mean: 0.5, std: 0.5)
        }
        return (model, tree)
    }

    /// The `preprocessing` metadata value: centre crop, the given mean and std on every channel (ImageNet's when nil).
    static func preprocessing(size: Int, mean: Double?, std: Double?) -> Preprocessing {
        Preprocessing(size: size, resize: .crop, mean: mean.map { [Float($0), Float($0), Float($0)] } ?? Preprocessing.imagenetMean,
                      std: std.map { [Float($0), Float($0), Float($0)] } ?? Preprocessing.imagenetStd)
    }
}

extension TorchExporter {
    /// A model's weights under the names of the file it came from: timm's for a model imported
    /// from timm names (metadata `pytorch.naming`), the model's own otherwise.
    public static func stateDict(of model: Model) -> ParameterTree {
        guard model.metadata["pytorch.naming"] == "timm", let s = model.metadata["pytorch.stages"] else { return model.parameters }
        let lengths = s.split(separator: ",").compactMap { Int($0) }
        let expanded = Set(model.parameters.paths.compactMap { p -> Int? in
            let parts = p.split(separator: ".")
            return parts.count == 4 && parts[0] == "_blocks" && parts[2] == "_expand_conv" ? Int(parts[1]) : nil
        })
        let map = TorchEfficientNet.toTimm(model.parameters.paths, stageLengths: lengths, expanded: expanded)
        var out = ParameterTree()
        for (p, e) in model.parameters.entriesInOrder { out[map[p] ?? p] = e }
        return out
    }
}
