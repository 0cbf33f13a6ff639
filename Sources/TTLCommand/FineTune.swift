// `ttl finetune`: options in, a trained model out, progress and Ctrl-C in between.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLNN
import TTLFineTune
import TTLHDF5
import TTLONNX

extension TTLCommand {
    struct FineTune: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "finetune",
            abstract: "Teach a pretrained backbone your classes: a new head, trained on DIR/<class>/*.jpg|png.",
            discussion: """
                DIR holds one folder per class, or train/ and val/ folders of class folders. With the backbone frozen (the default) each image goes through it once and its features are cached under $TTL_HOME/cache (or --cache), so later epochs and later runs cost almost nothing; `ttl features` fills the cache ahead, on many machines at once.

                By default, with the backbone frozen and no --augment, the head trains on the cached features as a PyTorch linear probe does (Adam at 1e-3, constant rate, batches of 32, no weight decay) for 30 epochs, the epoch with the lowest validation loss gives the epoch count, and the head is trained again for that many epochs on the training and validation images together (so the validation figures printed are those of the run that chose, not of the kept head); with --val-split 0 a held-out fifth of the training images chooses, then the head is trained again on all of them. --head lbfgs instead fits it to convergence (full-batch L-BFGS on the softmax loss, as linear-probe evaluations do) for a sweep of L2 penalties and keeps the one best on the validation images (with --val-split 0: chosen on a held-out fifth, then refitted on all). Any of --epochs, --lr, --optimizer, --schedule, --weight-decay, --batch-size, --label-smoothing, --nesterov or --patience (or --head epochs) trains it in the epoch loop instead.

                --fine-tune trains in two phases (fastai's fine_tune): the head alone for --freeze-epochs on the frozen backbone, then --epochs end to end (from --unfreeze-from, or the whole backbone) with the backbone at --backbone-lr (default: --lr / 10).

                Ctrl-C stops at the end of the current epoch (of the current batch when training end to end), saves a checkpoint and exits with status 130; a second Ctrl-C quits at once. The checkpoint goes beside the output: OUTPUT.ttlckpt/ for a file, or $TTL_HOME/checkpoints/NAME.ttlckpt/ for a store name. The same command with --resume continues it and ends exactly as an uninterrupted run would; it must have the same data, backbone, preprocessing and options. A run that finishes removes the checkpoint.

                Example:
                  ttl finetune --data photos --model resnet18 --output birds
                  ttl finetune --data photos --model resnet18 --epochs 10 --output birds
                  ttl finetune --data photos --model resnet18 --unfreeze-from layer4 \\
                      --lr 1e-4 --output birds.onnx
                  ttl finetune --data photos --model resnet18 --fine-tune --output birds
                  ttl finetune --data photos --model resnet18 --output birds --resume
                  ttl finetune --data photos --multi-label --labels labels.csv \\
                      --output street

                --multi-label: every image may carry several labels, from --labels FILE.csv (rows file,labels: paths relative to DIR, labels separated by spaces or semicolons, a header line file,labels optional) or from one folder per label where the same file name in several folders is one image with all of them. The head trains with binary cross-entropy on the frozen backbone's cached features; a threshold per label is chosen on the validation images (best F1), and the model ends in a Sigmoid.
                """)
        @Option(help: "The dataset folder.") var data: String
        @Option(help: "The backbone: a stored name or a model file (default: the embedded EfficientNet-Lite0).") var model: String?
        @Option(help: "How the head trains on cached features: adam (a linear probe's Adam path, its epoch count chosen on validation, then trained again on training and validation images), lbfgs (to convergence, the L2 penalty chosen on validation) or epochs (the epoch loop). Default: adam with the backbone frozen, no --augment and none of the epoch loop's options, else epochs.") var head: String?
        @Option(help: "Epochs (of the end-to-end phase with --fine-tune; default 5).") var epochs: Int?
        @Option(name: .customLong("batch-size"), help: "Images per step (default 32).") var batchSize: Int?
        @Option(help: "Learning rate (peak rate for one-cycle); the head's with --backbone-lr (default 1e-3).") var lr: Float?
        @Option(help: "sgd or adamw (default adamw).") var optimizer: String?
        @Option(help: "cosine, one-cycle or constant (default cosine).") var schedule: String?
        @Option(name: .customLong("weight-decay"), help: "Weight decay (default 0.01 for adamw, 0 for sgd).") var weightDecay: Float?
        @Flag(help: "Nesterov momentum (sgd).") var nesterov = false
        @Option(name: .customLong("label-smoothing"), help: "Label smoothing ε (default 0).") var labelSmoothing: Float?
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
        @Option(help: "Also write an HTML report to this folder (DIR/index.html): curves, confusion matrix, precision/recall, the worst-classified validation images.") var report: String?
        @Flag(name: .customLong("multi-label"), help: "Any number of labels per image: sigmoid outputs, binary cross-entropy, a threshold per label.") var multiLabel = false
        @Option(help: "With --multi-label: a CSV of file,labels rows (default: one folder per label).") var labels: String?
        @OptionGroup var cacheOption: CacheOption
        @OptionGroup var preprocessing: PreprocessingOptions
        @OptionGroup var threads: Threads

        /// `--head`, or the default: the Adam path where it applies and no option of the epoch loop was given.
        func headFit() throws -> HeadFitMethod? {
            let loopOptions = [("--epochs", epochs != nil), ("--lr", lr != nil), ("--optimizer", optimizer != nil), ("--schedule", schedule != nil),
                               ("--weight-decay", weightDecay != nil), ("--batch-size", batchSize != nil), ("--label-smoothing", labelSmoothing != nil),
                               ("--nesterov", nesterov), ("--patience", patience != nil)].filter(\.1).map(\.0)
            let frozen = unfreezeFrom == nil && !fineTune && !augment
            switch head {
            case nil: return frozen && loopOptions.isEmpty ? .adam : nil
            case "epochs": return nil
            case "lbfgs", "adam":
                let name = head!
                guard frozen else { throw TTLError.usage("--head \(name) fits the head alone on cached features: not with --unfreeze-from, --fine-tune or --augment") }
                guard loopOptions.isEmpty else {
                    throw TTLError.usage("--head \(name) sets its own epochs, batches, optimizer and schedule: drop \(loopOptions.joined(separator: ", ")) or use --head epochs")
                }
                return name == "adam" ? .adam : .lbfgs
            default: throw TTLError.usage("--head takes adam, lbfgs or epochs")
            }
        }

        func run() throws {
            threads.apply()
            let store = ModelStore()
            if freezeEpochs != nil && !fineTune { throw TTLError.usage("--freeze-epochs needs --fine-tune") }
            if labels != nil && !multiLabel { throw TTLError.usage("--labels needs --multi-label") }
            if multiLabel && resume { throw TTLError.usage("--resume is not supported with --multi-label") }
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
            // An unwritable report folder is found before any training.
            if let report { try Report.checkWritable(URL(fileURLWithPath: report)) }
            let checkpointFolder = toFile ? URL(fileURLWithPath: destination + ".ttlckpt")
                : store.root.appendingPathComponent("checkpoints").appendingPathComponent(destination + ".ttlckpt")
            if resume && !FileManager.default.fileExists(atPath: checkpointFolder.path) {
                throw TTLError.usage("nothing to resume: no checkpoint at \(checkpointFolder.path)")
            }
            let checkpoint = resume ? try FineTuneCheckpoint.read(from: checkpointFolder) : nil
            let (p, notice) = try preprocessing.apply(to: backbone)
            if let notice { FileHandle.standardError.write(Data("ttl: note: \(notice)\n".utf8)) }
            if multiLabel {
                return try runMultiLabel(backbone: backbone, backboneName: backboneName, destination: destination, toFile: toFile, store: store,
                                         preprocessing: p, options: options())
            }
            let dataset = try ImageFolder(root: URL(fileURLWithPath: data), validationSplit: valSplit, seed: seed, strict: strict)
            if !dataset.skipped.isEmpty {
                FileHandle.standardError.write(Data("ttl: warning: skipped \(dataset.skipped.count) unreadable image(s): \(dataset.skipped.joined(separator: "; "))\n".utf8))
            }
            let o = try options()
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
            if o.headFit == .lbfgs && !json {
                print("head: L-BFGS to convergence, the L2 penalty λ chosen on "
                      + (dataset.validation.isEmpty ? "a held-out fifth of the training images, then refitted on all" : "the validation images"))
            }
            if o.headFit == .adam && !json {
                print("head: Adam at 1e-3, batches of \(AdamPath.batchSize), \(AdamPath.maxEpochs) epochs scored on "
                      + (dataset.validation.isEmpty ? "a held-out fifth of the training images, then trained again on all of them"
                                                    : "the validation images, then trained again on training and validation images")
                      + " for the best epoch count")
            }
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
                    var line = r.l2.map { String(format: "fit %d  λ %.0e  %3d iterations  train loss %.4f  acc %.1f%%", r.epoch, $0, r.iterations ?? 0, r.trainLoss, r.trainAccuracy * 100) }
                        ?? (o.headFit == .adam ? String(format: "epoch %d", r.epoch) + (r.validationLoss == nil ? " (all images)" : "")
                                + String(format: "  train loss %.4f  acc %.1f%%", r.trainLoss, r.trainAccuracy * 100)
                            : String(format: "epoch %d/%d  train loss %.4f  acc %.1f%%", r.epoch, total, r.trainLoss, r.trainAccuracy * 100))
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
                let point = o.headFit == .lbfgs || o.headFit == .adam ? "before the head was fitted (the features computed are cached)"
                    : paused.epochsDone == 0 && paused.batchesDone == 0 ? "while computing features (those computed are cached)"
                    : "after epoch \(paused.epochsDone)/\(paused.totalEpochs)\(batch)"
                let command = (CommandLine.arguments + (resume ? [] : ["--resume"])).map(shellQuoted).joined(separator: " ")
                FileHandle.standardError.write(Data("ttl: interrupted \(point); checkpoint saved in \(checkpointFolder.path); to continue: \(command)\n".utf8))
                throw ExitCode(130)
            }
            if let why = result.stoppedEarly { FileHandle.standardError.write(Data("ttl: stopped: \(why)\n".utf8)) }
            var model = result.model
            model.metadata["architecture.base"] = backboneName
            model.metadata[TrainingSummary.metadataKey] = TrainingSummary(result, data: dataset, options: o, base: backboneName).json
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
                if o.headFit == .adam {
                    // The kept head is the last epoch of the training on every image; the validation figures are those of the epoch that chose.
                    let chose = result.history.last { $0.best && $0.validationLoss != nil }
                    let epochs = result.history.count - result.history.filter { $0.validationLoss != nil }.count
                    let how = chose.flatMap { c in c.validationAccuracy.map { String(format: " (epoch %d of the path: validation accuracy %.1f%%)", c.epoch, $0 * 100) } } ?? ""
                    print("kept the head trained again for \(epochs) epochs on \(dataset.validation.isEmpty ? "every training image" : "the training and validation images")\(how); saved to \(destination)")
                } else {
                    let kept = best?.l2.map { String(format: "kept fit %d (λ %.0e)", result.bestEpoch, $0) } ?? "kept epoch \(result.bestEpoch)"
                    print("\(kept)\(acc); saved to \(destination)")
                }
            }
            if let report {
                // A head trained on cached features is judged on them: no image goes through the backbone again.
                let headOnly = o.freezeEpochs == nil && o.unfreezeFrom == nil && !o.augment
                let features = headOnly && !dataset.validation.isEmpty
                    ? try? FeatureExtractor(backbone: backbone, preprocessing: p).features(of: dataset.validation, cache: cache) : nil
                let file = try writeReport(to: URL(fileURLWithPath: report), model: model, dataset: dataset, features: features,
                                           stoppedEarly: result.stoppedEarly, saved: destination, trainedOnValidation: o.headFit == .adam)
                if json { FileHandle.standardError.write(Data("ttl: report: \(file.path)\n".utf8)) } else { print("report: \(file.path)") }
            }
        }

        /// The report of a finished run: the kept model's predictions on the validation images
        /// (its head on their cached `features`, else the whole model as `ttl evaluate` runs
        /// it), with the run's history from `model`'s metadata.
        func writeReport(to folder: URL, model: Model, dataset: ImageFolder, features: [Float]?, stoppedEarly: String?, saved: String,
                         trainedOnValidation: Bool = false) throws -> URL {
            let name = URL(fileURLWithPath: dataset.root.path).standardizedFileURL.lastPathComponent
            let root = dataset.root.standardizedFileURL.path
            let inFolder = dataset.validation.first.map { s in ["val", "validation"].contains { s.url.standardizedFileURL.path.hasPrefix("\(root)/\($0)/") } } ?? false
            let split = inFolder ? "the validation folder" : "the validation split"
            let classifier = try Classifier(model)
            let results = dataset.validation.isEmpty ? nil
                : try features.flatMap { classifier.predictions(features: $0, of: dataset.validation, classes: dataset.classes) }
                    ?? classifier.predictions(dataset.validation, classes: dataset.classes)
            var page = Report(title: "Fine-tuning \(model.metadata["architecture.base"] ?? "a model") on \(name)", model: model, name: saved, data: dataset,
                              evaluatedOn: "\(split): \(dataset.validation.count) images", results: results,
                              noEvaluationReason: "No validation images (--val-split 0, or an empty val/ folder): the run trained on every image, so there is no confusion matrix, per-class precision and recall, or worst-classified images. The curves show training only.")
            if let stoppedEarly { page.notes.append("Stopped early: \(stoppedEarly).") }
            if trainedOnValidation && !dataset.validation.isEmpty {
                page.notes.append("The validation images chose the number of epochs, then the kept head was trained again on the training and validation images together: its figures on them below are optimistic (judge it on images it never saw, with ttl evaluate).")
            }
            if !dataset.skipped.isEmpty { page.notes.append("Skipped \(dataset.skipped.count) unreadable image(s).") }
            return try page.write(to: folder)
        }

        /// The training options from the command line, validated. A multi-label head always
        /// trains in the epoch loop.
        func options() throws -> FineTuneOptions {
            var o = FineTuneOptions()
            o.epochs = epochs ?? o.epochs; o.batchSize = batchSize ?? o.batchSize; o.learningRate = lr ?? o.learningRate; o.seed = seed
            guard let opt = FineTuneOptions.OptimizerKind(rawValue: optimizer ?? o.optimizer.rawValue) else { throw TTLError.usage("--optimizer takes sgd or adamw") }
            guard let sched = Schedule(rawValue: schedule ?? o.schedule.rawValue) else { throw TTLError.usage("--schedule takes cosine, one-cycle or constant") }
            o.optimizer = opt; o.schedule = sched; o.weightDecay = weightDecay; o.nesterov = nesterov
            o.labelSmoothing = labelSmoothing ?? 0; o.unfreezeFrom = unfreezeFrom; o.augment = augment; o.patience = patience
            if multiLabel {
                if head == "lbfgs" { throw TTLError.usage("--head lbfgs is for one class per image; a multi-label head trains in epochs") }
            } else {
                o.headFit = try headFit()
            }
            o.freezeEpochs = fineTune ? (freezeEpochs ?? 1) : nil
            o.backboneLearningRate = backboneLR
            try o.validate()
            return o
        }
    }
}
