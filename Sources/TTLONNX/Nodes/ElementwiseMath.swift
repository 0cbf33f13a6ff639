// The elementwise math functions: Elu, Selu, Tanh, Neg, Exp, Sqrt, Erf, Softplus
// (https://onnx.ai/onnx/operators/). Folded on constants.
import TTLCore
import TTLNN

enum ElementwiseMathNodes: ONNXOperator {
    static let onnxTypes = ["Elu", "Selu", "Tanh", "Neg", "Exp", "Sqrt", "Erf", "Softplus"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let a = n.attributes
        let x = try c.required(n, 0)
        let f: ElementwiseMath.Function
        switch n.type {
        case "Elu": f = .elu(alpha: a.float("alpha", 1))
        // The defaults of the specification, to float precision.
        case "Selu": f = .selu(alpha: a.float("alpha", 1.67326319217681884765625), gamma: a.float("gamma", 1.05070102214813232421875))
        case "Tanh": f = .tanh
        case "Neg": f = .neg
        case "Exp": f = .exp
        case "Sqrt": f = .sqrt
        case "Erf": f = .erf
        case "Softplus": f = .softplus
        default: throw Unsupported()
        }
        if let k = c.constants[x] {
            guard case let .float(t) = k else { throw Unsupported(detail: "\(n.type) of an integer constant") }
            c.constants[n.output] = .float(ElementwiseMath.forward(f, t))
            return
        }
        try c.add(n.name, ElementwiseMathOp(f), [x], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [ElementwiseMathOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let op = n.operation as? ElementwiseMathOp else { throw ExportProblem("not an ElementwiseMathOp") }
        p.opType = op.type
        switch op.function {
        case let .elu(alpha): p.attribute = [ONNXExporter.attribute("alpha", float: alpha)]
        case let .selu(alpha, gamma): p.attribute = [ONNXExporter.attribute("alpha", float: alpha), ONNXExporter.attribute("gamma", float: gamma)]
        default: break
        }
    }
}
