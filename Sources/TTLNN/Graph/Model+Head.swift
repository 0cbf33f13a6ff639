import TTLCore

/// The classification head: the last Gemm (Linear/MatMul) feeding the model's output, or
/// SqueezeNet's final 1×1 convolution followed by ReLU, global average pooling and a flatten.
public struct Head: Sendable, Equatable {
    /// The Gemm node.
    public var node: String
    /// Parameter path of the weight, and of the bias if any.
    public var weight: String
    /// Parameter path of the bias; nil when the Gemm has none.
    public var bias: String?
    /// Features per example the head reads.
    public var inFeatures: Int
    /// Classes the head scores.
    public var outFeatures: Int
    /// The value the head reads: the backbone's features `[N, inFeatures]`.
    public var features: String
    /// The head's output value (the logits).
    public var logits: String
    /// A Softmax node between the head and the output, if the model ends with one.
    public var softmax: String?
    /// A Sigmoid node between the head and the output (a multi-label model), if the model ends with one.
    public var sigmoid: String?
    /// For a convolutional head, the nodes from the 1×1 convolution to the logits (convolution
    /// first); `features` is then the convolution's `[N, C, H, W]` input. Empty for a Gemm head.
    public var convolutionNodes: [String]

    /// A head from its node, parameter paths, sizes and values.
    public init(node: String, weight: String, bias: String?, inFeatures: Int, outFeatures: Int, features: String, logits: String, softmax: String?,
                convolutionNodes: [String] = [], sigmoid: String? = nil) {
        self.node = node; self.weight = weight; self.bias = bias; self.inFeatures = inFeatures; self.outFeatures = outFeatures
        self.features = features; self.logits = logits; self.softmax = softmax; self.convolutionNodes = convolutionNodes
        self.sigmoid = sigmoid
    }
}

/// A graph edit that cannot be made.
public enum GraphEditError: Error, Equatable, CustomStringConvertible {
    /// No classification head was found; the string says why.
    case noHead(String)
    /// A name that is no node or value of the model.
    case unknownValue(String)
    public var description: String {
        switch self {
        case let .noHead(why): "cannot find the classification head: \(why)"
        case let .unknownValue(v): "no node or value named '\(v)'"
        }
    }
}

