// Rendering a Report as HTML. Every string that came from a user (labels, file names, folder
// names, the title) goes through `escape`; numbers are formatted here. Colours: Okabe and Ito's
// colour-blind-safe palette for the two series (which also differ in dash and marker), one
// sequential blue for the heat map, text on it black or white by the cell's lightness.
import Foundation
import TTLFineTune

extension Report {
    /// The whole page.
    public func html() -> String {
        var body = "<header>\n<h1>\(escape(title))</h1>\n"
        if let e = evaluation {
            body += "<p class=\"headline\"><span class=\"big\">\(percent(e.accuracy))</span> accuracy on \(escape(evaluatedOn))</p>\n"
        }
        if let m = multiLabel {
            body += "<p class=\"headline\"><span class=\"big\">\(m.meanAveragePrecision.map { fixed($0, digits: 3) } ?? "–")</span> mean average precision (mAP) on \(escape(evaluatedOn))</p>\n"
        }
        for note in notes { body += "<p class=\"note\">\(escape(note))</p>\n" }
        body += "</header>\n"
        body += curvesSection()
        if let m = multiLabel {
            body += perLabelSection(m)
        } else if let e = evaluation {
            body += confusionSection(e)
            body += perClassSection(e)
            body += worstSection()
        } else {
            body += "<section id=\"evaluation\">\n<h2>Evaluation</h2>\n<p class=\"note\">\(escape(noEvaluationReason))</p>\n</section>\n"
        }
        body += factsSection()
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
            <title>\(escape(title))</title>
            <style>\(Self.css)</style>
            </head>
            <body>
            \(body)<footer>Written by ttl. Self-contained: no scripts, no network; images are embedded.</footer>
            </body>
            </html>

            """
    }

    // MARK: Sections

    func curvesSection() -> String {
        guard !history.isEmpty else { return "" }
        var s = "<section id=\"curves\">\n<h2>Training</h2>\n"
        let epochs = history.count == 1 ? "1 epoch" : "\(history.count) epochs"
        let marked = history.count > 1 ? keptEpoch : nil
        s += "<p>\(epochs)" + (marked.map { "; the model keeps the weights of epoch \($0) (dotted line)" } ?? "") + ".</p>\n"
        let hasValidation = history.contains { $0.validationLoss != nil }
        s += "<div class=\"charts\">\n"
        s += Self.lineChart(title: "Loss", series: [
            .init(name: "training", points: history.map { ($0.epoch, $0.trainLoss) }, style: .training),
            .init(name: "validation", points: history.compactMap { e in e.validationLoss.map { (e.epoch, $0) } }, style: .validation),
        ], kept: marked, percent: false)
        if isMultiLabel {
            // Binary cross-entropy per label and image above; the ranking quality below.
            s += Self.lineChart(title: "Validation mAP", series: [
                .init(name: "validation", points: history.compactMap { e in e.validationMAP.map { (e.epoch, $0) } }, style: .validation),
            ], kept: marked, percent: true)
        } else {
            s += Self.lineChart(title: "Accuracy", series: [
                .init(name: "training", points: history.map { ($0.epoch, $0.trainAccuracy) }, style: .training),
                .init(name: "validation", points: history.compactMap { e in e.validationAccuracy.map { (e.epoch, $0) } }, style: .validation),
            ], kept: marked, percent: true)
        }
        s += "</div>\n<p class=\"legend\"><span class=\"key training\"></span> training"
        s += hasValidation ? " <span class=\"key validation\"></span> validation" : " (no validation images)"
        s += isMultiLabel ? "; the loss is the binary cross-entropy per label and image" : ""
        s += "</p>\n<details><summary>Every epoch as a table</summary>\n<table class=\"numbers\">\n"
        let third = isMultiLabel ? "validation mAP" : "validation accuracy"
        s += "<thead><tr><th>epoch</th><th>train loss</th>\(isMultiLabel ? "" : "<th>train accuracy</th>")<th>validation loss</th><th>\(third)</th></tr></thead>\n<tbody>\n"
        for e in history {
            s += "<tr\(e.epoch == keptEpoch ? " class=\"kept\"" : "")><td>\(e.epoch)</td><td>\(fixed(e.trainLoss))</td>\(isMultiLabel ? "" : "<td>\(percent(e.trainAccuracy))</td>")"
            s += "<td>\(e.validationLoss.map(fixed) ?? "–")</td><td>\((isMultiLabel ? e.validationMAP.map { fixed($0, digits: 3) } : e.validationAccuracy.map(percent)) ?? "–")</td></tr>\n"
        }
        s += "</tbody>\n</table>\n</details>\n</section>\n"
        return s
    }

    func confusionSection(_ e: Evaluation) -> String {
        var s = "<section id=\"confusion\">\n<h2>Confusion matrix</h2>\n"
        s += "<p>Rows: the true class; columns: the predicted class. A cell's shade is its share of the row (the true class's images); the diagonal holds the correct predictions.</p>\n"
        s += "<div class=\"scroll\"><table class=\"heatmap\">\n<thead><tr><th class=\"corner\">true \u{2193} predicted \u{2192}</th>"
        for c in e.classes { s += "<th class=\"col\" title=\"\(escape(c))\"><span>\(escape(c))</span></th>" }
        s += "<th>images</th></tr></thead>\n<tbody>\n"
        for (i, row) in e.confusion.enumerated() {
            let total = row.reduce(0, +)
            s += "<tr><th class=\"row\">\(escape(e.classes[i]))</th>"
            for (j, n) in row.enumerated() {
                let share = total == 0 ? 0 : Double(n) / Double(total)
                let (bg, fg) = Self.heat(share)
                let tip = "true \(e.classes[i]), predicted \(e.classes[j]): \(n) of \(total)"
                s += "<td style=\"background:\(bg);color:\(fg)\"\(i == j ? " class=\"diagonal\"" : "") title=\"\(escape(tip))\">\(n)</td>"
            }
            s += "<td class=\"total\">\(total)</td></tr>\n"
        }
        s += "</tbody>\n</table></div>\n</section>\n"
        return s
    }

    func perClassSection(_ e: Evaluation) -> String {
        var s = "<section id=\"per-class\">\n<h2>Precision and recall per class</h2>\n"
        s += "<p>Precision: of the images predicted as the class, the share that are. Recall: of the class's images, the share found.</p>\n"
        s += "<div class=\"scroll\"><table class=\"metrics\">\n<thead><tr><th>class</th><th>images</th><th>precision</th><th>recall</th><th>F1</th></tr></thead>\n<tbody>\n"
        for (i, c) in e.classes.enumerated() {
            let p = e.precision(i), r = e.recall(i), f1 = p + r == 0 ? 0 : 2 * p * r / (p + r)
            s += "<tr><th>\(escape(c))</th><td>\(e.confusion[i].reduce(0, +))</td><td>\(Self.bar(p))</td><td>\(Self.bar(r))</td><td>\(fixed(f1, digits: 2))</td></tr>\n"
        }
        s += "</tbody>\n</table></div>\n</section>\n"
        return s
    }

    func perLabelSection(_ m: MultiLabelEvaluation) -> String {
        var s = "<section id=\"per-label\">\n<h2>Per label</h2>\n"
        s += "<p>Each label is predicted when its probability reaches its threshold (chosen on the validation images to maximise the label's F1). "
        s += "Precision: of the images predicted with the label, the share that carry it. Recall: of the images carrying it, the share found. "
        s += "AP: average precision, the area under the label's precision-recall curve, whatever the threshold (– when no image carries the label).</p>\n"
        s += "<div class=\"scroll\"><table class=\"metrics\">\n<thead><tr><th>label</th><th>images</th><th>threshold</th><th>precision</th><th>recall</th><th>F1</th><th>AP</th></tr></thead>\n<tbody>\n"
        for l in m.labels {
            s += "<tr><th>\(escape(l.label))</th><td>\(l.support)</td><td>\(fixed(Double(l.threshold), digits: 3))</td><td>\(Self.bar(l.precision))</td>"
            s += "<td>\(Self.bar(l.recall))</td><td>\(fixed(l.f1, digits: 2))</td><td>\(l.averagePrecision.map { fixed($0, digits: 3) } ?? "–")</td></tr>\n"
        }
        s += "</tbody>\n</table></div>\n</section>\n"
        return s
    }

    func worstSection() -> String {
        var s = "<section id=\"worst\">\n<h2>Worst-classified images</h2>\n"
        guard !worst.isEmpty else { return s + "<p class=\"note\">No images to show.</p>\n</section>\n" }
        let wrong = worst.filter { !$0.isCorrect }.count
        s += "<p>The \(worst.count) evaluated images with the lowest probability of their true class, worst first (\(wrong) of them misclassified).</p>\n"
        s += "<div class=\"gallery\">\n"
        for x in worst {
            s += "<figure class=\"\(x.isCorrect ? "right" : "wrong")\">"
            if let jpeg = x.thumbnail {
                let small = (x.thumbnailSize.map { max($0.width, $0.height) } ?? 128) < 64
                s += "<img\(small ? " class=\"pixelated\"" : "") src=\"data:image/jpeg;base64,\(jpeg.base64EncodedString())\" alt=\"\(escape(x.name))\">"
            } else {
                s += "<div class=\"missing\">no preview</div>"
            }
            s += "<figcaption><span class=\"verdict\">\(x.isCorrect ? "\u{2713} right" : "\u{2717} wrong")</span>"
            s += "<span>true: <b>\(escape(x.trueLabel))</b>" + (x.trueProbability.map { " \(fixed($0, digits: 2))" } ?? "") + "</span>"
            s += "<span>predicted: <b>\(escape(x.predictedLabel))</b> \(fixed(x.predictedProbability, digits: 2))</span>"
            s += "<span class=\"file\" title=\"\(escape(x.name))\">\(escape(x.name))</span></figcaption></figure>\n"
        }
        s += "</div>\n</section>\n"
        return s
    }

    func factsSection() -> String {
        guard !facts.isEmpty else { return "" }
        var s = "<section id=\"facts\">\n<h2>Model, data and preprocessing</h2>\n<div class=\"facts\">\n"
        for g in facts {
            s += "<div class=\"card\"><h3>\(escape(g.title))</h3>\n<dl>\n"
            for f in g.facts { s += "<dt>\(escape(f.name))</dt><dd>\(escape(f.value))</dd>\n" }
            s += "</dl></div>\n"
        }
        s += "</div>\n</section>\n"
        return s
    }

    // MARK: Charts

    struct Series {
        enum Style { case training, validation }
        var name: String
        var points: [(epoch: Int, value: Double)]
        var style: Style
    }

    /// An SVG line chart of values per epoch: axes with ticks, a line and a marker per point
    /// (a single epoch is a marker in the middle), the kept epoch as a dotted vertical line.
    static func lineChart(title: String, series: [Series], kept: Int?, percent: Bool) -> String {
        let (w, h) = (480.0, 260.0), (left, right, top, bottom) = (56.0, 16.0, 28.0, 40.0)
        let series = series.map { s in Series(name: s.name, points: s.points.filter { $0.value.isFinite }, style: s.style) }
        let epochs = series.flatMap { $0.points.map(\.epoch) }
        let (e0, e1) = (epochs.min() ?? 1, epochs.max() ?? 1)
        let (x0, x1) = e0 == e1 ? (Double(e0) - 0.5, Double(e0) + 0.5) : (Double(e0), Double(e1))
        let values = series.flatMap { $0.points.map(\.value) }
        let yTicks: [Double]
        if percent {
            yTicks = [0, 0.25, 0.5, 0.75, 1]
        } else {
            yTicks = niceTicks(upTo: max(values.max() ?? 1, 1e-6))
        }
        let y1 = yTicks.last ?? 1
        func px(_ e: Double) -> Double { left + (e - x0) / (x1 - x0) * (w - left - right) }
        func py(_ v: Double) -> Double { top + (1 - min(max(v / y1, 0), 1)) * (h - top - bottom) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var s = "<figure class=\"chart\"><svg viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"\(title) per epoch\">"
        s += "<text class=\"title\" x=\"\(f(left))\" y=\"18\">\(title)</text>"
        for t in yTicks {
            let y = py(t)
            s += "<line class=\"grid\" x1=\"\(f(left))\" x2=\"\(f(w - right))\" y1=\"\(f(y))\" y2=\"\(f(y))\"/>"
            let label = percent ? "\(Int((t * 100).rounded()))%" : tickLabel(t, step: yTicks.count > 1 ? yTicks[1] - yTicks[0] : t)
            s += "<text class=\"tick\" x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(label)</text>"
        }
        let step = niceStep(Double(e1 - e0) / 8)
        var e = Double(e0)
        if e0 != e1 { e = (Double(e0) / step).rounded(.up) * step }
        while e <= Double(e1) + 1e-9 {
            let x = px(e)
            s += "<line class=\"axis\" x1=\"\(f(x))\" x2=\"\(f(x))\" y1=\"\(f(h - bottom))\" y2=\"\(f(h - bottom + 4))\"/>"
            s += "<text class=\"tick\" x=\"\(f(x))\" y=\"\(f(h - bottom + 16))\" text-anchor=\"middle\">\(Int(e))</text>"
            e += max(step, 1)
        }
        s += "<line class=\"axis\" x1=\"\(f(left))\" x2=\"\(f(w - right))\" y1=\"\(f(h - bottom))\" y2=\"\(f(h - bottom))\"/>"
        s += "<text class=\"tick\" x=\"\(f((left + w - right) / 2))\" y=\"\(f(h - 6))\" text-anchor=\"middle\">epoch</text>"
        if let kept, Double(kept) >= x0, Double(kept) <= x1 {
            s += "<line class=\"kept\" x1=\"\(f(px(Double(kept))))\" x2=\"\(f(px(Double(kept))))\" y1=\"\(f(top))\" y2=\"\(f(h - bottom))\"><title>kept: epoch \(kept)</title></line>"
        }
        // Lone points are labelled, the higher one's label above it and the other's below, so
        // that two close values do not write over each other.
        let lone = series.filter { $0.points.count == 1 }
        let highest = lone.max { $0.points[0].value < $1.points[0].value }?.name
        for sr in series where !sr.points.isEmpty {
            let cls = sr.style == .training ? "training" : "validation"
            if sr.points.count > 1 {
                s += "<polyline class=\"line \(cls)\" points=\"" + sr.points.map { "\(f(px(Double($0.epoch)))),\(f(py($0.value)))" }.joined(separator: " ") + "\"/>"
            }
            // Markers only where they stay apart: every point up to 60 epochs, else the last.
            for p in sr.points.count <= 60 ? sr.points : [sr.points[sr.points.count - 1]] {
                let (x, y) = (px(Double(p.epoch)), py(p.value))
                let value = percent ? Self.percentText(p.value) : String(format: "%.4f", p.value)
                let tip = "<title>\(sr.name), epoch \(p.epoch): \(value)</title>"
                s += sr.style == .training
                    ? "<circle class=\"marker \(cls)\" cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"3.5\">\(tip)</circle>"
                    : "<rect class=\"marker \(cls)\" x=\"\(f(x - 3.5))\" y=\"\(f(y - 3.5))\" width=\"7\" height=\"7\">\(tip)</rect>"
                // A lone point says its value: there is no line to read it against.
                if sr.points.count == 1 {
                    let shown = percent ? Self.percentText(p.value) : String(format: "%.3f", p.value)
                    s += "<text class=\"value \(cls)\" x=\"\(f(x + 9))\" y=\"\(f(y + (sr.name == highest ? -7 : 16)))\">\(sr.name) \(shown)</text>"
                }
            }
        }
        return s + "</svg></figure>\n"
    }

    /// 4–6 evenly spaced round ticks from 0 to at least `maximum`.
    static func niceTicks(upTo maximum: Double) -> [Double] {
        let step = niceStep(maximum / 4)
        let n = max(1, Int((maximum / step).rounded(.up)))
        return (0 ... n).map { Double($0) * step }
    }

    /// The smallest of 1, 2, 2.5, 5 × 10^k at least `raw`.
    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = pow(10, floor(log10(raw)))
        for m in [1, 2, 2.5, 5, 10] where m * magnitude >= raw * (1 - 1e-9) { return m * magnitude }
        return 10 * magnitude
    }

    /// `v` with as many decimals as `step` needs (0.25 → 2, 0.5 → 1, 2 → 0).
    static func tickLabel(_ v: Double, step: Double) -> String {
        let digits = (0 ... 6).first { d in let x = step * pow(10, Double(d)); return abs(x - x.rounded()) < 1e-6 } ?? 6
        return String(format: "%.\(digits)f", v)
    }

    // MARK: Cells

    /// Background and text colour for a heat-map cell holding `share` (0–1) of its row.
    static func heat(_ share: Double) -> (String, String) {
        // From #f7fbff (white-blue) to #08306b (dark blue), ColorBrewer's Blues ends.
        let t = min(max(share, 0), 1)
        let (r, g, b) = (247 + (8 - 247) * t, 251 + (48 - 251) * t, 255 + (107 - 255) * t)
        let luminance = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
        return (String(format: "#%02x%02x%02x", Int(r.rounded()), Int(g.rounded()), Int(b.rounded())), luminance < 0.5 ? "#ffffff" : "#111111")
    }

    /// A share as a percentage beside a bar of its length.
    static func bar(_ v: Double) -> String {
        "<span class=\"bar\"><span style=\"width:\(String(format: "%.1f", min(max(v, 0), 1) * 100))%\"></span></span>\(percentText(v))"
    }

    static func percentText(_ v: Double) -> String { String(format: "%.1f%%", v * 100) }
    func percent(_ v: Double) -> String { Self.percentText(v) }
    func fixed(_ v: Double) -> String { fixed(v, digits: 4) }
    func fixed(_ v: Double, digits: Int) -> String { v.isFinite ? String(format: "%.\(digits)f", v) : "–" }
}

extension Report {
    /// `s` safe in HTML text and in quoted attribute values.
    static func escapeHTML(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
    func escape(_ s: String) -> String { Self.escapeHTML(s) }
}

extension Report {
    static let css = """

        :root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --panel: #f6f8fa; --train: #0072b2; --val: #d55e00; }
        * { box-sizing: border-box; }
        body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink); margin: 0 auto; padding: 24px 28px 40px; max-width: 1180px; }
        h1 { font-size: 1.6em; margin: 0 0 4px; overflow-wrap: anywhere; }
        h2 { font-size: 1.2em; margin: 0 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
        h3 { font-size: 1em; margin: 0 0 6px; }
        section { margin: 28px 0; }
        p { margin: 6px 0; max-width: 80ch; }
        .headline { font-size: 1.1em; }
        .big { font-size: 1.9em; font-weight: 700; margin-right: 6px; }
        .note { color: var(--muted); }
        .charts { display: flex; flex-wrap: wrap; gap: 16px; }
        .chart { margin: 0; flex: 1 1 380px; max-width: 560px; }
        .chart svg { width: 100%; height: auto; display: block; }
        svg text { font-family: inherit; fill: var(--ink); }
        svg .title { font-weight: 700; font-size: 14px; }
        svg .tick { font-size: 12px; fill: var(--muted); }
        svg .grid { stroke: #e6e9ed; stroke-width: 1; }
        svg .axis { stroke: var(--muted); stroke-width: 1; }
        svg .kept { stroke: var(--muted); stroke-width: 1.5; stroke-dasharray: 2 3; }
        svg .line { fill: none; stroke-width: 2.2; stroke-linejoin: round; }
        svg .line.training { stroke: var(--train); }
        svg .line.validation { stroke: var(--val); stroke-dasharray: 6 3; }
        svg .marker.training { fill: var(--train); }
        svg .marker.validation { fill: var(--val); }
        svg .value { font-size: 12px; }
        svg .value.training { fill: var(--train); }
        svg .value.validation { fill: #a33e00; }
        .legend { color: var(--muted); }
        .key { display: inline-block; width: 26px; height: 0; vertical-align: middle; margin: 0 4px 0 12px; border-top: 3px solid var(--train); }
        .key.validation { border-top: 3px dashed var(--val); }
        details { margin-top: 8px; }
        summary { cursor: pointer; color: var(--muted); }
        table { border-collapse: collapse; }
        th, td { padding: 4px 8px; }
        .numbers td { text-align: right; font-variant-numeric: tabular-nums; border-top: 1px solid var(--line); }
        .numbers tr.kept td { font-weight: 700; }
        .scroll { overflow-x: auto; }
        .heatmap td { min-width: 44px; height: 36px; text-align: center; font-variant-numeric: tabular-nums; border: 1px solid #fff; }
        .heatmap td.diagonal { outline: 2px solid var(--ink); outline-offset: -2px; }
        .heatmap td.total { color: var(--muted); background: none; }
        .heatmap th.row { text-align: right; font-weight: 600; white-space: nowrap; max-width: 16em; overflow: hidden; text-overflow: ellipsis; }
        .heatmap th.col { vertical-align: bottom; height: 8em; padding: 4px 2px; }
        .heatmap th.col span { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; max-height: 8em; overflow: hidden; text-overflow: ellipsis; font-weight: 600; }
        .heatmap th.corner { font-weight: 400; color: var(--muted); font-size: 0.85em; vertical-align: bottom; text-align: right; }
        .metrics th { text-align: left; font-weight: 600; }
        .metrics td { font-variant-numeric: tabular-nums; border-top: 1px solid var(--line); white-space: nowrap; }
        .metrics tr > th { border-top: 1px solid var(--line); }
        .bar { display: inline-block; width: 90px; height: 10px; background: #e6e9ed; margin-right: 8px; vertical-align: middle; }
        .bar span { display: block; height: 100%; background: var(--train); }
        .gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
        figure { margin: 0; }
        .gallery figure { border: 1px solid var(--line); border-radius: 6px; padding: 8px; background: var(--panel); }
        .gallery figure.wrong { border-left: 5px solid var(--val); }
        .gallery figure.right { border-left: 5px solid var(--train); }
        .gallery img, .gallery .missing { width: 100%; height: 128px; object-fit: contain; display: block; background: #fff; }
        .gallery img.pixelated { image-rendering: pixelated; }
        .gallery .missing { display: flex; align-items: center; justify-content: center; color: var(--muted); }
        figcaption { display: flex; flex-direction: column; font-size: 0.85em; margin-top: 6px; overflow-wrap: anywhere; }
        .verdict { font-weight: 700; }
        .wrong .verdict { color: #a33e00; }
        .right .verdict { color: #005a8c; }
        .file { color: var(--muted); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
        .facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 12px; }
        .card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
        dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
        dt { color: var(--muted); }
        dd { margin: 0; overflow-wrap: anywhere; }
        footer { margin-top: 32px; color: var(--muted); font-size: 0.85em; }

        """
}
