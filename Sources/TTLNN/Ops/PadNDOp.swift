import TTLCore

/// Padding (or cropping, for negative pads) of any axes of a tensor of any rank, in constant,
/// reflect, edge or wrap mode (ONNX Pad). ``PadOp`` is the 4-D constant case of H and W.
public struct PadNDOp: GraphOperation {
    public var options: PadND.Options
    public init(_ options: PadND.Options) { self.options = options }
    public var type: String { "Pad" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        guard options.before.count == s[0].rank, options.after.count == s[0].rank else {
            throw OperationError("\(options.before.count + options.after.count) pads for a rank-\(s[0].rank) input")
        }
        guard let out = PadND.shape(s[0], options) else {
            throw OperationError("cannot pad \(s[0]) by \(options.before)/\(options.after) in \(options.mode.rawValue) mode")
        }
        return [out]
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([PadND.forward(inputs[0], options)], cache: ctx.keepCache ? inputs[0].shape : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        [PadND.backward(outputGradient: dy[0], inputShape: cache as! Shape, options)]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 0 }
    public var description: String { "Pad \(options.mode.rawValue) \(options.before)/\(options.after)" }
}
