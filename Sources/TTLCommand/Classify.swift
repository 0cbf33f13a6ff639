// `ttl predict` and `ttl evaluate`: a fine-tuned model on images.
import ArgumentParser
import Foundation
import TTL
import TTLCore
import TTLNN
import TTLFineTune
import TTLHDF5
import TTLONNX

extension TTLCommand {
    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Classify images: the most likely labels with their probabilities.",
            discussion: """
                A multi-label model prints every label whose probability reaches its threshold (or "no label above its threshold").

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
            if classifier.isMultiLabel {
                for (path, labels) in zip(images, try classifier.predictLabels(urls)) {
                    print("\(path): " + (labels.isEmpty ? "no label above its threshold" : labels.map { String(format: "%@ %.3f", $0.label, $0.probability) }.joined(separator: ", ")))
                }
                return
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

                A multi-label model is evaluated on every image of --labels FILE.csv (or of DIR/<label>/ folders): per label its threshold, precision, recall, F1 and average precision, and the mean average precision (mAP).

                Example:
                  ttl evaluate birds --data photos
                """)
        @Argument(help: "A stored name or a model file.") var model: String
        @Option(help: "The dataset folder.") var data: String
        @Option(help: "Also write an HTML report to this folder (DIR/index.html): confusion matrix, precision/recall, the worst-classified images, the model's training curves (for a multi-label model: per label its threshold, precision, recall, F1 and AP).") var report: String?
        @Option(help: "For a multi-label model: a CSV of file,labels rows (default: one folder per label).") var labels: String?
        @OptionGroup var threads: Threads

        func run() throws {
            threads.apply()
            if let report { try Report.checkWritable(URL(fileURLWithPath: report)) }
            let loaded = try ModelStore().load(model)
            let classifier = try Classifier(loaded)
            if classifier.isMultiLabel {
                let dataset = try MultiLabelData(root: URL(fileURLWithPath: data), labelFile: labels.map { URL(fileURLWithPath: $0) }, validationSplit: 0)
                let evaluation = try classifier.evaluate(dataset.train, labels: dataset.labels)
                print(evaluation.render())
                if let report {
                    let folder = URL(fileURLWithPath: data).standardizedFileURL.lastPathComponent
                    var page = Report(title: "Evaluation of \(URL(fileURLWithPath: model).lastPathComponent) on \(folder) (multi-label)", model: loaded, name: model,
                                      data: dataset, evaluatedOn: "every image of \(folder): \(dataset.train.count) images", evaluation: evaluation)
                    page.notes.append("Each label's threshold is the one the model carries (chosen when it was fine-tuned); the figures are fair only on images it was not tuned on.")
                    if !dataset.skipped.isEmpty { page.notes.append("Skipped \(dataset.skipped.count) unreadable image(s).") }
                    print("report: \(try page.write(to: URL(fileURLWithPath: report)).path)")
                }
                return
            }
            if labels != nil { throw TTLError.usage("--labels is for multi-label models; this one has one class per image") }
            let dataset = try ImageFolder(root: URL(fileURLWithPath: data), validationSplit: 0)
            let samples = dataset.validation.isEmpty ? dataset.train : dataset.validation
            guard let report else {
                print(try classifier.evaluate(samples, classes: dataset.classes).render())
                return
            }
            let results = try classifier.predictions(samples, classes: dataset.classes)
            print(results.0.render())
            let folder = URL(fileURLWithPath: data).standardizedFileURL.lastPathComponent
            // A model file is called by its file name in the heading (its path is among the facts).
            let page = Report(title: "Evaluation of \(URL(fileURLWithPath: model).lastPathComponent) on \(folder)", model: loaded, name: model, data: dataset,
                              evaluatedOn: dataset.validation.isEmpty ? "every image of \(folder): \(samples.count) images" : "the validation folder of \(folder): \(samples.count) images",
                              results: results)
            print("report: \(try page.write(to: URL(fileURLWithPath: report)).path)")
        }
    }
}
