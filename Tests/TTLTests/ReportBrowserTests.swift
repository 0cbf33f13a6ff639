import Foundation
import TTLFineTune
import XCTest

/// `ttl finetune --report` and `ttl evaluate --report` pages opened in a real headless browser
/// (Debian's chromium, installed by scripts/install-deps.sh; `TTL_CHROMIUM` names another).
final class ReportBrowserTests: CommandTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("TTLONNXTests/Fixtures/models")

    static let noBrowser = "chromium not found on PATH (or TTL_CHROMIUM is not an executable): install it (Debian: scripts/install-deps.sh, or apt-get install chromium), or set TTL_CHROMIUM to a Chromium or Chrome binary"

    /// The browser; the tests fail (never pass silently) without one.
    func chromium() -> URL? {
        let env = ProcessInfo.processInfo.environment
        if let named = env["TTL_CHROMIUM"] { return FileManager.default.isExecutableFile(atPath: named) ? URL(fileURLWithPath: named) : nil }
        let path = (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for dir in path {
            for name in ["chromium", "chromium-browser", "google-chrome"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return URL(fileURLWithPath: "\(dir)/\(name)")
            }
        }
        return nil
    }

    struct Rendered { var status: Int32; var consoleLines: [String]; var output: String; var stderr: String }

    /// Runs headless chromium on `page` with `mode` (`--dump-dom` or `--screenshot=FILE`),
    /// returning its console messages: with `--enable-logging=stderr` every console message
    /// and uncaught exception of the page is a `…:CONSOLE(…)] "…", source: …` line.
    func render(_ page: URL, _ mode: String, browser: URL) throws -> Rendered {
        let p = Process()
        p.executableURL = browser
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--no-first-run",
                       "--user-data-dir=\(home.appendingPathComponent("chromium-profile").path)", "--window-size=1280,2600", mode, page.absoluteString]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes at once: a page's DOM can be larger than a pipe's buffer.
        final class Box: @unchecked Sendable { var data = Data() }
        let errData = Box(), done = DispatchGroup()
        let handle = err.fileHandleForReading
        DispatchQueue.global().async(group: done) { errData.data = handle.readDataToEndOfFile() }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        done.wait()
        let e = String(decoding: errData.data, as: UTF8.self)
        let console = e.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") || $0.contains("Uncaught") }
        return Rendered(status: p.terminationStatus, consoleLines: console, output: String(decoding: o, as: UTF8.self), stderr: e)
    }

    /// A small fine-tune (the 20k-parameter fixture on 3 Fashion-MNIST classes, one of them
    /// named `<script>&`) with `--report`, then `ttl evaluate --report`; each page rendered by
    /// chromium without a console message, with its sections, and as a real screenshot.
    func testReportRendersInChromium() throws {
        guard let browser = chromium() else {
            return XCTFail(Self.noBrowser)
        }
        let data = home.appendingPathComponent("data")
        let source = DefaultModelTests.checkout.appendingPathComponent("examples/fashion-mnist/train")
        for (c, name) in [("bag", "bag"), ("sneaker", "<script>&"), ("trouser", "trouser")] {
            let dir = data.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for f in try FileManager.default.contentsOfDirectory(atPath: source.appendingPathComponent(c).path).sorted().prefix(8) {
                try FileManager.default.copyItem(at: source.appendingPathComponent("\(c)/\(f)"), to: dir.appendingPathComponent(f))
            }
        }
        let model = Self.fixtures.appendingPathComponent("torchscript_folded_bn/model.onnx").path
        let reportDir = home.appendingPathComponent("report")
        let r = try ttl("finetune", "--data", data.path, "--model", model, "--epochs", "6", "--lr", "0.05", "--batch-size", "8",
                        "--resize", "squash", "--val-split", "0.375", "--output", "shoes", "--report", reportDir.path)
        XCTAssertEqual(r.status, 0, r.err)
        let page = reportDir.appendingPathComponent("index.html")
        XCTAssertEqual(r.out.split(separator: "\n").last.map(String.init), "report: \(page.path)")

        // The page judges the kept model on the cached features, as training did.
        let kept = r.out.split(separator: "\n").first { $0.hasPrefix("kept epoch ") }.flatMap { $0.split(separator: " ").first { $0.hasSuffix("%;") } }
        let keptAccuracy = try XCTUnwrap(kept).dropLast()
        XCTAssertTrue(try String(contentsOf: page, encoding: .utf8).contains("<span class=\"big\">\(keptAccuracy)</span>"), String(keptAccuracy))

        let dom = try render(page, "--dump-dom", browser: browser)
        XCTAssertEqual(dom.status, 0, dom.stderr)
        XCTAssertEqual(dom.consoleLines, [], "console messages while rendering")
        for id in ["curves", "confusion", "per-class", "worst", "facts"] {
            XCTAssertTrue(dom.output.contains("<section id=\"\(id)\">"), "section \(id) in the rendered DOM")
        }
        XCTAssertFalse(dom.output.contains("<script"), "the label <script>& stays text")
        XCTAssertTrue(dom.output.contains("&lt;script&gt;&amp;"), "the label <script>& is shown")
        XCTAssertEqual(dom.output.components(separatedBy: "<img ").count - 1, 9, "9 validation images, each a thumbnail")
        XCTAssertTrue(dom.output.contains("src=\"data:image/jpeg;base64,"))

        let screenshot = home.appendingPathComponent("report.png")
        let shot = try render(page, "--screenshot=\(screenshot.path)", browser: browser)
        XCTAssertEqual(shot.status, 0, shot.stderr)
        XCTAssertEqual(shot.consoleLines, [])
        let png = try ImageDecoder.decode(contentsOf: screenshot)
        XCTAssertEqual([png.width, png.height], [1280, 2600])
        // Non-trivial: well past a blank page, with the charts' blue and vermillion drawn.
        var inked = 0, blue = 0, orange = 0
        for i in stride(from: 0, to: png.pixels.count, by: 3) {
            let (r, g, b) = (Int(png.pixels[i]), Int(png.pixels[i + 1]), Int(png.pixels[i + 2]))
            if r + g + b < 600 { inked += 1 }
            if abs(r - 0x00) < 30 && abs(g - 0x72) < 30 && abs(b - 0xb2) < 30 { blue += 1 }
            if abs(r - 0xd5) < 30 && abs(g - 0x5e) < 30 && abs(b - 0x00) < 30 { orange += 1 }
        }
        XCTAssertGreaterThan(inked, png.width * png.height / 50, "the screenshot is mostly blank")
        XCTAssertGreaterThan(blue, 200, "training curves")
        XCTAssertGreaterThan(orange, 200, "validation curves")
        if let keep = ProcessInfo.processInfo.environment["TTL_REPORT_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(at: screenshot, to: URL(fileURLWithPath: keep))
            try? FileManager.default.removeItem(atPath: keep + ".html")
            try FileManager.default.copyItem(at: page, to: URL(fileURLWithPath: keep + ".html"))
        }

        // `ttl evaluate --report` on the fine-tuned model: every image of the folder, and the
        // training curves the model carries.
        let evalDir = home.appendingPathComponent("eval-report")
        let e = try ttl("evaluate", "shoes", "--data", data.path, "--report", evalDir.path)
        XCTAssertEqual(e.status, 0, e.err)
        XCTAssertTrue(e.out.hasPrefix("accuracy: "), e.out)
        let evalPage = evalDir.appendingPathComponent("index.html")
        XCTAssertTrue(e.out.hasSuffix("report: \(evalPage.path)\n"), e.out)
        let evalDom = try render(evalPage, "--dump-dom", browser: browser)
        XCTAssertEqual(evalDom.status, 0, evalDom.stderr)
        XCTAssertEqual(evalDom.consoleLines, [])
        XCTAssertTrue(evalDom.output.contains("every image of data: 24 images"))
        XCTAssertTrue(evalDom.output.contains("<section id=\"curves\">"))
        XCTAssertEqual(evalDom.output.components(separatedBy: "<img ").count - 1, 12, "the 12 worst of 24")
    }

    /// `ttl finetune --multi-label --report` (Fashion-MNIST images labelled with their class and
    /// `top-wear` or `footwear`, from a CSV): the page has the loss and validation-mAP curves, a
    /// row per label with its threshold, precision, recall, F1 and AP, and the facts; no confusion
    /// matrix; its mAP is the kept epoch's; chromium renders it without a console message.
    func testMultiLabelReportRendersInChromium() throws {
        guard let browser = chromium() else {
            return XCTFail(Self.noBrowser)
        }
        let source = DefaultModelTests.checkout.appendingPathComponent("examples/fashion-mnist/train")
        var rows = ["file,labels"]
        for (group, classes) in [("top-wear", ["t-shirt", "shirt", "pullover"]), ("footwear", ["sneaker", "sandal", "ankle-boot"])] {
            for c in classes {
                let files = try FileManager.default.contentsOfDirectory(atPath: source.appendingPathComponent(c).path).sorted().prefix(8)
                rows += files.map { "\(c)/\($0),\(group);\(c)" }
            }
        }
        let csv = home.appendingPathComponent("labels.csv")
        try (rows.joined(separator: "\n") + "\n").write(to: csv, atomically: true, encoding: .utf8)
        let model = Self.fixtures.appendingPathComponent("torchscript_folded_bn/model.onnx").path
        let reportDir = home.appendingPathComponent("report")
        let r = try ttl("finetune", "--multi-label", "--labels", csv.path, "--data", source.path, "--model", model, "--epochs", "8", "--lr", "0.05",
                        "--batch-size", "8", "--resize", "squash", "--seed", "3", "--val-split", "0.25", "--output", "clothes", "--report", reportDir.path)
        XCTAssertEqual(r.status, 0, r.err)
        let page = reportDir.appendingPathComponent("index.html")
        let lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.last, "report: \(page.path)")
        // The kept epoch's validation mAP is the page's headline: the same model on the same images.
        let kept = try XCTUnwrap(lines.first { $0.hasPrefix("kept epoch ") })
        let map = try XCTUnwrap(kept.components(separatedBy: "validation mAP ").last?.prefix(5))
        let html = try String(contentsOf: page, encoding: .utf8)
        XCTAssertTrue(html.contains("<span class=\"big\">\(map)</span> mean average precision (mAP) on the validation split: 12 images"), String(map))

        let dom = try render(page, "--dump-dom", browser: browser)
        XCTAssertEqual(dom.status, 0, dom.stderr)
        XCTAssertEqual(dom.consoleLines, [], "console messages while rendering")
        for id in ["curves", "per-label", "facts"] {
            XCTAssertTrue(dom.output.contains("<section id=\"\(id)\">"), "section \(id) in the rendered DOM")
        }
        XCTAssertFalse(dom.output.contains("<section id=\"confusion\">"), "no confusion matrix for multi-label")
        XCTAssertTrue(dom.output.contains("Validation mAP"))
        let perLabel = try XCTUnwrap(dom.output.components(separatedBy: "<section id=\"per-label\">").last?.components(separatedBy: "</section>").first?
            .components(separatedBy: "<tbody>").last)
        for label in ["ankle-boot", "footwear", "pullover", "sandal", "shirt", "sneaker", "t-shirt", "top-wear"] {
            XCTAssertTrue(perLabel.contains("<tr><th>\(label)</th>"), "a row for \(label)")
        }
        XCTAssertEqual(perLabel.components(separatedBy: "<tr><th>").count - 1, 8)

        let screenshot = home.appendingPathComponent("report.png")
        let shot = try render(page, "--screenshot=\(screenshot.path)", browser: browser)
        XCTAssertEqual(shot.status, 0, shot.stderr)
        XCTAssertEqual(shot.consoleLines, [])
        let png = try ImageDecoder.decode(contentsOf: screenshot)
        var inked = 0, orange = 0
        for i in stride(from: 0, to: png.pixels.count, by: 3) {
            let (r, g, b) = (Int(png.pixels[i]), Int(png.pixels[i + 1]), Int(png.pixels[i + 2]))
            if r + g + b < 600 { inked += 1 }
            if abs(r - 0xd5) < 30 && abs(g - 0x5e) < 30 && abs(b - 0x00) < 30 { orange += 1 }
        }
        XCTAssertGreaterThan(inked, png.width * png.height / 50, "the screenshot is mostly blank")
        XCTAssertGreaterThan(orange, 200, "validation curves")

        // `ttl evaluate --report` on the tuned model, over every image of the CSV: the printed
        // mAP is the page's headline, the page renders, a row per label, no curves.
        let evalDir = home.appendingPathComponent("evaluation")
        let e = try ttl("evaluate", "clothes", "--data", source.path, "--labels", csv.path, "--report", evalDir.path)
        XCTAssertEqual(e.status, 0, e.err)
        let evalLines = e.out.split(separator: "\n").map(String.init)
        let evalPage = evalDir.appendingPathComponent("index.html")
        XCTAssertEqual(evalLines.last, "report: \(evalPage.path)")
        let printed = try XCTUnwrap(evalLines.first { $0.hasPrefix("mAP: ") }?.dropFirst(5).prefix(5))
        let evalHTML = try String(contentsOf: evalPage, encoding: .utf8)
        XCTAssertTrue(evalHTML.contains("<span class=\"big\">\(printed)</span> mean average precision (mAP) on every image of train: 48 images"), String(printed))
        let evalDOM = try render(evalPage, "--dump-dom", browser: browser)
        XCTAssertEqual(evalDOM.status, 0, evalDOM.stderr)
        XCTAssertEqual(evalDOM.consoleLines, [], "console messages while rendering the evaluation")
        let evalRows = try XCTUnwrap(evalDOM.output.components(separatedBy: "<section id=\"per-label\">").last?.components(separatedBy: "</section>").first?
            .components(separatedBy: "<tbody>").last)
        XCTAssertEqual(evalRows.components(separatedBy: "<tr><th>").count - 1, 8)
        XCTAssertFalse(evalDOM.output.contains("<section id=\"curves\">"), "an evaluation has no training curves")

        if let keep = ProcessInfo.processInfo.environment["TTL_MULTILABEL_REPORT_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(at: screenshot, to: URL(fileURLWithPath: keep))
        }
    }

    /// The check above can fail: a page with a script error, and one that tries to load an
    /// image from the network (refused by the report's Content-Security-Policy), both show up
    /// as console lines.
    func testConsoleErrorsAreDetected() throws {
        guard let browser = chromium() else {
            return XCTFail(Self.noBrowser)
        }
        let broken = home.appendingPathComponent("broken.html")
        try Data("""
            <!doctype html><html><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
            <title>broken</title></head><body><img src="http://127.0.0.1:9/x.png" alt="x"><script>undefinedFunction()</script></body></html>
            """.utf8).write(to: broken)
        let r = try render(broken, "--dump-dom", browser: browser)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.consoleLines.contains { $0.contains("Uncaught ReferenceError: undefinedFunction is not defined") }, r.consoleLines.joined(separator: "\n"))
        XCTAssertTrue(r.consoleLines.contains { $0.contains("Content Security Policy") }, r.consoleLines.joined(separator: "\n"))
    }

    /// An unwritable report folder is refused before any training, naming the folder.
    func testUnwritableReportFolder() throws {
        let blocker = home.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        let model = Self.fixtures.appendingPathComponent("torchscript_folded_bn/model.onnx").path
        let data = Self.fixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TTLFineTuneTests/Fixtures/dataset").path
        let r = try ttl("finetune", "--data", data, "--model", model, "--output", "x", "--report", blocker.appendingPathComponent("report").path)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.out, "")
        XCTAssertTrue(r.err.hasPrefix("ttl: \(blocker.appendingPathComponent("report").path): cannot create the report folder"), r.err)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
        let e = try ttl("evaluate", model, "--data", data, "--report", blocker.path)
        XCTAssertEqual(e.status, 1)
        XCTAssertTrue(e.err.hasPrefix("ttl: \(blocker.path): cannot create the report folder"), e.err)
        // A run that fails writes nothing, not even the report's folder.
        let fresh = home.appendingPathComponent("fresh/report")
        let failed = try ttl("finetune", "--data", home.appendingPathComponent("nowhere").path, "--model", model, "--report", fresh.path)
        XCTAssertEqual(failed.status, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("fresh").path))
    }
}
