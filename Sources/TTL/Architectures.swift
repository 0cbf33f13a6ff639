import Foundation
import TTLCore
import TTLNN

/// The built-in architectures by the names `ttl import --arch` takes.
public enum Architectures {
    /// Every name, sorted within each family: torchvision's, `efficientnet-lite0`, then Keras's as `keras-<name>`.
    public static var names: [String] {
        ResNet.named.keys.sorted() + ["efficientnet-lite0"] + KerasResNet.named.keys.sorted().map { "keras-" + $0 }
    }

    /// The architecture `name` with untrained weights (its name in `architecture.name` metadata); nil for an unknown name.
    public static func build(_ name: String) -> Model? {
        var model: Model
        if let c = ResNet.named[name] {
            model = ResNet.build(c)
        } else if name == "efficientnet-lite0" {
            model = EfficientNetLite.build(.lite0)
        } else if name.hasPrefix("keras-"), let c = KerasResNet.named[String(name.dropFirst(6))] {
            model = KerasResNet.build(c)
        } else {
            return nil
        }
        model.metadata["architecture.name"] = name
        return model
    }

    /// A built-in architecture with weights from a folder of `.npy` files named by parameter
    /// path (`layer1.0.conv1.weight.npy`). Every path must match, with its shape.
    public static func load(_ name: String, weights folder: URL) throws -> Model {
        guard var model = build(name) else {
            throw TTLError.usage("unknown architecture '\(name)'; ttl knows \(names.joined(separator: ", "))")
        }
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".npy") }.sorted() } catch {
            throw TTLError.io(file: folder.path, message: error.localizedDescription)
        }
        var tree = ParameterTree()
        for f in files {
            let path = String(f.dropLast(4))
            guard ParameterTree.isValidPath(path) else { continue }
            tree[path] = .init(try NPY.readTensor(folder.appendingPathComponent(f)))
        }
        do { try model.load(tree) } catch {
            throw TTLError.io(file: folder.path, message: "\(error)")
        }
        return model
    }
}
