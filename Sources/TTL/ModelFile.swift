import Foundation
import TTLCore
import TTLNN
import TTLHDF5
import TTLONNX

/// Something the library cannot do with a user's file, store or request; one readable line each.
public enum TTLError: Error, Equatable, CustomStringConvertible {
    /// A file ttl cannot read or write in the asked format.
    case unsupportedFormat(file: String, reason: String)
    /// A name that is neither a file nor a stored model; `known` lists the store.
    case unknownModel(String, known: [String])
    /// A store name with characters ttl does not allow.
    case invalidName(String)
    /// A store name already taken (without `--force`).
    case alreadyStored(String)
    /// Reading or writing a file failed.
    case io(file: String, message: String)
    /// A request that does not make sense (options that conflict, values out of range).
    case usage(String)
    /// The model computed a NaN or infinite score for an image.
    case nonFiniteOutput(file: String)

    /// The one line the CLI prints.
    public var description: String {
        switch self {
        case let .unsupportedFormat(file, reason): "\(file): \(reason)"
        case let .unknownModel(name, known):
            "no model '\(name)' in the store and no such file" + (known.isEmpty ? " (the store is empty; add one with `ttl import FILE`)" : " (stored: \(known.joined(separator: ", ")))")
        case let .invalidName(name): "'\(name)' is not a valid model name (letters, digits, '.', '_' and '-'; not starting with '.')"
        case let .alreadyStored(name): "a model named '\(name)' is already stored (use --force to replace it, or --name)"
        case let .io(file, message): "\(file): \(message)"
        case let .usage(message): message
        case let .nonFiniteOutput(file): "\(file): the model's output for this image is not a finite number (NaN or infinity); its weights may be damaged"
        }
    }
}

/// Reading and writing model files by their extension.
public enum ModelFile {
    /// Called with a Keras file (and `arch`) before it is read. libhdf5 1.10 can crash on some
    /// damaged files (it trusts the lengths stored with variable-length strings); the `ttl`
    /// command sets this to read the file in a child process first, so that such a file
    /// becomes an error instead of a crash. Nil (no check) by default.
    nonisolated(unsafe) public static var kerasFileCheck: ((URL, String?) throws -> Void)?

    /// The extensions ttl reads.
    public static let readable = ["onnx", "h5", "keras", "pth", "pt", "bin", "safetensors"]

    /// Reads a model file: `.onnx` (with external data beside it), Keras `.h5` (a full model)
    /// or `.keras`. With `arch`, a Keras weights-only `.h5` is loaded onto that built-in
    /// Keras application (`resnet50`, …, also spelled `keras-resnet50`).
    public static func load(_ url: URL, arch: String? = nil) throws -> Model {
        guard FileManager.default.fileExists(atPath: url.path) else { throw TTLError.io(file: url.path, message: "no such file") }
        if isTorchFile(url) {
            return try loadTorch(url, arch: arch)
        }
        switch url.pathExtension.lowercased() {
        case "onnx":
            var model = try ONNXImporter.load(contentsOf: url)
            model.metadata["source"] = url.lastPathComponent
            return model
        case "h5", "keras":
            try kerasFileCheck?(url, arch)
            var model = try KerasImporter.load(contentsOf: url, architecture: arch.map { $0.hasPrefix("keras-") ? String($0.dropFirst(6)) : $0 })
            model.metadata["source"] = url.lastPathComponent
            if let arch { model.metadata["architecture.name"] = arch.hasPrefix("keras-") ? arch : "keras-" + arch }
            return model
        default:
            throw TTLError.unsupportedFormat(file: url.path, reason: "unknown model format '.\(url.pathExtension)' (ttl reads .onnx, .h5, .keras, .pth, .pt, .bin and .safetensors)")
        }
    }

    /// Writes a model by the extension of `url` (`.onnx`, `.h5`), through a temporary file renamed into place.
    public static func save(_ model: Model, to url: URL) throws {
        switch url.pathExtension.lowercased() {
        case "onnx":
            try ONNXExporter.write(model, to: url)
        case "h5":
            try KerasExporter.write(model, to: url)
        case let ext where torchExtensions.contains(ext):
            try saveTorch(model, to: url)
        default:
            throw TTLError.unsupportedFormat(file: url.path, reason: "unknown model format '.\(url.pathExtension)' (ttl writes .onnx, .h5, .safetensors and .pth)")
        }
    }
}

/// Where `ttl import` keeps models: `$TTL_HOME/models/NAME.onnx` (default `~/.ttl`).
/// A stored model is a self-contained ONNX file written by ttl, its facts in metadata.
public struct ModelStore {
    /// `$TTL_HOME`, or `~/.ttl`.
    public let root: URL
    /// Where stored models live: `root/models`.
    public var modelsFolder: URL { root.appendingPathComponent("models") }

