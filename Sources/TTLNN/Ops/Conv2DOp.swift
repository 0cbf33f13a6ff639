import TTLCore

/// Convolution node: inputs `x [N, C_in, H, W]`, `weight [C_out, C_in/groups, kH, kW]`, optional `bias [C_out]`.
public struct Conv2DOp: GraphOperation {
    /// Stride, dilation, padding and groups.
    public var options: Conv2DOptions
    /// A convolution node with these options.
    public init(_ options: Conv2DOptions) { self.options = options }
    public var type: String { "Conv" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 2 ... 3, type)
        try Check.rank(s[0], 4, "input")
        try Check.rank(s[1], 4, "weight")
        let g = options.groups
        let (channels, overflow) = s[1][1].multipliedReportingOverflow(by: g)
        guard g >= 1, !overflow, s[0][1] == channels, s[1][0] % g == 0 else {
            throw OperationError("input \(s[0]) and weight \(s[1]) disagree with groups \(g)")
        }
        if s.count == 3 && s[2] != [s[1][0]] { throw OperationError("bias \(s[2]) for \(s[1][0]) output channels") }
        let o = options
        guard min(o.stride.h, o.stride.w, o.dilation.h, o.dilation.w) >= 1,
              min(o.padding.top, o.padding.left, o.padding.bottom, o.padding.right) >= 0 else {
            throw OperationError("stride, dilation and padding must be positive")
        }
        let out = Window2D(kernel: Size2D(s[1][2], s[1][3]), stride: o.stride, dilation: o.dilation, padding: o.padding)
            .outputSize(height: s[0][2], width: s[0][3])
        guard out.h > 0, out.w > 0 else { throw OperationError("kernel \(s[1][2])×\(s[1][3]) larger than padded input \(s[0])") }
        return [[s[0][0], s[1][0], out.h, out.w]]
    }

    struct Cache { var x: Tensor; var w: Tensor }

    /// The oneDNN convolution for these shapes, when that engine is in use and can run them.
    func engineConvolution(_ x: Shape, _ w: Shape, bias: Bool) -> OneDNNConvolution? {
        guard Engine.current == .oneDNN else { return nil }
        return OneDNNConvolution.shared(input: x, weight: w, options: options, bias: bias)
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let bias = inputs.count > 2 ? inputs[2] : nil
        let y = engineConvolution(inputs[0].shape, inputs[1].shape, bias: bias != nil)?.forward(inputs[0], inputs[1], bias)
            ?? Conv2D.forward(input: inputs[0], weight: inputs[1], bias: bias, options: options)
        return ForwardResult([y], cache: ctx.keepCache ? Cache(x: inputs[0], w: inputs[1]) : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let c = cache as! Cache
        let wantBias = needed.count > 2 && needed[2]
        if let engine = engineConvolution(c.x.shape, c.w.shape, bias: needed.count > 2) {
            let dx = needed[0] ? engine.backwardData(dy[0], c.w) : nil
            let dw = needed[1] || wantBias ? engine.backwardWeights(dy[0], c.x, wantBias: wantBias) : nil
            if (!needed[0] || dx != nil) && (!(needed[1] || wantBias) || dw != nil) {
                let out: [Tensor?] = [dx, needed[1] ? dw?.weight : nil]
                return needed.count > 2 ? out + [wantBias ? dw?.bias : nil] : out
            }
        }
        let g = Conv2D.backward(outputGradient: dy[0], input: c.x, weight: c.w, options: options,
                                wantInput: needed[0], wantWeight: needed[1], wantBias: wantBias)
        return needed.count > 2 ? [g.input, g.weight, g.bias] : [g.input, g.weight]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int {
        2 * outputs[0].count * inputs[1][1] * inputs[1][2] * inputs[1][3]
    }

    public var description: String {
        let o = options
        return "Conv \(o.stride.h == o.stride.w ? "s\(o.stride.h)" : "s\(o.stride)")" + (o.groups > 1 ? " g\(o.groups)" : "")
            + (o.dilation == Size2D(1) ? "" : " d\(o.dilation)") + (o.padding.isZero ? "" : " p\(o.padding)")
    }
}
