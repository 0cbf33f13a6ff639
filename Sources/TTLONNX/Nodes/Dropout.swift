// Dropout (https://onnx.ai/onnx/operators/onnx__Dropout.html), every opset: the identity at
// inference. Opsets 1–6 carry `is_test` and `ratio` attributes, 7–11 `ratio` and an optional
// mask output (SqueezeNet from Caffe2 names it), 12+ take `ratio` and `training_mode` as inputs.
// Without a mask output it is an IdentityOp; with one a DropoutOp, whose mask is all true.
import TTLCore
import TTLNN

enum DropoutNode: ONNXOperator {
    static let onnxTypes = ["Dropout"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        if n.outputs.count > 2 { throw InvalidNode("\(n.outputs.count) outputs; Dropout has at most two") }
        let x = try c.required(n, 0)
        var ratio = n.attributes.float("ratio", 0.5)
        if n.opset >= 12 {
            if let r = n.input(1) {
                guard let k = c.constants[r] else { throw Unsupported(detail: "computed ratio") }
                guard k.shape.count == 1 else { throw InvalidNode("ratio has shape \(k.shape); it is a scalar") }
                ratio = k.floatTensor.scalars[0]
            }
            if let t = n.input(2) {
                guard let k = c.constants[t] else { throw Unsupported(detail: "computed training_mode") }
                guard k.shape.count == 1 else { throw InvalidNode("training_mode has shape \(k.shape); it is a scalar") }
                if k.floatTensor.scalars[0] != 0 { throw Unsupported(detail: "training_mode=true (random dropout at inference)") }
            }
        }
        guard ratio >= 0 && ratio < 1 else { throw InvalidNode("ratio \(ratio) must be in [0, 1)") }
        let mask = n.outputs.count > 1 && !n.outputs[1].isEmpty ? n.outputs[1] : nil
        if let k = c.constants[x] {
            c.constants[n.output] = k
            if let mask { c.constants[mask] = .float(Tensor(repeating: 1, shape: k.shape)) }
            return
        }
        if let mask {
            try c.add(n.name, DropoutOp(ratio: ratio), [x], [n.output, mask])
        } else {
            try c.add(n.name, IdentityOp(type: n.type), [x], [n.output])
        }
    }

    static let exportedOperations: [any GraphOperation.Type] = [DropoutOp.self]

    /// Written as opset-12+ Dropout with its ratio and no training mode (inference).
    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let op = n.operation as? DropoutOp else { throw ExportProblem("not a DropoutOp") }
        p.opType = "Dropout"
        let ratioName = n.name + "/ratio"
        extra.append(.float(name: ratioName, tensor: Tensor(shape: [], scalars: [op.ratio])))
        p.input = [n.inputs[0], ratioName]
    }
}
