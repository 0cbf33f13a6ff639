// Keras `Dropout` and `SpatialDropout2D` (https://keras.io/api/layers/regularization_layers/):
// identities at inference, ttl's `IdentityOp`, which writes back as `Activation("linear")`
// (Activation.swift).
import TTLCore
import TTLNN

enum DropoutLayer: KerasLayerMapping {
    static let kerasClasses = ["Dropout", "SpatialDropout2D"]
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.value(l, l.name, IdentityOp(), [ins[0]])
    }
}
