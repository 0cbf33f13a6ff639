// Softmax (https://onnx.ai/onnx/operators/onnx__Softmax.html). Before opset 13 it normalises
// over all axes from `axis` on, as one: Flatten, Softmax over the last axis, Reshape back.
import TTLCore
import TTLNN

enum SoftmaxNode: ONNXOperator {
    static let onnxTypes = ["Softmax"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        let out = n.output
        guard let (s1, s2) = c.shapes(x) else { throw InvalidNode("unknown input shape") }
        let rank = s1.rank
        var axis = n.attributes.int("axis", n.opset >= 13 ? -1 : 1)
        if axis < 0 { axis += rank }
        guard axis >= 0 && axis < rank else { throw InvalidNode("axis \(axis) for rank \(rank)") }
        if n.opset >= 13 || axis == rank - 1 {
            try c.add(n.name, SoftmaxOp(axis: n.opset >= 13 ? axis : -1), [x], [out])
        } else {
            try c.add(n.name + "/flatten", FlattenOp(axis: axis), [x], [out + "/flat"])
            try c.add(n.name, SoftmaxOp(axis: -1), [out + "/flat"], [out + "/softmax"])
            try c.add(n.name + "/reshape", ReshapeOp(try c.reshapeTarget(x, s1, s2)), [out + "/softmax"], [out])
        }
    }

    static let exportedOperations: [any GraphOperation.Type] = [SoftmaxOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let s = n.operation as? SoftmaxOp else { throw ExportProblem("not a SoftmaxOp") }
        p.opType = "Softmax"
        p.attribute = [ONNXExporter.attribute("axis", int: s.axis)]
    }
}
