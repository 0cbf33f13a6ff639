// Flatten (https://onnx.ai/onnx/operators/onnx__Flatten.html).
import TTLCore
import TTLNN

enum FlattenNode: ONNXOperator {
    static let onnxTypes = ["Flatten"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        let axis = n.attributes.int("axis", 1)
        if let k = c.constants[x] {
            c.constants[n.output] = .float(Flatten.forward(k.floatTensor, axis: axis))
        } else {
            try c.add(n.name, FlattenOp(axis: axis), [x], [n.output])
        }
    }

    static let exportedOperations: [any GraphOperation.Type] = [FlattenOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let f = n.operation as? FlattenOp else { throw ExportProblem("not a FlattenOp") }
        p.opType = "Flatten"
        p.attribute = [ONNXExporter.attribute("axis", int: f.axis)]
    }
}
