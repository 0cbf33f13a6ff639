// Split (https://onnx.ai/onnx/operators/onnx__Split.html): one SliceOp per output along the
// axis (ShuffleNet v2's channel split from the dynamo exporter), folded on constants. The
// sizes are an attribute before opset 13, an optional constant input from 13; without them
// the axis is cut into equal parts (from opset 18 `num_outputs` of them, the last smaller).
import TTLCore
import TTLNN

enum SplitNode: ONNXOperator {
    static let onnxTypes = ["Split"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        guard let (s, t) = c.shapes(x) else { throw InvalidNode("unknown input shape") }
        let a0 = n.attributes.int("axis", 0)
        let axis = a0 < 0 ? a0 + s.rank : a0
        guard axis >= 0 && axis < s.rank else { throw InvalidNode("axis \(a0) for \(s)") }
        guard s[axis] == t[axis] else { throw Unsupported(detail: "split of the batch axis") }
        let outputs = n.outputs
        guard !outputs.isEmpty else { throw InvalidNode("no outputs") }
        let dim = s[axis]
        var sizes: [Int]
        if n.opset >= 13, let v = n.input(1) {
            sizes = try c.integers(v, "split")
        } else if n.opset < 13, let v = n.attributes.ints("split") {
            sizes = v
        } else {
            // Equal parts, the last one smaller when the axis does not divide (opset 18's rule).
            let parts = n.opset >= 18 ? n.attributes.int("num_outputs", outputs.count) : outputs.count
            guard parts == outputs.count, parts > 0 else { throw InvalidNode("num_outputs \(parts) for \(outputs.count) outputs") }
            let each = (dim + parts - 1) / parts
            sizes = (0 ..< parts).map { k in max(0, min(each, dim - k * each)) }
            if n.opset < 18, dim % parts != 0 { throw InvalidNode("axis of \(dim) does not split into \(parts) equal parts") }
        }
        // Each size within the axis first, so that their sum cannot overflow.
        guard sizes.count == outputs.count, sizes.allSatisfy({ $0 >= 0 && $0 <= dim }), sizes.reduce(0, +) == dim else {
            throw InvalidNode("split sizes \(sizes) for an axis of \(dim) into \(outputs.count) outputs")
        }
        var start = 0
        for (k, out) in outputs.enumerated() {
            let (b, e) = (start, start + sizes[k])
            start = e
            if out.isEmpty { continue }
            if let constant = c.constants[x] {
                do {
                    c.constants[out] = try constant.sliced(starts: [b], ends: [e], axes: [axis], steps: [1])
                } catch { throw InvalidNode(error.message) }
            } else {
                try c.add(outputs.count == 1 ? n.name : "\(n.name)/\(k)", SliceOp(starts: [b], ends: [e], axes: [axis], steps: [1]), [x], [out])
            }
        }
    }
}
