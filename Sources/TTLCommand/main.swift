// The `ttl` command: thin over the TTL library. Every failure prints one line and exits 1.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLNN
import TTLONNX

struct TTLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ttl",
        abstract: "Transfer learning in Swift: import pretrained models, fine-tune them, export them.",
        discussion: """
            Models live in the store at $TTL_HOME (default ~/.ttl). MODEL is a stored name or a model file.

            Example:
              ttl import resnet18.onnx
              ttl run resnet18 --input batch.npy --output logits.npy
            """,
        subcommands: [Import.self, Show.self, List.self, Remove.self, Run.self, Bench.self, Export.self]
    )
}

struct Threads: ParsableArguments {
    @Option(help: "Threads for ttl's kernels and BLAS (default: all cores, or $TTL_NUM_THREADS).")
    var threads: Int?

    func apply() { if let threads { ComputeThreads.count = max(1, threads) } }
}

extension TTLCommand {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a model file and add it to the store.",
            discussion: """
                Example:
                  ttl import resnet18.onnx
                  ttl import ~/Downloads/model.onnx --name birds-backbone
                """)

        @Argument(help: "The model file (.onnx; external data is read from beside it).") var file: String
        @Option(help: "The name to store it under (default: the file name without extension).") var name: String?
        @Flag(help: "Replace a stored model of the same name.") var force = false

        func run() throws {
            let url = URL(fileURLWithPath: file)
            let name = self.name ?? url.deletingPathExtension().lastPathComponent
            let model = try ModelStore().importFile(url, as: name, replacing: force)
            let description = try ModelDescription(model)
            print("imported \(url.lastPathComponent) as '\(name)'")
            print(description.render())
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

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a model on a .npy batch and write its first output as .npy.",
            discussion: """
                The input is float32 laid out exactly as the source model takes it (NCHW for PyTorch
                exports); the output is the model's first output exactly as the source framework gives it.

                Example:
                  ttl run resnet18 --input batch.npy --output logits.npy
                """)
        @Argument(help: "A stored name or a model file.") var model: String
        @Option(help: "Input batch (.npy, any numeric dtype; converted to float32).") var input: String
        @Option(help: "Where to write the output (.npy, float32).") var output: String
        @OptionGroup var threads: Threads

        func run() throws {
            threads.apply()
            let m = try ModelStore().load(model)
            guard let spec = m.inputs.first else { throw TTLError.usage("the model has no input") }
            let x = try NPY.readTensor(URL(fileURLWithPath: input))
            guard spec.accepts(x.shape) else {
                throw TTLError.usage("\(input): shape \(x.shape) does not fit input '\(spec.name)' [\(spec.dimensions.map { $0.map(String.init) ?? "N" }.joined(separator: ", "))]")
            }
            let y = try m.run([spec.name: x])[m.outputs[0]]!
            do { try NPY.write(y, to: URL(fileURLWithPath: output)) } catch {
                throw TTLError.io(file: output, message: error.localizedDescription)
            }
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure images/s and peak memory, for inference or (--train) a head-only training step.",
            discussion: """
                Example:
                  ttl bench resnet18 --batch 32 --threads 2
                  ttl bench resnet18 --train
                """)
        @Argument(help: "A stored name or a model file.") var model: String
        @Option(help: "Images per batch.") var batch = 32
        @Option(help: "Timed runs (the best is reported).") var repeats = 3
        @Flag(help: "Time a training step with only the head trainable.") var train = false
        @OptionGroup var threads: Threads

        func run() throws {
            threads.apply()
            let m = try ModelStore().load(model)
            let r = try Benchmark.run(m, batch: batch, train: train, repeats: repeats)
            print(String(format: "%@: %.1f images/s (%.3f s per batch of %d, %d threads, %@), peak memory %.0f MiB",
                         model, r.imagesPerSecond, r.secondsPerBatch, batch, ComputeThreads.count,
                         train ? "training step, head only" : "inference", r.peakMemoryMiB))
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a model as a self-contained ONNX file.",
            discussion: """
                The file is written to a temporary name and renamed, so an interrupted export leaves nothing.

                Example:
                  ttl export resnet18 --output resnet18-ttl.onnx
                """)
        @Argument(help: "A stored name or a model file.") var model: String
        @Option(help: "The file to write (.onnx).") var output: String

        func run() throws {
            let m = try ModelStore().load(model)
            try ModelFile.save(m, to: URL(fileURLWithPath: output))
            print("wrote \(output)")
        }
    }
}

// Errors of the library print as one line on standard error; argument errors keep ArgumentParser's usage help.
func fail(_ error: Error) -> Never {
    FileHandle.standardError.write(Data("ttl: \(error)\n".utf8))
    exit(1)
}

do {
    var command = try TTLCommand.parseAsRoot()
    try command.run()
} catch let e as TTLError { fail(e)
} catch let e as ONNXError { fail(e)
} catch let e as NPYError { fail(e)
} catch let e as GraphError { fail(e)
} catch let e as GraphEditError { fail(e)
} catch let e as LoadError { fail(e)
} catch let e as FreezeError { fail(e)
} catch {
    TTLCommand.exit(withError: error)
}
