import TTLCore

/// Entries of one axis at constant positions (ONNX Gather with constant indices that are no
/// strided slice). Input: any shape; output: the axis replaced by the indices' shape.
public struct GatherOp: GraphOperation {
    public var axis: Int
    /// Positions in the axis (non-negative), row-major over `indexShape`.
    public var indices: [Int]
    public var indexShape: Shape

    public init(axis: Int, indices: [Int], indexShape: Shape) {
        self.axis = axis
        self.indices = indices
        self.indexShape = indexShape
    }

    public var type: String { "Gather" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        guard axis >= 0 && axis < s[0].rank else { throw OperationError("axis \(axis) for \(s[0])") }
        guard indices.count == indexShape.count, indices.allSatisfy({ $0 >= 0 && $0 < s[0][axis] }) else {
            throw OperationError("indices \(indices) for an axis of \(s[0][axis])")
        }
        return [Gather.outputShape(s[0], axis: axis, indexShape: indexShape)]
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([Gather.forward(inputs[0], axis: axis, indices: indices, indexShape: indexShape)],
                      cache: ctx.keepCache ? inputs[0].shape : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        [Gather.backward(outputGradient: dy[0], inputShape: cache as! Shape, axis: axis, indices: indices)]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 0 }
}
