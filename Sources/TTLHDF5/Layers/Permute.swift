// Keras `Permute` (https://keras.io/api/layers/reshaping_layers/permute/), ttl's `TransposeOp`:
// in ttl's layout, back to Keras's, permute, then to ttl's again. Export writes transposes of
// image axes that keep the batch first.
import Foundation
import TTLCore
import TTLNN

enum PermuteLayer: KerasLayerMapping {
    static let kerasClasses = ["Permute"]

    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        let x = ins[0]
        guard let dims = l.config["dims"] as? [NSNumber], dims.count == x.shape.rank - 1 else { throw b.fail(l, "unreadable dims") }
        let keras = [0] + dims.map(\.intValue)
        guard Set(keras) == Set(0 ..< keras.count) else { throw b.fail(l, "dims \(keras.dropFirst()) are not a permutation") }
        let perm = x.shape.rank == 4
            ? composePermutations(composePermutations(KerasToTTL.nchwToNHWC, keras), KerasToTTL.nhwcToNCHW) : keras
        return try b.value(l, l.name, TransposeOp(perm), [x])
    }

    static let exportedOperations: [any GraphOperation.Type] = [TransposeOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let op = n.operation as? TransposeOp else { return nil }
        let x = n.inputs[0]
        guard w.shapes[x]?.rank == 4, op.permutation.first == 0 else { throw w.fail(n, "only transposes of image axes map to Permute") }
        // Keras tensor in, Keras tensor out: to ttl's layout, transpose, back to Keras's.
        let p = composePermutations(composePermutations(KerasToTTL.nhwcToNCHW, op.permutation), KerasToTTL.nchwToNHWC)
        return .layer(w.emit(n.name, "Permute", ["dims": Array(p.dropFirst())], [try w.tensor(x, .nhwc, for: n)]), .nhwc)
    }
}
