// LayerNormalization (https://onnx.ai/onnx/operators/onnx__LayerNormalization.html, opset 17):
// ConvNeXt's norm over the channels of an NHWC activation. Scale and bias are trainable
// parameters; the Mean and InvStdDev outputs (training aids) must be unused.
import TTLCore
import TTLNN

enum LayerNormalizationNode: ONNXOperator {
    static let onnxTypes = ["LayerNormalization"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        try n.onlyFirstOutput()
        let a = n.attributes
        let x = try c.required(n, 0)
        if c.constants[x] != nil { throw Unsupported(detail: "layer norm of a constant") }
        let epsilon = a.float("epsilon", 1e-5)
        guard epsilon.isFinite, epsilon >= 0 else { throw InvalidNode("epsilon \(epsilon)") }
        guard a.int("stash_type", 1) == 1 else { throw Unsupported(detail: "stash_type \(a.int("stash_type", 1))") }
        var inputs = [x, try c.weight(try c.required(n, 1), .parameter, as: "scale")]
        if let b = n.input(2) { _ = try c.required(n, 2); inputs.append(try c.weight(b, .parameter, as: "bias")) }
        try c.add(n.name, LayerNormOp(axis: a.int("axis", -1), epsilon: epsilon), inputs, [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [LayerNormOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let op = n.operation as? LayerNormOp else { throw ExportProblem("not a LayerNormOp") }
        p.opType = "LayerNormalization"
        p.attribute = [ONNXExporter.attribute("axis", int: op.axis), ONNXExporter.attribute("epsilon", float: op.epsilon)]
    }
}
