// MatMul (https://onnx.ai/onnx/operators/onnx__MatMul.html): of two matrices a GemmOp (a
// Linear layer when B is a weight), with batch dimensions a MatMulOp (ConvNeXt's Linear
// layers on NHWC activations). A stored B is a trainable parameter.
import TTLCore
import TTLNN

enum MatMulNode: ONNXOperator {
    static let onnxTypes = ["MatMul"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let (x, w) = (try c.required(n, 0), try c.required(n, 1))
        guard c.constants[x] == nil else { throw Unsupported(detail: "constant left operand") }
        guard let (sx, _) = c.shapes(x), let (sw, _) = c.shapes(w) else { throw InvalidNode("unknown input shapes") }
        guard sx.rank >= 1, sw.rank >= 1 else { throw InvalidNode("MatMul of a scalar") }
        if sx.rank == 1 || sw.rank == 1 {
            try vectorProduct(n, x, w, &c)
            return
        }
        let operands = [x, try c.operand(w, .parameter)]
        if sx.rank == 2 && sw.rank == 2 {
            try c.add(n.name, GemmOp(), operands, [n.output])
        } else {
            try c.add(n.name, MatMulOp(), operands, [n.output])
        }
    }

    /// A vector operand is a matrix of one row (A) or one column (B), removed from the product
    /// afterwards (numpy's `matmul` rule, which ONNX follows).
    static func vectorProduct(_ n: ONNXNode, _ x: String, _ w: String, _ c: inout GraphConverter) throws {
        guard let (sx, tx) = c.shapes(x), let (sw, _) = c.shapes(w) else { throw InvalidNode("unknown input shapes") }
        var (a, b) = (x, w)
        if sx.rank == 1 {
            guard sx == tx else { throw Unsupported(detail: "MatMul of a batch-sized vector") }
            a = n.name + "/row"
            try c.add(a, ReshapeOp([1, sx[0]]), [x], [a])
        }
        if sw.rank == 1 {
            if let k = c.constants[w] {
                b = w + "/column"
                c.constants[b] = .float(k.floatTensor.reshaped([sw[0], 1]))
            } else {
                b = n.name + "/column"
                try c.add(b, ReshapeOp([sw[0], 1]), [w], [b])
            }
        }
        let product = n.name + "/matrix"
        guard let (pa, _) = c.shapes(a), let (pb, _) = c.shapes(b) else { throw InvalidNode("unknown input shapes") }
        let op: any GraphOperation = pa.rank == 2 && pb.rank == 2 ? GemmOp() : MatMulOp()
        try c.add(n.name, op, [a, try c.operand(b, .parameter)], [product])
        guard let (p1, p2) = c.shapes(product) else { throw InvalidNode("unknown product shape") }
        var (o1, o2) = (p1.dimensions, p2.dimensions)
        if sx.rank == 1 { o1.remove(at: o1.count - 2); o2.remove(at: o2.count - 2) }
        if sw.rank == 1 { o1.removeLast(); o2.removeLast() }
        try c.add(n.name + "/squeeze", ReshapeOp(try c.reshapeTarget(product, Shape(o1), Shape(o2))), [product], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [MatMulOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        p.opType = "MatMul"
    }
}
