import Foundation
import TTLCore
import TTLNN

/// `TFOpLambda` functions ttl rebuilds: tf.keras's record of `x + y` and `x * y` written on
/// Keras tensors (MobileNetV3's hard sigmoid `relu6(x + 3) * (1/6)`, ConvNeXt's residual).
let supportedTFOpLambdaFunctions: [String: Binary.Op] = [
    "__operators__.add": .add, "math.add": .add, "math.multiply": .mul, "__operators__.mul": .mul,
]

extension KerasGraphBuilder {
    /// `Add`/`Multiply` of two or more tensors, or (Keras 3's `x + 3.0`, tf.keras's `TFOpLambda`
    /// with a number `y`) of one tensor and one constant, which is stored as `NAME.offset` (add)
    /// or `NAME.scale` (multiply), as a Keras `Rescaling` that exports it reads back.
    /// - Parameters:
    ///   - ins: the tensor operands, `[N, C, H, W]` or `[N, F]`, all of one shape
    /// - Returns: the operands' shape
    mutating func arithmetic(_ l: KerasLayer, _ op: Binary.Op, _ ins: [(name: String, shape: Shape)]) throws -> (name: String, shape: Shape) {
        if !l.constants.isEmpty {
            guard ins.count == 1, l.constants.count == 1, op == .add || op == .mul else {
                throw fail(l, "\(ins.count) tensors and \(l.constants.count) numbers; one of each is supported")
            }
            let c = constant(l.name + (op == .add ? ".offset" : ".scale"), Tensor(shape: [1], scalars: l.constants))
            return try value(l, l.name, BinaryOp(op), [ins[0], c])
        }
        guard ins.count >= 2, op != .sub || ins.count == 2 else { throw fail(l, "expected two or more inputs, got \(ins.count)") }
        var acc = ins[0]
        for (k, next) in ins.dropFirst().enumerated() {
            acc = try value(l, k == ins.count - 2 ? l.name : "\(l.name)_\(k + 1)", BinaryOp(op), [acc, next])
        }
        return acc
    }

    /// tf.keras `TFOpLambda`: the functions in ``supportedTFOpLambdaFunctions``.
    mutating func tfOpLambda(_ l: KerasLayer, _ ins: [(name: String, shape: Shape)]) throws -> (name: String, shape: Shape) {
        let function = l.string("function") ?? "?"
        guard let op = supportedTFOpLambdaFunctions[function] else {
            throw KerasError.unsupportedLayers(file: file, layers: ["\(l.name) (TFOpLambda, function '\(function)')"])
        }
        guard ins.count + l.constants.count == 2 else { throw fail(l, "'\(function)' needs two operands, got \(ins.count + l.constants.count)") }
        return try arithmetic(l, op, ins)
    }

    /// InceptionResNetV2's `CustomScaleLayer`: `inputs[0] + inputs[1] · scale`, the residual
    /// scaled by a number from the configuration (`NAME_scale.scale`). It exports as a Keras
    /// `Rescaling` and `Add` (the class itself is InceptionResNetV2's own, which Keras does not
    /// load without it).
    /// - Returns: the inputs' shape
    mutating func customScale(_ l: KerasLayer, _ ins: [(name: String, shape: Shape)]) throws -> (name: String, shape: Shape) {
        guard ins.count == 2 else { throw fail(l, "expected two inputs, got \(ins.count)") }
        guard let scale = l.float("scale"), scale.isFinite else { throw fail(l, "no finite scale") }
        // The last block8 of InceptionResNetV2 has scale 1: a plain residual.
        if scale == 1 { return try value(l, l.name, BinaryOp(.add), [ins[0], ins[1]]) }
        let s = constant(l.name + "_scale.scale", Tensor(shape: [1], scalars: [scale]))
        let scaled = try value(l, l.name + "_scale", BinaryOp(.mul), [ins[1], s])
        return try value(l, l.name, BinaryOp(.add), [ins[0], scaled])
    }
}
