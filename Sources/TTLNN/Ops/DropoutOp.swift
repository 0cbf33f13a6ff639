import TTLCore

/// Dropout that also gives its mask (ONNX Dropout with two outputs): at inference and in ttl's
/// training alike the output is the input and the mask is all true (1). Dropout without a mask
/// output imports as ``IdentityOp``. Input: any shape; outputs: the input, and the mask of its shape.
public struct DropoutOp: GraphOperation {
    /// The ratio the file states (written back on export; ttl does not drop).
    public var ratio: Float
    public init(ratio: Float) { self.ratio = ratio }
    public var type: String { "Dropout" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        return [s[0], s[0]]
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([inputs[0], Tensor(repeating: 1, shape: inputs[0].shape)], cache: ctx.keepCache ? () : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] { [dy[0]] }
    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 0 }
}
