// Pow with broadcasting (https://onnx.ai/onnx/operators/onnx__Pow.html); folded on constants.
import TTLCore
import TTLNN

enum PowNode: ONNXOperator {
    static let onnxTypes = ["Pow"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let (x, y) = (try c.required(n, 0), try c.required(n, 1))
        if let kx = c.constants[x], let ky = c.constants[y] {
            guard case let .float(tx) = kx, case let .float(ty) = ky else { throw Unsupported(detail: "Pow of integer constants") }
            guard Broadcast.shape(tx.shape, ty.shape) != nil else { throw InvalidNode("shapes \(tx.shape) and \(ty.shape) do not broadcast") }
            c.constants[n.output] = .float(Power.forward(tx, ty))
            return
        }
        try c.add(n.name, PowOp(), [try c.operand(x), try c.operand(y)], [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [PowOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        p.opType = "Pow"
    }
}
