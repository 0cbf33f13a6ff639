// Keras `Rescaling` (https://keras.io/api/layers/preprocessing_layers/image_preprocessing/rescaling/),
// `x · scale + offset`, one number or one per channel. Export writes ttl's `x ∘ c` with a constant
// `c` (one number or one per channel) as Rescaling, and `x · s + o` as one.
import TTLCore
import TTLNN

enum RescalingLayer: KerasLayerMapping {
    static let kerasClasses = ["Rescaling"]
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.rescaling(l, ins[0])
    }

    static let exportedOperations: [any GraphOperation.Type] = [BinaryOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let op = n.operation as? BinaryOp else { return nil }
        guard let (a, s, c) = w.constantOperand(n) else {
            throw w.fail(n, "only x ∘ constant, with one constant or one per channel, maps to Rescaling or Normalization")
        }
        let source = try w.tensor(a, .nhwc, for: n)
        // x·s + o as one layer.
        if op.op == .mul, let (k, second, d) = w.constantFollower(n, s), (second.operation as? BinaryOp)?.op == .add {
            w.skipped.insert(k)
            let l = w.emit(second.name, "Rescaling", ["scale": w.list(c), "offset": w.list(d)], [source])
            w.kerasOf[second.outputs[0]] = (l, s.rank == 4 ? .nhwc : .same)
            return .layer(l, .nhwc)
        }
        let config: [String: Any]
        switch op.op {
        case .mul: config = ["scale": w.list(c), "offset": 0.0]
        case .add: config = ["scale": 1.0, "offset": w.list(c)]
        case .sub: config = ["scale": 1.0, "offset": w.list(c.map { -$0 })]
        default: config = ["scale": w.list(c.map { 1 / $0 }), "offset": 0.0]
        }
        return .layer(w.emit(n.name, "Rescaling", config, [source]), .nhwc)
    }
}

extension KerasGraphBuilder {
    /// `x · scale + offset`; a scale of exactly 1 or an offset of exactly 0 is left out (the
    /// Rescaling ttl writes for a lone `x · c` or `x + c` reads back as that). Buffers
    /// `NAME.scale`, `NAME.offset`.
    mutating func rescaling(_ l: KerasLayer, _ x: KerasValue) throws -> KerasValue {
        guard let scale = l.floats("scale") else { throw fail(l, "no scale") }
        let offset = l.floats("offset") ?? [0]
        let scales = !scale.allSatisfy { $0 == 1 }, offsets = !offset.allSatisfy { $0 == 0 }
        var y = x
        if scales {
            let s = constant(l.name + ".scale", try channelConstant(l, scale, x.shape))
            y = try value(l, offsets ? l.name + "_scale" : l.name, BinaryOp(.mul), [y, s])
        }
        if offsets {
            let o = constant(l.name + ".offset", try channelConstant(l, offset, x.shape))
            y = try value(l, l.name, BinaryOp(.add), [y, o])
        }
        return scales || offsets ? y : try value(l, l.name, IdentityOp(), [x])
    }
}

extension KerasLayerWriter {
    /// For `x ∘ c` with a computed `x` and a stored constant `c` (one number, or one per channel
    /// of `x`): `x`, its shape and `c` as a list.
    func constantOperand(_ n: Node) -> (x: String, shape: Shape, c: [Float])? {
        let a = n.inputs[0], b = n.inputs[1]
        guard model.parameters[a] == nil, let s = shapes[a],
              let c = model.parameters.tensor(b).flatMap({ channelList($0, channels: s.rank >= 2 ? s[1] : 1, rank: s.rank) }) else { return nil }
        return (a, s, c)
    }

    /// The binary node that alone reads `n`'s result as its first operand, with a constant
    /// second operand of the same kind: its index, the node and the constant.
    func constantFollower(_ n: Node, _ s: Shape) -> (Int, Node, [Float])? {
        guard let k = soleConsumer(n.outputs[0]), model.nodes[k].operation is BinaryOp, model.nodes[k].inputs[0] == n.outputs[0],
              let d = model.parameters.tensor(model.nodes[k].inputs[1]).flatMap({ channelList($0, channels: s.rank >= 2 ? s[1] : 1, rank: s.rank) })
        else { return nil }
        return (k, model.nodes[k], d)
    }

    /// A constant operand as Keras's per-channel (or single) list, if it is one.
    func channelList(_ t: Tensor, channels c: Int, rank: Int) -> [Float]? {
        if t.count == 1 { return t.scalars }
        let fits = rank == 4 ? (t.shape.dimensions == [c, 1, 1] || t.shape.dimensions == [1, c, 1, 1]) : (t.shape.dimensions == [c] || t.shape.dimensions == [1, c])
        return fits ? t.scalars : nil
    }

    /// A single number as a number, several as a list (how Keras configs write them).
    func list(_ v: [Float]) -> Any { v.count == 1 ? Double(v[0]) as Any : v.map { Double($0) } as Any }
}
