// Keras `Add`, `Multiply` and `Subtract` (https://keras.io/api/layers/merging_layers/), ttl's
// `BinaryOp` chained over the inputs; called with one tensor and a number (Keras 3's `x + 3.0`)
// they add or multiply by a constant. Export writes a sum, product or difference of two computed
// tensors back as these layers (a constant operand goes to Rescaling.swift).
import TTLCore
import TTLNN

enum MergeLayer: KerasLayerMapping {
    static let kerasClasses = ["Add", "Multiply", "Subtract"]
    static let arity = KerasArity.several
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.arithmetic(l, l.className == "Add" ? .add : l.className == "Multiply" ? .mul : .sub, ins)
    }

    static let exportedOperations: [any GraphOperation.Type] = [BinaryOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let op = n.operation as? BinaryOp else { return nil }
        let a = n.inputs[0], b = n.inputs[1]
        guard w.model.parameters[a] == nil, w.model.parameters[b] == nil else { return nil }
        let className: String
        switch op.op {
        case .add: className = "Add"
        case .mul: className = "Multiply"
        case .sub: className = "Subtract"
        default: throw w.fail(n, "division of two computed tensors has no Keras layer")
        }
        return .layer(w.emit(n.name, className, [:], [try w.tensor(a, .nhwc, for: n), try w.tensor(b, .nhwc, for: n)]), .nhwc)
    }
}

extension KerasGraphBuilder {
    /// `Add`/`Multiply` of two or more tensors, or (Keras 3's `x + 3.0`, tf.keras's `TFOpLambda`
    /// with a number `y`) of one tensor and one constant, which is stored as `NAME.offset` (add)
    /// or `NAME.scale` (multiply), as a Keras `Rescaling` that exports it reads back.
    /// - Parameters:
    ///   - ins: the tensor operands, `[N, C, H, W]` or `[N, F]`, all of one shape
    /// - Returns: the operands' shape
    mutating func arithmetic(_ l: KerasLayer, _ op: Binary.Op, _ ins: [KerasValue]) throws -> KerasValue {
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
}
