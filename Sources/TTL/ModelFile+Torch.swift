// PyTorch checkpoints and safetensors files in the library façade (TTLTorch).
import Foundation
import TTLFineTune
import TTLNN
import TTLTorch

// MARK: PyTorch and safetensors (TTLTorch)

extension ModelFile {
    /// The extensions of PyTorch files: `.pth`, `.pt`, `.bin`, `.safetensors`.
    static var torchExtensions: [String] { TorchExporter.extensions }

    /// A PyTorch or safetensors file, by its first bytes or, failing that, its extension.
    static func isTorchFile(_ url: URL) -> Bool {
        TorchReader.recognises(url) || torchExtensions.contains(url.pathExtension.lowercased())
    }

    /// A PyTorch state dict (torch.save zip or legacy, or safetensors) onto the built-in
    /// architecture its keys describe, or `arch`; torchvision's ImageNet preprocessing unless
    /// the file (one ttl exported) says otherwise.
    /// Errors become ``TTLError/unsupportedFormat(file:reason:)`` (the `ttl` command prints them as
    /// one line); ``TorchImporter`` itself throws the typed ``TorchImportError``.
    static func loadTorch(_ url: URL, arch: String?) throws -> Model {
        var model: Model
        do { model = try TorchImporter.load(contentsOf: url, architecture: arch) } catch {
            throw TTLError.unsupportedFormat(file: error.file, reason: error.problem)
        }
        model.metadata["source"] = url.lastPathComponent
        if model.info.preprocessing == nil { model.info.preprocessing = .imagenet }
        return model
    }

    /// The weights under the names of the file they came from (torchvision's, timm's),
    /// labels and preprocessing in the file's metadata.
    static func saveTorch(_ model: Model, to url: URL) throws {
        var metadata: [String: String] = [:]
        for key in ModelInfo.Key.all + ["architecture.name"] { if let v = model.metadata[key] { metadata[key] = v } }
        do { try TorchExporter.write(TorchExporter.stateDict(of: model), metadata: metadata, to: url) } catch {
            throw TTLError.unsupportedFormat(file: error.file, reason: error.problem)
        }
    }
}
