import TTLCore

/// Elementwise `x ^ y` with broadcasting (ONNX Pow). Output: the broadcast shape.
public struct PowOp: GraphOperation {
    public init() {}
    public var type: String { "Pow" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 2 ... 2, type)
        guard let out = Broadcast.shape(s[0], s[1]) else { throw OperationError("shapes \(s[0]) and \(s[1]) do not broadcast") }
        return [out]
    }

    struct Cache { var x: Tensor; var y: Tensor }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([Power.forward(inputs[0], inputs[1])], cache: ctx.keepCache ? Cache(x: inputs[0], y: inputs[1]) : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let c = cache as! Cache
        let g = Power.backward(outputGradient: dy[0], c.x, c.y)
        return [needed[0] ? g.x : nil, needed[1] ? g.y : nil]
    }
}
