// `ttl finetune --multi-label`: labels from a CSV or a folder per label, a sigmoid head trained
// with binary cross-entropy on cached features, a threshold per label chosen on validation.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLFineTune
import TTLNN

extension TTLCommand.FineTune {
    func runMultiLabel(backbone: Model, backboneName: String, destination: String, toFile: Bool, store: ModelStore,
                       preprocessing p: Preprocessing, options o: FineTuneOptions) throws {
        try MultiLabelFineTuner.validate(o)
        let dataset = try MultiLabelData(root: URL(fileURLWithPath: data), labelFile: labels.map { URL(fileURLWithPath: $0) },
                                         validationSplit: valSplit, seed: seed, strict: strict)
        if !dataset.skipped.isEmpty {
            FileHandle.standardError.write(Data("ttl: warning: skipped \(dataset.skipped.count) unreadable image(s): \(dataset.skipped.joined(separator: "; "))\n".utf8))
        }
        if !json {
            print("fine-tuning \(backboneName) on \(dataset.labels.count) labels, multi-label (\(dataset.labels.joined(separator: ", "))): \(dataset.train.count) training and \(dataset.validation.count) validation images")
        }
        fflush(nil)
        let cache = FeatureCache(folder: cacheOption.folder(store))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bar = ProgressBar(enabled: isatty(1) == 1 && !json)
        var featuresReported = false
        let result = try MultiLabelFineTuner.fit(backbone, data: dataset, preprocessing: p, options: o, cache: cache, progress: { r in
            if !json && !featuresReported && cache.computed + cache.found > 0 {
                bar.endLine()
                print("features: \(cache.computed) computed, \(cache.found) from the cache in \(cache.folder!.path)")
                featuresReported = true
            }
            if json {
                print(String(decoding: (try? encoder.encode(r)) ?? Data(), as: UTF8.self))
            } else {
                var line = String(format: "epoch %d/%d  train loss %.4f", r.epoch, o.epochs, r.trainLoss)
                if let vl = r.validationLoss { line += String(format: "  val loss %.4f", vl) }
                if let m = r.validationMAP { line += String(format: "  mAP %.3f", m) }
                line += (r.seconds >= 0.1 ? String(format: "  %.1f s", r.seconds) : String(format: "  %.2f s", r.seconds)) + (r.best ? "  *" : "")
                print(line)
            }
            fflush(nil)
        }, imagesDone: bar.update)
        bar.endLine()
        if let why = result.stoppedEarly { FileHandle.standardError.write(Data("ttl: stopped: \(why)\n".utf8)) }
        var model = result.model
        model.metadata["architecture.base"] = backboneName
        if toFile {
            try ModelFile.save(model, to: URL(fileURLWithPath: destination))
        } else {
            try store.save(model, as: destination, replacing: true)
        }
        if !json {
            let chosen = dataset.validation.isEmpty ? " (no validation images: 0.5 each)" : " (best F1 on validation)"
            print("thresholds\(chosen): " + zip(dataset.labels, result.thresholds).map { String(format: "%@ %.3f", $0, $1) }.joined(separator: ", "))
            let best = result.history.first { $0.epoch == result.bestEpoch }
            let map = best?.validationMAP.map { String(format: ", validation mAP %.3f", $0) } ?? ""
            print("kept epoch \(result.bestEpoch)\(map); saved to \(destination)")
        }
        if let report {
            // The kept model (with its thresholds) judged on the validation images, as `ttl evaluate` would.
            let evaluation = dataset.validation.isEmpty ? nil : try Classifier(model).evaluate(dataset.validation, labels: dataset.labels)
            let name = URL(fileURLWithPath: data).standardizedFileURL.lastPathComponent
            var page = Report(title: "Fine-tuning \(backboneName) on \(name) (multi-label)", model: model, name: destination, data: dataset,
                              history: result.history, keptEpoch: result.bestEpoch, options: o,
                              evaluatedOn: "the validation split: \(dataset.validation.count) images", evaluation: evaluation,
                              noEvaluationReason: "No validation images (--val-split 0): every label's threshold is 0.5 and there is nothing to judge on. The curves show training only.")
            if !dataset.validation.isEmpty {
                page.notes.append("The thresholds were chosen on these validation images: the precision, recall and F1 below are optimistic (judge the model on images it never saw, with ttl evaluate).")
            }
            if let why = result.stoppedEarly { page.notes.append("Stopped early: \(why).") }
            if !dataset.skipped.isEmpty { page.notes.append("Skipped \(dataset.skipped.count) unreadable image(s).") }
            let file = try page.write(to: URL(fileURLWithPath: report))
            if json { FileHandle.standardError.write(Data("ttl: report: \(file.path)\n".utf8)) } else { print("report: \(file.path)") }
        }
    }
}
