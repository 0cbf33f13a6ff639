// PRelu (https://onnx.ai/onnx/operators/onnx__PRelu.html): the slope broadcasts to the input
// (`[C, 1, 1]` from PyTorch's exporter); a stored slope is a trainable parameter.
import TTLCore
import TTLNN

enum PReluNode: ONNXOperator {
    static let onnxTypes = ["PRelu"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let (x, slope) = (try c.required(n, 0), try c.required(n, 1))
        if c.constants[x] != nil { throw Unsupported(detail: "PRelu of a constant") }
        var slopeName = slope
        // Before opset 7 a 1-D slope of C elements is per channel (axis 1), not right-aligned.
        if n.opset < 7, let k = c.constants[slope], k.shape.rank == 1, k.shape.count > 1,
           let (s, _) = c.shapes(x), s.rank > 2, s[1] == k.shape.count {
            slopeName = slope + "/per_channel"
            c.constants[slopeName] = .float(k.floatTensor.reshaped(Shape([k.shape.count] + [Int](repeating: 1, count: s.rank - 2))))
        }
        try c.add(n.name, PReluOp(), [x, try c.operand(slopeName, .parameter)], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [PReluOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        p.opType = "PRelu"
    }
}
