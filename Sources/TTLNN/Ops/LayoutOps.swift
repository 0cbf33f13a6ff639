import TTLCore

/// Axis permutation node (ONNX Transpose).
public struct TransposeOp: GraphOperation {
    /// Output axis i is input axis `permutation[i]`.
    public var permutation: [Int]
    /// A node permuting axes by `permutation`.
    public init(_ permutation: [Int]) { self.permutation = permutation }
    public var type: String { "Transpose" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        guard permutation.sorted() == Array(0 ..< s[0].rank) else { throw OperationError("permutation \(permutation) for \(s[0])") }
        return [Shape(permutation.map { s[0][$0] })]
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([Transpose.forward(inputs[0], permutation: permutation)], cache: ctx.keepCache ? () : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        [Transpose.backward(outputGradient: dy[0], permutation: permutation)]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 0 }
}

/// Reshape node with ONNX semantics: a target dimension of 0 copies the input's, −1 is inferred.
public struct ReshapeOp: GraphOperation {
    /// The output dimensions: 0 copies the input's dimension at that index, −1 (at most one) is inferred.
    public var target: [Int]
    /// A node reshaping to `target`.
    public init(_ target: [Int]) { self.target = target }
    public var type: String { "Reshape" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        return [try resolve(s[0])]
    }

    func resolve(_ input: Shape) throws(OperationError) -> Shape {
        var dims = target
        var inferred: Int? = nil
        for (i, d) in dims.enumerated() {
            switch d {
            case 0:
                guard i < input.rank else { throw OperationError("target \(target): no input dimension \(i) to copy") }
                dims[i] = input[i]
            case -1:
                guard inferred == nil else { throw OperationError("target \(target) has two −1") }
                inferred = i
            case ..<(-1): throw OperationError("target \(target) has a negative dimension")
            default: break
            }
        }
        // Products checked: the target's dimensions come from files.
        var known = 1
        for (k, d) in dims.enumerated() where k != inferred {
            let (p, overflow) = known.multipliedReportingOverflow(by: d)
            guard !overflow, p <= input.count || input.count == 0 else { throw OperationError("cannot reshape \(input) to \(target)") }
            known = p
        }
        if let i = inferred {
            guard known > 0, input.count % known == 0 else { throw OperationError("cannot reshape \(input) to \(target)") }
            dims[i] = input.count / known
            known *= dims[i]
        }
        guard known == input.count else { throw OperationError("cannot reshape \(input) (\(input.count) elements) to \(target)") }
        return Shape(dims)
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let shape = (try? resolve(inputs[0].shape)) ?? inputs[0].shape  // checked by shape inference first
        return ForwardResult([inputs[0].reshaped(shape)], cache: ctx.keepCache ? inputs[0].shape : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] { [dy[0].reshaped(cache as! Shape)] }
    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 0 }
}

/// Flatten node (ONNX Flatten): `[d0 … d_{axis−1}]` and `[d_axis …]` each collapsed.
public struct FlattenOp: GraphOperation {
    /// The first axis of the second output dimension; negative counts from the end.
    public var axis: Int
    /// A node flattening at `axis` (default 1: `[N, …]` → `[N, features]`).
    public init(axis: Int = 1) { self.axis = axis }
    public var type: String { "Flatten" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        guard axis >= -s[0].rank && axis <= s[0].rank else { throw OperationError("axis \(axis) for \(s[0])") }
        return [Flatten.outputShape(s[0], axis: axis)]
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([Flatten.forward(inputs[0], axis: axis)], cache: ctx.keepCache ? inputs[0].shape : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        [Flatten.backward(outputGradient: dy[0], inputShape: cache as! Shape)]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 0 }
}

/// Softmax node along one axis.
public struct SoftmaxOp: GraphOperation {
    /// The axis along which each slice sums to 1; negative counts from the end.
    public var axis: Int
    /// A node normalizing along `axis` (default: the last).
    public init(axis: Int = -1) { self.axis = axis }
    public var type: String { "Softmax" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        guard axis >= -s[0].rank && axis < s[0].rank else { throw OperationError("axis \(axis) for \(s[0])") }
        return s
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let y = Softmax.forward(inputs[0], axis: axis)
        return ForwardResult([y], cache: ctx.keepCache ? y : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        [Softmax.backward(outputGradient: dy[0], output: cache as! Tensor, axis: axis)]
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 3 * outputs[0].count }
}

/// Identity node; also Dropout at inference (`type` keeps the source's name).
public struct IdentityOp: GraphOperation {
    /// `Identity`, or the source's type for an operation that is the identity at inference (`Dropout`).
    public var type: String
    /// An identity node reporting `type`.
    public init(type: String = "Identity") { self.type = type }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 1 ... 1, type)
        return s
    }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([inputs[0]], cache: ctx.keepCache ? () : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] { [dy[0]] }
    public func flops(inputs: [Shape], outputs: [Shape]) -> Int { 0 }
}
