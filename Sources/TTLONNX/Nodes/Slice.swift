// Slice (https://onnx.ai/onnx/operators/onnx__Slice.html): folded on constants, a SliceOp of
// activations. Starts, ends, axes and steps are attributes before opset 10, constant inputs from 10.
import TTLCore
import TTLNN

enum SliceNode: ONNXOperator {
    static let onnxTypes = ["Slice"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        let a = n.attributes
        let starts = n.opset >= 10 ? try c.integers(try c.required(n, 1), "starts") : (a.ints("starts") ?? [])
        let ends = n.opset >= 10 ? try c.integers(try c.required(n, 2), "ends") : (a.ints("ends") ?? [])
        let axes = n.opset >= 10 ? try n.input(3).map { try c.integers($0, "axes") } ?? Array(0 ..< starts.count) : (a.ints("axes") ?? Array(0 ..< starts.count))
        let steps = n.opset >= 10 ? try n.input(4).map { try c.integers($0, "steps") } ?? starts.map { _ in 1 } : starts.map { _ in 1 }
        guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else {
            throw InvalidNode("starts, ends, axes and steps differ in length")
        }
        guard let k = c.constants[x] else {
            try c.add(n.name, SliceOp(starts: starts, ends: ends, axes: axes, steps: steps), [x], [n.output])
            return
        }
        do {
            c.constants[n.output] = try k.sliced(starts: starts, ends: ends, axes: axes, steps: steps)
        } catch { throw InvalidNode(error.message) }
    }

    static let exportedOperations: [any GraphOperation.Type] = [SliceOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let op = n.operation as? SliceOp else { throw ExportProblem("not a SliceOp") }
        p.opType = "Slice"
        let names = ["starts", "ends", "axes", "steps"].map { n.name + "/" + $0 }
        for (name, values) in zip(names, [op.starts, op.ends, op.axes, op.steps]) {
            extra.append(.message(ONNXExporter.int64Tensor(values, name: name)))
        }
        p.input = [n.inputs[0]] + names
    }
}
