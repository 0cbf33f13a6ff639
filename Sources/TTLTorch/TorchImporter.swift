// PyTorch state dicts onto ttl's built-in architectures: read the file (TorchReader), find
// the architecture from the keys (TorchArchitecture) or take the one named, build it and load
// the weights strictly, so that a missing, unexpected or mis-shaped key is an error naming it.
import Foundation
import TTLCore
import TTLNN

public enum TorchImporter {
    /// Reads `url` (torch.save zip or legacy, or safetensors, sniffed by content) onto a built-in
    /// architecture: the one named by `architecture` (a torchvision name, `resnet50`), else the one
    /// its keys describe. The model's input is `[N, 3, imageSize, imageSize]`.
    public static func load(contentsOf url: URL, architecture: String? = nil, imageSize: Int = 224) throws(TorchImportError) -> Model {
        let state = try TorchReader.read(contentsOf: url)
        return try model(from: state, file: url.path, architecture: architecture, imageSize: imageSize)
    }

    /// Builds the architecture of `state` (or the one named) and loads its weights strictly.
    public static func model(from state: StateDict, file: String, architecture: String? = nil, imageSize: Int = 224) throws(TorchImportError) -> Model {
        var shapes: [String: [Int]] = [:]
        for (p, e) in state.tree.entriesInOrder { shapes[p] = e.tensor.shape.dimensions }
        let arch: TorchArchitecture
        if let architecture {
            guard let a = TorchArchitecture.named(architecture, shapes: shapes) else {
                throw TorchImportError(file: file, .architecture("unknown architecture '\(architecture)' (ttl builds \(TorchArchitecture.names.joined(separator: ", ")))"))
            }
            arch = a
        } else {
            switch TorchArchitecture.detect(shapes) {
            case let .success(a): arch = a
            case let .failure(f): throw TorchImportError(file: file, .architecture(f.message + "; name one with --arch (\(TorchArchitecture.names.joined(separator: ", ")))"))
            }
        }
        var c = arch.configuration
        c.imageSize = imageSize
        var model = ResNet.build(c)
        do { try model.load(state.tree) } catch { throw TorchImportError(file: file, .load(error.report)) }
        model.metadata["architecture.name"] = arch.name
        model.metadata["source_format"] = "pytorch"
        model.metadata["pytorch.format"] = state.format.rawValue
        model.metadata["pytorch.dtypes"] = state.dtypes.sorted().joined(separator: ",")
        if let w = state.wrapper { model.metadata["pytorch.state_dict_key"] = w }
        // A file ttl exported carries its labels and preprocessing.
        for key in ["labels", "preprocessing"] { if let v = state.metadata[key] { model.metadata[key] = v } }
        return model
    }
}
