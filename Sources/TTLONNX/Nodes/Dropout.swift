// Dropout (https://onnx.ai/onnx/operators/onnx__Dropout.html): the identity at inference.
import TTLCore
import TTLNN

enum DropoutNode: ONNXOperator {
    static let onnxTypes = ["Dropout"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        try n.onlyFirstOutput()
        let x = try c.required(n, 0)
        if let k = c.constants[x] { c.constants[n.output] = k; return }
        if n.opset >= 12, let ratio = n.input(1), c.constants[ratio] == nil { throw Unsupported(detail: "computed ratio") }
        try c.add(n.name, IdentityOp(type: n.type), [x], [n.output])
    }
}
