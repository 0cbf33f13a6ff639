// InstanceNormalization (https://onnx.ai/onnx/operators/onnx__InstanceNormalization.html):
// each (n, c) plane normalized over its spatial axes, then scaled and shifted per channel.
// Imported as the reductions and elementwise nodes it is made of, so that training and the
// engines need nothing new; the scale and bias, reshaped to `[C, 1, …]`, are parameters. (It
// exports as those nodes, not as one InstanceNormalization.)
import TTLCore
import TTLNN

enum InstanceNormalizationNode: ONNXOperator {
    static let onnxTypes = ["InstanceNormalization"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        guard let (s, _) = c.shapes(x), s.rank >= 3 else { throw InvalidNode("input of rank below 3") }
        if c.constants[x] != nil { throw Unsupported(detail: "instance norm of a constant") }
        let epsilon = n.attributes.float("epsilon", 1e-5)
        guard epsilon.isFinite, epsilon >= 0 else { throw InvalidNode("epsilon \(epsilon)") }
        let channels = s[1]
        let perChannel = Shape([channels] + [Int](repeating: 1, count: s.rank - 2))
        var params: [String] = []
        for (k, role) in [(1, "scale"), (2, "bias")] {
            let v = try c.required(n, k)
            guard let value = c.constants[v] else { throw Unsupported(detail: "\(role) '\(v)' is computed, not a stored weight") }
            guard value.shape.count == channels else { throw InvalidNode("\(role) of shape \(value.shape) for \(channels) channels") }
            c.constants[v + "/per_channel"] = .float(value.floatTensor.reshaped(perChannel))
            params.append(try c.weight(v + "/per_channel", .parameter, as: role))
        }
        let axes = Array(2 ..< s.rank), name = n.name
        c.constants["\(name)/epsilon"] = .float(Tensor(shape: [], scalars: [epsilon]))
        try c.add("\(name)/mean", ReduceOp(.mean, axes: axes, keepDims: true), [x], ["\(name)/mean"])
        try c.add("\(name)/centered", BinaryOp(.sub), [x, "\(name)/mean"], ["\(name)/centered"])
        try c.add("\(name)/squared", BinaryOp(.mul), ["\(name)/centered", "\(name)/centered"], ["\(name)/squared"])
        try c.add("\(name)/variance", ReduceOp(.mean, axes: axes, keepDims: true), ["\(name)/squared"], ["\(name)/variance"])
        try c.add("\(name)/shifted", BinaryOp(.add), ["\(name)/variance", try c.operand("\(name)/epsilon")], ["\(name)/shifted"])
        try c.add("\(name)/std", ElementwiseMathOp(.sqrt), ["\(name)/shifted"], ["\(name)/std"])
        try c.add("\(name)/normalized", BinaryOp(.div), ["\(name)/centered", "\(name)/std"], ["\(name)/normalized"])
        try c.add("\(name)/scaled", BinaryOp(.mul), ["\(name)/normalized", params[0]], ["\(name)/scaled"])
        try c.add(name, BinaryOp(.add), ["\(name)/scaled", params[1]], [n.output])
    }
}
