// ReduceSum, ReduceMean, ReduceMax and ReduceMin over any axes
// (https://onnx.ai/onnx/operators/onnx__ReduceMean.html, …ReduceSum, …ReduceMax, …ReduceMin).
// Axes are an attribute before opset 18 (ReduceSum: before 13), an optional constant input from
// then; no axes means all of them, unless `noop_with_empty_axes` (from the same opsets) makes the
// node an identity. A mean over H and W of a 4-D tensor imports as a global average pool, which
// the head finder and the engines know; everything else as a ReduceOp. Folded on constants.
import TTLCore
import TTLNN

enum ReduceNodes: ONNXOperator {
    static let kinds: [String: Reduce.Kind] = ["ReduceSum": .sum, "ReduceMean": .mean, "ReduceMax": .max, "ReduceMin": .min]
    static let onnxTypes = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin"]

    /// The opset from which the axes are an input.
    static func axesInputOpset(_ kind: Reduce.Kind) -> Int { kind == .sum ? 13 : 18 }

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        guard let kind = kinds[n.type] else { throw Unsupported() }
        let x = try c.required(n, 0)
        guard let (s1, _) = c.shapes(x) else { throw InvalidNode("unknown input shape") }
        let rank = s1.rank
        let given: [Int]
        if n.opset >= axesInputOpset(kind) {
            given = try n.input(1).map { try c.integers($0, "axes") } ?? []
        } else {
            given = n.attributes.ints("axes") ?? []
        }
        let keepDims = n.attributes.int("keepdims", 1) != 0
        if given.isEmpty && n.attributes.int("noop_with_empty_axes", 0) != 0 {
            try c.add(n.name, ReshapeOp(Array(repeating: 0, count: rank)), [x], [n.output])
            return
        }
        var axes: [Int] = []
        for a in given {
            guard a >= -rank && a < rank else { throw InvalidNode("axis \(a) for a rank-\(rank) input") }
            axes.append(a < 0 ? a + rank : a)
        }
        guard Set(axes).count == axes.count else { throw InvalidNode("repeated axes \(given)") }
        if axes.isEmpty { axes = Array(0 ..< rank) }
        let op = ReduceOp(kind, axes: axes, keepDims: keepDims)
        if let k = c.constants[x] {
            guard case .float = k else { throw Unsupported(detail: "\(n.type) of integer constants") }
            let out: Shape
            do { out = try op.checkedOutputShapes([k.shape])[0] } catch { throw InvalidNode(error.message) }
            c.constants[n.output] = .float(Reduce.forward(kind, k.floatTensor, axes: op.axes).reshaped(out))
            return
        }
        if kind == .mean && rank == 4 && axes.sorted() == [2, 3] {
            if keepDims {
                try c.add(n.name, GlobalAvgPoolOp(), [x], [n.output])
            } else {
                try c.add(n.name, GlobalAvgPoolOp(), [x], [n.output + "/pooled"])
                try c.add(n.name + "/squeeze", ReshapeOp([0, 0]), [n.output + "/pooled"], [n.output])
            }
            return
        }
        try c.add(n.name, op, [x], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [ReduceOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer], opset: Int) throws(ExportProblem) {
        guard let r = n.operation as? ReduceOp else { throw ExportProblem("not a ReduceOp") }
        p.opType = r.type
        p.attribute = [ONNXExporter.attribute("keepdims", int: r.keepDims ? 1 : 0)]
        if opset >= axesInputOpset(r.kind) {
            let axesName = n.name + "/axes"
            extra.append(.message(ONNXExporter.int64Tensor(r.axes, name: axesName)))
            p.input = [n.inputs[0], axesName]
        } else {
            p.attribute.append(ONNXExporter.attribute("axes", ints: r.axes))
        }
    }
}
