// Keras `GlobalAveragePooling2D` and `GlobalMaxPooling2D` (`keepdims`;
// https://keras.io/api/layers/pooling_layers/): ttl's `GlobalAvgPoolOp`, and a `MaxPoolOp` over
// the whole image (which writes back as MaxPooling2D); without `keepdims` a flatten follows.
// Export writes a global average pool (and a flatten that is its only reader) as GlobalAveragePooling2D.
import TTLCore
import TTLNN

enum GlobalPoolingLayer: KerasLayerMapping {
    static let kerasClasses = ["GlobalAveragePooling2D", "GlobalMaxPooling2D"]

    /// - Parameters:
    ///   - ins: `[[N, C, H, W]]`
    /// - Returns: `[N, C]`, or `[N, C, 1, 1]` with `keepdims`
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        let x = ins[0]
        guard x.shape.rank == 4 else { throw b.fail(l, "expected a 4-D input") }
        let op: any GraphOperation = l.className == "GlobalAveragePooling2D"
            ? GlobalAvgPoolOp() : MaxPoolOp(Window2D(kernel: Size2D(x.shape[2], x.shape[3])))
        if l.bool("keepdims", default: false) { return try b.value(l, l.name, op, [x]) }
        let pooled = try b.value(l, l.name, op, [x])
        return try b.value(l, l.name + "_flatten", FlattenOp(axis: 1), [pooled])
    }

    static let exportedOperations: [any GraphOperation.Type] = [GlobalAvgPoolOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard n.operation is GlobalAvgPoolOp else { return nil }
        let source = try w.tensor(n.inputs[0], .nhwc, for: n)
        if let c = w.soleConsumer(n.outputs[0]), let f = w.model.nodes[c].operation as? FlattenOp, f.axis == 1 {
            let l = w.emit(n.name, "GlobalAveragePooling2D", ["data_format": "channels_last", "keepdims": false], [source])
            w.kerasOf[w.model.nodes[c].outputs[0]] = (l, .same)
            w.skipped.insert(c)
            return .layer(l, .nhwc)
        }
        return .layer(w.emit(n.name, "GlobalAveragePooling2D", ["data_format": "channels_last", "keepdims": true], [source]), .nhwc)
    }
}