extension Model {
    /// Finds the head by walking back from the first output through Softmax (or Sigmoid), Identity and
    /// Dropout nodes to a Gemm whose weight is a parameter; or, through Flatten/Reshape, global
    /// average pooling and ReLU, to a 1×1 convolution with stored weights (SqueezeNet).
    public func findHead() throws(GraphEditError) -> Head {
        guard var value = outputs.first else { throw .noHead("the model has no output") }
        let producers = self.producers
        var softmax: String? = nil, sigmoid: String? = nil
        var logits: String? = nil
        var tail: [String] = []
        var pooled = false, rectified = false
        while let p = producers[value] {
            let n = nodes[p]
            switch n.operation {
            case is SoftmaxOp where logits == nil:
                softmax = n.name
                value = n.inputs[0]
            case let a as ActivationOp where logits == nil && softmax == nil && sigmoid == nil && a.function == .sigmoid:
                sigmoid = n.name
                value = n.inputs[0]
            case is IdentityOp where logits == nil:
                value = n.inputs[0]
            case let gemm as GemmOp where logits == nil:
                guard !gemm.options.transposeA, let w = parameters.tensor(n.inputs[1]), w.rank == 2 else {
                    throw .noHead("node '\(n.name)' is a Gemm but its weight is not a stored matrix")
                }
                let (inF, outF) = gemm.options.transposeB ? (w.shape[1], w.shape[0]) : (w.shape[0], w.shape[1])
                let bias = n.inputs.count > 2 && parameters[n.inputs[2]] != nil ? n.inputs[2] : nil
                return Head(node: n.name, weight: n.inputs[1], bias: bias, inFeatures: inF, outFeatures: outF,
                            features: n.inputs[0], logits: n.outputs[0], softmax: softmax, sigmoid: sigmoid)
            case is FlattenOp where !pooled, is ReshapeOp where !pooled, is GlobalAvgPoolOp where !pooled,
                 is ActivationOp where pooled && !rectified && (n.operation as! ActivationOp).function == .relu:
                if n.operation is GlobalAvgPoolOp { pooled = true }
                if n.operation is ActivationOp { rectified = true }
                if logits == nil { logits = value }
                tail.insert(n.name, at: 0)
                value = n.inputs[0]
            case is Conv2DOp where !pooled:
                // Keras's MobileNet: global average pooling (keepdims) → dropout → 1×1 convolution
                // → reshape. The pooling commutes with a 1×1 convolution: the SqueezeNet head
                // below with the pooling first.
                var source = n.inputs[0]
                var between: [String] = []
                while let q = producers[source], nodes[q].operation is IdentityOp {
                    between.insert(nodes[q].name, at: 0)
                    source = nodes[q].inputs[0]
                }
                if let q = producers[source], !(nodes[q].operation is GlobalAvgPoolOp), isPooledVector(source) {
                    // Keras's MobileNetV3: pooling → 1×1 convolution → hard swish → dropout → the
                    // classifier, a 1×1 convolution of 1×1 features (its pooling is exact).
                    return try convolutionHead(n, chain: between + [n.name] + tail, features: source,
                                               logits: logits ?? n.outputs[0], softmax: softmax, sigmoid: sigmoid)
                }
                guard let q = producers[source], nodes[q].operation is GlobalAvgPoolOp else {
                    throw .noHead("the output comes from node '\(n.name)' (\(n.operation.type)), a convolution not after a global average pooling")
                }
                return try convolutionHead(n, chain: [nodes[q].name] + between + [n.name] + tail, features: nodes[q].inputs[0],
                                           logits: logits ?? n.outputs[0], softmax: softmax, sigmoid: sigmoid)
            case is Conv2DOp where pooled:
                return try convolutionHead(n, chain: [n.name] + tail, features: n.inputs[0], logits: logits!, softmax: softmax, sigmoid: sigmoid)
            default:
                throw .noHead("the output comes from node '\(n.name)' (\(n.operation.type)), not from a Gemm/MatMul or a 1×1 convolution classifier")
            }
        }
        throw .noHead("output '\(value)' is not computed by any node")
    }

    /// Whether `value` is 1×1 in space because it comes from a global average pooling through
    /// activations, identities, 1×1 stride-1 unpadded convolutions and elementwise arithmetic
    /// with constants or other such values only (tf.keras writes MobileNetV3's hard swish as
    /// `x · relu6(x + 3) · 1/6`).
    private func isPooledVector(_ value: String, depth: Int = 0) -> Bool {
        guard depth < 64, let p = producers[value] else { return false }
        let n = nodes[p]
        switch n.operation {
        case is GlobalAvgPoolOp: return true
        case is ActivationOp, is IdentityOp: return isPooledVector(n.inputs[0], depth: depth + 1)
        case let c as Conv2DOp:
            guard let w = parameters.tensor(n.inputs[1]), w.rank == 4, w.shape[2] == 1, w.shape[3] == 1,
                  c.options.stride == Size2D(1), c.options.padding == .zero else { return false }
            return isPooledVector(n.inputs[0], depth: depth + 1)
        case is BinaryOp:
            let computed = n.inputs.filter { parameters[$0] == nil }
            return !computed.isEmpty && computed.allSatisfy { isPooledVector($0, depth: depth + 1) }
        default: return false
        }
    }

