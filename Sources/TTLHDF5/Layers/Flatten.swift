// Keras `Flatten` (https://keras.io/api/layers/reshaping_layers/flatten/): Keras flattens in
// H, W, C order, ttl in C, H, W. Export writes ttl's flatten from axis 1 and a reshape that only
// flattens (`[N, C, 1, 1]` → `[N, C]`, as exporters write global pooling) as Flatten.
import TTLCore
import TTLNN

enum FlattenLayer: KerasLayerMapping {
    static let kerasClasses = ["Flatten"]

    /// - Returns: `[N, C·H·W]`, in Keras's order
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        var y = ins[0]
        guard y.shape.rank == 4 else { return try b.value(l, l.name, FlattenOp(axis: 1), [y]) }
        if y.shape[2] * y.shape[3] > 1 { y = try b.value(l, l.name + "_to_nhwc", TransposeOp(KerasToTTL.nchwToNHWC), [y]) }
        return try b.value(l, l.name, FlattenOp(axis: 1), [y])
    }

    static let exportedOperations: [any GraphOperation.Type] = [FlattenOp.self, ReshapeOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard n.operation is FlattenOp || n.operation is ReshapeOp else { return nil }
        let x = n.inputs[0]
        let rank = w.shapes[x]?.rank ?? 0
        guard (n.operation as? FlattenOp).map({ $0.axis == 1 }) ?? true, rank == 4 || rank == 2 else {
            throw w.fail(n, "only flattening everything but the batch maps to Keras's Flatten")
        }
        if rank == 2 {
            return .layer(w.emit(n.name, "Flatten", ["data_format": "channels_last"], [try w.tensor(x, .same, for: n)]), .same)
        }
        // Keras flattens its tensor in order; ttl flattens C, H, W: hand Keras the value as it is.
        let s = w.shapes[x]!
        let source = s[2] * s[3] == 1 ? try w.tensor(x, .nhwc, for: n) : try w.tensor(x, .same, for: n)
        return .layer(w.emit(n.name, "Flatten", ["data_format": "channels_last"], [source]), .same)
    }
}
