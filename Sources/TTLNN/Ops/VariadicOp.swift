import TTLCore

/// N-ary elementwise Sum, Mean, Max or Min with broadcasting (ONNX Sum/Mean/Max/Min).
/// Inputs: one or more tensors that broadcast together; output: their broadcast shape.
public struct VariadicOp: GraphOperation {
    public var kind: Variadic.Kind
    public init(_ kind: Variadic.Kind) { self.kind = kind }

    public var type: String {
        switch kind {
        case .sum: "Sum"
        case .mean: "Mean"
        case .max: "Max"
        case .min: "Min"
        }
    }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        guard !s.isEmpty else { throw OperationError("\(type) takes at least one input") }
        guard let out = Variadic.shape(s) else { throw OperationError("shapes \(s) do not broadcast") }
        return [out]
    }

    struct Cache { var inputs: [Tensor]; var output: Tensor }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let y = Variadic.forward(kind, inputs)
        return ForwardResult([y], cache: ctx.keepCache ? Cache(inputs: inputs, output: y) : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let c = cache as! Cache
        let g = Variadic.backward(kind, outputGradient: dy[0], inputs: c.inputs, output: c.output)
        return zip(g, needed).map { $1 ? $0 : nil }
    }
}
