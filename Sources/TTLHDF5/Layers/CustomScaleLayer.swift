// InceptionResNetV2's `CustomScaleLayer`: `inputs[0] + inputs[1] · scale`, the residual scaled by
// a number from the configuration. Import only: it writes back as a Keras `Rescaling` and `Add`
// (the class itself is InceptionResNetV2's own, which Keras does not load without it).
import TTLCore
import TTLNN

enum CustomScaleLayerMapping: KerasLayerMapping {
    static let kerasClasses = ["CustomScaleLayer"]
    static let arity = KerasArity.several

    /// Nodes `NAME_scale` (with `NAME_scale.scale`) and `NAME`.
    /// - Returns: the inputs' shape
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        guard ins.count == 2 else { throw b.fail(l, "expected two inputs, got \(ins.count)") }
        guard let scale = l.float("scale"), scale.isFinite else { throw b.fail(l, "no finite scale") }
        // The last block8 of InceptionResNetV2 has scale 1: a plain residual.
        if scale == 1 { return try b.value(l, l.name, BinaryOp(.add), [ins[0], ins[1]]) }
        let s = b.constant(l.name + "_scale.scale", Tensor(shape: [1], scalars: [scale]))
        let scaled = try b.value(l, l.name + "_scale", BinaryOp(.mul), [ins[1], s])
        return try b.value(l, l.name, BinaryOp(.add), [ins[0], scaled])
    }
}
