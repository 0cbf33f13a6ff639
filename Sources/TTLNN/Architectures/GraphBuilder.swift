import TTLCore

/// Builds a ``Model`` node by node, creating each layer's parameters under `name.weight`,
/// `name.bias`, `name.running_mean`, `name.running_var` (PyTorch's naming).
///
/// Fresh weights are initialised as PyTorch's layers initialise themselves: convolution and
/// linear weights and biases uniform in ±1/√fan_in, batch norm scale 1, bias 0, mean 0, variance 1.
public struct GraphBuilder {
    /// The nodes added so far, in order.
    public private(set) var nodes: [Node] = []
    /// The parameters and buffers created so far.
    public private(set) var parameters = ParameterTree()
    /// The graph inputs declared so far.
    public private(set) var inputs: [InputSpec] = []
    var rng: SplitMix64
    var usedNames = Set<String>()
    /// False for a network whose weights are about to be loaded: convolution and linear weights
    /// are then left unwritten (no random draws, and large ones take no memory until written).
    let initializesWeights: Bool

    /// An empty builder whose fresh weights are drawn from a generator seeded with `seed`, or
    /// (`initializeWeights: false`) left unwritten for a load to replace.
    public init(seed: UInt64 = 0, initializeWeights: Bool = true) {
        rng = SplitMix64(seed: seed)
        initializesWeights = initializeWeights
    }

    /// A graph input; returns its value name.
    public mutating func input(_ name: String, _ dimensions: [Int?]) -> String {
        inputs.append(InputSpec(name: name, dimensions: dimensions))
        usedNames.insert(name)
        return name
    }

    /// Adds a node; a name already taken gets `#2`, `#3`, … (a module applied twice, like
    /// torchvision's shared `relu`). Returns the node's output value.
    @discardableResult
    public mutating func add(_ name: String, _ op: any GraphOperation, _ inputs: [String]) -> String {
        var unique = name
        var k = 2
        while usedNames.contains(unique) { unique = "\(name)#\(k)"; k += 1 }
        usedNames.insert(unique)
        nodes.append(Node(unique, op, inputs: inputs))
        return unique
    }

    mutating func uniform(_ shape: Shape, fanIn: Int) -> Tensor {
        // Whatever the allocator hands out: every element is replaced by the load that follows.
        if !initializesWeights { return Tensor(uninitialized: shape) { _ in } }
        let bound = 1 / Float(max(fanIn, 1)).squareRoot()
        return Tensor.uniform(shape, -bound, bound, using: &rng)
    }

    /// Convolution `name` with `name.weight [out, in/groups, k, k]` and, if `bias`, `name.bias [out]`.
    public mutating func conv(_ name: String, _ x: String, in cin: Int, out: Int, kernel: Int, stride: Int = 1,
                              padding: Padding2D = .zero, dilation: Int = 1, groups: Int = 1, bias: Bool = false) -> String {
        let fanIn = cin / groups * kernel * kernel
        parameters[name + ".weight"] = .init(uniform([out, cin / groups, kernel, kernel], fanIn: fanIn))
        var ins = [x, name + ".weight"]
        if bias {
            parameters[name + ".bias"] = .init(uniform([out], fanIn: fanIn))
            ins.append(name + ".bias")
        }
        let options = Conv2DOptions(stride: Size2D(stride), dilation: Size2D(dilation), padding: padding, groups: groups)
        return add(name, Conv2DOp(options), ins)
    }

    /// Batch norm `name` with `name.weight`, `name.bias` and buffers `name.running_mean`, `name.running_var`, each `[channels]`.
    /// `momentum` follows PyTorch (0.1 default; Keras's 0.99 is 0.01 here).
    public mutating func batchNorm(_ name: String, _ x: String, channels c: Int, epsilon: Float = 1e-5, momentum: Float = 0.1) -> String {
        parameters[name + ".weight"] = .init(Tensor(repeating: 1, shape: [c]))
        parameters[name + ".bias"] = .init(Tensor(zeros: [c]))
        parameters[name + ".running_mean"] = .init(Tensor(zeros: [c]), kind: .buffer)
        parameters[name + ".running_var"] = .init(Tensor(repeating: 1, shape: [c]), kind: .buffer)
        return add(name, BatchNormOp(epsilon: epsilon, momentum: momentum),
                   [x, name + ".weight", name + ".bias", name + ".running_mean", name + ".running_var"])
    }

    /// `Linear(in, out)`: `name.weight [out, in]`, `name.bias [out]`, as a Gemm with transposed B.
    public mutating func linear(_ name: String, _ x: String, in inFeatures: Int, out: Int) -> String {
        parameters[name + ".weight"] = .init(uniform([out, inFeatures], fanIn: inFeatures))
        parameters[name + ".bias"] = .init(uniform([out], fanIn: inFeatures))
        return add(name, GemmOp(Gemm.Options(transposeB: true)), [x, name + ".weight", name + ".bias"])
    }

    /// A ReLU node on `x`; returns its output value.
    public mutating func relu(_ name: String, _ x: String) -> String { add(name, ActivationOp(.relu), [x]) }
    /// A ReLU6 node (clip to `[0, 6]`) on `x`; returns its output value.
    public mutating func relu6(_ name: String, _ x: String) -> String { add(name, ActivationOp(.clip(min: 0, max: 6)), [x]) }

    /// The finished model. A builder that made an invalid graph is a bug in ttl, so this traps.
    public func build(outputs: [String]) -> Model {
        do {
            return try Model(inputs: inputs, outputs: outputs, nodes: nodes, parameters: parameters)
        } catch {
            preconditionFailure("built-in architecture is invalid: \(error)")
        }
    }
}
