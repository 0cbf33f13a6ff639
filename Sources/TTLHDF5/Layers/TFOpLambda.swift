// tf.keras `TFOpLambda`: tf.keras's record of `x + y` and `x * y` written on Keras tensors
// (MobileNetV3's hard sigmoid `relu6(x + 3) * (1/6)`, ConvNeXt's residual). Import only: the
// class is tf.keras's own, which Keras 3 does not load; the arithmetic writes back as `Add`,
// `Multiply` or `Rescaling`.
import TTLCore
import TTLNN

enum TFOpLambdaLayer: KerasLayerMapping {
    static let kerasClasses = ["TFOpLambda"]
    static let arity = KerasArity.several

    /// The functions ttl rebuilds, by tf.keras's name.
    static let functions: [String: Binary.Op] = [
        "__operators__.add": .add, "math.add": .add, "math.multiply": .mul, "__operators__.mul": .mul,
    ]

    static func unsupportedForm(_ l: KerasLayer) -> String? {
        functions[l.string("function") ?? ""] == nil ? "\(l.name) (TFOpLambda, function '\(l.string("function") ?? "?")')" : nil
    }

    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        let function = l.string("function") ?? "?"
        guard let op = functions[function] else {
            throw KerasError.unsupportedLayers(file: b.file, layers: ["\(l.name) (TFOpLambda, function '\(function)')"])
        }
        guard ins.count + l.constants.count == 2 else { throw b.fail(l, "'\(function)' needs two operands, got \(ins.count + l.constants.count)") }
        return try b.arithmetic(l, op, ins)
    }
}
