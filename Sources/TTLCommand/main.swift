// The `ttl` command: thin over the TTL library. Every failure prints one line and exits 1.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLNN
import TTLFineTune
import TTLHDF5
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
        subcommands: [Import.self, Show.self, List.self, Remove.self, Run.self, Bench.self, Export.self,
                      FineTune.self, Features.self, Predict.self, Evaluate.self, Cache.self, ProbeKeras.self]
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
                  ttl import ~/Downloads/model.onnx --name birds-backbone --mean 0.5,0.5,0.5 --std 0.5,0.5,0.5
                  ttl import weights/ --arch resnet18     (a folder of .npy files named by parameter path)
                  ttl import model.h5                     (a Keras full model: .h5 or .keras)
                  ttl import resnet50_weights.h5 --arch resnet50   (Keras weights only, onto a built-in Keras application)
                  ttl import resnet18-f37072fd.pth        (a PyTorch state dict or .safetensors; the architecture from its keys)
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
                    m.metadata["preprocessing"] = p.json
                } else {
                    notice = n
                }
                if let labels {
                    guard let data = FileManager.default.contents(atPath: labels),
                          let list = try? JSONDecoder().decode([String].self, from: data) else {
                        throw TTLError.io(file: labels, message: "not a JSON array of strings")
                    }
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.withoutEscapingSlashes]
                    m.metadata["labels"] = String(decoding: try encoder.encode(list), as: UTF8.self)
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

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a model on a .npy batch and write its first output as .npy.",
            discussion: """
                The input is float32 laid out exactly as the source model takes it (NCHW for PyTorch
                exports, NHWC for Keras models); the output is the model's first output exactly as the
                source framework gives it.

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
                  ttl export birds --output birds.h5      (a Keras full model: tf.keras and Keras 3 load it)
                  ttl export birds --output birds.safetensors   (the weights under their own names; also .pth)
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

/// `--mean`, `--std`, `--resize`, `--size`: set or override a model's preprocessing.
struct PreprocessingOptions: ParsableArguments {
    @Option(help: "Per-channel mean on the 0–1 scale, as R,G,B.") var mean: String?
    @Option(help: "Per-channel standard deviation on the 0–1 scale, as R,G,B.") var std: String?
    @Option(help: "crop (shorter side to size·256/224, centre crop) or squash (whole image to size).") var resize: String?
    @Option(help: "Input size in pixels (default: the model's).") var size: Int?
    @Option(help: "rgb, or bgr for networks trained on BGR images (Keras ResNet50/101/152); --mean and --std are then B,G,R.") var channels: String?

    /// Whether any option was given.
    var isSet: Bool { mean != nil || std != nil || resize != nil || size != nil || channels != nil }

    func apply(to model: Model) throws -> (Preprocessing, notice: String?) {
        var (p, notice): (Preprocessing, String?) = (Classifier.preprocessing(of: model), nil)
        if model.metadata["preprocessing"] == nil && (mean == nil || std == nil || resize == nil) {
            let defaults = [mean == nil ? "ImageNet's mean" : nil, std == nil ? "ImageNet's std" : nil, resize == nil ? "center crop" : nil].compactMap { $0 }
            notice = "the model carries no preprocessing: using \(defaults.joined(separator: ", ")) (set --mean, --std, --resize to change)"
        }
        func triple(_ s: String, _ name: String) throws -> [Float] {
            let v = s.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard v.count == 3 else { throw TTLError.usage("--\(name) takes three numbers, R,G,B (got '\(s)')") }
            return v
        }
        if let mean { p.mean = try triple(mean, "mean") }
        if let std {
            p.std = try triple(std, "std")
            guard p.std.allSatisfy({ $0 > 0 }) else { throw TTLError.usage("--std must be positive") }
        }
        if let resize {
            guard let r = Preprocessing.Resize(rawValue: resize) else { throw TTLError.usage("--resize takes crop or squash (got '\(resize)')") }
            p.resize = r
        }
        if let size { p.size = size }
        if let channels {
            guard let c = Preprocessing.ChannelOrder(rawValue: channels) else { throw TTLError.usage("--channels takes rgb or bgr (got '\(channels)')") }
            p.channels = c == .rgb ? nil : c
        }
        if let s = model.imageInputSize, s.height != p.size {
            throw TTLError.usage("the model takes \(s.height)×\(s.width) images; --size \(p.size) does not fit")
        }
        return (p, notice)
    }
}

extension TTLCommand {
    struct FineTune: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "finetune",
            abstract: "Teach a pretrained backbone your classes: a new head, trained on DIR/<class>/*.jpg|png.",
            discussion: """
                DIR holds one folder per class, or train/ and val/ folders of class folders. With the
                backbone frozen (the default) each image goes through it once and its features are
                cached under $TTL_HOME/cache (or --cache), so later epochs and later runs cost almost
                nothing; `ttl features` fills the cache ahead, on many machines at once.

                --fine-tune trains in two phases (fastai's fine_tune): the head alone for
                --freeze-epochs on the frozen backbone, then --epochs end to end (from --unfreeze-from,
                or the whole backbone) with the backbone at --backbone-lr (default: --lr / 10).

                Ctrl-C stops at the end of the current epoch (of the current batch when training end
                to end), saves a checkpoint and exits with status 130; a second Ctrl-C quits at once.
                The checkpoint goes beside the output: OUTPUT.ttlckpt/ for a file, or
                $TTL_HOME/checkpoints/NAME.ttlckpt/ for a store name. The same command with --resume
                continues it and ends exactly as an uninterrupted run would; it must have the same
                data, backbone, preprocessing and options. A run that finishes removes the checkpoint.

                Example:
                  ttl finetune --data photos --model resnet18 --epochs 10 --output birds
                  ttl finetune --data photos --model resnet18 --unfreeze-from layer4 --lr 1e-4 --output birds.onnx
                  ttl finetune --data photos --model resnet18 --fine-tune --epochs 5 --output birds
                  ttl finetune --data photos --model resnet18 --epochs 10 --output birds --resume
                """)
        @Option(help: "The dataset folder.") var data: String
        @Option(help: "The backbone: a stored name or a model file (default: the embedded EfficientNet-Lite0).") var model: String?
        @Option(help: "Epochs (of the end-to-end phase with --fine-tune).") var epochs = 5
        @Option(name: .customLong("batch-size"), help: "Images per step.") var batchSize = 32
        @Option(help: "Learning rate (peak rate for one-cycle); the head's with --backbone-lr.") var lr: Float = 1e-3
        @Option(help: "sgd or adamw.") var optimizer = "adamw"
        @Option(help: "cosine, one-cycle or constant.") var schedule = "cosine"
        @Option(name: .customLong("weight-decay"), help: "Weight decay (default 0.01 for adamw, 0 for sgd).") var weightDecay: Float?
        @Flag(help: "Nesterov momentum (sgd).") var nesterov = false
        @Option(name: .customLong("label-smoothing"), help: "Label smoothing ε.") var labelSmoothing: Float = 0
        @Option(name: .customLong("unfreeze-from"), help: "Also train this stage and everything after it (e.g. layer4).") var unfreezeFrom: String?
        @Flag(help: "Random resized crops and horizontal flips while training (runs the backbone every epoch).") var augment = false
        @Flag(name: .customLong("fine-tune"), help: "Two phases: the head alone first (--freeze-epochs), then end to end for --epochs.") var fineTune = false
        @Option(name: .customLong("freeze-epochs"), help: "With --fine-tune: epochs of the head alone first (default 1).") var freezeEpochs: Int?
        @Option(name: .customLong("backbone-lr"), help: "Learning rate of the unfrozen backbone (default: --lr / 10 with --fine-tune, else --lr).") var backboneLR: Float?
        @Option(name: .customLong("val-split"), help: "Share of each class held out for validation when DIR has no val/ folder (0: train on all, keep the last epoch).") var valSplit = 0.2
        @Option(help: "Stop after this many epochs without a better validation loss.") var patience: Int?
        @Option(help: "Random seed: the split, the shuffling, the new head.") var seed: UInt64 = 0
        @Option(help: "Where to put the result: a store name, or a file ending in .onnx (default: NAME-finetuned in the store).") var output: String?
        @Flag(help: "Continue the run that Ctrl-C stopped (its checkpoint beside the output; same options).") var resume = false
        @Flag(help: "One JSON object per epoch instead of text lines.") var json = false
        @Flag(help: "Fail on an unreadable image instead of skipping it.") var strict = false
        @OptionGroup var cacheOption: CacheOption
        @OptionGroup var preprocessing: PreprocessingOptions
        @OptionGroup var threads: Threads

        func run() throws {
            threads.apply()
            let store = ModelStore()
            if freezeEpochs != nil && !fineTune { throw TTLError.usage("--freeze-epochs needs --fine-tune") }
            if backboneLR != nil && !fineTune && unfreezeFrom == nil {
                throw TTLError.usage("--backbone-lr needs --unfreeze-from or --fine-tune (otherwise the backbone is frozen)")
            }
            let (backbone, backboneName) = try loadBackbone(model, store: store)
            let destination = output ?? "\(backboneName)-finetuned"
            // A path or a model-file extension means a file; anything else is a store name.
            let toFile = destination.contains("/") || [".onnx", ".h5", ".keras"].contains { destination.lowercased().hasSuffix($0) }
            if toFile && !destination.lowercased().hasSuffix(".onnx") && !destination.lowercased().hasSuffix(".h5") {
                throw TTLError.unsupportedFormat(file: destination, reason: "fine-tuned models are written as .onnx, .h5 or to the store (a name without extension)")
            }
            if !toFile && !ModelStore.isValidName(destination) { throw TTLError.invalidName(destination) }
            let checkpointFolder = toFile ? URL(fileURLWithPath: destination + ".ttlckpt")
                : store.root.appendingPathComponent("checkpoints").appendingPathComponent(destination + ".ttlckpt")
            if resume && !FileManager.default.fileExists(atPath: checkpointFolder.path) {
                throw TTLError.usage("nothing to resume: no checkpoint at \(checkpointFolder.path)")
            }
            let checkpoint = resume ? try FineTuneCheckpoint.read(from: checkpointFolder) : nil
            let (p, notice) = try preprocessing.apply(to: backbone)
            if let notice { FileHandle.standardError.write(Data("ttl: note: \(notice)\n".utf8)) }
            let dataset = try ImageFolder(root: URL(fileURLWithPath: data), validationSplit: valSplit, seed: seed, strict: strict)
            if !dataset.skipped.isEmpty {
                FileHandle.standardError.write(Data("ttl: warning: skipped \(dataset.skipped.count) unreadable image(s): \(dataset.skipped.joined(separator: "; "))\n".utf8))
            }
            var o = FineTuneOptions()
            o.epochs = epochs; o.batchSize = batchSize; o.learningRate = lr; o.seed = seed
            guard let opt = FineTuneOptions.OptimizerKind(rawValue: optimizer) else { throw TTLError.usage("--optimizer takes sgd or adamw") }
            guard let sched = Schedule(rawValue: schedule) else { throw TTLError.usage("--schedule takes cosine, one-cycle or constant") }
            o.optimizer = opt; o.schedule = sched; o.weightDecay = weightDecay; o.nesterov = nesterov
            o.labelSmoothing = labelSmoothing; o.unfreezeFrom = unfreezeFrom; o.augment = augment; o.patience = patience
            o.freezeEpochs = fineTune ? (freezeEpochs ?? 1) : nil
            o.backboneLearningRate = backboneLR
            try o.validate()
            try checkpoint?.verify(backbone: backbone, data: dataset, preprocessing: p, options: o)
            if !resume && FileManager.default.fileExists(atPath: checkpointFolder.path) {
                FileHandle.standardError.write(Data("ttl: note: \(checkpointFolder.path) holds the checkpoint of an interrupted run; this run starts over (--resume continues it)\n".utf8))
            }
            // Ctrl-C asks the trainer to stop at its next checkpoint; installed before the first line,
            // so that anything which has seen output may interrupt.
            let interrupt = InterruptRequest()
            interrupt.install()
            if !json {
                print("fine-tuning \(backboneName) on \(dataset.classes.count) classes (\(dataset.classes.joined(separator: ", "))): \(dataset.train.count) training and \(dataset.validation.count) validation images")
                if let checkpoint {
                    let batch = checkpoint.batchesDone > 0 ? " and \(checkpoint.batchesDone) batches of epoch \(checkpoint.epochsDone + 1)" : ""
                    print("resuming after epoch \(checkpoint.epochsDone)/\(checkpoint.totalEpochs)\(batch) from \(checkpointFolder.path)")
                }
            }
            fflush(nil)
            let cache = FeatureCache(folder: cacheOption.folder(store))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            // On a terminal, a progress bar while images go through the backbone; plain lines otherwise.
            let bar = ProgressBar(enabled: isatty(1) == 1 && !json)
            let total = o.totalEpochs
            var featuresReported = false
            let result = try FineTuner.fit(backbone, data: dataset, preprocessing: p, options: o, cache: cache, resumingFrom: checkpoint, progress: { r in
                if !json && !featuresReported && cache.computed + cache.found > 0 {
                    bar.endLine()
                    print("features: \(cache.computed) computed, \(cache.found) from the cache in \(cache.folder!.path)")
                    featuresReported = true
                }
                if json {
                    print(String(decoding: (try? encoder.encode(r)) ?? Data(), as: UTF8.self))
                } else {
                    var line = String(format: "epoch %d/%d  train loss %.4f  acc %.1f%%", r.epoch, total, r.trainLoss, r.trainAccuracy * 100)
                    if let vl = r.validationLoss, let va = r.validationAccuracy { line += String(format: "  val loss %.4f  acc %.1f%%", vl, va * 100) }
                    // An epoch on cached features takes milliseconds; a rate would be noise.
                    line += (r.seconds >= 0.1 ? String(format: "  %.1f s  %.0f images/s", r.seconds, r.imagesPerSecond)
                                              : String(format: "  %.2f s", r.seconds)) + (r.best ? "  *" : "")
                    print(line)
                }
                fflush(nil)
            }, imagesDone: bar.update, shouldStop: { interrupt.requested })
            bar.endLine()
            if let paused = result.checkpoint {
                try paused.write(to: checkpointFolder)
                let batch = paused.batchesDone > 0 ? " and \(paused.batchesDone) batches of epoch \(paused.epochsDone + 1)" : ""
                let point = paused.epochsDone == 0 && paused.batchesDone == 0 ? "while computing features (those computed are cached)"
                    : "after epoch \(paused.epochsDone)/\(paused.totalEpochs)\(batch)"
                let command = (CommandLine.arguments + (resume ? [] : ["--resume"])).map(shellQuoted).joined(separator: " ")
                FileHandle.standardError.write(Data("ttl: interrupted \(point); checkpoint saved in \(checkpointFolder.path); to continue: \(command)\n".utf8))
                throw ExitCode(130)
            }
            if let why = result.stoppedEarly { FileHandle.standardError.write(Data("ttl: stopped: \(why)\n".utf8)) }
            var model = result.model
            model.metadata["architecture.base"] = backboneName
            if toFile {
                try ModelFile.save(model, to: URL(fileURLWithPath: destination))
            } else {
                try store.save(model, as: destination, replacing: true)
            }
            // The run finished: its checkpoint (or a stale one at the same place) has served.
            try? FileManager.default.removeItem(at: checkpointFolder)
            if !json {
                let best = result.history.first { $0.epoch == result.bestEpoch }
                let acc = best?.validationAccuracy.map { String(format: ", validation accuracy %.1f%%", $0 * 100) } ?? ""
                print("kept epoch \(result.bestEpoch)\(acc); saved to \(destination)")
            }
        }
    }

    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Classify images: the most likely labels with their probabilities.",
            discussion: """
                Example:
                  ttl predict birds photo1.jpg photo2.png --top 3
                """)
        @Argument(help: "A stored name or a model file.") var model: String
        @Argument(help: "Image files (JPEG or PNG).") var images: [String]
        @Option(help: "How many labels per image.") var top = 5
        @OptionGroup var threads: Threads

        func run() throws {
            threads.apply()
            let classifier = try Classifier(ModelStore().load(model))
            if classifier.usesDefaultPreprocessing {
                FileHandle.standardError.write(Data("ttl: note: the model carries no preprocessing: using ImageNet's mean and std with center crop\n".utf8))
            }
            let urls = images.map { URL(fileURLWithPath: $0) }
            for url in urls {
                do { try ImageDecoder.validate(contentsOf: url) } catch { throw TTLError.io(file: url.path, message: "\(error.reason)") }
            }
            for (path, labels) in zip(images, try classifier.predict(urls, top: top)) {
                print("\(path): " + labels.map { String(format: "%@ %.3f", $0.label, $0.probability) }.joined(separator: ", "))
            }
        }
    }

    struct Evaluate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Accuracy, per-class precision and recall, and the confusion matrix on labelled images.",
            discussion: """
                Uses DIR/val/ when DIR has train/ and val/ folders, otherwise every image of DIR/<class>/.

                Example:
                  ttl evaluate birds --data photos
                """)
        @Argument(help: "A stored name or a model file.") var model: String
        @Option(help: "The dataset folder.") var data: String
        @OptionGroup var threads: Threads

        func run() throws {
            threads.apply()
            let classifier = try Classifier(ModelStore().load(model))
            let dataset = try ImageFolder(root: URL(fileURLWithPath: data), validationSplit: 0)
            let samples = dataset.validation.isEmpty ? dataset.train : dataset.validation
            print(try classifier.evaluate(samples, classes: dataset.classes).render())
        }
    }

    struct Cache: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or clear the feature cache ($TTL_HOME/cache).",
            discussion: """
                Example:
                  ttl cache info
                  ttl cache clear
                """)
        @Argument(help: "info or clear.") var action: String
        @OptionGroup var cacheOption: CacheOption

        func run() throws {
            let cache = FeatureCache(folder: cacheOption.folder(ModelStore()))
            switch action {
            case "info": print(String(format: "feature cache: %.1f MB in %@", Double(cache.size()) / 1e6, cache.folder!.path))
            case "clear":
                do { try cache.clear() } catch { throw TTLError.io(file: cache.folder!.path, message: error.localizedDescription) }
                print("cleared \(cache.folder!.path)")
            default: throw TTLError.usage("ttl cache takes info or clear")
            }
        }
    }
}

/// The progress bar of `ttl finetune` on a terminal: images/s and ETA while images go through
/// the backbone, one bar per pass (computing features, each end-to-end epoch); nothing otherwise.
final class ProgressBar {
    let enabled: Bool
    /// Where the current pass started: images already done then, and when.
    private var start: (done: Int, time: Date)? = nil
    /// A bar is drawn on the current line, unfinished.
    private var open = false

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ done: Int, _ total: Int) {
        guard enabled, total > 0 else { return }
        let now = Date()
        if start == nil || done < start!.done { start = (done, now) }
        let (done0, t0) = start!
        let rate = Double(done - done0) / max(now.timeIntervalSince(t0), 1e-6)
        let eta = rate > 0 ? Int(Double(total - done) / rate) : nil
        let filled = 30 * min(done, total) / total
        print(String(format: "\r[%@%@] %d/%d images  %.1f images/s  ETA %@ ", String(repeating: "=", count: filled),
                     String(repeating: " ", count: 30 - filled), done, total, rate,
                     eta.map { String(format: "%d:%02d", $0 / 60, $0 % 60) } ?? "--:--"), terminator: done >= total ? "\n" : "")
        open = done < total
        if done >= total { start = nil }
        fflush(nil)
    }

    /// Ends a bar left unfinished (the run stopped in the middle of a pass).
    func endLine() {
        if open { print(""); open = false }
    }
}

/// Ctrl-C during `ttl finetune`: the first asks the trainer to stop at its next checkpoint, a
/// second quits at once (status 130).
final class InterruptRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var source: DispatchSourceSignal? = nil

    func install() {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [self] in
            let n = lock.withLock {
                count += max(1, Int(self.source?.data ?? 1))
                return count
            }
            if n > 1 { _exit(130) }
            FileHandle.standardError.write(Data("\(isatty(2) == 1 ? "\n" : "")ttl: stopping at the end of this step (batch, epoch or chunk of features) to save a checkpoint; Ctrl-C again quits without one\n".utf8))
        }
        lock.withLock { self.source = source }
        // Registration with the kernel happens asynchronously; until it has, an ignored SIGINT
        // would be lost. Return only once Ctrl-C reaches the handler.
        let registered = DispatchSemaphore(value: 0)
        source.setRegistrationHandler { registered.signal() }
        source.resume()
        registered.wait()
    }

    var requested: Bool { lock.withLock { count > 0 } }
}

/// The backbone `--model` names (a stored name or a model file), or the embedded default; and
/// its short name.
func loadBackbone(_ model: String?, store: ModelStore) throws -> (Model, name: String) {
    if let model { return (try store.load(model), URL(fileURLWithPath: model).deletingPathExtension().lastPathComponent) }
    guard let url = DefaultModel.locate() else {
        throw TTLError.usage("no --model given and the embedded default backbone (weights/\(DefaultModel.fileName)) is not in this build")
    }
    return (try ModelFile.load(url), "efficientnet-lite0")
}

/// `arg` as a POSIX shell word: unchanged when it is plain, single-quoted otherwise.
func shellQuoted(_ arg: String) -> String {
    let plain = !arg.isEmpty && arg.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./=:,+%@".unicodeScalars.contains($0) }
    return plain ? arg : "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

// Errors of the library print as one line on standard error; argument errors keep ArgumentParser's usage help.
func fail(_ error: Error) -> Never {
    FileHandle.standardError.write(Data("ttl: \(error)\n".utf8))
    exit(1)
}

extension TTLCommand {
    /// Reads a Keras file and exits 0 whether or not it is valid: run in a child process by
    /// ``checkKerasFile``, where a crash inside libhdf5 cannot take the user's command down.
    struct ProbeKeras: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "_probe-keras", shouldDisplay: false)
        @Argument var file: String
        @Option var arch: String?
        func run() {
            _ = try? KerasImporter.load(contentsOf: URL(fileURLWithPath: file), architecture: arch.map { $0.hasPrefix("keras-") ? String($0.dropFirst(6)) : $0 })
        }
    }
}

/// Reads a Keras file in a child process first (see `ModelFile.kerasFileCheck`): a file that
/// makes libhdf5 crash is reported as damaged instead of crashing `ttl`.
func checkKerasFile(_ url: URL, arch: String?) throws {
    let p = Process()
    p.executableURL = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
    p.arguments = ["_probe-keras", url.path] + (arch.map { ["--arch", $0] } ?? [])
    var env = ProcessInfo.processInfo.environment
    env["SWIFT_BACKTRACE"] = "enable=no"
    p.environment = env
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return }  // no child: read the file here as before
    p.waitUntilExit()
    if p.terminationReason == .uncaughtSignal {
        throw TTLError.unsupportedFormat(file: url.path, reason: "damaged HDF5 file: libhdf5 crashed reading it")
    }
}

ModelFile.kerasFileCheck = checkKerasFile

do {
    var command = try TTLCommand.parseAsRoot()
    try command.run()
} catch let e as TTLError { fail(e)
} catch let e as ONNXError { fail(e)
} catch let e as KerasError { fail(e)
} catch let e as HDF5Error { fail(e)
} catch let e as NPYError { fail(e)
} catch let e as GraphError { fail(e)
} catch let e as GraphEditError { fail(e)
} catch let e as LoadError { fail(e)
} catch let e as FreezeError { fail(e)
} catch let e as DatasetError { fail(e)
} catch let e as FineTuneError { fail(e)
} catch let e as ImageError { fail(e)
} catch {
    TTLCommand.exit(withError: error)
}
