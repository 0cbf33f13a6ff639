// MaxPool and AveragePool, 2-D (https://onnx.ai/onnx/operators/onnx__MaxPool.html, …AveragePool.html).
import TTLCore
import TTLNN

enum PoolNodes: ONNXOperator {
    static let onnxTypes = ["MaxPool", "AveragePool"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let a = n.attributes
        try n.onlyFirstOutput()
        let x = try c.required(n, 0)
        guard let kernel = a.ints("kernel_shape") else { throw InvalidNode("kernel_shape is missing") }
        if n.type == "MaxPool" && a.int("storage_order", 0) != 0 { throw Unsupported(detail: "storage_order=1") }
        if n.type == "AveragePool", let d = a.ints("dilations"), d.contains(where: { $0 != 1 }) { throw Unsupported(detail: "dilations") }
        let win = try c.window(a, input: x, kernel: kernel, ceil: a.int("ceil_mode", 0) != 0)
        let op: any GraphOperation = n.type == "MaxPool" ? MaxPoolOp(win) : AvgPoolOp(win, countIncludePad: a.int("count_include_pad", 0) != 0)
        try c.add(n.name, op, [x], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [MaxPoolOp.self, AvgPoolOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        if let pool = n.operation as? MaxPoolOp {
            p.opType = "MaxPool"
            p.attribute = ONNXExporter.windowAttributes(pool.window) + [
                ONNXExporter.attribute("dilations", ints: [pool.window.dilation.h, pool.window.dilation.w]),
                ONNXExporter.attribute("ceil_mode", int: pool.window.ceilMode ? 1 : 0)]
        } else if let pool = n.operation as? AvgPoolOp {
            p.opType = "AveragePool"
            p.attribute = ONNXExporter.windowAttributes(pool.window) + [
                ONNXExporter.attribute("ceil_mode", int: pool.window.ceilMode ? 1 : 0),
                ONNXExporter.attribute("count_include_pad", int: pool.countIncludePad ? 1 : 0)]
        } else {
            throw ExportProblem("not a pooling operation")
        }
    }
}