    /// The store at `root`, else at `$TTL_HOME`, else at `~/.ttl`.
    public init(root: URL? = nil) {
        if let root {
            self.root = root
        } else if let home = ProcessInfo.processInfo.environment["TTL_HOME"], !home.isEmpty {
            self.root = URL(fileURLWithPath: home)
        } else {
            self.root = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".ttl")
        }
    }

    /// Letters, digits, `.`, `_` and `-`, not starting with `.`, at most 128 characters.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && name.count <= 128
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0) }
    }

    /// The file a stored model lives in.
    public func file(for name: String) -> URL { modelsFolder.appendingPathComponent(name + ".onnx") }

    /// Stored model names, sorted.
    public func names() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: modelsFolder.path)) ?? []
        return files.filter { $0.hasSuffix(".onnx") && !$0.hasPrefix(".") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// Stores `model` under `name`; the store is unchanged if anything fails.
    public func save(_ model: Model, as name: String, replacing: Bool = false) throws {
        guard Self.isValidName(name) else { throw TTLError.invalidName(name) }
        if !replacing && FileManager.default.fileExists(atPath: file(for: name).path) { throw TTLError.alreadyStored(name) }
        do {
            try FileManager.default.createDirectory(at: modelsFolder, withIntermediateDirectories: true)
        } catch {
            throw TTLError.io(file: modelsFolder.path, message: error.localizedDescription)
        }
        var stored = model
        stored.metadata["name"] = name
        // Keep what the original file said about itself; the stored copy is written by ttl.
        for key in ["opset", "producer", "ir_version"] {
            if let v = model.metadata["onnx." + key], stored.metadata["source." + key] == nil { stored.metadata["source." + key] = v }
        }
        try ONNXExporter.write(stored, to: file(for: name))
    }

    /// Reads `url`, checks it, and stores it under `name`. A self-contained ONNX file is stored
    /// byte for byte; one with external data is stored as a self-contained file written by ttl.
    /// The store is unchanged if anything fails.
    /// With `arch`, `url` is a folder of `.npy` weights for that built-in architecture; `edit`
    /// may change the model (its metadata) before it is stored.
    @discardableResult
    public func importFile(_ url: URL, as name: String, replacing: Bool = false, arch: String? = nil,
                           edit: (inout Model) throws -> Void = { _ in }) throws -> Model {
        guard Self.isValidName(name) else { throw TTLError.invalidName(name) }
        if !replacing && FileManager.default.fileExists(atPath: file(for: name).path) { throw TTLError.alreadyStored(name) }
        let kerasFile = (["h5", "keras"].contains(url.pathExtension.lowercased()) || ModelFile.isTorchFile(url)) && !url.hasDirectoryPath
        var model = try kerasFile ? ModelFile.load(url, arch: arch) : arch.map { try Architectures.load($0, weights: url) } ?? ModelFile.load(url)
        let before = model.metadata
        try edit(&model)
        if arch == nil && model.metadata == before && url.pathExtension.lowercased() == "onnx" && model.metadata["onnx.external_data"] == nil {
            // Copied to a temporary name in the store, then renamed: never a half-written model.
            let temporary = modelsFolder.appendingPathComponent(".\(name).\(ProcessInfo.processInfo.processIdentifier).tmp")
            do {
                try FileManager.default.createDirectory(at: modelsFolder, withIntermediateDirectories: true)
                try? FileManager.default.removeItem(at: temporary)
                try FileManager.default.copyItem(at: url, to: temporary)
                if rename(temporary.path, file(for: name).path) != 0 {
                    throw TTLError.io(file: file(for: name).path, message: String(cString: strerror(errno)))
                }
            } catch {
                try? FileManager.default.removeItem(at: temporary)
                throw TTLError.io(file: file(for: name).path, message: error.localizedDescription)
            }
        } else {
            try save(model, as: name, replacing: replacing)
        }
        return model
    }

    /// Deletes a stored model.
    public func remove(_ name: String) throws {
        guard Self.isValidName(name), FileManager.default.fileExists(atPath: file(for: name).path) else {
            throw TTLError.unknownModel(name, known: names())
        }
        do { try FileManager.default.removeItem(at: file(for: name)) } catch {
            throw TTLError.io(file: file(for: name).path, message: error.localizedDescription)
        }
    }

    /// A model named by the user: a path to a model file, or a stored name.
    public func load(_ reference: String) throws -> Model {
        let url = URL(fileURLWithPath: reference)
        if FileManager.default.fileExists(atPath: url.path), !url.hasDirectoryPath {
            return try ModelFile.load(url)
        }
        if Self.isValidName(reference), FileManager.default.fileExists(atPath: file(for: reference).path) {
            return try ONNXImporter.load(contentsOf: file(for: reference))
        }
        if reference.contains("/") || ModelFile.readable.contains(url.pathExtension.lowercased()) {
            throw TTLError.io(file: reference, message: "no such file")
        }
        throw TTLError.unknownModel(reference, known: names())
    }
}
