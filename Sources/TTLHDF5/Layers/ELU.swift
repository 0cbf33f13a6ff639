// Keras `ELU` (`alpha`; https://keras.io/api/layers/activation_layers/elu/), ttl's
// `ElementwiseMathOp(.elu)`. Export also writes ttl's Tanh, Exp, Softplus, ELU with alpha 1 and
// SELU with Keras's constants as `Activation` (tanh, exponential, softplus, elu, selu), which
// the activation table (Activation.swift) reads back as the same operations.
import TTLCore
import TTLNN

enum ELULayer: KerasLayerMapping {
    static let kerasClasses = ["ELU"]

    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        let alpha = l.float("alpha") ?? 1
        guard alpha.isFinite else { throw b.fail(l, "alpha \(alpha) is not finite") }
        return try b.value(l, l.name, ElementwiseMathOp(.elu(alpha: alpha)), [ins[0]])
    }

    static let exportedOperations: [any GraphOperation.Type] = [ElementwiseMathOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let op = n.operation as? ElementwiseMathOp else { return nil }
        let className: String, config: [String: Any]
        switch op.function {
        case .tanh: (className, config) = ("Activation", ["activation": "tanh"])
        case .exp: (className, config) = ("Activation", ["activation": "exponential"])
        case .softplus: (className, config) = ("Activation", ["activation": "softplus"])
        case .elu(alpha: 1): (className, config) = ("Activation", ["activation": "elu"])
        case let .elu(alpha): (className, config) = ("ELU", ["alpha": Double(alpha)])
        case .selu(alpha: KerasActivations.seluAlpha, gamma: KerasActivations.seluScale): (className, config) = ("Activation", ["activation": "selu"])
        default: return nil
        }
        return .layer(w.emit(n.name, className, config, [try w.tensor(n.inputs[0], .nhwc, for: n)]), .nhwc)
    }
}
