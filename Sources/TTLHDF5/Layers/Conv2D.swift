// Keras `Conv2D` and `DepthwiseConv2D` (https://keras.io/api/layers/convolution_layers/), both
// ttl's `Conv2DOp`: a grouped convolution with one input channel per group and
// `depth_multiplier` outputs each writes back as DepthwiseConv2D, any other as Conv2D.
import TTLCore
import TTLNN

enum ConvLayer: KerasLayerMapping {
    static let kerasClasses = ["Conv2D", "DepthwiseConv2D"]
    static func unsupportedForm(_ l: KerasLayer) -> String? { KerasActivations.unsupported(l) }
    static func importLayer(_ l: KerasLayer, _ ins: [KerasValue], _ b: inout KerasGraphBuilder) throws -> KerasValue {
        try b.conv(l, ins[0])
    }

    static let exportedOperations: [any GraphOperation.Type] = [Conv2DOp.self]
    static func exportNode(_ i: Int, _ n: Node, _ w: inout KerasLayerWriter) throws -> KerasWritten? {
        guard let op = n.operation as? Conv2DOp else { return nil }
        return .layer(try w.conv(n, op), .nhwc)
    }
}

extension KerasGraphBuilder {
    /// Weights `NAME.weight` `[C_out, C_in/groups, kH, kW]` and `NAME.bias`; the activation
    /// follows as `NAME_ACTIVATION`.
    /// - Parameters:
    ///   - x: `[N, C_in, H, W]`
    /// - Returns: `[N, C_out, H_out, W_out]`
    mutating func conv(_ l: KerasLayer, _ x: KerasValue) throws -> KerasValue {
        guard x.shape.rank == 4 else { throw fail(l, "expected a 4-D input, got \(x.shape.rank)-D") }
        let depthwise = l.className == "DepthwiseConv2D"
        guard let (kh, kw) = l.pair("kernel_size") else { throw fail(l, "no kernel_size") }
        let (sh, sw) = try optionalPair(l, "strides") ?? (1, 1)
        let (dh, dw) = try optionalPair(l, "dilation_rate") ?? (1, 1)
        let cin = x.shape[1]
        let groups = depthwise ? cin : l.int("groups") ?? 1
        let multiplier = depthwise ? l.int("depth_multiplier") ?? 1 : 1
        let filters = depthwise ? cin * multiplier : l.int("filters") ?? 0
        guard filters > 0, groups > 0, cin % groups == 0, filters % groups == 0, min(kh, kw, sh, sw, dh, dw) > 0 else {
            throw fail(l, "filters \(filters), groups \(groups) and \(cin) input channels do not fit")
        }
        let pad = try convPadding(l, x.shape, kernel: (kh, kw), stride: (sh, sw), dilation: (dh, dw))
        let useBias = l.bool("use_bias", default: true)
        var expected: [(role: String, shape: [Int])] = [depthwise ? ("depthwise_kernel", [kh, kw, cin, multiplier]) : ("kernel", [kh, kw, cin / groups, filters])]
        if useBias { expected.append(("bias", [filters])) }
        let w = try take(l, expected)
        var ins = [x, constant(l.name + ".weight", depthwise ? KerasToTTL.depthwiseKernel(w[0]) : KerasToTTL.convKernel(w[0]), kind: .parameter)]
        if useBias { ins.append(constant(l.name + ".bias", w[1], kind: .parameter)) }
        let options = Conv2DOptions(stride: Size2D(sh, sw), dilation: Size2D(dh, dw), padding: pad, groups: groups)
        let y = try value(l, l.name, Conv2DOp(options), ins)
        return try activate(l, y, l.activation, name: l.name + "_" + l.activation)
    }
}

extension KerasLayerWriter {
    /// A convolution as `DepthwiseConv2D` (one input channel per group) or `Conv2D`; padding that
    /// is not TensorFlow's 'same' goes to a `ZeroPadding2D` first.
    mutating func conv(_ n: Node, _ op: Conv2DOp) throws -> String {
        let w = try parameter(n.inputs[1], of: n)
        let s = shapes[n.inputs[0]]!
        let o = op.options
        let cin = s[1], cout = w.shape[0]
        var source = try tensor(n.inputs[0], .nhwc, for: n)
        let padding = try kerasPadding(n, s, kernel: (w.shape[2], w.shape[3]), stride: (o.stride.h, o.stride.w),
                                       dilation: (o.dilation.h, o.dilation.w), pads: o.padding, source: &source)
        var config: [String: Any] = ["kernel_size": [w.shape[2], w.shape[3]], "strides": [o.stride.h, o.stride.w], "padding": padding,
                                     "data_format": "channels_last", "dilation_rate": [o.dilation.h, o.dilation.w], "activation": "linear"]
        var weights: [(String, Tensor)]
        let className: String
        if o.groups == cin && o.groups > 1 && w.shape[1] == 1 {
            className = "DepthwiseConv2D"
            config["depth_multiplier"] = cout / cin
            weights = [("depthwise_kernel", TTLToKeras.depthwiseKernel(w, multiplier: cout / cin))]
        } else {
            className = "Conv2D"
            config["filters"] = cout
            config["groups"] = o.groups
            weights = [("kernel", TTLToKeras.convKernel(w))]
        }
        if n.inputs.count > 2, !n.inputs[2].isEmpty { weights.append(("bias", try parameter(n.inputs[2], of: n))) }
        config["use_bias"] = weights.count == 2
        return emit(n.name, className, config, [source], weights: weights)
    }
}
