import Foundation
import TTLCore
import TTLNN

extension KerasGraphBuilder {
    /// Keras `LayerNormalization` over the channels (ConvNeXt): on an image it runs channels-last,
    /// between `NAME_to_nhwc` and `NAME_to_nchw` transposes; weights `NAME.weight` (gamma) and
    /// `NAME.bias` (beta).
    /// - Parameters:
    ///   - x: `[N, C, H, W]` or `[N, C]`
    /// - Returns: `x`'s shape
    mutating func layerNorm(_ l: KerasLayer, _ x: (name: String, shape: Shape)) throws -> (name: String, shape: Shape) {
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

    /// ConvNeXt's `LayerScale`: each channel times its own trainable factor (`gamma`), held as a
    /// 1×1 depthwise convolution without bias (`NAME.weight`, `[C, 1, 1, 1]`), which exports as
    /// Keras's `DepthwiseConv2D` (ConvNeXt's `LayerScale` class is not one Keras loads unaided).
    /// - Parameters:
    ///   - x: `[N, C, H, W]`
    /// - Returns: `x`'s shape
    mutating func layerScale(_ l: KerasLayer, _ x: (name: String, shape: Shape)) throws -> (name: String, shape: Shape) {
        guard x.shape.rank == 4 else { throw fail(l, "expected a 4-D input, got \(x.shape.rank)-D") }
        let c = x.shape[1]
        let w = try take(l, [("gamma", [c])])
        let weight = constant(l.name + ".weight", w[0].reshaped([c, 1, 1, 1]), kind: .parameter)
        return try value(l, l.name, Conv2DOp(Conv2DOptions(stride: Size2D(1), dilation: Size2D(1), padding: .zero, groups: c)), [x, weight])
    }

    /// Keras `Dense` on an image acts on the channels of each pixel (ConvNeXt's pointwise
    /// layers): a 1×1 convolution (`NAME.weight` `[units, C, 1, 1]`, `NAME.bias`).
    /// - Parameters:
    ///   - x: `[N, C, H, W]`
    /// - Returns: `[N, units, H, W]`
    mutating func pointwiseDense(_ l: KerasLayer, _ x: (name: String, shape: Shape)) throws -> (name: String, shape: Shape) {
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

    /// The exact GELU, `x · (1 + erf(x / √2)) / 2`, as the elementwise nodes ttl's ONNX importer
    /// writes for ONNX's Gelu (so it trains, runs on every engine and exports to ONNX); the Keras
    /// exporter reads the chain back as `Activation("gelu")`.
    /// - Returns: `x`'s shape
    mutating func gelu(_ l: KerasLayer, _ x: (name: String, shape: Shape), name: String) throws -> (name: String, shape: Shape) {
        let scaled = try value(l, name + "_scaled", BinaryOp(.div), [x, constant(name + ".gelu_sqrt2", Tensor(shape: [1], scalars: [Float(2).squareRoot()]))])
        let erf = try value(l, name + "_erf", ElementwiseMathOp(.erf), [scaled])
        let plusOne = try value(l, name + "_plus1", BinaryOp(.add), [erf, constant(name + ".gelu_one", Tensor(shape: [1], scalars: [1]))])
        let times = try value(l, name + "_times_x", BinaryOp(.mul), [x, plusOne])
        return try value(l, name, BinaryOp(.mul), [times, constant(name + ".gelu_half", Tensor(shape: [1], scalars: [0.5]))])
    }
}
