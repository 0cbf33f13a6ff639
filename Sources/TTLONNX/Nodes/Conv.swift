// Conv, 2-D, and 1-D as 2-D over a unit H axis (https://onnx.ai/onnx/operators/onnx__Conv.html).
import TTLCore
import TTLNN

enum ConvNode: ONNXOperator {
    static let onnxTypes = ["Conv"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        guard c.isOneDimensional(n) else { return try importPlanar(n, &c) }
        // The weight `[C_out, C_in / groups, k]` becomes `[C_out, C_in / groups, 1, k]`, under
        // its own name (so its parameter path is the file's).
        let w = try c.required(n, 1)
        guard let k = c.constants[w] else { throw Unsupported(detail: "computed weights") }
        let s = k.shape
        guard s.rank == 3 else { throw InvalidNode("weight \(s) for a 1-D convolution") }
        if c.parameterPaths[w] != nil { throw Unsupported(detail: "a 1-D convolution weight shared with another node") }
        c.constants[w] = .float(k.floatTensor.reshaped([s[0], s[1], 1, s[2]]))
        try c.convertAsPlanar(n) { p, c in try importPlanar(p, &c) }
    }

    /// A 2-D convolution: input `[N, C_in, H, W]`, weight `[C_out, C_in / groups, kH, kW]`.
    static func importPlanar(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let a = n.attributes
        let x = try c.required(n, 0)
        let w = try c.required(n, 1)
        guard let wShape = c.constants[w]?.shape else { throw Unsupported(detail: "computed weights") }
        guard wShape.rank == 4 else { throw Unsupported(detail: "\(wShape.rank - 2)-D; ttl supports 2-D") }
        let kernel = a.ints("kernel_shape") ?? [wShape[2], wShape[3]]
        guard kernel == [wShape[2], wShape[3]] else { throw InvalidNode("kernel_shape \(kernel) disagrees with weight \(wShape)") }
        let win = try c.window(a, input: x, kernel: kernel, ceil: false)
        let options = Conv2DOptions(stride: win.stride, dilation: win.dilation, padding: win.padding, groups: a.int("group", 1))
        var inputs = [x, try c.weight(w, .parameter, as: "weight")]
        if let b = n.input(2) { _ = try c.required(n, 2); inputs.append(try c.weight(b, .parameter, as: "bias")) }
        try c.add(n.name, Conv2DOp(options), inputs, [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [Conv2DOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let conv = n.operation as? Conv2DOp else { throw ExportProblem("not a Conv2DOp") }
        let o = conv.options
        p.opType = "Conv"
        p.attribute = [ONNXExporter.attribute("strides", ints: [o.stride.h, o.stride.w]),
                       ONNXExporter.attribute("dilations", ints: [o.dilation.h, o.dilation.w]),
                       ONNXExporter.attribute("pads", ints: [o.padding.top, o.padding.left, o.padding.bottom, o.padding.right]),
                       ONNXExporter.attribute("group", int: o.groups)]
    }
}
