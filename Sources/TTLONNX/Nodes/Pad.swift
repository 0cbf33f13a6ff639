// Pad (https://onnx.ai/onnx/operators/onnx__Pad.html). Pads are an attribute (`paddings`
// before opset 2) until opset 11, an input from 11; `axes` is an input from 18; `wrap` mode
// from 19. The 4-D constant padding of H and W (what PyTorch and Keras write for NCHW
// convolutions) becomes a PadOp; every other form (any axes, negative pads, reflect, edge,
// wrap) a PadNDOp.
import TTLCore
import TTLNN

enum PadNode: ONNXOperator {
    static let onnxTypes = ["Pad"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let a = n.attributes
        let x = try c.required(n, 0)
        guard let (s, _) = c.shapes(x) else { throw InvalidNode("unknown input shape") }
        let modeName = a.string("mode") ?? "constant"
        guard let mode = PadND.Mode(rawValue: modeName), mode != .wrap || n.opset >= 19 else {
            throw Unsupported(detail: "mode '\(modeName)'")
        }
        var pads = n.opset >= 11 ? try c.integers(try c.required(n, 1), "pads") : (a.ints("pads") ?? a.ints("paddings") ?? [])
        var value: Float = n.opset >= 11 ? try n.input(2).map { v -> Float in
            guard let k = c.constants[v] else { throw Unsupported(detail: "computed pad value") }
            return k.floatTensor.scalars.first ?? 0
        } ?? 0 : a.float("value", 0)
        if n.opset >= 18, let axesName = n.input(3) {
            var axes: [Int] = []
            for ax in try c.integers(axesName, "axes") {
                let normal = ax < 0 ? ax + s.rank : ax
                guard normal >= 0 && normal < s.rank, !axes.contains(normal) else { throw InvalidNode("axes \(ax) for a rank-\(s.rank) input") }
                axes.append(normal)
            }
            guard pads.count == 2 * axes.count else { throw InvalidNode("\(pads.count) pads for \(axes.count) axes") }
            var full = [Int](repeating: 0, count: 2 * s.rank)
            for (k, ax) in axes.enumerated() {
                full[ax] = pads[k]
                full[ax + s.rank] = pads[k + axes.count]
            }
            pads = full
        }
        guard pads.count == 2 * s.rank else { throw InvalidNode("\(pads.count) pads for a rank-\(s.rank) input") }
        if value.isNaN { value = 0 }
        if c.constants[x] != nil { throw Unsupported(detail: "padding of a constant") }
        let before = Array(pads[..<s.rank]), after = Array(pads[s.rank...])
        if s.rank == 4, mode == .constant, pads[0] == 0, pads[1] == 0, pads[4] == 0, pads[5] == 0, pads.allSatisfy({ $0 >= 0 }) {
            try c.add(n.name, PadOp(Padding2D(top: pads[2], left: pads[3], bottom: pads[6], right: pads[7]), value: value), [x], [n.output])
        } else {
            try c.add(n.name, PadNDOp(PadND.Options(before: before, after: after, mode: mode, value: value)), [x], [n.output])
        }
    }

    static let exportedOperations: [any GraphOperation.Type] = [PadOp.self, PadNDOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        p.opType = "Pad"
        let (padsName, valueName) = (n.name + "/pads", n.name + "/value")
        if let pad = n.operation as? PadOp {
            let q = pad.padding
            extra.append(.message(ONNXExporter.int64Tensor([0, 0, q.top, q.left, 0, 0, q.bottom, q.right], name: padsName)))
            extra.append(.float(name: valueName, tensor: Tensor(shape: [], scalars: [pad.value])))
        } else if let pad = n.operation as? PadNDOp {
            let o = pad.options
            // The exporter writes opset 17, which has no wrap mode.
            guard o.mode != .wrap else { throw ExportProblem("wrap mode needs opset 19") }
            p.attribute = [ONNXExporter.attribute("mode", string: o.mode.rawValue)]
            extra.append(.message(ONNXExporter.int64Tensor(o.before + o.after, name: padsName)))
            extra.append(.float(name: valueName, tensor: Tensor(shape: [], scalars: [o.value])))
        } else {
            throw ExportProblem("not a padding operation")
        }
        p.input = [n.inputs[0], padsName, valueName]
    }
}
