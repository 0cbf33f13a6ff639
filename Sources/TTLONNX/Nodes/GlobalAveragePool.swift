// GlobalAveragePool of a 4-D tensor (https://onnx.ai/onnx/operators/onnx__GlobalAveragePool.html).
import TTLCore
import TTLNN

enum GlobalAveragePoolNode: ONNXOperator {
    static let onnxTypes = ["GlobalAveragePool"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        guard c.shapes(x)?.0.rank == 4 else { throw Unsupported(detail: "non-4-D input") }
        try c.add(n.name, GlobalAvgPoolOp(), [x], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [GlobalAvgPoolOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        p.opType = "GlobalAveragePool"
    }
}
