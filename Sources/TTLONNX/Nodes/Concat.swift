// Concat (https://onnx.ai/onnx/operators/onnx__Concat.html): of activations a ttl node, of
// constants folded.
import TTLCore
import TTLNN

enum ConcatNode: ONNXOperator {
    static let onnxTypes = ["Concat"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let vs = try n.inputs.indices.compactMap { n.input($0) == nil ? nil : try c.required(n, $0) }
        let axis = n.attributes.int("axis", 0)
        if vs.allSatisfy({ c.constants[$0] == nil }) {
            try c.add(n.name, ConcatOp(axis: axis), vs, [n.output])
            return
        }
        let parts = vs.compactMap { c.constants[$0] }
        guard parts.count == vs.count else { throw Unsupported(detail: "concatenation of activations with constants") }
        do {
            c.constants[n.output] = try ONNXConstant.concatenated(parts, axis: axis)
        } catch { throw InvalidNode(error.message) }
    }

    static let exportedOperations: [any GraphOperation.Type] = [ConcatOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let op = n.operation as? ConcatOp else { throw ExportProblem("not a ConcatOp") }
        p.opType = "Concat"
        p.attribute = [ONNXExporter.attribute("axis", int: op.axis)]
    }
}
