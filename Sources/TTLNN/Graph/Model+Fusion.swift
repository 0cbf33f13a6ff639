import TTLCore

/// Inference-time fusion: a convolution followed by an inference-mode batch norm (and a ReLU
/// or clip) runs as one convolution with the batch norm folded into its weights and the
/// activation applied as it writes its output, as onnxruntime does. Saves two passes over
/// every activation. Used only where no gradient flows and the batch norm does not train.
struct ConvolutionFusion {
    var conv: Int
    var batchNorm: Int
    var activation: Int?
    /// The value the fused node writes (the activation's or the batch norm's output).
    var output: String
}

/// Inference-time fusion of an Add with the ReLU or clip that alone reads it (the end of every
/// residual block): one pass writes `clamp(a + b)`.
struct AddActivationFusion {
    var add: Int
    var activation: Int
    var output: String
    var low: Float, high: Float
}

extension Model {
    /// The fusable Add → Relu/Clip pairs among `order`, keyed by the Add's index.
    func addActivationFusions(order: [Int], keep: Set<String>) -> [Int: AddActivationFusion] {
        var consumers: [String: [Int]] = [:]
        for i in order { for v in nodes[i].inputs { consumers[v, default: []].append(i) } }
        var result: [Int: AddActivationFusion] = [:]
        for i in order {
            guard let b = nodes[i].operation as? BinaryOp, b.op == .add, !keep.contains(nodes[i].outputs[0]),
                  let c = consumers[nodes[i].outputs[0]], c.count == 1, let act = nodes[c[0]].operation as? ActivationOp else { continue }
            switch act.function {
            case .relu: result[i] = AddActivationFusion(add: i, activation: c[0], output: nodes[c[0]].outputs[0], low: 0, high: .infinity)
            case let .clip(lo, hi): result[i] = AddActivationFusion(add: i, activation: c[0], output: nodes[c[0]].outputs[0], low: lo, high: hi)
            default: break
            }
        }
        return result
    }

    /// `clamp(a + b, low, high)` in one pass when the shapes agree, else add then clamp in place.
    func runFused(_ f: AddActivationFusion, _ a: Tensor, _ b: Tensor) -> Tensor {
        let (lo, hi) = (f.low, f.high)
        if a.shape == b.shape { return a.zipMap(b) { min(max($0 + $1, lo), hi) } }
        var y = Binary.forward(.add, a, b)
        y.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = min(max(p[i], lo), hi) } }
        return y
    }

    /// The fusable Conv → BatchNorm (→ Relu/Clip) chains among `order`, keyed by the conv's index.
    func fusions(order: [Int], keep: Set<String>) -> [Int: ConvolutionFusion] {
        var consumers: [String: [Int]] = [:]
        for i in order { for v in nodes[i].inputs { consumers[v, default: []].append(i) } }
        func soleConsumer(_ value: String) -> Int? {
            guard !keep.contains(value), let c = consumers[value], c.count == 1 else { return nil }
            return c[0]
        }
        var result: [Int: ConvolutionFusion] = [:]
        for i in order {
            let conv = nodes[i]
            guard conv.operation is Conv2DOp, conv.inputs.dropFirst().allSatisfy({ parameters[$0] != nil }),
                  let j = soleConsumer(conv.outputs[0]), nodes[j].operation is BatchNormOp, nodes[j].inputs[0] == conv.outputs[0],
                  nodes[j].inputs.dropFirst().allSatisfy({ parameters[$0] != nil }) else { continue }
            var fusion = ConvolutionFusion(conv: i, batchNorm: j, activation: nil, output: nodes[j].outputs[0])
            if let k = soleConsumer(nodes[j].outputs[0]), let act = nodes[k].operation as? ActivationOp {
                switch act.function {
                case .relu, .clip:
                    fusion.activation = k
                    fusion.output = nodes[k].outputs[0]
                default: break
                }
            }
            result[i] = fusion
        }
        return result
    }

    /// Runs a fusion on `x`: the convolution with folded weights and the activation as epilogue.
    func runFused(_ f: ConvolutionFusion, input x: Tensor) -> Tensor {
        let conv = nodes[f.conv], bn = nodes[f.batchNorm]
        let op = conv.operation as! Conv2DOp
        let bnOp = bn.operation as! BatchNormOp
        let t = { (path: String) in self.parameters.tensor(path)! }
        let (scale, shift) = BatchNorm.foldedAffine(.init(scale: t(bn.inputs[1]), bias: t(bn.inputs[2]), mean: t(bn.inputs[3]),
                                                          variance: t(bn.inputs[4]), epsilon: bnOp.epsilon))
        var weight = t(conv.inputs[1])
        let perChannel = weight.count / max(scale.count, 1)
        weight.withUnsafeMutableBufferPointer { w in
            for c in 0 ..< scale.count { for i in 0 ..< perChannel { w[c * perChannel + i] *= scale[c] } }
        }
        let oldBias = conv.inputs.count > 2 ? t(conv.inputs[2]).scalars : [Float](repeating: 0, count: scale.count)
        let bias = Tensor(shape: [scale.count], scalars: (0 ..< scale.count).map { oldBias[$0] * scale[$0] + shift[$0] })
        var epilogue = Conv2D.Epilogue.none
        if let k = f.activation, let act = nodes[k].operation as? ActivationOp {
            switch act.function {
            case .relu: epilogue = .relu
            case let .clip(lo, hi): epilogue = .clip(min: lo, max: hi)
            default: break
            }
        }
        return Conv2D.forward(input: x, weight: weight, bias: bias, options: op.options, epilogue: epilogue)
    }
}
