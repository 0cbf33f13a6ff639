// Squeeze and Unsqueeze (https://onnx.ai/onnx/operators/onnx__Squeeze.html, …Unsqueeze.html):
// folded on constants, a Reshape of activations. Axes are an attribute before opset 13, an input from 13.
import TTLCore
import TTLNN

enum SqueezeNode: ONNXOperator {
    static let onnxTypes = ["Unsqueeze", "Squeeze"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let x = try c.required(n, 0)
        var axes = n.opset >= 13 ? (n.input(1).map { try? c.integers($0, "axes") } ?? nil) ?? [] : (n.attributes.ints("axes") ?? [])
        if let b = c.batchIndices[x] {
            guard n.type == "Unsqueeze" else { throw Unsupported(detail: "squeeze of batch-dependent indices") }
            c.batchIndices[n.output] = try b.unsqueezed(axes)
            return
        }
        guard let (s1, s2) = c.shapes(x) else { throw InvalidNode("unknown input shape") }
        func reshaped(_ s: Shape) throws -> Shape {
            var dims = s.dimensions
            if n.type == "Unsqueeze" {
                let rank = dims.count + axes.count
                axes = axes.map { $0 < 0 ? $0 + rank : $0 }.sorted()
                for ax in axes {
                    guard ax >= 0 && ax <= dims.count else { throw InvalidNode("axis \(ax) out of range") }
                    dims.insert(1, at: ax)
                }
            } else {
                let norm = axes.isEmpty ? dims.indices.filter { dims[$0] == 1 } : axes.map { $0 < 0 ? $0 + dims.count : $0 }
                for ax in norm.sorted(by: >) {
                    guard ax >= 0 && ax < dims.count && dims[ax] == 1 else { throw InvalidNode("cannot squeeze axis \(ax) of \(s)") }
                    dims.remove(at: ax)
                }
            }
            return Shape(dims)
        }
        if let k = c.constants[x] {
            let s = try reshaped(k.shape)
            c.constants[n.output] = k.integers.map { .integers($0, s) } ?? .float(k.floatTensor.reshaped(s))
        } else {
            let (o1, o2) = (try reshaped(s1), try reshaped(s2))
            try c.add(n.name, ReshapeOp(try c.reshapeTarget(x, o1, o2)), [x], [n.output])
        }
    }
}
