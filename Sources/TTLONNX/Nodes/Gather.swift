// Gather on constants (https://onnx.ai/onnx/operators/onnx__Gather.html), folded.
import TTLCore
import TTLNN

enum GatherNode: ONNXOperator {
    static let onnxTypes = ["Gather"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let (data, indices) = (try c.required(n, 0), try c.required(n, 1))
        guard let k = c.constants[data], let indexConstant = c.constants[indices], let idx = indexConstant.integers else {
            throw Unsupported(detail: "gather from activations")
        }
        do {
            c.constants[n.output] = try k.gathered(idx, indexShape: indexConstant.shape, axis: n.attributes.int("axis", 0))
        } catch { throw InvalidNode(error.message) }
    }
}
