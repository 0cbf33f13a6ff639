import TTLCore

/// An elementwise activation node (ONNX Relu, Clip, LeakyRelu, Sigmoid, HardSigmoid, HardSwish). Any shape.
public struct ActivationOp: GraphOperation {
    /// The activation and its constants.
    public enum Function: Sendable, Equatable {
        case relu
        /// Clamp to `[min, max]`; ReLU6 is `clip(min: 0, max: 6)`.
        case clip(min: Float, max: Float)
        /// `x > 0 ? x : slope · x`.
        case leakyReLU(slope: Float)
        case sigmoid
        /// `max(0, min(1, alpha · x + beta))`.
        case hardSigmoid(alpha: Float, beta: Float)
        /// `x · max(0, min(1, x/6 + 1/2))`.
        case hardSwish
    }
    /// The activation this node applies.
    public var function: Function
    /// A node applying `function`.
    public init(_ function: Function) { self.function = function }

    public var type: String {
        switch function {
        case .relu: "Relu"
        case .clip: "Clip"
        case .leakyReLU: "LeakyRelu"
        case .sigmoid: "Sigmoid"
        case .hardSigmoid: "HardSigmoid"
        case .hardSwish: "HardSwish"
        }
    }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        return s
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let x = inputs[0]
        let y: Tensor = switch function {
        case .relu: ReLU.forward(x)
        case let .clip(lo, hi): Clip.forward(x, min: lo, max: hi)
        case let .leakyReLU(s): LeakyReLU.forward(x, slope: s)
        case .sigmoid: Sigmoid.forward(x)
        case let .hardSigmoid(a, b): HardSigmoid.forward(x, alpha: a, beta: b)
        case .hardSwish: HardSwish.forward(x)
        }
        // Sigmoid's backward reads its output; the others read their input.
        return ForwardResult([y], cache: ctx.keepCache ? (function == .sigmoid ? y : x) : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let t = cache as! Tensor
        let g = dy[0]
        return switch function {
        case .relu: [ReLU.backward(outputGradient: g, input: t)]
        case let .clip(lo, hi): [Clip.backward(outputGradient: g, input: t, min: lo, max: hi)]
        case let .leakyReLU(s): [LeakyReLU.backward(outputGradient: g, input: t, slope: s)]
        case .sigmoid: [Sigmoid.backward(outputGradient: g, output: t)]
        case let .hardSigmoid(a, b): [HardSigmoid.backward(outputGradient: g, input: t, alpha: a, beta: b)]
        case .hardSwish: [HardSwish.backward(outputGradient: g, input: t)]
        }
    }

    public var description: String {
        switch function {
        case .clip(0, 6): "ReLU6"
        case let .clip(lo, hi): "Clip[\(lo), \(hi)]"
        default: type
        }
    }
}
