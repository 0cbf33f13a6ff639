// The activations of ActivationOp: Relu, Sigmoid, HardSwish, LeakyRelu, HardSigmoid, Clip
// (https://onnx.ai/onnx/operators/). Clip's bounds are attributes before opset 11, inputs from 11.
import TTLCore
import TTLNN

enum ActivationNodes: ONNXOperator {
    static let onnxTypes = ["Relu", "Sigmoid", "HardSwish", "LeakyRelu", "HardSigmoid", "Clip"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let a = n.attributes
        let x = try c.required(n, 0)
        let f: ActivationOp.Function
        switch n.type {
        case "Relu": f = .relu
        case "Sigmoid": f = .sigmoid
        case "HardSwish": f = .hardSwish
        case "LeakyRelu": f = .leakyReLU(slope: a.float("alpha", 0.01))
        case "HardSigmoid": f = .hardSigmoid(alpha: a.float("alpha", 0.2), beta: a.float("beta", 0.5))
        default:
            var lo = -Float.greatestFiniteMagnitude, hi = Float.greatestFiniteMagnitude
            if n.opset < 11 {
                lo = a.float("min", lo)
                hi = a.float("max", hi)
            } else {
                func bound(_ k: Int) throws -> Float? {
                    guard let v = n.input(k) else { return nil }
                    guard let b = c.constants[v], b.shape.count == 1 else { throw Unsupported(detail: "computed bounds") }
                    return b.floatTensor.scalars[0]
                }
                lo = try bound(1) ?? lo
                hi = try bound(2) ?? hi
            }
            f = .clip(min: lo, max: hi)
        }
        if c.constants[x] != nil { throw Unsupported(detail: "activation of a constant") }
        try c.add(n.name, ActivationOp(f), [x], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [ActivationOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let act = n.operation as? ActivationOp else { throw ExportProblem("not an ActivationOp") }
        switch act.function {
        case .relu: p.opType = "Relu"
        case .sigmoid: p.opType = "Sigmoid"
        case .hardSwish: p.opType = "HardSwish"
        case let .leakyReLU(slope):
            p.opType = "LeakyRelu"
            p.attribute = [ONNXExporter.attribute("alpha", float: slope)]
        case let .hardSigmoid(alpha, beta):
            p.opType = "HardSigmoid"
            p.attribute = [ONNXExporter.attribute("alpha", float: alpha), ONNXExporter.attribute("beta", float: beta)]
        case let .clip(lo, hi):
            p.opType = "Clip"
            let (minName, maxName) = (n.name + "/min", n.name + "/max")
            extra.append(.float(name: minName, tensor: Tensor(shape: [], scalars: [lo])))
            extra.append(.float(name: maxName, tensor: Tensor(shape: [], scalars: [hi])))
            p.input = [n.inputs[0], minName, maxName]
        }
    }
}
