// Keras `Dense` (https://keras.io/api/layers/core_layers/dense/): on a vector ttl's `GemmOp`
// `x · Wᵀ + b` (kernel `[in, out]` ↔ `[out, in]`); on an image it acts on each pixel's channels
// (ConvNeXt's pointwise layers), a 1×1 convolution, which writes back as Conv2D.
import TTLCore
import TTLNN

enum DenseLayer: KerasLayerMapping {
    static let kerasClasses = ["Dense"]
    static func unsupportedForm(_ l: KerasLayer) -> String? { KerasActivations.unsupported(l) }
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        ins[0].shape.rank == 4 ? try b.pointwiseDense(l, ins[0]) : try b.dense(l, ins[0])
    }

    static let exportedOperations: [any GraphOperation.Type] = [GemmOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let op = n.operation as? GemmOp else { return nil }
        let o = op.options
        guard !o.transposeA, o.alpha == 1, o.beta == 1, w.shapes[n.inputs[0]]?.rank == 2 else { throw w.fail(n, "only x·Wᵀ + b over a 2-D input maps to Dense") }
        let weight = try w.parameter(n.inputs[1], of: n)
        let kernel = o.transposeB ? TTLToKeras.denseKernel(weight) : weight
        var weights = [("kernel", kernel)]
        if n.inputs.count > 2, !n.inputs[2].isEmpty {
            let b = try w.parameter(n.inputs[2], of: n)
            guard b.count == kernel.shape[1] else { throw w.fail(n, "bias of shape \(b.shape) is not one per unit") }
            weights.append(("bias", b.reshaped([b.count])))
        }
        return .layer(w.emit(n.name, "Dense", ["units": kernel.shape[1], "activation": "linear", "use_bias": weights.count == 2],
                             [try w.tensor(n.inputs[0], .same, for: n)], weights: weights), .same)
    }
}

extension KerasGraphBuilder {
    /// Weights `NAME.weight` `[units, in]` and `NAME.bias`; the activation follows as `NAME_ACTIVATION`.
    /// - Parameters:
    ///   - x: `[N, in]`
    /// - Returns: `[N, units]`
    mutating func dense(_ l: KerasLayer, _ x: KerasValue) throws -> KerasValue {
        guard x.shape.rank == 2 else { throw fail(l, "Dense on a \(x.shape.rank)-D input is not supported (flatten or pool first)") }
        guard let units = l.int("units"), units > 0 else { throw fail(l, "no units") }
        let useBias = l.bool("use_bias", default: true)
        var expected: [(role: String, shape: [Int])] = [("kernel", [x.shape[1], units])]
        if useBias { expected.append(("bias", [units])) }
        let w = try take(l, expected)
        var ins = [x, constant(l.name + ".weight", KerasToTTL.denseKernel(w[0]), kind: .parameter)]
        if useBias { ins.append(constant(l.name + ".bias", w[1], kind: .parameter)) }
        let y = try value(l, l.name, GemmOp(Gemm.Options(transposeB: true)), ins)
        return try activate(l, y, l.activation, name: l.name + "_" + l.activation)
    }

    /// Keras `Dense` on an image: a 1×1 convolution (`NAME.weight` `[units, C, 1, 1]`, `NAME.bias`).
    /// - Parameters:
    ///   - x: `[N, C, H, W]`
    /// - Returns: `[N, units, H, W]`
    mutating func pointwiseDense(_ l: KerasLayer, _ x: KerasValue) throws -> KerasValue {
        guard let units = l.int("units"), units > 0 else { throw fail(l, "no units") }
        let c = x.shape[1]
        let useBias = l.bool("use_bias", default: true)
        var expected: [(role: String, shape: [Int])] = [("kernel", [c, units])]
        if useBias { expected.append(("bias", [units])) }
        let w = try take(l, expected)
        var ins = [x, constant(l.name + ".weight", KerasToTTL.denseKernel(w[0]).reshaped([units, c, 1, 1]), kind: .parameter)]
        if useBias { ins.append(constant(l.name + ".bias", w[1], kind: .parameter)) }
        let y = try value(l, l.name, Conv2DOp(Conv2DOptions(stride: Size2D(1), dilation: Size2D(1), padding: .zero, groups: 1)), ins)
        return try activate(l, y, l.activation, name: l.name + "_" + l.activation)
    }
}
