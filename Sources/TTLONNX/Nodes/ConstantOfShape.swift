// ConstantOfShape (https://onnx.ai/onnx/operators/onnx__ConstantOfShape.html), folded. Caffe2-era
// Model Zoo files (and the onnx package's "light" models) make every weight this way: VGG's and
// AlexNet's fully connected weights are 25–103 M elements, so the bound is memory, not a count.
import TTLCore
import TTLNN

enum ConstantOfShapeNode: ONNXOperator {
    static let onnxTypes = ["ConstantOfShape"]

    /// The most bytes one ConstantOfShape may produce: 1 GiB (256 Mi float32 elements, 2.5 times
    /// VGG-19's largest weight).
    static let byteLimit = 1 << 30

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let dims = try c.integers(try c.required(n, 0), "shape")
        guard !dims.contains(GraphConverter.batchDimension) else { throw Unsupported(detail: "shape depends on the batch size") }
        let value = try n.attributes.tensor("value").map { try c.decoder.decode($0) } ?? .float(Tensor(shape: [1], scalars: [0]))
        guard value.shape.count == 1 else { throw InvalidNode("value has shape \(value.shape); it must hold one element") }
        let isInteger: Bool
        if case .integers = value { isInteger = true } else { isInteger = false }
        // Integer constants are stored as Int (8 bytes), float ones as Float (4 bytes).
        let elementBytes = isInteger ? MemoryLayout<Int>.size : MemoryLayout<Float>.size
        let shape: Shape
        do { shape = try Shape(checking: dims, limit: byteLimit / elementBytes) } catch {
            throw InvalidNode("shape \(dims): \(error) (a constant may take at most \(byteLimit >> 20) MiB)")
        }
        if isInteger, let v = value.integers {
            c.constants[n.output] = .integers([Int](repeating: v[0], count: shape.count), shape)
        } else {
            c.constants[n.output] = .float(Tensor(repeating: value.floatTensor.scalars[0], shape: shape))
        }
    }
}
