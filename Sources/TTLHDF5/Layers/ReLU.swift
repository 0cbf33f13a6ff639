// Keras `ReLU` (`max_value`, `negative_slope`) and `LeakyReLU`
// (https://keras.io/api/layers/activation_layers/): ttl's ReLU, clip to [0, max] and leaky ReLU.
// Export writes a clip from 0 and a leaky ReLU as `ReLU`.
import Foundation
import TTLCore
import TTLNN

enum ReLULayer: KerasLayerMapping {
    static let kerasClasses = ["ReLU", "LeakyReLU"]

    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        let x = ins[0]
        if l.className == "LeakyReLU" {
            let slope = l.float("negative_slope") ?? l.float("alpha") ?? 0.3
            return try b.value(l, l.name, ActivationOp(.leakyReLU(slope: slope)), [x])
        }
        let threshold = l.float("threshold") ?? 0
        let slope = l.float("negative_slope") ?? 0
        let maxValue = l.float("max_value")
        guard threshold == 0 else { throw b.fail(l, "threshold \(threshold) is not supported") }
        if slope != 0 {
            guard maxValue == nil else { throw b.fail(l, "negative_slope with max_value is not supported") }
            return try b.value(l, l.name, ActivationOp(.leakyReLU(slope: slope)), [x])
        }
        return try b.value(l, l.name, maxValue.map { ActivationOp(.clip(min: 0, max: $0)) } ?? ActivationOp(.relu), [x])
    }

    static let exportedOperations: [any GraphOperation.Type] = [ActivationOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let op = n.operation as? ActivationOp else { return nil }
        let config: [String: Any]
        switch op.function {
        case let .clip(lo, hi) where lo == 0: config = ["max_value": Double(hi), "negative_slope": 0.0, "threshold": 0.0]
        case let .leakyReLU(slope): config = ["max_value": NSNull(), "negative_slope": Double(slope), "threshold": 0.0]
        default: return nil
        }
        return .layer(w.emit(n.name, "ReLU", config, [try w.tensor(n.inputs[0], .nhwc, for: n)]), .nhwc)
    }
}
