import TTLCore

/// An elementwise math function (ONNX Elu, Selu, Tanh, Neg, Exp, Sqrt, Erf, Softplus). Any shape.
public struct ElementwiseMathOp: GraphOperation {
    public var function: ElementwiseMath.Function
    public init(_ function: ElementwiseMath.Function) { self.function = function }

    public var type: String {
        switch function {
        case .elu: "Elu"
        case .selu: "Selu"
        case .tanh: "Tanh"
        case .neg: "Neg"
        case .exp: "Exp"
        case .sqrt: "Sqrt"
        case .erf: "Erf"
        case .softplus: "Softplus"
        }
    }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        return s
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([ElementwiseMath.forward(function, inputs[0])], cache: ctx.keepCache ? inputs[0] : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        [ElementwiseMath.backward(function, outputGradient: dy[0], input: cache as! Tensor)]
    }
}
