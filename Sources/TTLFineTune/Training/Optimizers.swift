// Optimizers over the trainable parameters of a ParameterTree, with PyTorch's update rules
// (torch.optim.SGD and torch.optim.AdamW), and learning-rate schedules.
import Foundation
import TTLCore

/// Updates parameters from their gradients.
public protocol Optimizer {
    /// One step: every path in `gradients` is updated in `parameters`, at the rate
    /// `learningRate(path)` (PyTorch's parameter groups: a backbone slower than its head).
    mutating func step(_ parameters: inout ParameterTree, gradients: [String: Tensor], learningRate: (String) -> Float)
}

extension Optimizer {
    /// One step at the same rate for every parameter.
    public mutating func step(_ parameters: inout ParameterTree, gradients: [String: Tensor], learningRate: Float) {
        step(&parameters, gradients: gradients, learningRate: { _ in learningRate })
    }
}

/// What an optimizer carries from step to step (momentum buffers, Adam's moments, the step
/// count), by slot and parameter path: what a checkpoint saves to continue exactly.
struct OptimizerState: Equatable {
    var steps = 0
    /// Slot name (`momentum`, `m`, `v`) → parameter path → values, flat.
    var slots: [String: [String: [Float]]] = [:]
}

/// An optimizer whose state can be saved and restored.
protocol CheckpointableOptimizer: Optimizer {
    var state: OptimizerState { get set }
}

/// Stochastic gradient descent with momentum, Nesterov momentum and (coupled) weight decay, as torch.optim.SGD:
/// g ← g + wd·p; b ← μ·b + g (b = g at the first step); g ← g + μ·b if Nesterov else b; p ← p − lr·g.
public struct SGD: CheckpointableOptimizer {
    /// Momentum factor μ (0: none).
    public var momentum: Float
    /// Nesterov momentum.
    public var nesterov: Bool
    /// Coupled weight decay (added to the gradient).
    public var weightDecay: Float
    var buffers: [String: [Float]] = [:]
    /// Plain SGD with momentum 0.9 unless told otherwise.
    public init(momentum: Float = 0.9, nesterov: Bool = false, weightDecay: Float = 0) {
        self.momentum = momentum; self.nesterov = nesterov; self.weightDecay = weightDecay
    }

    var state: OptimizerState {
        get { OptimizerState(steps: 0, slots: ["momentum": buffers]) }
        set { buffers = newValue.slots["momentum"] ?? [:] }
    }

    /// One step of torch.optim.SGD's update.
    public mutating func step(_ parameters: inout ParameterTree, gradients: [String: Tensor], learningRate: (String) -> Float) {
        for (path, grad) in gradients.sorted(by: { $0.key < $1.key }) {
            guard var p = parameters[path]?.tensor else { continue }
            let lr = learningRate(path)
            let g0 = grad.scalars
            p.withUnsafeMutableBufferPointer { w in
                var g = g0
                if weightDecay != 0 { for i in g.indices { g[i] += weightDecay * w[i] } }
                if momentum != 0 {
                    var b = buffers[path] ?? g
                    if buffers[path] != nil { for i in b.indices { b[i] = momentum * b[i] + g[i] } }
                    buffers[path] = b
                    if nesterov { for i in g.indices { g[i] += momentum * b[i] } } else { g = b }
                }
                for i in g.indices { w[i] -= lr * g[i] }
            }
            parameters[path]?.tensor = p
        }
    }
}

/// Adam with decoupled weight decay, as torch.optim.AdamW:
/// p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; p ← p − lr·m̂/(√v̂ + ε).
public struct AdamW: CheckpointableOptimizer {
    /// Decay of the first moment (β1).
    public var beta1: Float
    /// Decay of the second moment (β2).
    public var beta2: Float
    /// Added to √v̂ in the denominator.
    public var epsilon: Float
    /// Decoupled weight decay (the weights shrink by lr·wd each step).
    public var weightDecay: Float
    var m: [String: [Float]] = [:], v: [String: [Float]] = [:]
    var steps = 0
    /// AdamW with torch.optim.AdamW's defaults.
    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    var state: OptimizerState {
        get { OptimizerState(steps: steps, slots: ["m": m, "v": v]) }
        set { steps = newValue.steps; m = newValue.slots["m"] ?? [:]; v = newValue.slots["v"] ?? [:] }
    }

    /// One step of torch.optim.AdamW's update (bias-corrected moments).
    public mutating func step(_ parameters: inout ParameterTree, gradients: [String: Tensor], learningRate: (String) -> Float) {
        steps += 1
        let c1 = 1 - Float(pow(Double(beta1), Double(steps))), c2 = 1 - Float(pow(Double(beta2), Double(steps)))
        for (path, grad) in gradients.sorted(by: { $0.key < $1.key }) {
            guard var p = parameters[path]?.tensor else { continue }
            let lr = learningRate(path)
            let g = grad.scalars
            var mm = m[path] ?? [Float](repeating: 0, count: g.count), vv = v[path] ?? [Float](repeating: 0, count: g.count)
            p.withUnsafeMutableBufferPointer { w in
                for i in g.indices {
                    w[i] *= 1 - lr * weightDecay
                    mm[i] = beta1 * mm[i] + (1 - beta1) * g[i]
                    vv[i] = beta2 * vv[i] + (1 - beta2) * g[i] * g[i]
                    w[i] -= lr * (mm[i] / c1) / ((vv[i] / c2).squareRoot() + epsilon)
                }
            }
            m[path] = mm
            v[path] = vv
            parameters[path]?.tensor = p
        }
    }
}

/// The learning rate at each step of a run of `totalSteps`.
public enum Schedule: String, Codable, Sendable, CaseIterable {
    /// The base rate at every step.
    case constant
    /// Cosine annealing from the base rate to 0 (torch CosineAnnealingLR with T_max = all steps).
    case cosine
    /// One-cycle (torch OneCycleLR defaults): from lr/25 up to lr over the first 30 % (cosine),
    /// then down to lr/25/10⁴ (cosine).
    case oneCycle = "one-cycle"

    /// The rate at `step` (0-based) of `totalSteps`, for a base (peak) rate `base`.
    public func rate(_ base: Float, step: Int, totalSteps: Int) -> Float {
        let t = Double(step), total = Double(max(totalSteps, 1))
        func cosine(_ from: Double, _ to: Double, _ f: Double) -> Double { to + (from - to) * (1 + cos(Double.pi * f)) / 2 }
        switch self {
        case .constant: return base
        case .cosine: return Float(cosine(Double(base), 0, t / total))
        case .oneCycle:
            let peak = Double(base), start = peak / 25, end = start / 1e4
            let warm = 0.3 * total - 1
            if t <= warm { return Float(cosine(start, peak, warm > 0 ? t / warm : 1)) }
            return Float(cosine(peak, end, (t - warm) / max(total - 1 - warm, 1)))
        }
    }
}
