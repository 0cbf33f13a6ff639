// Keras `Average`, `Maximum` and `Minimum` (https://keras.io/api/layers/merging_layers/), ttl's
// `VariadicOp` (mean, max, min). Export writes ttl's Sum, Mean, Max and Min of two or more
// computed tensors of one shape as `Add`, `Average`, `Maximum` and `Minimum`.
import TTLCore
import TTLNN

enum VariadicMergeLayer: KerasLayerMapping {
    static let kerasClasses = ["Average", "Maximum", "Minimum"]
    static let arity = KerasArity.several
    static let kinds: [String: Variadic.Kind] = ["Average": .mean, "Maximum": .max, "Minimum": .min]

    /// - Parameters:
    ///   - ins: two or more tensors of one shape
    /// - Returns: their shape
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        guard ins.count >= 2 else { throw b.fail(l, "expected two or more inputs, got \(ins.count)") }
        guard ins.allSatisfy({ $0.shape == ins[0].shape }) else { throw b.fail(l, "inputs of shapes \(ins.map(\.shape)) differ") }
        guard let kind = kinds[l.className] else { throw b.fail(l, "not a merge ttl reads") }
        return try b.value(l, l.name, VariadicOp(kind), ins)
    }

    static let exportedOperations: [any GraphOperation.Type] = [VariadicOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let op = n.operation as? VariadicOp else { return nil }
        let shape = w.shapes[n.inputs[0]]
        guard n.inputs.count >= 2, n.inputs.allSatisfy({ w.model.parameters[$0] == nil && w.shapes[$0] == shape }) else {
            throw w.fail(n, "only two or more computed tensors of one shape map to Keras's merge layers")
        }
        let className: String
        switch op.kind {
        case .sum: className = "Add"
        case .mean: className = "Average"
        case .max: className = "Maximum"
        case .min: className = "Minimum"
        }
        return .layer(w.emit(n.name, className, [:], try n.inputs.map { try w.tensor($0, .nhwc, for: n) }), .nhwc)
    }
}
