// Constant: a value known at import (https://onnx.ai/onnx/operators/onnx__Constant.html).
import TTLCore
import TTLNN

enum ConstantNode: ONNXOperator {
    static let onnxTypes = ["Constant"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let a = n.attributes
        let out = n.output
        if let t = a.tensor("value") {
            c.constants[out] = try c.decoder.decode(t)
        } else if let f = a.float("value_float") {
            c.constants[out] = .float(Tensor(shape: [], scalars: [f]))
        } else if let fs = a.map["value_floats"]?.floats {
            c.constants[out] = .float(Tensor(shape: [fs.count], scalars: fs))
        } else if let i = a.int("value_int") {
            c.constants[out] = .integers([i], [])
        } else if let v = a.ints("value_ints") {
            c.constants[out] = .integers(v, [v.count])
        } else {
            throw Unsupported(detail: "sparse or string value")
        }
    }
}
