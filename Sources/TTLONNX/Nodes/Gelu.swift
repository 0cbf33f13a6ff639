// Gelu (https://onnx.ai/onnx/operators/onnx__Gelu.html, opset 20; the dynamo exporter's
// `nn.GELU`): imported as the elementwise nodes the TorchScript exporter writes for it, so that
// it trains, runs on every engine and exports at opset 17 with nothing new:
//   exact: x · (erf(x / √2) + 1) · 0.5
//   tanh:  x · (tanh(√(2/π) · (x + 0.044715 · x³)) + 1) · 0.5
import TTLCore
import TTLNN

enum GeluNode: ONNXOperator {
    static let onnxTypes = ["Gelu"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        if c.constants[x] != nil { throw Unsupported(detail: "Gelu of a constant") }
        let approximate = n.attributes.string("approximate") ?? "none"
        var step = 0
        func constant(_ v: Float) throws -> String {
            let name = "\(n.name)/c\(step)"
            c.constants[name] = .float(Tensor(shape: [], scalars: [v]))
            return try c.operand(name)
        }
        func node(_ op: any GraphOperation, _ inputs: [String], output: String? = nil) throws -> String {
            step += 1
            let out = output ?? "\(n.output)/gelu\(step)"
            try c.add("\(n.name)/\(step)", op, inputs, [out])
            return out
        }
        let inner: String
        switch approximate {
        case "none":
            let scaled = try node(BinaryOp(.div), [x, try constant(Float(2).squareRoot())])
            inner = try node(ElementwiseMathOp(.erf), [scaled])
        case "tanh":
            let square = try node(BinaryOp(.mul), [x, x])
            let cube = try node(BinaryOp(.mul), [square, x])
            let term = try node(BinaryOp(.mul), [cube, try constant(0.044715)])
            let sum = try node(BinaryOp(.add), [x, term])
            let scaled = try node(BinaryOp(.mul), [sum, try constant((2 / Float.pi).squareRoot())])
            inner = try node(ElementwiseMathOp(.tanh), [scaled])
        default:
            throw InvalidNode("approximate '\(approximate)' is neither 'none' nor 'tanh'")
        }
        let plusOne = try node(BinaryOp(.add), [inner, try constant(1)])
        let times = try node(BinaryOp(.mul), [x, plusOne])
        _ = try node(BinaryOp(.mul), [times, try constant(0.5)], output: n.output)
    }
}
