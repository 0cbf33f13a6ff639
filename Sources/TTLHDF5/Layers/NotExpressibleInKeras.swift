// ttl operations that no Keras layer computes (as Keras's built-in layers stand), each with the
// reason an export names. An operation missing from every mapping gets the plain "no Keras layer
// for this operation".
import TTLCore
import TTLNN

enum NotExpressibleInKeras: KerasLayerMapping {
    static let reasons: [(operation: any GraphOperation.Type, reason: String)] = [
        (LRNOp.self, "Keras has no local response normalization layer"),
        (PowOp.self, "Keras has no layer raising to a power"),
        (ElementwiseMathOp.self, "Keras has no layer for Neg or Sqrt, and ttl writes Erf only inside the exact GELU"),
        (DropoutOp.self, "Keras's Dropout gives no mask output"),
        (ReduceOp.self, "Keras has no reduction layer over arbitrary axes"),
        (MatMulOp.self, "Keras has no product of two computed tensors (Dense holds its weights)"),
        (GatherOp.self, "Keras has no gather layer"),
        (ResizeOp.self, "ttl does not write Keras's resizing layers"),
        (PadNDOp.self, "Keras pads images with zeros only (ZeroPadding2D)"),
    ]

    static var exportedOperations: [any GraphOperation.Type] { reasons.map(\.operation) }

    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let r = reasons.first(where: { $0.operation == type(of: n.operation) }) else { return nil }
        throw w.fail(n, "no Keras layer for this operation (\(r.reason))")
    }
}
