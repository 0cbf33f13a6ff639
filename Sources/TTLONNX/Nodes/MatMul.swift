// MatMul (https://onnx.ai/onnx/operators/onnx__MatMul.html): of two matrices a GemmOp (a
// Linear layer when B is a weight), with batch dimensions a MatMulOp (ConvNeXt's Linear
// layers on NHWC activations). A stored B is a trainable parameter.
import TTLCore
import TTLNN

enum MatMulNode: ONNXOperator {
    static let onnxTypes = ["MatMul"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let (x, w) = (try c.required(n, 0), try c.required(n, 1))
        guard c.constants[x] == nil else { throw Unsupported(detail: "constant left operand") }
        guard let (sx, _) = c.shapes(x), let (sw, _) = c.shapes(w) else { throw InvalidNode("unknown input shapes") }
        guard sx.rank >= 2, sw.rank >= 2 else { throw Unsupported(detail: "MatMul of a vector") }
        let operands = [x, try c.operand(w, .parameter)]
        if sx.rank == 2 && sw.rank == 2 {
            try c.add(n.name, GemmOp(), operands, [n.output])
        } else {
            try c.add(n.name, MatMulOp(), operands, [n.output])
        }
    }

    static let exportedOperations: [any GraphOperation.Type] = [MatMulOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        p.opType = "MatMul"
    }
}
