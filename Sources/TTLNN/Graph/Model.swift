import TTLCore

/// A node of the graph: an operation reading named values and writing named values.
public struct Node: Sendable {
    /// The node's name (the ONNX node name, or the layer name of a built architecture).
    public var name: String
    /// What the node computes.
    public var operation: any GraphOperation
    /// Value names: graph inputs, parameter paths, or other nodes' outputs.
    public var inputs: [String]
    /// Names of the values the node writes, one per output of its operation.
    public var outputs: [String]

    /// A node named `name` whose single output is also called `name`, unless `outputs` are given.
    public init(_ name: String, _ operation: any GraphOperation, inputs: [String], outputs: [String]? = nil) {
        self.name = name
        self.operation = operation
        self.inputs = inputs
        self.outputs = outputs ?? [name]
    }
}

/// A graph input: its name and shape, `nil` for a dimension that may vary (the batch).
public struct InputSpec: Sendable, Equatable {
    /// The name the input is fed under.
    public var name: String
    /// The expected shape, outermost first; `nil` for a dimension that may vary.
    public var dimensions: [Int?]
    /// An input named `name` of these dimensions.
    public init(name: String, dimensions: [Int?]) { self.name = name; self.dimensions = dimensions }

    /// The shape with every dynamic dimension set to `batch`.
    public func shape(batch: Int = 1) -> Shape { Shape(dimensions.map { $0 ?? batch }) }

    /// Whether `s` has this input's rank and every one of its fixed dimensions.
    public func accepts(_ s: Shape) -> Bool {
        s.rank == dimensions.count && zip(s.dimensions, dimensions).allSatisfy { $1 == nil || $0 == $1 }
    }
}

/// A network: a directed acyclic graph of operations over named values, and the weights it reads.
///
/// Nodes are kept in topological order. Every weight and buffer lives in ``parameters``
/// under a dotted path (torchvision style: `layer2.0.downsample.0.weight`); nodes name them
/// as inputs. Weights are trainable unless frozen (``frozen``).
public struct Model: Sendable {
    /// The graph inputs, fed by name when the model runs.
    public internal(set) var inputs: [InputSpec] { didSet { plans = PlanCache() } }
    /// Names of the values the model returns: node outputs or graph inputs.
    public var outputs: [String] { didSet { plans = PlanCache() } }
    /// The operations, in topological order.
    public internal(set) var nodes: [Node] { didSet { plans = PlanCache() } }
    /// Every weight and buffer, by dotted path; nodes read them as inputs.
    public var parameters: ParameterTree { didSet { plans = plans.keeping(plansValidFor: parameters) } }
    /// The engine's compiled plans of this graph and these weights (``InferencePlan``);
    /// a change to the graph starts a new, empty cache, and a change to the weights keeps only
    /// the plans that read none of the weights that changed (a frozen backbone's plan outlives
    /// the optimizer's steps on the head).
    var plans = PlanCache()
    /// Paths of parameters that do not train.
    public var frozen: Set<String> = []
    /// Free-form facts carried with the model (source format, producer, labels, preprocessing).
    public var metadata: [String: String] = [:]

    /// Builds a model, sorting the nodes topologically and checking that every value is produced once.
    public init(inputs: [InputSpec], outputs: [String], nodes: [Node], parameters: ParameterTree) throws(GraphError) {
        guard !outputs.isEmpty else { throw .noOutputs }
        self.inputs = inputs
        self.outputs = outputs
        self.parameters = parameters
        self.nodes = try Self.sorted(nodes, inputs: inputs, parameters: parameters, outputs: outputs)
    }

    /// Index of the node producing each activation.
    public var producers: [String: Int] {
        var map: [String: Int] = [:]
        for (i, n) in nodes.enumerated() { for o in n.outputs { map[o] = i } }
        return map
    }

    /// The node called `name`, if there is one.
    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    /// Whether `path` is a parameter (not a buffer) that trains.
    public func isTrainable(_ path: String) -> Bool {
        parameters[path]?.kind == .parameter && !frozen.contains(path)
    }

    /// Kahn's algorithm, keeping the given order among ready nodes.
    static func sorted(_ nodes: [Node], inputs: [InputSpec], parameters: ParameterTree, outputs: [String]) throws(GraphError) -> [Node] {
        var producer: [String: Int] = [:]
        let external = Set(inputs.map(\.name))
        for (i, n) in nodes.enumerated() {
            for o in n.outputs {
                if producer[o] != nil || external.contains(o) || parameters[o] != nil {
                    throw .duplicateValue(o, node: n.name)
                }
                producer[o] = i
            }
        }
        var pending = [Int](repeating: 0, count: nodes.count)
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() {
            for v in n.inputs where !v.isEmpty {
                if let p = producer[v] {
                    pending[i] += 1
                    consumers[p].append(i)
                } else if !external.contains(v) && parameters[v] == nil {
                    throw .undefinedValue(v, node: n.name, op: n.operation.type)
                }
            }
        }
        for o in outputs where producer[o] == nil && !external.contains(o) {
            throw .undefinedOutput(o)
        }
        var order: [Int] = []
        var ready = (0 ..< nodes.count).filter { pending[$0] == 0 }
        var cursor = 0
        while cursor < ready.count {
            let i = ready[cursor]
            cursor += 1
            order.append(i)
            for c in consumers[i] {
                pending[c] -= 1
                if pending[c] == 0 { ready.append(c) }
            }
        }
        if order.count < nodes.count {
            let stuck = (0 ..< nodes.count).filter { pending[$0] > 0 }.map { nodes[$0].name }
            throw .cycle(stuck)
        }
        return order.map { nodes[$0] }
    }
}

/// A graph that cannot be built or run, naming the node and the value.
public enum GraphError: Error, Equatable, CustomStringConvertible {
    /// A value written by a second node, or written by a node although it is a graph input or a parameter.
    case duplicateValue(String, node: String)
    /// A node input that no node, graph input or parameter provides.
    case undefinedValue(String, node: String, op: String)
    /// A graph output that no node or graph input provides.
    case undefinedOutput(String)
    /// Nodes that cannot be ordered because they depend on each other.
    case cycle([String])
    /// A graph input the run needs that was not fed, or a value no earlier node produced.
    case missingInput(String)
    /// A fed input whose shape does not fit its ``InputSpec``.
    case inputShape(String, expected: [Int?], got: Shape)
    /// A node whose operation rejects its input shapes.
    case shape(node: String, op: String, message: String)
    /// A requested value that no node, graph input or parameter provides.
    case unknownNode(String)
    /// A graph that computes nothing.
    case noOutputs

    public var description: String {
        switch self {
        case let .duplicateValue(v, node): "node '\(node)': value '\(v)' is produced twice"
        case let .undefinedValue(v, node, op): "node '\(node)' (\(op)): input '\(v)' is produced by no node, input or weight"
        case let .undefinedOutput(v): "graph output '\(v)' is produced by no node"
        case let .cycle(nodes): "the graph has a cycle through \(nodes.prefix(5).map { "'\($0)'" }.joined(separator: ", "))\(nodes.count > 5 ? ", …" : "")"
        case let .missingInput(v): "input '\(v)' was not given"
        case let .inputShape(v, expected, got):
            "input '\(v)' has shape \(got), expected [\(expected.map { $0.map(String.init) ?? "N" }.joined(separator: ", "))]"
        case let .shape(node, op, message): "node '\(node)' (\(op)): \(message)"
        case let .unknownNode(n): "no node or value named '\(n)'"
        case .noOutputs: "the graph has no outputs"
        }
    }
}
