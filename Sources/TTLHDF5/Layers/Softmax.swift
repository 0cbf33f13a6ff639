// Keras `Softmax` (https://keras.io/api/layers/activation_layers/softmax/), ttl's `SoftmaxOp`
// over the last axis of a 2-D tensor. Export folds it into the Dense layer computing the logits
// (`activation: softmax`, as Keras models are written) or writes `Activation("softmax")`.
import TTLCore
import TTLNN

enum SoftmaxLayer: KerasLayerMapping {
    static let kerasClasses = ["Softmax"]
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.activate(l, ins[0], "softmax", name: l.name)
    }

    static let exportedOperations: [any GraphOperation.Type] = [SoftmaxOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let op = n.operation as? SoftmaxOp else { return nil }
        let x = n.inputs[0]
        guard w.shapes[x]?.rank == 2, op.axis == -1 || op.axis == 1 else { throw w.fail(n, "softmax is exported over the last axis of a 2-D tensor only") }
        if let k = w.out.lastIndex(where: { $0.name == w.kerasOf[x]?.layer }), w.out[k].className == "Dense",
           (w.out[k].config["activation"] as? String) == "linear", w.soleConsumer(x) == i {
            w.out[k].config["activation"] = "softmax"
            return .layer(w.out[k].name, .same)
        }
        return .layer(w.emit(n.name, "Activation", ["activation": "softmax"], [try w.tensor(x, .same, for: n)]), .same)
    }
}
