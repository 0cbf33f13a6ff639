// Identity (https://onnx.ai/onnx/operators/onnx__Identity.html).
import TTLCore
import TTLNN

enum IdentityNode: ONNXOperator {
    static let onnxTypes = ["Identity"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        try n.onlyFirstOutput()
        let x = try c.required(n, 0)
        if let k = c.constants[x] { c.constants[n.output] = k; return }
        try c.add(n.name, IdentityOp(type: n.type), [x], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [IdentityOp.self]

    /// Every IdentityOp (imported from Identity, Dropout or a float Cast) is written as Identity.
    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        p.opType = "Identity"
    }
}
