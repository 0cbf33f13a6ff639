import TTLCore

/// A per-layer table of a model: what each node computes and what it holds.
public struct ModelSummary: Sendable {
    /// One node's line of the table.
    public struct Row: Sendable {
        /// The node's name.
        public var name: String
        /// The operation's `description` (`Conv s2`, `ReLU6`, `Linear`, …).
        public var op: String
        /// The shape of the node's first output, for one image.
        public var outputShape: Shape
        /// Learnable scalars read by this node (first use of each parameter only).
        public var parameters: Int
        /// "yes", "no", "partly", or "" for nodes without parameters.
        public var trainable: String
        /// FLOPs (2 per multiply-add) for one image.
        public var flops: Int
    }
    /// One row per node, in execution order.
    public var rows: [Row]
    /// Learnable scalars in the model (buffers excluded).
    public var totalParameters: Int
    /// Learnable scalars that are not frozen.
    public var trainableParameters: Int
    /// FLOPs for one image (2 per multiply-add; torchvision's "GFLOPS" counts multiply-adds).
    public var flopsPerImage: Int

    /// The table as text, one line per node, totals last.
    public func render(maxRows: Int = .max) -> String {
        let header = ["layer", "op", "output", "params", "trainable"]
        var table = rows.prefix(maxRows).map { [$0.name, $0.op, $0.outputShape.description, $0.parameters == 0 ? "" : grouped($0.parameters), $0.trainable] }
        let widths = header.indices.map { c in max(header[c].count, table.map { $0[c].count }.max() ?? 0) }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, s in c == 3 ? String(repeating: " ", count: widths[c] - s.count) + s : s.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingTrailingSpaces()
        }
        var out = [line(header), String(repeating: "-", count: widths.reduce(0, +) + 8)]
        if rows.count > maxRows { table.append(["… \(rows.count - maxRows) more", "", "", "", ""]) }
        out += table.map(line)
        out.append("parameters: \(grouped(totalParameters)) total, \(grouped(trainableParameters)) trainable")
        out.append(String(format: "FLOPs per image: %.3f G (%.3f G multiply-adds)", Double(flopsPerImage) / 1e9, Double(flopsPerImage) / 2e9))
        return out.joined(separator: "\n")
    }
}

/// `1234567` → `"1,234,567"`.
public func grouped(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, c) in s.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return String(out.reversed())
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

extension Model {
    /// The per-layer summary for one image (dynamic dimensions set to 1).
    public func summary() throws(GraphError) -> ModelSummary {
        var feeds: [String: Shape] = [:]
        for spec in inputs { feeds[spec.name] = spec.shape(batch: 1) }
        let shapes = try inferShapes(feeds)
        var seen = Set<String>()
        var rows: [ModelSummary.Row] = []
        var total = 0
        for n in nodes {
            let params = n.inputs.filter { parameters[$0]?.kind == .parameter && seen.insert($0).inserted }
            let count = params.reduce(0) { $0 + parameters[$1]!.tensor.count }
            let trainableCount = params.filter { !frozen.contains($0) }.count
            let trainable = params.isEmpty ? "" : trainableCount == params.count ? "yes" : trainableCount == 0 ? "no" : "partly"
            let ins = n.inputs.compactMap { shapes[$0] ?? parameters[$0]?.tensor.shape }
            let outs = n.outputs.compactMap { shapes[$0] }
            let flops = n.operation.flops(inputs: ins, outputs: outs)
            total += flops
            rows.append(.init(name: n.name, op: n.operation.description, outputShape: outs.first ?? [], parameters: count,
                              trainable: trainable, flops: flops))
        }
        return ModelSummary(rows: rows, totalParameters: parameterCount, trainableParameters: trainableParameterCount, flopsPerImage: total)
    }
}
