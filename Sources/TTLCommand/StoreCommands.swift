// `ttl import`, `show`, `list`, `remove`: the model store.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLNN
import TTLFineTune
import TTLHDF5
import TTLONNX

extension TTLCommand {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a model file and add it to the store.",
            discussion: """
                Example:
                  ttl import resnet18.onnx
                  ttl import model.onnx --name birds --mean 0.5,0.5,0.5 --std 0.5,0.5,0.5
                  ttl import model.h5                    # a Keras model, .h5 or .keras
                  ttl import resnet18-f37072fd.pth       # a PyTorch state dict or .safetensors
                  ttl import weights.h5 --arch resnet50  # weights only, onto Keras ResNet50
                  ttl import weights/ --arch resnet18    # .npy files named by parameter path
                """)

        @Argument(help: "The model file (.onnx, external data read from beside it; Keras .h5 or .keras; a PyTorch .pth/.pt/.bin or .safetensors state dict), or with --arch a folder of .npy weights or a Keras weights-only .h5.") var file: String
        @Option(help: "The name to store it under (default: the file name without extension).") var name: String?
        @Option(help: "A built-in architecture for a weights folder (\(Architectures.names.joined(separator: ", "))) or, for a Keras weights-only file, a Keras application (\(KerasImporter.architectures.joined(separator: ", "))), or for a PyTorch file the torchvision or timm name (resnet50, tf_efficientnet_lite0, efficientnet_lite0) when its keys do not say.") var arch: String?
        @Option(help: "A JSON file with the class labels, in output order.") var labels: String?
        @Flag(help: "Replace a stored model of the same name.") var force = false
        @OptionGroup var preprocessing: PreprocessingOptions

        func run() throws {
            let url = URL(fileURLWithPath: file)
            let name = self.name ?? url.deletingPathExtension().lastPathComponent
            var notice: String? = nil
            let model = try ModelStore().importFile(url, as: name, replacing: force, arch: arch) { m in
                let (p, n) = try preprocessing.apply(to: m)
                if preprocessing.isSet {
                    m.info.preprocessing = p
                } else {
                    notice = n
                }
                if let labels {
                    guard let data = FileManager.default.contents(atPath: labels),
                          let list = try? JSONDecoder().decode([String].self, from: data) else {
                        throw TTLError.io(file: labels, message: "not a JSON array of strings")
                    }
                    m.info.labels = list
                }
            }
            let description = try ModelDescription(model)
            print("imported \(url.lastPathComponent) as '\(name)'")
            print(description.render())
            if let notice { FileHandle.standardError.write(Data("ttl: note: \(notice)\n".utf8)) }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Describe a model: architecture, parameters, FLOPs, input, head; --layers for every layer.",
            discussion: """
                Example:
                  ttl show resnet18 --layers
                """)
        @Argument(help: "A stored name or a model file.") var model: String
        @Flag(help: "Print the per-layer table.") var layers = false

        func run() throws {
            let m = try ModelStore().load(model)
            let description = try ModelDescription(m)
            print(description.render())
            if layers {
                print("")
                print(description.summary.render())
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the stored models.",
            discussion: """
                Example:
                  ttl list
                """)

        func run() throws {
            let store = ModelStore()
            let names = store.names()
            if names.isEmpty {
                print("no models in \(store.modelsFolder.path); add one with `ttl import FILE`")
                return
            }
            for name in names {
                let size = (try? FileManager.default.attributesOfItem(atPath: store.file(for: name).path)[.size] as? Int) ?? 0
                print(String(format: "%@  %.1f MB", name, Double(size) / 1e6))
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a model from the store.",
            discussion: """
                Example:
                  ttl remove resnet18
                """)
        @Argument(help: "The stored name.") var name: String

        func run() throws {
            try ModelStore().remove(name)
            print("removed '\(name)'")
        }
    }
}
