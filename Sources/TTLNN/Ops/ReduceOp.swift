import TTLCore

/// Sum, mean, maximum or minimum over some axes (ONNX ReduceSum, ReduceMean, ReduceMax, ReduceMin).
/// Input: any shape; output: the reduced axes kept as 1 (`keepDims`) or removed.
public struct ReduceOp: GraphOperation {
    public var kind: Reduce.Kind
    /// Distinct, non-negative axes of the input (the importer resolves negative and default axes).
    public var axes: [Int]
    /// Whether the reduced axes stay as size 1.
    public var keepDims: Bool

    public init(_ kind: Reduce.Kind, axes: [Int], keepDims: Bool) {
        self.kind = kind
        self.axes = axes.sorted()
        self.keepDims = keepDims
    }

    public var type: String {
        switch kind {
        case .sum: "ReduceSum"
        case .mean: "ReduceMean"
        case .max: "ReduceMax"
        case .min: "ReduceMin"
        }
    }

    public var description: String { "\(type)(axes: \(axes)\(keepDims ? "" : ", keepdims 0"))" }

    func outputShape(_ s: Shape) -> Shape {
        keepDims ? Reduce.keptShape(s, axes: axes) : Shape(s.dimensions.indices.filter { !axes.contains($0) }.map { s[$0] })
    }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        guard Set(axes).count == axes.count, axes.allSatisfy({ $0 >= 0 && $0 < s[0].rank }) else {
            throw OperationError("axes \(axes) for \(s[0])")
        }
        guard s[0].count > 0 else { throw OperationError("\(type) of an empty tensor \(s[0])") }
        return [outputShape(s[0])]
    }

    struct Cache { var input: Tensor; var output: Tensor }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let kept = Reduce.forward(kind, inputs[0], axes: axes)
        return ForwardResult([kept.reshaped(outputShape(inputs[0].shape))],
                             cache: ctx.keepCache ? Cache(input: inputs[0], output: kept) : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let c = cache as! Cache
        return [Reduce.backward(kind, outputGradient: dy[0].reshaped(c.output.shape), input: c.input, output: c.output, axes: axes)]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { inputs[0].count }
}