    /// A 1×1 convolution classifier `n` whose nodes `chain` (from the one reading `features` to
    /// the one writing `logits`) nothing else reads inside.
    private func convolutionHead(_ n: Node, chain: [String], features: String, logits: String, softmax: String?, sigmoid: String?) throws(GraphEditError) -> Head {
        guard let o = (n.operation as? Conv2DOp)?.options, let w = parameters.tensor(n.inputs[1]), w.rank == 4, w.shape[2] == 1,
              w.shape[3] == 1, o.groups == 1, o.stride == Size2D(1), o.padding == .zero else {
            throw .noHead("node '\(n.name)' is a convolution but not a 1×1 one with stored weights")
        }
        let inside = Set(nodes.filter { chain.contains($0.name) && $0.name != chain.last }.flatMap(\.outputs))
        if let reader = nodes.first(where: { !chain.contains($0.name) && !inside.isDisjoint(with: $0.inputs) }) {
            throw .noHead("node '\(reader.name)' also reads a value of the convolutional head '\(n.name)'")
        }
        let bias = n.inputs.count > 2 && parameters[n.inputs[2]] != nil ? n.inputs[2] : nil
        return Head(node: n.name, weight: n.inputs[1], bias: bias, inFeatures: w.shape[1], outFeatures: w.shape[0],
                    features: features, logits: logits, softmax: softmax, convolutionNodes: chain, sigmoid: sigmoid)
    }

    /// Replaces the head with a new `Linear(inFeatures, classes)`, initialised as PyTorch
    /// initialises `nn.Linear` (weight and bias uniform in ±1/√in), under the old head's paths
    /// (`fc.weight`, `fc.bias`); the new parameters train. A final Softmax stays.
    ///
    /// A convolutional head (1×1 convolution → ReLU → global average pooling → flatten) becomes
    /// global average pooling → flatten → Linear under the convolution's name and paths: the
    /// backbone's features are then C numbers per image rather than C × H × W, the pooling
    /// commutes with a linear map, and only the ReLU on the logits goes.
    @discardableResult
    public mutating func replaceHead(classes: Int, seed: UInt64 = 0) throws(GraphEditError) -> Head {
        precondition(classes > 0)
        var head = try findHead()
        var rng = SplitMix64(seed: seed)
        let bound = 1 / Float(head.inFeatures).squareRoot()
        let weight = Tensor.uniform([classes, head.inFeatures], -bound, bound, using: &rng)
        let bias = Tensor.uniform([classes], -bound, bound, using: &rng)
        let biasPath = head.bias ?? (head.weight.hasSuffix(".weight") ? String(head.weight.dropLast(7)) + ".bias" : head.weight + "_bias")
        parameters[head.weight] = .init(weight)
        parameters[biasPath] = .init(bias)
        frozen.remove(head.weight)
        frozen.remove(biasPath)
        if !head.convolutionNodes.isEmpty {
            let names = Set(head.convolutionNodes)
            let first = nodes.firstIndex { names.contains($0.name) }!
            let spatial = head.features
            head.features = head.node + "/features"
            nodes.removeAll { names.contains($0.name) }
            nodes.insert(contentsOf: [
                Node(head.node + "/pool", GlobalAvgPoolOp(), inputs: [spatial]),
                Node(head.node + "/flatten", FlattenOp(axis: 1), inputs: [head.node + "/pool"], outputs: [head.features]),
                Node(head.node, GemmOp(Gemm.Options(transposeB: true)), inputs: [head.features, head.weight, biasPath], outputs: [head.logits]),
            ], at: first)
            head.convolutionNodes = []
        }
        let index = nodes.firstIndex { $0.name == head.node }!
        nodes[index].operation = GemmOp(Gemm.Options(transposeB: true))
        nodes[index].inputs = [head.features, head.weight, biasPath]
        head.bias = biasPath
        head.outFeatures = classes
        return head
    }

    /// The sub-model computing `value` (a value or node name): the nodes it depends on and the
    /// weights they read. For a feature extractor, cut at the head's `features`.
    public func cut(at value: String) throws(GraphEditError) -> Model {
        let target = node(named: value)?.outputs.first ?? value
        guard let order = try? schedule(for: [target]) else { throw .unknownValue(value) }
        let kept = order.map { nodes[$0] }
        let used = Set(kept.flatMap(\.inputs))
        var tree = ParameterTree()
        for (path, entry) in parameters.entriesInOrder where used.contains(path) { tree[path] = entry }
        let usedInputs = inputs.filter { used.contains($0.name) || $0.name == target }
        guard var model = try? Model(inputs: usedInputs, outputs: [target], nodes: kept, parameters: tree) else {
            throw .unknownValue(value)
        }
        model.frozen = frozen.filter { tree[$0] != nil }
        model.metadata = metadata
        return model
    }
}
