// MaxPool and AveragePool, 2-D, and 1-D as 2-D over a unit H axis
// (https://onnx.ai/onnx/operators/onnx__MaxPool.html, …AveragePool.html). AveragePool's
// dilations (opset 19) are exported at opset 19.
import TTLCore
import TTLNN

enum PoolNodes: ONNXOperator {
    static let onnxTypes = ["MaxPool", "AveragePool"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        if c.isOneDimensional(n) { return try c.convertAsPlanar(n) { p, c in try importPlanar(p, &c) } }
        try importPlanar(n, &c)
    }

    static func importPlanar(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let a = n.attributes
        try n.onlyFirstOutput()
        let x = try c.required(n, 0)
        guard let kernel = a.ints("kernel_shape") else { throw InvalidNode("kernel_shape is missing") }
        if n.type == "MaxPool" && a.int("storage_order", 0) != 0 { throw Unsupported(detail: "storage_order=1") }
        let win = try c.window(a, input: x, kernel: kernel, ceil: a.int("ceil_mode", 0) != 0)
        let op: any GraphOperation = n.type == "MaxPool" ? MaxPoolOp(win) : AvgPoolOp(win, countIncludePad: a.int("count_include_pad", 0) != 0)
        try c.add(n.name, op, [x], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [MaxPoolOp.self, AvgPoolOp.self]

    /// Opset 19 for a dilated average pool.
    static func exportOpset(_ n: Node) -> Int {
        if let pool = n.operation as? AvgPoolOp, pool.window.dilation != Size2D(1) { return 19 }
        return ONNXExporter.opset
    }

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
            if pool.window.dilation != Size2D(1) {
                p.attribute.append(ONNXExporter.attribute("dilations", ints: [pool.window.dilation.h, pool.window.dilation.w]))
            }
        } else {
            throw ExportProblem("not a pooling operation")
        }
    }
}
