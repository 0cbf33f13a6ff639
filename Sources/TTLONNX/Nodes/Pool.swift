// MaxPool and AveragePool, 2-D, 1-D as 2-D over a unit H axis, 3-D as two 2-D windows
// (https://onnx.ai/onnx/operators/onnx__MaxPool.html, …AveragePool.html). AveragePool's
// dilations (opset 19) are exported at opset 19.
import TTLCore
import TTLNN

enum PoolNodes: ONNXOperator {
    static let onnxTypes = ["MaxPool", "AveragePool"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        if c.isOneDimensional(n) { return try c.convertAsPlanar(n) { p, c in try importPlanar(p, &c) } }
        if let x = n.input(0), let (s, _) = c.shapes(x), s.rank == 5 { return try importVolumetric(n, &c) }
        try importPlanar(n, &c)
    }

    /// A 3-D window over `[N, C, D, H, W]` as two 2-D ones: over H and W of `[N, C·D, H, W]`,
    /// then over D of `[N, C, D, H'·W']`. Exact for max pooling, and for average pooling too:
    /// the window's cells form a box, so its divisor (cells inside the input, or inside the
    /// padded input) is the product of the per-axis counts.
    static func importVolumetric(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        try n.onlyFirstOutput()
        let a = n.attributes
        let x = try c.required(n, 0)
        guard let (s1, s2) = c.shapes(x) else { throw InvalidNode("unknown input shape") }
        guard let k = a.ints("kernel_shape"), k.count == 3 else { throw InvalidNode("kernel_shape \(a.ints("kernel_shape") ?? []) for a 3-D window") }
        let strides = a.ints("strides") ?? [1, 1, 1], dilations = a.ints("dilations") ?? [1, 1, 1], pads = a.ints("pads") ?? [0, 0, 0, 0, 0, 0]
        guard strides.count == 3, dilations.count == 3, pads.count == 6 else { throw InvalidNode("strides \(strides), dilations \(dilations), pads \(pads) for a 3-D window") }
        switch a.string("auto_pad") ?? "NOTSET" {
        case "NOTSET", "", "VALID": break
        case let mode: throw Unsupported(detail: "auto_pad \(mode) of a 3-D window")
        }
        let valid = a.string("auto_pad") == "VALID"
        func node(_ input: String, _ output: String, _ suffix: String, kernel: [Int], strides: [Int], dilations: [Int], pads: [Int]) -> ONNXNode {
            var p = n.proto
            p.attribute = p.attribute.filter { !["kernel_shape", "strides", "dilations", "pads", "auto_pad"].contains($0.name) }
            p.attribute += [ONNXExporter.attribute("kernel_shape", ints: kernel), ONNXExporter.attribute("strides", ints: strides),
                            ONNXExporter.attribute("dilations", ints: dilations), ONNXExporter.attribute("pads", ints: valid ? [0, 0, 0, 0] : pads)]
            p.input = [input]
            p.output = [output]
            return ONNXNode(p, name: n.name + suffix, opset: n.opset)
        }
        func overflowChecked(_ a: Int, _ b: Int) throws -> Int {
            let (p, o) = a.multipliedReportingOverflow(by: b)
            guard !o else { throw InvalidNode("input \(s1) overflows") }
            return p
        }
        let (planes, planarOut, rows, depthOut) = (n.name + "/planes", n.name + "/hw", n.name + "/rows", n.name + "/d")
        let (p1, p2): (Shape, Shape) = ([s1[0], try overflowChecked(s1[1], s1[2]), s1[3], s1[4]], [s2[0], try overflowChecked(s2[1], s2[2]), s2[3], s2[4]])
        try c.add(n.name + "/to_planes", ReshapeOp(try c.reshapeTarget(x, p1, p2)), [x], [planes])
        try importPlanar(node(planes, planarOut, "/hw", kernel: [k[1], k[2]], strides: [strides[1], strides[2]], dilations: [dilations[1], dilations[2]],
                              pads: [pads[1], pads[2], pads[4], pads[5]]), &c)
        guard let (h1, h2) = c.shapes(planarOut) else { throw InvalidNode("no planar output") }
        let (r1, r2): (Shape, Shape) = ([s1[0], s1[1], s1[2], try overflowChecked(h1[2], h1[3])], [s2[0], s2[1], s2[2], try overflowChecked(h2[2], h2[3])])
        try c.add(n.name + "/to_rows", ReshapeOp(try c.reshapeTarget(planarOut, r1, r2)), [planarOut], [rows])
        try importPlanar(node(rows, depthOut, "/d", kernel: [k[0], 1], strides: [strides[0], 1], dilations: [dilations[0], 1], pads: [pads[0], 0, pads[3], 0]), &c)
        guard let (d1, d2) = c.shapes(depthOut) else { throw InvalidNode("no depth output") }
        let (o1, o2): (Shape, Shape) = ([s1[0], s1[1], d1[2], h1[2], h1[3]], [s2[0], s2[1], d2[2], h2[2], h2[3]])
        try c.add(n.name + "/to_volume", ReshapeOp(try c.reshapeTarget(depthOut, o1, o2)), [depthOut], [n.output])
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
