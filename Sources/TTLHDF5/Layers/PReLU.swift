// Keras `PReLU` (https://keras.io/api/layers/activation_layers/prelu/), ttl's `PReluOp`: `alpha`
// has the input's Keras shape without the batch, with 1 along each of `shared_axes` (MobileNet-
// and SRGAN-style nets share it over height and width: one slope per channel).
import Foundation
import TTLCore
import TTLNN

enum PReLULayer: KerasLayerMapping {
    static let kerasClasses = ["PReLU"]

    /// Weight `NAME.weight`: `alpha` in ttl's layout, `[C', H', W']` for an image (each 1 or the
    /// full size) or `[F']` for a vector.
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        let x = ins[0]
        guard x.shape.rank == 4 || x.shape.rank == 2 else { throw b.fail(l, "expected a 2-D or 4-D input, got \(x.shape.rank)-D") }
        // Keras's own shape of the input without the batch: (H, W, C) or (F).
        let keras = x.shape.rank == 4 ? [x.shape[2], x.shape[3], x.shape[1]] : [x.shape[1]]
        let raw = l.config["shared_axes"]
        let numbers = (raw as? [NSNumber]) ?? (raw as? NSNumber).map { [$0] } ?? []
        let shared = numbers.compactMap(KerasLayer.size)
        guard shared.count == numbers.count, shared.allSatisfy({ $0 >= 1 && $0 <= keras.count }) else {
            throw b.fail(l, "shared_axes \(numbers) out of range")
        }
        let alphaShape = keras.enumerated().map { shared.contains($0.offset + 1) ? 1 : $0.element }
        let alpha = try b.take(l, [("alpha", alphaShape)])[0]
        let slope = x.shape.rank == 4 ? Transpose.forward(alpha, permutation: [2, 0, 1]) : alpha
        let w = b.constant(l.name + ".weight", slope, kind: .parameter)
        return try b.value(l, l.name, PReluOp(), [x, w])
    }

    static let exportedOperations: [any GraphOperation.Type] = [PReluOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard n.operation is PReluOp, let s = w.shapes[n.inputs[0]] else { return nil }
        let slope = try w.parameter(n.inputs[1], of: n)
        guard s.rank == 4 || s.rank == 2 else { throw w.fail(n, "only a PReLU of an image or a vector maps to Keras's PReLU") }
        // The slope in ttl's layout, padded on the left to the input's rank: [1?, C', H', W'] or [1?, F'].
        var dims = slope.shape.dimensions
        guard dims.count <= s.rank else { throw w.fail(n, "slope \(slope.shape) has more axes than the input") }
        dims = Array(repeating: 1, count: s.rank - dims.count) + dims
        guard dims[0] == 1, zip(dims.dropFirst(), s.dimensions.dropFirst()).allSatisfy({ $0 == 1 || $0 == $1 }) else {
            throw w.fail(n, "slope \(slope.shape) does not broadcast per position of \(s)")
        }
        let ttl = Array(dims.dropFirst())
        // Keras's alpha: (H', W', C') or (F'); an axis of size 1 where the input's is not is shared.
        let alpha = s.rank == 4 ? Transpose.forward(slope.reshaped(Shape(ttl)), permutation: [1, 2, 0]) : slope.reshaped(Shape(ttl))
        let full = s.rank == 4 ? [s[2], s[3], s[1]] : [s[1]]
        let kerasDims = alpha.shape.dimensions
        let shared = kerasDims.indices.filter { kerasDims[$0] == 1 && full[$0] != 1 }.map { $0 + 1 }
        return .layer(w.emit(n.name, "PReLU", ["shared_axes": shared.isEmpty ? NSNull() as Any : shared as Any],
                             [try w.tensor(n.inputs[0], s.rank == 4 ? .nhwc : .same, for: n)], weights: [("alpha", alpha)]), s.rank == 4 ? .nhwc : .same)
    }
}
