import TTLCore

/// Matrix product with batch dimensions (ONNX MatMul of rank ≥ 3 operands):
/// `A [..., M, K] · B [..., K, N]`, batch dimensions broadcast. A Linear layer applied to the
/// last axis of an NHWC activation (ConvNeXt) is `MatMul(x [N, H, W, C], weight [C, D])`, the
/// weight a trainable parameter. (Two matrices are a ``GemmOp``.)
public struct MatMulOp: GraphOperation {
    public init() {}
    public var type: String { "MatMul" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 2 ... 2, type)
        guard let out = MatMul.outputShape(s[0], s[1]) else { throw OperationError("cannot multiply \(s[0]) by \(s[1])") }
        return [out]
    }

    struct Cache { var a: Tensor; var b: Tensor }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([MatMul.forward(inputs[0], inputs[1])], cache: ctx.keepCache ? Cache(a: inputs[0], b: inputs[1]) : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let c = cache as! Cache
        let g = MatMul.backward(outputGradient: dy[0], c.a, c.b)
        return [needed[0] ? g.a : nil, needed[1] ? g.b : nil]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 2 * outputs[0].count * inputs[0][inputs[0].rank - 1] }
}
