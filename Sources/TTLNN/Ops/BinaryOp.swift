import TTLCore

/// Elementwise Add/Sub/Mul/Div with NumPy broadcasting.
public struct BinaryOp: GraphOperation {
    /// The arithmetic operation.
    public var op: Binary.Op
    /// A node computing `op` elementwise.
    public init(_ op: Binary.Op) { self.op = op }
    public var type: String {
        switch op {
        case .add: "Add"
        case .sub: "Sub"
        case .mul: "Mul"
        case .div: "Div"
        }
    }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 2 ... 2, type)
        guard let out = Broadcast.shape(s[0], s[1]) else { throw OperationError("shapes \(s[0]) and \(s[1]) do not broadcast") }
        return [out]
    }

    struct Cache { var a: Tensor; var b: Tensor }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        ForwardResult([Binary.forward(op, inputs[0], inputs[1])], cache: ctx.keepCache ? Cache(a: inputs[0], b: inputs[1]) : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let c = cache as! Cache
        if op == .add || op == .sub {
            // No products needed: reduce the gradient straight to each operand's shape.
            let da = needed[0] ? Broadcast.sum(dy[0], to: c.a.shape) : nil
            let db = needed[1] ? Broadcast.sum(dy[0], to: c.b.shape).map { op == .sub ? -$0 : $0 } : nil
            return [da, db]
        }
        let g = Binary.backward(op, outputGradient: dy[0], c.a, c.b)
        return [needed[0] ? g.a : nil, needed[1] ? g.b : nil]
    }
}
