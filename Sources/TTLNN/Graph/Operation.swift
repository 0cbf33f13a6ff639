import TTLCore

/// What an operation is told when it runs forward.
public struct ForwardContext {
    /// True for a training step: batch norm uses batch statistics where its parameters train.
    public var training: Bool
    /// Per input: whether a gradient must flow to it.
    public var requiresGradient: [Bool]
    /// Whether backward will run through this node, so a cache must be returned.
    public var keepCache: Bool
}

/// What an operation's forward returns.
public struct ForwardResult {
    /// The output tensors, one per name in the node's `outputs`.
    public var outputs: [Tensor]
    /// What backward needs; nil when `keepCache` was false.
    public var cache: Any?
    /// New values for inputs that are state (batch norm's running statistics), by input index.
    public var stateUpdates: [Int: Tensor]

    /// A result of `outputs`, with what backward needs and any new values for state inputs.
    public init(_ outputs: [Tensor], cache: Any? = nil, stateUpdates: [Int: Tensor] = [:]) {
        self.outputs = outputs
        self.cache = cache
        self.stateUpdates = stateUpdates
    }
}

/// One kind of node in a ``Model``'s graph: its shape rule, forward, backward and cost.
///
/// Operations are values (their attributes, such as strides), never weights: weights are
/// inputs named by parameter paths, so that importers, exporters, freezing and optimizers
/// all meet in the ``ParameterTree``.
public protocol GraphOperation: Sendable, CustomStringConvertible {
    /// The operation's type in ONNX spelling (`Conv`, `BatchNormalization`, `Relu`, …).
    var type: String { get }
    /// Output shapes for these input shapes; throws a message when they do not fit.
    func outputShapes(_ inputs: [Shape]) throws(OperationError) -> [Shape]
    /// Computes the outputs from the inputs, weights included, in the node's input order.
    /// Returns a cache for ``backward(_:cache:needed:)`` when `context.keepCache` is true.
    func forward(_ inputs: [Tensor], _ context: ForwardContext) -> ForwardResult
    /// Gradients of the inputs from the gradients of the outputs; nil where `needed` is false.
    func backward(_ outputGradients: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?]
    /// Floating-point operations (2 per multiply-add) for these shapes.
    func flops(inputs: [Shape], outputs: [Shape]) -> Int
}

extension GraphOperation {
    /// ``outputShapes(_:)``, each output then held to ``Shape/maximumActivationElementCount``
    /// with overflow-checked products: the graph's one gate between file values and allocation.
    public func checkedOutputShapes(_ inputs: [Shape]) throws(OperationError) -> [Shape] {
        let outputs = try outputShapes(inputs)
        for s in outputs {
            do { _ = try Shape(checking: s.dimensions, limit: Shape.maximumActivationElementCount) } catch {
                throw OperationError("output \(s) is over the limit of \(Shape.maximumActivationElementCount) elements per activation")
            }
        }
        return outputs
    }

    /// Default: one operation per output element.
    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { outputs.reduce(0) { $0 + $1.count } }
    /// Default: the operation's ``type``.
    public var description: String { type }
}

/// Why an operation cannot take the shapes it was given.
public struct OperationError: Error, CustomStringConvertible {
    /// What does not fit, in words.
    public var message: String
    /// An error saying `message`.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Helpers for the shape rules of operations.
enum Check {
    static func inputs(_ shapes: [Shape], _ range: ClosedRange<Int>, _ op: String) throws(OperationError) {
        guard range.contains(shapes.count) else {
            throw OperationError("\(op) takes \(range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound)–\(range.upperBound)") inputs, got \(shapes.count)")
        }
    }
    static func rank(_ s: Shape, _ r: Int, _ what: String) throws(OperationError) {
        guard s.rank == r else { throw OperationError("\(what) must have rank \(r), got \(s)") }
    }
}
