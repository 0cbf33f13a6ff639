// Cast (https://onnx.ai/onnx/operators/onnx__Cast.html): ttl computes in float32, so a cast of
// an activation to a floating-point type is the identity; casts of constants are folded.
import TTLCore
import TTLNN

enum CastNode: ONNXOperator {
    static let onnxTypes = ["Cast"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        let to = n.attributes.int("to", 0)
        let floatTypes = [1, 10, 11, 16]
        if let k = c.constants[x] {
            c.constants[n.output] = floatTypes.contains(to) ? .float(k.floatTensor) : (k.integers.map { .integers($0, k.shape) } ?? k)
        } else if floatTypes.contains(to) {
            try c.add(n.name, IdentityOp(type: "Cast"), [x], [n.output])
        } else {
            throw Unsupported(detail: "cast of an activation to type \(to)")
        }
    }
}
