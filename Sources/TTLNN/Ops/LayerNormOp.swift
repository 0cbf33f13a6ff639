import TTLCore

/// Layer normalization over the trailing axes from `axis` on (ONNX LayerNormalization; the
/// channels of an NHWC activation in ConvNeXt). Inputs: `x`, `scale` and optionally `bias`,
/// each of the normalized axes' shape (usually trainable parameters). Output: `x`'s shape.
public struct LayerNormOp: GraphOperation {
    /// The first normalized axis; negative counts from the end.
    public var axis: Int
    public var epsilon: Float
    public init(axis: Int = -1, epsilon: Float = 1e-5) { self.axis = axis; self.epsilon = epsilon }
    public var type: String { "LayerNormalization" }

    /// The number of elements in one normalized row of `shape`.
    func inner(_ shape: Shape) throws(OperationError) -> Int {
        let a = axis < 0 ? axis + shape.rank : axis
        guard a >= 0 && a < shape.rank else { throw OperationError("axis \(axis) for \(shape)") }
        return shape.dimensions[a...].reduce(1, *)
    }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 2 ... 3, type)
        let n = try inner(s[0])
        guard n > 0 else { throw OperationError("normalizing over no elements in \(s[0])") }
        for (i, what) in zip(1 ..< s.count, ["scale", "bias"]) where s[i].count != n {
            throw OperationError("\(what) \(s[i]) does not match the \(n) normalized elements of \(s[0])")
        }
        return [s[0]]
    }

    struct Cache { var core: LayerNorm.Cache; var scale: Tensor; var hasBias: Bool }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let n = (try? inner(inputs[0].shape)) ?? 1
        let (y, cache) = LayerNorm.forward(inputs[0], scale: inputs[1], bias: inputs.count > 2 ? inputs[2] : nil, inner: n, epsilon: epsilon)
        return ForwardResult([y], cache: ctx.keepCache ? Cache(core: cache, scale: inputs[1], hasBias: inputs.count > 2) : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let c = cache as! Cache
        let g = LayerNorm.backward(outputGradient: dy[0], cache: c.core, scale: c.scale)
        var out: [Tensor?] = [needed[0] ? g.input : nil, needed[1] ? g.scale.reshaped(c.scale.shape) : nil]
        if c.hasBias { out.append(needed[2] ? g.bias : nil) }
        return out
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 8 * outputs[0].count }
    public var description: String { "LayerNormalization axis \(axis)" }
}
