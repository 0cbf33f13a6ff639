// BatchNormalization, inference form (https://onnx.ai/onnx/operators/onnx__BatchNormalization.html).
import TTLCore
import TTLNN

enum BatchNormalizationNode: ONNXOperator {
    static let onnxTypes = ["BatchNormalization"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        try n.onlyFirstOutput()
        let a = n.attributes
        if a.int("training_mode", 0) != 0 { throw Unsupported(detail: "training_mode=1") }
        let x = try c.required(n, 0)
        let stats = try (1 ... 4).map { try c.required(n, $0) }
        let inputs = [x, try c.weight(stats[0], .parameter, as: "scale"), try c.weight(stats[1], .parameter, as: "bias"),
                      try c.weight(stats[2], .buffer, as: "mean"), try c.weight(stats[3], .buffer, as: "variance")]
        // ONNX momentum weighs the old running value (Keras convention); ttl's weighs the new batch.
        try c.add(n.name, BatchNormOp(epsilon: a.float("epsilon", 1e-5), momentum: 1 - a.float("momentum", 0.9)), inputs, [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [BatchNormOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let bn = n.operation as? BatchNormOp else { throw ExportProblem("not a BatchNormOp") }
        p.opType = "BatchNormalization"
        p.attribute = [ONNXExporter.attribute("epsilon", float: bn.epsilon), ONNXExporter.attribute("momentum", float: 1 - bn.momentum)]
    }
}
