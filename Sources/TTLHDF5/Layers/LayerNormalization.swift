// Keras `LayerNormalization` over the channels (ConvNeXt;
// https://keras.io/api/layers/normalization_layers/layer_normalization/), ttl's `LayerNormOp`
// over the last axis: on an image it runs channels-last between two transposes, which export
// writes back as the one layer.
import Foundation
import TTLCore
import TTLNN

enum LayerNormalizationLayer: KerasLayerMapping {
    static let kerasClasses = ["LayerNormalization"]
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.layerNorm(l, ins[0])
    }

    static let exportedOperations: [any GraphOperation.Type] = [TransposeOp.self, LayerNormOp.self]

    /// Transpose to channels-last → layer norm over the last axis → transpose back, as the layer on
    /// the image; a layer norm of a vector as it is.
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        if let t = n.operation as? TransposeOp, t.permutation == KerasToTTL.nchwToNHWC, let k = w.soleConsumer(n.outputs[0]),
           let ln = w.model.nodes[k].operation as? LayerNormOp, ln.axis == -1 || ln.axis == 3,
           let b = w.soleConsumer(w.model.nodes[k].outputs[0]), (w.model.nodes[b].operation as? TransposeOp)?.permutation == KerasToTTL.nhwcToNCHW {
            let norm = w.model.nodes[k]
            w.skipped.formUnion([k, b])
            let l = try w.layerNormalization(norm, ln, source: try w.tensor(n.inputs[0], .nhwc, for: n))
            w.kerasOf[w.model.nodes[b].outputs[0]] = (l, .nhwc)
            return .recorded
        }
        if let ln = n.operation as? LayerNormOp, w.shapes[n.inputs[0]]?.rank == 2, ln.axis == -1 || ln.axis == 1 {
            w.kerasOf[n.outputs[0]] = (try w.layerNormalization(n, ln, source: try w.tensor(n.inputs[0], .same, for: n)), .same)
            return .recorded
        }
        return nil
    }
}

extension KerasGraphBuilder {
    /// On an image it runs channels-last, between `NAME_to_nhwc` and `NAME_to_nchw` transposes;
    /// weights `NAME.weight` (gamma) and `NAME.bias` (beta).
    /// - Parameters:
    ///   - x: `[N, C, H, W]` or `[N, C]`
    /// - Returns: `x`'s shape
    mutating func layerNorm(_ l: KerasLayer, _ x: KerasValue) throws -> KerasValue {
        let rank = x.shape.rank
        guard rank == 4 || rank == 2 else { throw fail(l, "expected a 2-D or 4-D input, got \(rank)-D") }
        let raw = l.config["axis"]
        let axes = (raw as? [NSNumber])?.map(\.intValue) ?? (raw as? NSNumber).map { [$0.intValue] } ?? [-1]
        guard axes.count == 1, axes[0] == -1 || axes[0] == rank - 1 else {
            throw fail(l, "normalizing over axis \(raw.map { "\($0)" } ?? "nil") is not supported (channels only)")
        }
        if l.bool("rms_scaling", default: false) { throw fail(l, "rms_scaling is not supported") }
        let epsilon = l.float("epsilon") ?? 1e-3
        guard epsilon.isFinite, epsilon >= 0 else { throw fail(l, "epsilon \(epsilon) is out of range") }
        let c = x.shape[1]
        let center = l.bool("center", default: true), scale = l.bool("scale", default: true)
        var expected: [(role: String, shape: [Int])] = []
        if scale { expected.append(("gamma", [c])) }
        if center { expected.append(("beta", [c])) }
        var w = try take(l, expected)
        let gamma = scale ? constant(l.name + ".weight", w.removeFirst(), kind: .parameter) : constant(l.name + ".weight", Tensor(repeating: 1, shape: [c]))
        let beta = center ? constant(l.name + ".bias", w.removeFirst(), kind: .parameter) : constant(l.name + ".bias", Tensor(zeros: [c]))
        let op = LayerNormOp(axis: -1, epsilon: epsilon)
        guard rank == 4 else { return try value(l, l.name, op, [x, gamma, beta]) }
        let nhwc = try value(l, l.name + "_to_nhwc", TransposeOp(KerasToTTL.nchwToNHWC), [x])
        let y = try value(l, l.name, op, [nhwc, gamma, beta])
        return try value(l, l.name + "_to_nchw", TransposeOp(KerasToTTL.nhwcToNCHW), [y])
    }
}

extension KerasLayerWriter {
    mutating func layerNormalization(_ n: Node, _ op: LayerNormOp, source: String) throws -> String {
        let gamma = try parameter(n.inputs[1], of: n)
        let beta = n.inputs.count > 2 ? try parameter(n.inputs[2], of: n) : Tensor(zeros: gamma.shape)
        let c = gamma.count
        return emit(n.name, "LayerNormalization", ["axis": -1, "epsilon": Double(op.epsilon), "center": true, "scale": true],
                    [source], weights: [("gamma", gamma.reshaped([c])), ("beta", beta.reshaped([c]))])
    }
}
