// Slice of constants (https://onnx.ai/onnx/operators/onnx__Slice.html), folded. Starts, ends,
// axes and steps are attributes before opset 10, inputs from 10.
import TTLCore
import TTLNN

enum SliceNode: ONNXOperator {
    static let onnxTypes = ["Slice"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        let a = n.attributes
        guard let k = c.constants[x] else { throw Unsupported(detail: "slice of an activation") }
        let starts = n.opset >= 10 ? try c.integers(try c.required(n, 1), "starts") : (a.ints("starts") ?? [])
        let ends = n.opset >= 10 ? try c.integers(try c.required(n, 2), "ends") : (a.ints("ends") ?? [])
        let axes = n.opset >= 10 ? try n.input(3).map { try c.integers($0, "axes") } ?? Array(0 ..< starts.count) : (a.ints("axes") ?? Array(0 ..< starts.count))
        let steps = n.opset >= 10 ? try n.input(4).map { try c.integers($0, "steps") } ?? starts.map { _ in 1 } : starts.map { _ in 1 }
        guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else {
            throw InvalidNode("starts, ends, axes and steps differ in length")
        }
        do {
            c.constants[n.output] = try k.sliced(starts: starts, ends: ends, axes: axes, steps: steps)
        } catch { throw InvalidNode(error.message) }
    }
}
