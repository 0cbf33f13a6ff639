// `ttl run`, `bench`, `export`: a stored model run, timed or written out.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLNN
import TTLFineTune
import TTLHDF5
import TTLONNX

extension TTLCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a model on a .npy batch and write its first output as .npy.",
            discussion: """
                The input is float32 laid out exactly as the source model takes it (NCHW for PyTorch exports, NHWC for Keras models); the output is the model's first output exactly as the source framework gives it.

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
            abstract: "Measure images/s and peak memory, for inference or (--train) a training step.",
            discussion: """
                Inference runs the model as the engine's prepared plan (oneDNN; TTL_ENGINE=reference for ttl's Swift kernels); the time to prepare it is shown. A training step is forward, cross-entropy and backward with the head trainable, and the stages from --unfreeze-from.

                Example:
                  ttl bench resnet18 --batch 32 --threads 2
                  ttl bench resnet18 --train --unfreeze-from layer4
                """)
        @Argument(help: "A stored name or a model file.") var model: String
        @Option(help: "Images per batch.") var batch = 32
        @Option(help: "Timed runs (the best is reported).") var repeats = 3
        @Flag(help: "Time a training step.") var train = false
        @Option(help: "With --train: also train the stages from this one on (e.g. layer4).") var unfreezeFrom: String?
        @Flag(help: "Print one JSON object.") var json = false
        @OptionGroup var threads: Threads

        func run() throws {
            threads.apply()
            if unfreezeFrom != nil && !train { throw TTLError.usage("--unfreeze-from needs --train") }
            let m = try ModelStore().load(model)
            let r = try Benchmark.run(m, batch: batch, train: train, unfreezeFrom: unfreezeFrom, repeats: repeats)
            let what = !train ? "inference" : unfreezeFrom.map { "training step, \($0) on and the head" } ?? "training step, head only"
            if json {
                var fields = ["\"images_per_second\": \(r.imagesPerSecond)", "\"seconds_per_batch\": \(r.secondsPerBatch)",
                              "\"peak_memory_mib\": \(r.peakMemoryMiB)", "\"batch\": \(batch)", "\"threads\": \(ComputeThreads.count)",
                              "\"engine\": \"\(r.engine)\"", "\"mode\": \"\(what)\""]
                if let p = r.planSeconds { fields.append("\"plan_seconds\": \(p)") }
                print("{" + fields.joined(separator: ", ") + "}")
                return
            }
            print(String(format: "%@: %.1f images/s (%.3f s per batch of %d, %d threads, %@), peak memory %.0f MiB",
                         model, r.imagesPerSecond, r.secondsPerBatch, batch, ComputeThreads.count, what, r.peakMemoryMiB))
            var engine = "engine: \(r.engine)"
            if let p = r.planSeconds, let plan = r.plan { engine += String(format: "; plan prepared in %.1f ms: ", p * 1000) + plan.description }
            print(engine)
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a model as a self-contained ONNX file or a Keras HDF5 file.",
            discussion: """
                The file is written to a temporary name and renamed, so an interrupted export leaves nothing.

                Example:
                  ttl export resnet18 --output resnet18-ttl.onnx
                  ttl export birds --output birds.h5           # tf.keras and Keras 3 load it
                  ttl export birds --output birds.safetensors  # PyTorch names; also .pth
                """)
        @Argument(help: "A stored name or a model file.") var model: String
        @Option(help: "The file to write (.onnx, .h5, .safetensors or .pth).") var output: String

        func run() throws {
            let m = try ModelStore().load(model)
            try ModelFile.save(m, to: URL(fileURLWithPath: output))
            print("wrote \(output)")
        }
    }
}
