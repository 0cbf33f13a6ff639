// LayerNormalization (https://onnx.ai/onnx/operators/onnx__LayerNormalization.html, opset 17):
// ConvNeXt's norm over the channels of an NHWC activation. Scale and bias are trainable
// parameters. The Mean and InvStdDev outputs, when a graph uses them, are computed beside it
// by reductions over the normalized axes (float32, as `stash_type` 1 asks).
import TTLCore
import TTLNN

enum LayerNormalizationNode: ONNXOperator {
    static let onnxTypes = ["LayerNormalization"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let a = n.attributes
        let x = try c.required(n, 0)
        if c.constants[x] != nil { throw Unsupported(detail: "layer norm of a constant") }
        let epsilon = a.float("epsilon", 1e-5)
        guard epsilon.isFinite, epsilon >= 0 else { throw InvalidNode("epsilon \(epsilon)") }
        guard a.int("stash_type", 1) == 1 else { throw Unsupported(detail: "stash_type \(a.int("stash_type", 1))") }
        var inputs = [x, try c.weight(try c.required(n, 1), .parameter, as: "scale")]
        if let b = n.input(2) { _ = try c.required(n, 2); inputs.append(try c.weight(b, .parameter, as: "bias")) }
        try c.add(n.name, LayerNormOp(axis: a.int("axis", -1), epsilon: epsilon), inputs, [n.output])
        let outputs = n.outputs
        if outputs.count > 3 { throw InvalidNode("\(outputs.count) outputs; LayerNormalization has at most 3") }
        if outputs.dropFirst().contains(where: { !$0.isEmpty }) {
            try statistics(n, x: x, epsilon: epsilon, mean: outputs.count > 1 ? outputs[1] : "", invStdDev: outputs.count > 2 ? outputs[2] : "", &c)
        }
    }

    /// The Mean `[…, 1, 1]` (the normalized axes kept as 1) and InvStdDev = 1 / sqrt(var + ε) outputs.
    static func statistics(_ n: ONNXNode, x: String, epsilon: Float, mean: String, invStdDev: String, _ c: inout GraphConverter) throws {
        guard let (s, _) = c.shapes(x) else { throw InvalidNode("unknown input shape") }
        let a0 = n.attributes.int("axis", -1)
        let axis = a0 < 0 ? a0 + s.rank : a0
        guard axis >= 0 && axis < s.rank else { throw InvalidNode("axis \(a0) for \(s)") }
        let axes = Array(axis ..< s.rank)
        let name = n.name
        let meanName = mean.isEmpty ? "\(name)/mean" : mean
        try c.add("\(name)/mean", ReduceOp(.mean, axes: axes, keepDims: true), [x], [meanName])
        guard !invStdDev.isEmpty else { return }
        c.constants["\(name)/epsilon"] = .float(Tensor(shape: [], scalars: [epsilon]))
        c.constants["\(name)/one"] = .float(Tensor(shape: [], scalars: [1]))
        try c.add("\(name)/centered", BinaryOp(.sub), [x, meanName], ["\(name)/centered"])
        try c.add("\(name)/squared", BinaryOp(.mul), ["\(name)/centered", "\(name)/centered"], ["\(name)/squared"])
        try c.add("\(name)/variance", ReduceOp(.mean, axes: axes, keepDims: true), ["\(name)/squared"], ["\(name)/variance"])
        try c.add("\(name)/shifted", BinaryOp(.add), ["\(name)/variance", try c.operand("\(name)/epsilon")], ["\(name)/shifted"])
        try c.add("\(name)/std", ElementwiseMathOp(.sqrt), ["\(name)/shifted"], ["\(name)/std"])
        try c.add("\(name)/inverse", BinaryOp(.div), [try c.operand("\(name)/one"), "\(name)/std"], [invStdDev])
    }

    static let exportedOperations: [any GraphOperation.Type] = [LayerNormOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let op = n.operation as? LayerNormOp else { throw ExportProblem("not a LayerNormOp") }
        p.opType = "LayerNormalization"
        p.attribute = [ONNXExporter.attribute("axis", int: op.axis), ONNXExporter.attribute("epsilon", float: op.epsilon)]
    }
}
