import TTLCore

/// Local response normalization across channels (ONNX LRN).
/// Input `[N, C, H, W]` (or any rank ≥ 2, channels on axis 1); output the same shape.
public struct LRNOp: GraphOperation {
    public var options: LRN.Options
    public init(_ options: LRN.Options) { self.options = options }
    public var type: String { "LRN" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        guard s[0].rank >= 2 else { throw OperationError("LRN needs channels on axis 1, got \(s[0])") }
        guard options.size >= 1 else { throw OperationError("size \(options.size) must be positive") }
        return s
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let (y, cache) = LRN.forward(inputs[0], options)
        return ForwardResult([y], cache: ctx.keepCache ? cache : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        [LRN.backward(outputGradient: dy[0], cache: cache as! LRN.Cache, options)]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { outputs[0].count * (2 * options.size + 4) }
    public var description: String { "LRN size \(options.size)" }
}
