// Keras `Normalization` (https://keras.io/api/layers/preprocessing_layers/numerical/normalization/),
// `(x − mean) / max(√variance, 1e-7)` per channel. Export writes ttl's `(x − m) / d` with
// constants as Normalization (variance `d²`).
import Foundation
import TTLCore
import TTLNN

enum NormalizationLayer: KerasLayerMapping {
    static let kerasClasses = ["Normalization"]
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.normalization(l, ins[0])
    }

    static let exportedOperations: [any GraphOperation.Type] = [BinaryOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard (n.operation as? BinaryOp)?.op == .sub, let (a, s, c) = w.constantOperand(n),
              let (k, second, d) = w.constantFollower(n, s), (second.operation as? BinaryOp)?.op == .div else { return nil }
        let source = try w.tensor(a, .nhwc, for: n)
        w.skipped.insert(k)
        let channels = Swift.max(c.count, d.count)
        let mean = c.count == channels ? c : Array(repeating: c[0], count: channels)
        let variance = (d.count == channels ? d : Array(repeating: d[0], count: channels)).map { $0 * $0 }
        let l = w.emit(second.name, "Normalization", ["axis": -1, "mean": mean.map(Double.init), "variance": variance.map(Double.init), "invert": false], [source])
        w.kerasOf[second.outputs[0]] = (l, s.rank == 4 ? .nhwc : .same)
        return .layer(l, .nhwc)
    }
}

extension KerasGraphBuilder {
    /// Buffers `NAME.mean` and `NAME.denominator`; nodes `NAME_center` and `NAME`.
    mutating func normalization(_ l: KerasLayer, _ x: KerasValue) throws -> KerasValue {
        if l.bool("invert", default: false) { throw fail(l, "invert=True is not supported") }
        let axis = (l.config["axis"] as? NSNumber)?.intValue ?? (l.config["axis"] as? [NSNumber])?.first?.intValue ?? -1
        guard axis == -1 || axis == x.shape.rank - 1 else { throw fail(l, "normalizing over axis \(axis) is not supported (channels only)") }
        var mean: [Float], variance: [Float]
        if let m = l.floats("mean"), let v = l.floats("variance") {
            mean = m
            variance = v
            if (weights.byLayer[l.name] ?? []).count > 0 { usedWeights.insert(l.name) }
        } else {
            let stored = weights.byLayer[l.name] ?? []
            guard stored.count >= 2 else {
                throw KerasError.weightCount(file: file, path: weights.groupPath[l.name] ?? l.name, expected: ["mean", "variance", "count"], found: stored.count)
            }
            usedWeights.insert(l.name)
            mean = stored[0].tensor.scalars
            variance = stored[1].tensor.scalars
        }
        let denominator = variance.map { max($0.squareRoot(), 1e-7) }
        let m = constant(l.name + ".mean", try channelConstant(l, mean, x.shape))
        let d = constant(l.name + ".denominator", try channelConstant(l, denominator, x.shape))
        let centered = try value(l, l.name + "_center", BinaryOp(.sub), [x, m])
        return try value(l, l.name, BinaryOp(.div), [centered, d])
    }
}
