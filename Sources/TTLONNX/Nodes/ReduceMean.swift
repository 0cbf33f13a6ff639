// ReduceMean over H and W of a 4-D tensor (https://onnx.ai/onnx/operators/onnx__ReduceMean.html):
// a global average pool. Axes are an attribute before opset 18, an input from 18.
import TTLCore
import TTLNN

enum ReduceMeanNode: ONNXOperator {
    static let onnxTypes = ["ReduceMean"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        let out = n.output
        guard let (s1, _) = c.shapes(x), s1.rank == 4 else { throw Unsupported(detail: "non-4-D input") }
        let axes = n.opset >= 18 ? try n.input(1).map { try c.integers($0, "axes") } ?? [] : (n.attributes.ints("axes") ?? [])
        guard Set(axes.map { $0 < 0 ? $0 + 4 : $0 }) == [2, 3] else { throw Unsupported(detail: "mean over axes \(axes)") }
        if n.attributes.int("keepdims", 1) != 0 {
            try c.add(n.name, GlobalAvgPoolOp(), [x], [out])
        } else {
            try c.add(n.name, GlobalAvgPoolOp(), [x], [out + "/pooled"])
            try c.add(n.name + "/squeeze", ReshapeOp([0, 0]), [out + "/pooled"], [out])
        }
    }
}
