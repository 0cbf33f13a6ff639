// ConstantOfShape (https://onnx.ai/onnx/operators/onnx__ConstantOfShape.html), folded.
import TTLCore
import TTLNN

enum ConstantOfShapeNode: ONNXOperator {
    static let onnxTypes = ["ConstantOfShape"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let dims = try c.integers(try c.required(n, 0), "shape")
        guard !dims.contains(GraphConverter.batchDimension) else { throw Unsupported(detail: "shape depends on the batch size") }
        let shape: Shape
        do { shape = try Shape(checking: dims, limit: 1 << 24) } catch { throw InvalidNode("shape \(dims): \(error)") }
        let value = try n.attributes.tensor("value").map { try c.decoder.decode($0) } ?? .float(Tensor(shape: [1], scalars: [0]))
        if let v = value.integers, case .integers = value {
            c.constants[n.output] = .integers([Int](repeating: v.first ?? 0, count: shape.count), shape)
        } else {
            c.constants[n.output] = .float(Tensor(repeating: value.floatTensor.scalars.first ?? 0, shape: shape))
        }
    }
}
