// Keras `Reshape` (https://keras.io/api/layers/reshaping_layers/reshape/) to vectors or images,
// which reads and writes channels-last order. Export writes ttl's reshapes that do not flatten
// (those go to Flatten.swift).
import Foundation
import TTLCore
import TTLNN

enum ReshapeLayer: KerasLayerMapping {
    static let kerasClasses = ["Reshape"]
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.reshape(l, ins[0])
    }

    static let exportedOperations: [any GraphOperation.Type] = [ReshapeOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        let x = n.inputs[0]
        guard n.operation is ReshapeOp, w.shapes[n.outputs[0]]?.dimensions != w.shapes[x].map({ [$0[0], $0.count / max($0[0], 1)] }) else { return nil }
        let rank = w.shapes[x]?.rank ?? 0
        // Keras reshapes its own (channels-last) order: hand it ttl's value as it is and take
        // the result as it is, except for 1×1 images, where both orders are one.
        guard let out = w.shapes[n.outputs[0]], out.rank == 2 || out.rank == 4 else { throw w.fail(n, "only reshapes to vectors or images map to Keras's Reshape") }
        if out.rank == 4 && out[2] * out[3] == 1 {
            return .layer(w.emit(n.name, "Reshape", ["target_shape": [1, 1, out[1]]], [try w.tensor(x, rank == 4 ? .nhwc : .same, for: n)]), .nhwc)
        }
        return .layer(w.emit(n.name, "Reshape", ["target_shape": Array(out.dimensions.dropFirst())], [try w.tensor(x, .same, for: n)]), .same)
    }
}

extension KerasGraphBuilder {
    /// Through NHWC where the data order differs from ttl's, straight through where it does not
    /// (1×1 images, as in the squeeze-and-excitation blocks of EfficientNet: `[N, C]` ↔ `[N, 1, 1, C]`).
    mutating func reshape(_ l: KerasLayer, _ x: KerasValue) throws -> KerasValue {
        guard let raw = l.config["target_shape"] as? [NSNumber] else { throw fail(l, "no target_shape") }
        guard let bounded = Optional(raw.compactMap(KerasLayer.size)), bounded.count == raw.count else { throw fail(l, "target_shape \(raw) is out of range") }
        var target = bounded
        let s = x.shape
        let count = s.count / max(s[0], 1)
        if let i = target.firstIndex(of: -1) {
            let known = target.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            guard known > 0, count % known == 0 else { throw fail(l, "cannot reshape \(s) to \(target)") }
            target[i] = count / known
        }
        guard target.allSatisfy({ $0 > 0 }), target.reduce(1, *) == count else { throw fail(l, "cannot reshape \(s) to \(target)") }
        guard target.count == 1 || target.count == 3 else { throw fail(l, "only reshapes to vectors or images are supported (target \(target))") }
        var y = x
        if s.rank == 4 && s[2] * s[3] > 1 { y = try value(l, l.name + "_to_nhwc", TransposeOp(KerasToTTL.nchwToNHWC), [y]) }
        if target.count == 1 { return try value(l, l.name, ReshapeOp([0, target[0]]), [y]) }
        if target[0] * target[1] == 1 { return try value(l, l.name, ReshapeOp([0, target[2], 1, 1]), [y]) }
        let nhwc = try value(l, l.name + "_nhwc", ReshapeOp([0] + target), [y])
        return try value(l, l.name, TransposeOp(KerasToTTL.nhwcToNCHW), [nhwc])
    }
}
