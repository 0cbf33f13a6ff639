import Foundation
@testable import TTL
import TTLFineTune
import TTLNN
import XCTest

/// The HTML report's renderer on plain values: escaping, sections, one epoch, no validation,
/// writing; and the thumbnails it embeds.
final class ReportTests: XCTestCase {
    static let hostile = ["<script>alert(1)</script>", "a & b", "x\"y'z"]

    func sample() -> Report {
        var r = Report(title: "Fine-tuning <b>base</b> on data & more")
        r.history = (1 ... 5).map { (e: Int) -> Report.Epoch in
            let x = Double(e)
            return Report.Epoch(epoch: e, trainLoss: 1 / x, trainAccuracy: 0.5 + 0.08 * x, validationLoss: 1.2 / x, validationAccuracy: 0.45 + 0.08 * x)
        }
        r.keptEpoch = 4
        r.evaluation = Evaluation(classes: Self.hostile, confusion: [[5, 1, 0], [2, 3, 1], [0, 0, 6]])
        r.evaluatedOn = "the validation split: 18 images"
        let jpeg = try? ImageEncoder.jpeg(RGBImage(width: 8, height: 8, pixels: [UInt8](repeating: 128, count: 192)))
        r.worst = [Report.Example(name: "<img src=x onerror=alert(2)>.png", trueLabel: Self.hostile[0], predictedLabel: Self.hostile[1],
                                  trueProbability: 0.05, predictedProbability: 0.9, thumbnail: jpeg, thumbnailSize: (8, 8)),
                   Report.Example(name: "b.png", trueLabel: Self.hostile[2], predictedLabel: Self.hostile[2], trueProbability: 0.4, predictedProbability: 0.4)]
        r.facts = [Report.FactGroup("Data", [Report.Fact("folder", "/tmp/<data>&"), Report.Fact("classes", Self.hostile.joined(separator: ", "))])]
        r.notes = ["Stopped early: <because>."]
        return r
    }

    func testEveryUserStringIsEscaped() {
        let html = sample().html()
        XCTAssertFalse(html.contains("<script"), "no script element, and no label can open one")
        XCTAssertFalse(html.contains("<img src=x"))
        XCTAssertFalse(html.contains("<b>base</b>"))
        XCTAssertFalse(html.contains("<because>"))
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertTrue(html.contains("a &amp; b"))
        XCTAssertTrue(html.contains("x&quot;y&#39;z"))
        XCTAssertTrue(html.contains("/tmp/&lt;data&gt;&amp;"))
        XCTAssertTrue(html.contains("<title>Fine-tuning &lt;b&gt;base&lt;/b&gt; on data &amp; more</title>"))
        XCTAssertEqual(Report.escapeHTML("<&>\"'é"), "&lt;&amp;&gt;&quot;&#39;é")
    }

