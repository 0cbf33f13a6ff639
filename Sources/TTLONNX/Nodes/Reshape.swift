// Reshape (https://onnx.ai/onnx/operators/onnx__Reshape.html): the target is an attribute
// before opset 5, an input from 5; the dynamic batch, folded from Shape, becomes "copy dimension 0".
import TTLCore
import TTLNN

enum ReshapeNode: ONNXOperator {
    static let onnxTypes = ["Reshape"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        var target = n.opset >= 5 ? try c.integers(try c.required(n, 1), "shape") : (n.attributes.ints("shape") ?? [])
        if n.attributes.int("allowzero", 0) != 0 && target.contains(0) { throw Unsupported(detail: "allowzero with a zero dimension") }
        if let k = c.constants[x] {
            let op = ReshapeOp(target)
            guard let s = try? op.outputShapes([k.shape]).first else { throw InvalidNode("cannot reshape \(k.shape) to \(target)") }
            c.constants[n.output] = k.integers.map { .integers($0, s) } ?? .float(k.floatTensor.reshaped(s))
            return
        }
        for (i, d) in target.enumerated() where d == GraphConverter.batchDimension {
            target[i] = i == 0 ? 0 : -1
        }
        try c.add(n.name, ReshapeOp(target), [x], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [ReshapeOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        guard let r = n.operation as? ReshapeOp else { throw ExportProblem("not a ReshapeOp") }
        p.opType = "Reshape"
        let shapeName = n.name + "/shape"
        extra.append(.message(ONNXExporter.int64Tensor(r.target, name: shapeName)))
        p.input = [n.inputs[0], shapeName]
    }
}
