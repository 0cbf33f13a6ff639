import TTLCore

/// Concatenation node: inputs equal in every dimension but `axis` (ONNX Concat, Keras Concatenate).
public struct ConcatOp: GraphOperation {
    /// The joined axis; negative counts from the end.
    public var axis: Int
    /// A node joining its inputs along `axis`.
    public init(axis: Int) { self.axis = axis }
    public var type: String { "Concat" }

    func resolvedAxis(rank: Int) -> Int { axis < 0 ? axis + rank : axis }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        guard !s.isEmpty else { throw OperationError("Concat takes at least one input") }
        guard let out = Concat.outputShape(s, axis: resolvedAxis(rank: s[0].rank)) else {
            throw OperationError("cannot join \(s.map(\.description).joined(separator: ", ")) along axis \(axis)")
        }
        return [out]
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let a = resolvedAxis(rank: inputs[0].rank)
        return ForwardResult([Concat.forward(inputs, axis: a)], cache: ctx.keepCache ? inputs.map { $0.shape[a] } : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let pieces = Concat.backward(outputGradient: dy[0], sizes: cache as! [Int], axis: resolvedAxis(rank: dy[0].rank))
        return zip(pieces, needed).map { $1 ? $0 : nil }
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 0 }
    public var description: String { "Concat axis \(axis)" }
}