    func testSectionsAndSelfContainment() {
        let html = sample().html()
        for id in ["curves", "confusion", "per-class", "worst", "facts"] { XCTAssertTrue(html.contains("<section id=\"\(id)\">"), id) }
        XCTAssertTrue(html.hasPrefix("<!doctype html>"))
        XCTAssertTrue(html.contains("default-src 'none'"), "a Content-Security-Policy forbids network requests")
        XCTAssertTrue(html.contains("src=\"data:image/jpeg;base64,/9j/"), "the thumbnail is an inline JPEG")
        XCTAssertTrue(html.contains("no preview"), "an example without a thumbnail says so")
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "no external address")
        XCTAssertTrue(html.contains("77.8%"), "accuracy 14/18")
        // The confusion matrix: the diagonal's 6 of 6 is the darkest cell, with white text.
        XCTAssertTrue(html.contains("background:#08306b;color:#ffffff\" class=\"diagonal\""), html)
        XCTAssertEqual(html.components(separatedBy: "<polyline").count - 1, 4, "training and validation, loss and accuracy")
        XCTAssertTrue(html.contains("<line class=\"kept\""), "the kept epoch is marked")
    }

    func testOneEpochDrawsMarkersWithoutLines() {
        var r = sample()
        r.history = [Report.Epoch(epoch: 1, trainLoss: 0.7, trainAccuracy: 0.6, validationLoss: 0.8, validationAccuracy: 0.55)]
        r.keptEpoch = 1
        let html = r.html()
        XCTAssertTrue(html.contains("<p>1 epoch.</p>"), html)
        XCTAssertFalse(html.contains("<line class=\"kept\""), "no kept-epoch line through the only point")
        XCTAssertTrue(html.contains(">training 0.700</text>") && html.contains(">validation 55.0%</text>"), "a lone point is labelled")
        XCTAssertFalse(html.contains("<polyline"))
        XCTAssertEqual(html.components(separatedBy: "<circle").count - 1, 2, "one training marker per chart")
        XCTAssertEqual(html.components(separatedBy: "<rect class=\"marker validation\"").count - 1, 2, "one validation marker per chart")
        // The single epoch sits in the middle of the plot: x = 56 + (480 - 56 - 16) / 2.
        XCTAssertTrue(html.contains("cx=\"260.0\""), html)
        let curves = html.components(separatedBy: "<section id=\"curves\">")[1].components(separatedBy: "</section>")[0]
        XCTAssertFalse(curves.lowercased().contains("nan") || curves.contains("inf"), curves)
    }

    func testWithoutValidationTheEvaluationSectionsSayWhy() {
        var r = sample()
        r.evaluation = nil
        r.worst = []
        r.history = r.history.map { var e = $0; e.validationLoss = nil; e.validationAccuracy = nil; return e }
        r.noEvaluationReason = "No validation images (--val-split 0)."
        let html = r.html()
        XCTAssertTrue(html.contains("<section id=\"evaluation\">"))
        XCTAssertTrue(html.contains("No validation images (--val-split 0)."))
        for id in ["confusion", "per-class", "worst"] { XCTAssertFalse(html.contains("<section id=\"\(id)\">"), id) }
        XCTAssertTrue(html.contains("(no validation images)"))
        XCTAssertFalse(html.contains("marker validation"))
        XCTAssertEqual(html.components(separatedBy: "<polyline").count - 1, 2)
    }

    func testNoHistoryNoCurves() {
        var r = sample()
        r.history = []
        XCTAssertFalse(r.html().contains("<section id=\"curves\">"))
    }

    func testChartTicks() {
        XCTAssertEqual(Report.niceTicks(upTo: 2.3), [0, 1, 2, 3])
        XCTAssertEqual(Report.niceTicks(upTo: 0.07), [0, 0.02, 0.04, 0.06, 0.08])
        XCTAssertEqual(Report.tickLabel(0.75, step: 0.25), "0.75")
        XCTAssertEqual(Report.tickLabel(2, step: 1), "2")
        XCTAssertEqual(Report.heat(0).0, "#f7fbff")
    }

    func testWriteCreatesTheFolderAndReplacesAtomically() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-report-\(ProcessInfo.processInfo.processIdentifier)")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("a/b")
        let file = try sample().write(to: folder)
        XCTAssertEqual(file.lastPathComponent, "index.html")
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), sample().html())
        try Report(title: "again").write(to: folder)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["index.html"], "no temporary or probe file left")

        // A folder that cannot be made (a file is in the way) is an error naming it.
        let blocked = root.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocked)
        XCTAssertThrowsError(try sample().write(to: blocked.appendingPathComponent("report"))) { error in
            guard case let TTLError.io(file, message)? = error as? TTLError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, blocked.appendingPathComponent("report").path)
            XCTAssertTrue(message.hasPrefix("cannot create the report folder"), message)
        }
        XCTAssertThrowsError(try Report.checkWritable(blocked.appendingPathComponent("a/b"))) { error in
            XCTAssertEqual(error as? TTLError, .io(file: blocked.appendingPathComponent("a/b").path,
                                                   message: "cannot create the report folder: \(blocked.path) is not a folder"))
        }
        XCTAssertNoThrow(try Report.checkWritable(root.appendingPathComponent("not/yet")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("not").path), "checking writes nothing")
    }

    func testThumbnailsShrinkAndEncode() throws {
        var pixels = [UInt8](repeating: 0, count: 300 * 200 * 3)
        for i in 0 ..< 300 * 200 { pixels[3 * i] = UInt8(i % 300 * 255 / 299) }
        let image = RGBImage(width: 300, height: 200, pixels: pixels)
        let small = image.thumbnail(maxSide: 128)
        XCTAssertEqual([small.width, small.height], [128, 85])
        XCTAssertLessThan(small.pixels[0], 3, "the left edge is dark")
        XCTAssertGreaterThan(small.pixels[127 * 3], 250, "the right edge is red")
        XCTAssertEqual(image.thumbnail(maxSide: 400), image, "a small image stays")
        let jpeg = try ImageEncoder.jpeg(small)
        let back = try ImageDecoder.decode(jpeg, file: "thumbnail")
        XCTAssertEqual([back.width, back.height], [128, 85])
    }

    /// The kept head on cached features predicts what the whole model predicts on the images.
    func testPredictionsFromFeaturesMatchTheWholeModel() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        let backbone = try ModelFile.load(fixtures.appendingPathComponent("TTLONNXTests/Fixtures/models/torchscript_folded_bn/model.onnx"))
        let data = try ImageFolder(root: fixtures.appendingPathComponent("TTLFineTuneTests/Fixtures/dataset"), validationSplit: 0.25, seed: 3)
        let p = Preprocessing(size: 32, resize: .squash)
        var options = FineTuneOptions()
        options.epochs = 20; options.learningRate = 0.05; options.batchSize = 8
        let result = try FineTuner.fit(backbone, data: data, preprocessing: p, options: options)
        let classifier = try Classifier(result.model)
        let features = try FeatureExtractor(backbone: backbone, preprocessing: p).features(of: data.validation, cache: FeatureCache(folder: nil))
        let fast = try XCTUnwrap(classifier.predictions(features: features, of: data.validation, classes: data.classes))
        let whole = try classifier.predictions(data.validation, classes: data.classes)
        XCTAssertEqual(fast.0.confusion, whole.0.confusion)
        XCTAssertEqual(fast.1.map(\.predicted), whole.1.map(\.predicted))
        for (a, b) in zip(fast.1, whole.1) {
            XCTAssertEqual(a.predictedProbability, b.predictedProbability, accuracy: 1e-4)
            XCTAssertEqual(try XCTUnwrap(a.trueProbability), try XCTUnwrap(b.trueProbability), accuracy: 1e-4)
        }
        let kept = try XCTUnwrap(result.history.first { $0.epoch == result.bestEpoch }?.validationAccuracy)
        XCTAssertEqual(fast.0.accuracy, kept, accuracy: 1e-9, "the report's accuracy is the kept epoch's")
        XCTAssertNil(classifier.predictions(features: Array(features.dropLast()), of: data.validation, classes: data.classes), "features of the wrong size")
    }
}
