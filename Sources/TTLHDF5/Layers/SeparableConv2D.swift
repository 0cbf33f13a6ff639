// Keras `SeparableConv2D` (https://keras.io/api/layers/convolution_layers/separable_convolution2d/).
// Import only: its two convolutions write back as `DepthwiseConv2D` and `Conv2D` (Conv2D.swift).
import TTLCore
import TTLNN

enum SeparableConvLayer: KerasLayerMapping {
    static let kerasClasses = ["SeparableConv2D"]
    static func unsupportedForm(_ l: KerasLayer) -> String? { KerasActivations.unsupported(l) }
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.separableConv(l, ins[0])
    }
}

extension KerasGraphBuilder {
    /// Keras `SeparableConv2D`: a depthwise convolution (kernel, strides, padding, dilation and
    /// `depth_multiplier`, no bias) then a 1×1 convolution with the bias and the activation.
    /// It becomes two nodes, `NAME_depthwise` and `NAME`, which export as a `DepthwiseConv2D`
    /// and a 1×1 `Conv2D` of those names (Keras loads those with the same predictions).
    /// - Parameters:
    ///   - x: `[N, C, H, W]`
    /// - Returns: `[N, filters, H_out, W_out]`
    mutating func separableConv(_ l: KerasLayer, _ x: KerasValue) throws -> KerasValue {
        guard x.shape.rank == 4 else { throw fail(l, "expected a 4-D input, got \(x.shape.rank)-D") }
        guard let (kh, kw) = l.pair("kernel_size") else { throw fail(l, "no kernel_size") }
        let (sh, sw) = try optionalPair(l, "strides") ?? (1, 1)
        let (dh, dw) = try optionalPair(l, "dilation_rate") ?? (1, 1)
        let cin = x.shape[1]
        let multiplier = l.int("depth_multiplier") ?? 1
        let filters = l.int("filters") ?? 0
        guard filters > 0, multiplier > 0, cin > 0, min(kh, kw, sh, sw, dh, dw) > 0 else {
            throw fail(l, "filters \(filters), depth_multiplier \(multiplier) and \(cin) input channels do not fit")
        }
        let (mid, midOverflow) = cin.multipliedReportingOverflow(by: multiplier)
        guard !midOverflow else { throw fail(l, "depth_multiplier \(multiplier) is too large") }
        let pad = try convPadding(l, x.shape, kernel: (kh, kw), stride: (sh, sw), dilation: (dh, dw))
        let useBias = l.bool("use_bias", default: true)
        var expected: [(role: String, shape: [Int])] = [("depthwise_kernel", [kh, kw, cin, multiplier]), ("pointwise_kernel", [1, 1, mid, filters])]
        if useBias { expected.append(("bias", [filters])) }
        let w = try take(l, expected)
        let depthwiseName = l.name + "_depthwise"
        let depthwise = try value(l, depthwiseName, Conv2DOp(Conv2DOptions(stride: Size2D(sh, sw), dilation: Size2D(dh, dw), padding: pad, groups: cin)),
                                  [x, constant(depthwiseName + ".weight", KerasToTTL.depthwiseKernel(w[0]), kind: .parameter)])
        var ins = [depthwise, constant(l.name + ".weight", KerasToTTL.convKernel(w[1]), kind: .parameter)]
        if useBias { ins.append(constant(l.name + ".bias", w[2], kind: .parameter)) }
        let y = try value(l, l.name, Conv2DOp(Conv2DOptions(stride: Size2D(1), dilation: Size2D(1), padding: .zero, groups: 1)), ins)
        return try activate(l, y, l.activation, name: l.name + "_" + l.activation)
    }
}
