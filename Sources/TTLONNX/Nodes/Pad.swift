// Pad (https://onnx.ai/onnx/operators/onnx__Pad.html). Pads are an attribute (`paddings`
// before opset 2) until opset 11, an input from 11; `axes` is an input from 18.
import TTLCore
import TTLNN

enum PadNode: ONNXOperator {
    static let onnxTypes = ["Pad"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let a = n.attributes
        let x = try c.required(n, 0)
        let mode = a.string("mode") ?? "constant"
        guard mode == "constant" else { throw Unsupported(detail: "mode '\(mode)'") }
        var pads = n.opset >= 11 ? try c.integers(try c.required(n, 1), "pads") : (a.ints("pads") ?? a.ints("paddings") ?? [])
        var value: Float = n.opset >= 11 ? try n.input(2).map { v -> Float in
            guard let k = c.constants[v] else { throw Unsupported(detail: "computed pad value") }
            return k.floatTensor.scalars.first ?? 0
        } ?? 0 : a.float("value", 0)
        if n.opset >= 18, let axesName = n.input(3) {
            let axes = try c.integers(axesName, "axes").map { $0 < 0 ? $0 + 4 : $0 }
            var full = [Int](repeating: 0, count: 8)
            for (k, ax) in axes.enumerated() where ax >= 0 && ax < 4 {
                full[ax] = pads[k]
                full[ax + 4] = pads[k + axes.count]
            }
            pads = full
        }
        guard c.shapes(x)?.0.rank == 4, pads.count == 8 else { throw Unsupported(detail: "padding of a non-4-D tensor") }
        guard pads[0] == 0, pads[1] == 0, pads[4] == 0, pads[5] == 0 else { throw Unsupported(detail: "padding of batch or channel axes") }
        guard pads.allSatisfy({ $0 >= 0 }) else { throw Unsupported(detail: "negative pads (cropping)") }
        if value.isNaN { value = 0 }
        try c.add(n.name, PadOp(Padding2D(top: pads[2], left: pads[3], bottom: pads[6], right: pads[7]), value: value), [x], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [PadOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [Onnx_TensorProto]) throws(ExportProblem) {
        guard let pad = n.operation as? PadOp else { throw ExportProblem("not a PadOp") }
        p.opType = "Pad"
        let q = pad.padding
        let (padsName, valueName) = (n.name + "/pads", n.name + "/value")
        extra.append(ONNXExporter.int64Tensor([0, 0, q.top, q.left, 0, 0, q.bottom, q.right], name: padsName))
        extra.append(ONNXExporter.tensorProto(Tensor(shape: [], scalars: [pad.value]), name: valueName))
        p.input = [n.inputs[0], padsName, valueName]
    }
}
