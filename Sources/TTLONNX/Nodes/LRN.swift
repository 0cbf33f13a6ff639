// LRN, local response normalization across channels (https://onnx.ai/onnx/operators/onnx__LRN.html):
// AlexNet, GoogLeNet, ZFNet. `size` is required; alpha 1e-4, beta 0.75, bias 1 by default.
import TTLCore
import TTLNN

enum LRNNode: ONNXOperator {
    static let onnxTypes = ["LRN"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let a = n.attributes
        let x = try c.required(n, 0)
        guard let size = a.int("size") else { throw InvalidNode("attribute 'size' is missing") }
        guard size >= 1 else { throw InvalidNode("size \(size) must be positive") }
        let options = LRN.Options(size: size, alpha: a.float("alpha", 1e-4), beta: a.float("beta", 0.75), bias: a.float("bias", 1))
        guard options.alpha.isFinite, options.beta.isFinite, options.bias.isFinite else {
            throw InvalidNode("alpha \(options.alpha), beta \(options.beta) and bias \(options.bias) must be finite")
        }
        guard let (s, _) = c.shapes(x), s.rank >= 3 else { throw InvalidNode("the input must be [N, C, D1, …]") }
        if c.constants[x] != nil { throw Unsupported(detail: "LRN of a constant") }
        try c.add(n.name, LRNOp(options), [x], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [LRNOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let op = n.operation as? LRNOp else { throw ExportProblem("not an LRNOp") }
        let o = op.options
        p.opType = "LRN"
        p.attribute = [ONNXExporter.attribute("size", int: o.size), ONNXExporter.attribute("alpha", float: o.alpha),
                       ONNXExporter.attribute("beta", float: o.beta), ONNXExporter.attribute("bias", float: o.bias)]
    }
}
