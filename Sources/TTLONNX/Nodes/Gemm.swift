// Gemm (https://onnx.ai/onnx/operators/onnx__Gemm.html). MatMul.swift imports MatMul, of two
// matrices as a GemmOp too.
import TTLCore
import TTLNN

enum GemmNode: ONNXOperator {
    static let onnxTypes = ["Gemm"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let a = n.attributes
        let (x, w) = (try c.required(n, 0), try c.required(n, 1))
        guard c.constants[x] == nil else { throw Unsupported(detail: "constant left operand") }
        let options = Gemm.Options(transposeA: a.int("transA", 0) != 0, transposeB: a.int("transB", 0) != 0,
                                   alpha: a.float("alpha", 1), beta: a.float("beta", 1))
        // B and C are usually weights, but may be activations (torch.mm, addmm).
        var inputs = [x, try c.operand(w, .parameter)]
        if let bias = n.input(2) { _ = try c.required(n, 2); inputs.append(try c.operand(bias, .parameter)) }
        try c.add(n.name, GemmOp(options), inputs, [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [GemmOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let gemm = n.operation as? GemmOp else { throw ExportProblem("not a GemmOp") }
        let o = gemm.options
        p.opType = "Gemm"
        p.attribute = [ONNXExporter.attribute("alpha", float: o.alpha), ONNXExporter.attribute("beta", float: o.beta),
                       ONNXExporter.attribute("transA", int: o.transposeA ? 1 : 0), ONNXExporter.attribute("transB", int: o.transposeB ? 1 : 0)]
    }
}
