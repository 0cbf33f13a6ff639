import Foundation
import TTLCore
import TTLNN
import TTLONNX
@testable import TTLFineTune
import XCTest
import _TestSupport

final class MultiLabelTests: XCTestCase {
    static let fixtures = ImageTests.images.deletingLastPathComponent().appendingPathComponent("multilabel")

    var folder: URL!
    override func setUp() {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-multilabel-\(ProcessInfo.processInfo.processIdentifier)-\(name.hashValue)")
        try? FileManager.default.removeItem(at: folder)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// Average precision, mAP and precision/recall/F1 at thresholds against scikit-learn
    /// (`scripts/make_multilabel_fixtures.py`), on distinct and on tied scores.
    func testMetricsAgainstScikitLearn() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("metrics.json"))) as! [String: Any]
        let cases = json["cases"] as! [[String: Any]]
        XCTAssertEqual(cases.count, 3)
        for c in cases {
            let name = c["name"] as! String
            let scores = (c["scores"] as! [[NSNumber]]).map { $0.map(\.floatValue) }
            let targets = (c["targets"] as! [[NSNumber]]).map { $0.map { $0.intValue == 1 } }
            let thresholds = (c["thresholds"] as! [NSNumber]).map(\.floatValue)
            let labels = thresholds.indices.map { "l\($0)" }
            let e = MultiLabelEvaluation(labels: labels, scores: scores, targets: targets, thresholds: thresholds)
            func doubles(_ k: String) -> [Double] { (c[k] as! [NSNumber]).map(\.doubleValue) }
            for (j, l) in e.labels.enumerated() {
                XCTAssertEqual(l.averagePrecision ?? -1, doubles("average_precision")[j], accuracy: 1e-12, "\(name) AP \(j)")
                XCTAssertEqual(l.precision, doubles("precision")[j], accuracy: 1e-12, "\(name) precision \(j)")
                XCTAssertEqual(l.recall, doubles("recall")[j], accuracy: 1e-12, "\(name) recall \(j)")
                XCTAssertEqual(l.f1, doubles("f1")[j], accuracy: 1e-12, "\(name) F1 \(j)")
                XCTAssertEqual(l.support, (c["support"] as! [NSNumber])[j].intValue, "\(name) support \(j)")
            }
            XCTAssertEqual(e.meanAveragePrecision ?? -1, (c["mean_average_precision"] as! NSNumber).doubleValue, accuracy: 1e-12, name)
        }
        XCTAssertNil(MultiLabelMetrics.averagePrecision(scores: [0.2, 0.7], targets: [false, false]), "undefined without positives")
    }

    /// The chosen threshold's F1 is the best of every cut of the scores (on the fixture's data).
    func testThresholdMaximisesF1() throws {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("metrics.json"))) as! [String: Any]
        for c in json["cases"] as! [[String: Any]] {
            let scores = (c["scores"] as! [[NSNumber]]).map { $0.map(\.floatValue) }
            let targets = (c["targets"] as! [[NSNumber]]).map { $0.map { $0.intValue == 1 } }
            for j in scores[0].indices {
                let s = scores.map { $0[j] }, t = targets.map { $0[j] }
                let chosen = MultiLabelMetrics.bestThreshold(scores: s, targets: t)
                func f1(_ th: Float) -> Double {
                    MultiLabelEvaluation(labels: ["x"], scores: s.map { [$0] }, targets: t.map { [$0] }, thresholds: [th]).labels[0].f1
                }
                let best = Set(s).map(f1).max()!
                XCTAssertEqual(f1(chosen), best, accuracy: 1e-12, "\(c["name"]!) label \(j)")
            }
        }
        XCTAssertEqual(MultiLabelMetrics.bestThreshold(scores: [0.1, 0.9], targets: [false, false]), 0.5)
    }

    func testLabelTable() throws {
        let exists: (String) -> Bool = { !$0.contains("missing") }
        let rows = try LabelTable.parse("file,labels\r\na.png,dog cone\n\"b, c.png\",\"dog;cat\"\n\nd.jpg, cone ;; dog \n", file: "l.csv", exists: exists)
        XCTAssertEqual(rows.map(\.path), ["a.png", "b, c.png", "d.jpg"])
        XCTAssertEqual(rows.map(\.labels), [["dog", "cone"], ["dog", "cat"], ["cone", "dog"]])
        XCTAssertEqual(try LabelTable.parse("a.png,dog\n", file: "l.csv", exists: exists).count, 1, "no header")
        func error(_ text: String) -> String {
            do { _ = try LabelTable.parse(text, file: "l.csv", exists: exists); return "no error" } catch { return error.description }
        }
        XCTAssertEqual(error("file,labels\na.png,dog\nb.png,dog,cat\n"), "l.csv:3: 3 fields, expected 2 (file,labels; quote a path that holds a comma)")
        XCTAssertEqual(error("a.png,dog\nb.png\n"), "l.csv:2: 1 field, expected 2 (file,labels; quote a path that holds a comma)")
        XCTAssertEqual(error("a.png,dog\n\"b.png,dog\n"), "l.csv:2: a quoted field is not closed")
        XCTAssertEqual(error("a.png,dog\nb\"x.png,dog\n"), "l.csv:2: a quote inside an unquoted field")
        XCTAssertEqual(error("a.png,dog\nmissing.png,dog\n"), "l.csv:2: no image 'missing.png' under the data folder")
        XCTAssertEqual(error("a.png,dog\nb.png, ; \n"), "l.csv:2: 'b.png' has no labels (separate labels by spaces or semicolons)")
        XCTAssertEqual(error("a.png,dog\nb.png,cat\na.png,cone\n"), "l.csv:3: 'a.png' is listed again (first on line 1)")
        XCTAssertEqual(error(",dog\n"), "l.csv:1: the file field is empty")
        // A quoted newline: the next row's line number counts it.
        XCTAssertEqual(error("\"a\nb.png\",dog\nc.png,dog,x\n"), "l.csv:3: 3 fields, expected 2 (file,labels; quote a path that holds a comma)")
    }

    /// The sample colours as a multi-label set in the folder-per-label layout: each image in its
    /// colour's folder, and the green and red ones also in `not-blue/` (the same file name).
    func makeFolderLayout() throws -> URL {
        let fm = FileManager.default
        let source = FineTuneTests.dataset
        for colour in ["blue", "green", "red"] {
            for f in try fm.contentsOfDirectory(atPath: source.appendingPathComponent(colour).path).sorted() {
                var folders = [colour]
                if colour != "blue" { folders.append("not-blue") }
                for d in folders {
                    try fm.createDirectory(at: folder.appendingPathComponent(d), withIntermediateDirectories: true)
                    try fm.copyItem(at: source.appendingPathComponent(colour).appendingPathComponent(f), to: folder.appendingPathComponent(d).appendingPathComponent(f))
                }
            }
        }
        return folder
    }

    func testFolderLayoutAndSplit() throws {
        let root = try makeFolderLayout()
        let data = try MultiLabelData(root: root, validationSplit: 0.25, seed: 1)
        XCTAssertEqual(data.labels, ["blue", "green", "not-blue", "red"])
        XCTAssertEqual(data.train.count + data.validation.count, 24)
        // Stratified by label set: 2 of each colour's 8 in validation.
        XCTAssertEqual(Dictionary(grouping: data.validation, by: \.labels).mapValues(\.count), [[0]: 2, [1, 2]: 2, [2, 3]: 2])
        let again = try MultiLabelData(root: root, validationSplit: 0.25, seed: 1)
        XCTAssertEqual(again.validation, data.validation, "seeded")
        XCTAssertNotEqual(try MultiLabelData(root: root, validationSplit: 0.25, seed: 2).validation, data.validation)
        // A CSV over the same files.
        let csv = folder.appendingPathComponent("labels.csv")
        try "file,labels\nred/red_0.jpg,red;not-blue\nblue/blue_0.jpg,blue\n".write(to: csv, atomically: true, encoding: .utf8)
        let table = try MultiLabelData(root: root, labelFile: csv, validationSplit: 0)
        XCTAssertEqual(table.labels, ["blue", "not-blue", "red"])
        XCTAssertEqual(table.train.map(\.labels), [[0], [1, 2]])
        try "file,labels\nred/red_0.jpg,red\nblue/blue_0.jpg,red\n".write(to: csv, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MultiLabelData(root: root, labelFile: csv)) {
            XCTAssertEqual("\($0)", "\(csv.path): 1 label (red); multi-label training needs at least two")
        }
    }

    /// A multi-label head on the frozen backbone learns the colours and `not-blue`; the
    /// single-label run's cached features serve it; the model ends in a Sigmoid, carries
    /// `multi_label` and thresholds, and its ONNX export predicts the same.
    func testTrainsOnCachedFeaturesAndExports() throws {
        let root = try makeFolderLayout()
        let backbone = try FineTuneTests.backbone()
        let p = Preprocessing(size: 32, resize: .squash)
        let cacheFolder = folder.appendingPathComponent(".cache")
        var options = FineTuneOptions()
        options.epochs = 30; options.batchSize = 8; options.learningRate = 0.05; options.seed = 3
        _ = try FineTuner.fit(backbone, data: try ImageFolder(root: FineTuneTests.dataset, validationSplit: 0.25, seed: 1),
                              preprocessing: p, options: { var o = options; o.epochs = 1; return o }(), cache: FeatureCache(folder: cacheFolder))
        let data = try MultiLabelData(root: root, validationSplit: 0.25, seed: 1)
        let cache = FeatureCache(folder: cacheFolder)
        var reports: [MultiLabelEpochReport] = []
        let result = try MultiLabelFineTuner.fit(backbone, data: data, preprocessing: p, options: options, cache: cache) { reports.append($0) }
        XCTAssertEqual(cache.found, 24, "features do not depend on labels")
        XCTAssertEqual(cache.computed, 0)
        XCTAssertEqual(reports.count, 30)
        XCTAssertLessThan(result.history.last!.trainLoss, result.history.first!.trainLoss)
        XCTAssertGreaterThan(result.history.compactMap(\.validationMAP).max()!, 0.8)
        let model = result.model
        XCTAssertEqual(model.info, ModelInfo(labels: data.labels, preprocessing: p, multiLabel: true, thresholds: result.thresholds))
        XCTAssertEqual(result.thresholds.count, 4)
        let head = try model.findHead()
        XCTAssertNotNil(head.sigmoid)
        XCTAssertEqual(model.node(named: model.producers[model.outputs[0]].map { model.nodes[$0].name } ?? "")?.operation.type, "Sigmoid")
        for path in backbone.parameters.paths where path != head.weight && path != head.bias {
            XCTAssertTrue(model.parameters.tensor(path)!.bitwiseEqual(backbone.parameters.tensor(path)!), "\(path) changed")
        }
        // Export → import: the same metadata and outputs.
        let file = folder.appendingPathComponent("multi.onnx")
        try ONNXExporter.write(model, to: file)
        let back = try ONNXImporter.load(contentsOf: file)
        XCTAssertEqual(back.info, model.info)
        let x = try FineTuner.load(ArraySlice(data.validation.map { Sample(url: $0.url, label: 0) }), p)
        let y0 = try model.run([model.inputs[0].name: x], outputs: [model.outputs[0]])[model.outputs[0]]!
        let y1 = try back.run([back.inputs[0].name: x], outputs: [back.outputs[0]])[back.outputs[0]]!
        XCTAssertTrue(y0.bitwiseEqual(y1))
        XCTAssertTrue(y0.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    func testRefusesEndToEndOptions() {
        var o = FineTuneOptions()
        o.unfreezeFrom = "layer4"
        XCTAssertThrowsError(try MultiLabelFineTuner.validate(o))
        o = FineTuneOptions(); o.labelSmoothing = 0.1
        XCTAssertThrowsError(try MultiLabelFineTuner.validate(o))
    }
}
