// Keras `Concatenate` (https://keras.io/api/layers/merging_layers/concatenate/), ttl's `ConcatOp`:
// Keras's axes are channels-last, so its channel axis is ttl's axis 1 and H, W follow.
import TTLCore
import TTLNN

enum ConcatenateLayer: KerasLayerMapping {
    static let kerasClasses = ["Concatenate"]
    static let arity = KerasArity.several

    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        guard !ins.isEmpty else { throw b.fail(l, "no inputs") }
        let rank = ins[0].shape.rank
        var axis = l.int("axis") ?? -1
        if axis < 0 { axis += rank }
        guard axis >= 1, axis < rank, rank == 2 || rank == 4 else { throw b.fail(l, "axis \(l.config["axis"] ?? "nil") of a \(rank)-D tensor") }
        let ttlAxis = rank == 4 ? [0, 2, 3, 1][axis] : axis
        return try b.value(l, l.name, ConcatOp(axis: ttlAxis), ins)
    }

    static let exportedOperations: [any GraphOperation.Type] = [ConcatOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let op = n.operation as? ConcatOp else { return nil }
        let rank = w.shapes[n.inputs[0]]?.rank ?? 0
        guard rank == 2 || rank == 4 else { throw w.fail(n, "only vectors and images are concatenated in Keras") }
        let axis = op.axis < 0 ? op.axis + rank : op.axis
        guard axis >= 1 else { throw w.fail(n, "concatenation along the batch") }
        // ttl's axis 1 is Keras's channel axis (last); H and W are Keras's 1 and 2.
        let keras = rank == 4 ? [0, 3, 1, 2][axis] : axis
        let layout: KerasLayerWriter.Layout = rank == 4 ? .nhwc : .same
        return .layer(w.emit(n.name, "Concatenate", ["axis": keras == rank - 1 ? -1 : keras], try n.inputs.map { try w.tensor($0, layout, for: n) }), layout)
    }
}
