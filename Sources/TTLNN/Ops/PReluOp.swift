import TTLCore

/// Parametric ReLU (ONNX PRelu). Inputs: `x` (any shape) and `slope`, which broadcasts to `x`
/// (`[C, 1, 1]` for NCHW; usually a trainable parameter). Output: `x`'s shape.
public struct PReluOp: GraphOperation {
    public init() {}
    public var type: String { "PRelu" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 2 ... 2, type)
        guard Broadcast.shape(s[0], s[1]) == s[0] else { throw OperationError("slope \(s[1]) does not broadcast to the input \(s[0])") }
        return [s[0]]
    }

    struct Cache { var x: Tensor; var slope: Tensor }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([PReLU.forward(inputs[0], slope: inputs[1])], cache: ctx.keepCache ? Cache(x: inputs[0], slope: inputs[1]) : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let c = cache as! Cache
        let g = PReLU.backward(outputGradient: dy[0], input: c.x, slope: c.slope)
        return [needed[0] ? g.input : nil, needed[1] ? g.slope : nil]
    }
}
