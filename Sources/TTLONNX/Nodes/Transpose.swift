// Transpose (https://onnx.ai/onnx/operators/onnx__Transpose.html); folded on constants.
import TTLCore
import TTLNN

enum TransposeNode: ONNXOperator {
    static let onnxTypes = ["Transpose"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        guard let (s, _) = c.shapes(x) else { throw InvalidNode("unknown input shape") }
        let perm = n.attributes.ints("perm") ?? Array((0 ..< s.rank).reversed())
        if let k = c.constants[x] {
            guard perm.sorted() == Array(0 ..< k.shape.rank) else { throw InvalidNode("perm \(perm) for \(k.shape)") }
            c.constants[n.output] = k.transposed(perm)
        } else {
            try c.add(n.name, TransposeOp(perm), [x], [n.output])
        }
    }

    static let exportedOperations: [any GraphOperation.Type] = [TransposeOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let t = n.operation as? TransposeOp else { throw ExportProblem("not a TransposeOp") }
        p.opType = "Transpose"
        p.attribute = [ONNXExporter.attribute("perm", ints: t.permutation)]
    }
}
