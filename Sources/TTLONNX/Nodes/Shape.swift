// Shape (https://onnx.ai/onnx/operators/onnx__Shape.html), folded: the batch dimension
// becomes `GraphConverter.batchDimension`.
import TTLCore
import TTLNN

enum ShapeNode: ONNXOperator {
    static let onnxTypes = ["Shape"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        guard let (s1, s2) = c.shapes(x) else { throw InvalidNode("unknown input shape") }
        var dims = (0 ..< s1.rank).map { s1[$0] == s2[$0] ? s1[$0] : GraphConverter.batchDimension }
        let start = n.attributes.int("start", 0), end = n.attributes.int("end", dims.count)
        let lo = min(max(start < 0 ? start + dims.count : start, 0), dims.count)
        let hi = min(max(end < 0 ? end + dims.count : end, lo), dims.count)
        dims = Array(dims[lo ..< hi])
        c.constants[n.output] = .integers(dims, [dims.count])
    }
}
