import TTLCore

/// Batch normalization node: inputs `x [N, C, …]`, `scale`, `bias`, `running_mean`, `running_var`, each `[C]`.
///
/// Runs in training mode (batch statistics, running statistics updated) only during a
/// training forward and only when its scale or bias trains: a frozen batch norm always uses
/// its running statistics, which then never change. `momentum` follows PyTorch (see `BatchNorm`).
public struct BatchNormOp: GraphOperation {
    /// Added to the variance before its square root.
    public var epsilon: Float
    /// Weight of the batch statistics when a training step updates the running ones (PyTorch convention).
    public var momentum: Float
    /// A batch norm node; `momentum` defaults to PyTorch's 0.1.
    public init(epsilon: Float, momentum: Float = 0.1) { self.epsilon = epsilon; self.momentum = momentum }
    public var type: String { "BatchNormalization" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 5 ... 5, type)
        guard s[0].rank >= 2 else { throw OperationError("input must be [N, C, …], got \(s[0])") }
        for k in 1 ..< 5 where s[k] != [s[0][1]] {
            throw OperationError("statistic \(k) has shape \(s[k]), expected [\(s[0][1])]")
        }
        return [s[0]]
    }

    enum Cache {
        case inference(x: Tensor, p: BatchNorm.Parameters)
        case training(x: Tensor, scale: Tensor, cache: BatchNorm.TrainingCache)
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        var p = BatchNorm.Parameters(scale: inputs[1], bias: inputs[2], mean: inputs[3], variance: inputs[4], epsilon: epsilon)
        let trains = ctx.training && (ctx.requiresGradient[1] || ctx.requiresGradient[2])
        if trains {
            let (y, cache) = BatchNorm.training(input: inputs[0], &p, momentum: momentum)
            return ForwardResult([y], cache: ctx.keepCache ? Cache.training(x: inputs[0], scale: inputs[1], cache: cache) : nil,
                                 stateUpdates: [3: p.mean, 4: p.variance])
        }
        return ForwardResult([BatchNorm.inference(input: inputs[0], p)], cache: ctx.keepCache ? Cache.inference(x: inputs[0], p: p) : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let g: BatchNorm.Gradients = switch cache as! Cache {
        case let .inference(x, p): BatchNorm.inferenceBackward(outputGradient: dy[0], input: x, p)
        case let .training(x, scale, c): BatchNorm.trainingBackward(outputGradient: dy[0], input: x, scale: scale, cache: c)
        }
        return [needed[0] ? g.input : nil, needed[1] ? g.scale : nil, needed[2] ? g.bias : nil, nil, nil]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 2 * outputs[0].count }
    public var description: String { "BatchNorm ε=\(epsilon)" }
}
