// Keras `BatchNormalization` over the channels (https://keras.io/api/layers/normalization_layers/batch_normalization/),
// ttl's `BatchNormOp`: gamma/beta/moving_mean/moving_variance ↔ weight/bias/running_mean/running_var,
// Keras momentum `m` ↔ ttl's `1 − m`.
import Foundation
import TTLCore
import TTLNN

enum BatchNormalizationLayer: KerasLayerMapping {
    static let kerasClasses = ["BatchNormalization"]
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.batchNorm(l, ins[0])
    }

    static let exportedOperations: [any GraphOperation.Type] = [BatchNormOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let op = n.operation as? BatchNormOp else { return nil }
        let x = n.inputs[0]
        let rank = w.shapes[x]?.rank ?? 0
        guard rank == 4 || rank == 2 else { throw w.fail(n, "batch norm over a \(rank)-D tensor") }
        let ws = try n.inputs[1 ... 4].map { try w.parameter($0, of: n) }
        let config: [String: Any] = ["axis": rank - 1, "epsilon": Double(op.epsilon), "momentum": Double(TTLToKeras.momentum(op.momentum)), "center": true, "scale": true]
        return .layer(w.emit(n.name, "BatchNormalization", config, [try w.tensor(x, .nhwc, for: n)],
                             weights: [("gamma", ws[0]), ("beta", ws[1]), ("moving_mean", ws[2]), ("moving_variance", ws[3])]), .nhwc)
    }
}

extension KerasGraphBuilder {
    /// Weights `NAME.weight`, `NAME.bias` (ones and zeros when `scale`/`center` are off),
    /// buffers `NAME.running_mean`, `NAME.running_var`.
    /// - Parameters:
    ///   - x: `[N, C, H, W]` or `[N, C]`
    /// - Returns: `x`'s shape
    mutating func batchNorm(_ l: KerasLayer, _ x: KerasValue) throws -> KerasValue {
        let rank = x.shape.rank
        let axis: Int? = (l.config["axis"] as? NSNumber)?.intValue ?? ((l.config["axis"] as? [NSNumber])?.count == 1 ? (l.config["axis"] as? [NSNumber])?[0].intValue : nil)
        guard let axis, axis == -1 || axis == rank - 1 else { throw fail(l, "normalizing over axis \(String(describing: l.config["axis"])) is not supported (channels only)") }
        guard rank == 4 || rank == 2 else { throw fail(l, "expected a 2-D or 4-D input") }
        let c = x.shape[1]
        let center = l.bool("center", default: true), scale = l.bool("scale", default: true)
        var expected: [(role: String, shape: [Int])] = []
        if scale { expected.append(("gamma", [c])) }
        if center { expected.append(("beta", [c])) }
        expected += [("moving_mean", [c]), ("moving_variance", [c])]
        var w = try take(l, expected)
        let gamma = scale ? w.removeFirst() : Tensor(repeating: 1, shape: [c])
        let beta = center ? w.removeFirst() : Tensor(zeros: [c])
        let ins = [x, constant(l.name + ".weight", gamma, kind: .parameter), constant(l.name + ".bias", beta, kind: .parameter),
                   constant(l.name + ".running_mean", w[0]), constant(l.name + ".running_var", w[1])]
        let op = BatchNormOp(epsilon: l.float("epsilon") ?? 1e-3, momentum: KerasToTTL.momentum(l.float("momentum") ?? 0.99))
        return try value(l, l.name, op, ins)
    }
}
