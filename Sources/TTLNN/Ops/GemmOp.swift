import TTLCore

/// General matrix multiply node (ONNX Gemm; MatMul of two matrices is Gemm without C).
/// A PyTorch `Linear` is `Gemm(x [N, in], weight [out, in], bias [out], transposeB: true)`.
public struct GemmOp: GraphOperation {
    /// The transposes of A and B, and the factors alpha and beta.
    public var options: Gemm.Options
    /// A Gemm node; the default options compute `A · B + C`.
    public init(_ options: Gemm.Options = Gemm.Options()) { self.options = options }
    public var type: String { "Gemm" }

    public func outputShapes(_ s: [Shape]) throws(OperationError) -> [Shape] {
        try Check.inputs(s, 2 ... 3, type)
        try Check.rank(s[0], 2, "A")
        try Check.rank(s[1], 2, "B")
        let (m, k) = options.transposeA ? (s[0][1], s[0][0]) : (s[0][0], s[0][1])
        let (k2, n) = options.transposeB ? (s[1][1], s[1][0]) : (s[1][0], s[1][1])
        guard k == k2 else { throw OperationError("inner dimensions differ: A \(s[0]), B \(s[1])") }
        if s.count == 3, Broadcast.shape(s[2], [m, n]) != [m, n] {
            throw OperationError("C \(s[2]) does not broadcast to [\(m), \(n)]")
        }
        return [[m, n]]
    }

    struct Cache { var a: Tensor; var b: Tensor; var cShape: Shape? }

    public func forward(_ inputs: [Tensor], _ ctx: ForwardContext) -> ForwardResult {
        let c = inputs.count > 2 ? inputs[2] : nil
        return ForwardResult([Gemm.forward(inputs[0], inputs[1], c, options: options)],
                             cache: ctx.keepCache ? Cache(a: inputs[0], b: inputs[1], cShape: c?.shape) : nil)
    }

    public func backward(_ dy: [Tensor], cache: Any, needed: [Bool]) -> [Tensor?] {
        let c = cache as! Cache
        let g = Gemm.backward(outputGradient: dy[0], c.a, c.b, cShape: c.cShape, options: options)
        var out: [Tensor?] = [needed[0] ? g.a : nil, needed[1] ? g.b : nil]
        if c.cShape != nil { out.append(needed[2] ? g.c : nil) }
        return out
    }

    public func flops(inputs: [Shape], outputs: [Shape]) -> Int {
        let k = options.transposeA ? inputs[0][0] : inputs[0][1]
        return 2 * outputs[0].count * k
    }

    public var description: String { options.transposeB && !options.transposeA ? "Linear" : "Gemm" }
}
