// Add, Sub, Mul, Div with broadcasting (https://onnx.ai/onnx/operators/onnx__Add.html, …):
// folded on constants (integer shape arithmetic included), else a BinaryOp. Before opset 7 a
// `broadcast` attribute with `axis` aligns B at that axis of A.
import TTLCore
import TTLNN

enum ArithmeticNodes: ONNXOperator {
    static let onnxTypes = ["Add", "Sub", "Mul", "Div"]
    static let operations: [String: Binary.Op] = ["Add": .add, "Sub": .sub, "Mul": .mul, "Div": .div]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let a = n.attributes
        let (l, r) = (try c.required(n, 0), try c.required(n, 1))
        guard let op = operations[n.type] else { throw Unsupported() }
        let out = n.output
        if n.opset < 7, a.int("broadcast", 0) != 0, let axis = a.int("axis"), let (ls, _) = c.shapes(l), let rc = c.constants[r] {
            // Legacy broadcasting aligns B at `axis` of A; today's rule aligns on the right.
            let trailing = ls.rank - axis - rc.shape.rank
            guard trailing >= 0 else { throw InvalidNode("legacy broadcast axis \(axis)") }
            c.constants[r + "/aligned"] = .float(rc.floatTensor.reshaped(Shape(rc.shape.dimensions + [Int](repeating: 1, count: trailing))))
            try c.add(n.name, BinaryOp(op), [try c.operand(l), try c.operand(r + "/aligned")], [out])
            return
        }
        if let bl = c.batchIndices[l] ?? c.batchIndices[r] {
            // Batch-dependent indices (dynamo's `as_strided`) plus or times an integer constant.
            let other = c.batchIndices[l] == nil ? l : r
            guard let k = c.constants[other], case let .integers(v, s) = k, !v.contains(GraphConverter.batchDimension) else {
                throw Unsupported(detail: "arithmetic on batch-dependent indices and a computed value")
            }
            switch op {
            case .add: c.batchIndices[out] = try bl.adding(v, s)
            case .mul where v.count == 1 && s.rank <= bl.rank: c.batchIndices[out] = try bl.multiplied(by: v[0])
            default: throw Unsupported(detail: "\(op) of batch-dependent indices")
            }
            return
        }
        if let cl = c.constants[l], let cr = c.constants[r] {
            if case let .integers(x, sx) = cl, case let .integers(y, sy) = cr {
                guard !x.contains(GraphConverter.batchDimension) && !y.contains(GraphConverter.batchDimension) else {
                    throw Unsupported(detail: "arithmetic on the dynamic batch size")
                }
                guard x.count == sx.count, y.count == sy.count, x.count > 0, y.count > 0,
                      sx == sy || sy.count == 1 || sx.count == 1 else { throw Unsupported(detail: "broadcast of integer constants") }
                let count = max(x.count, y.count)
                // File values: every operation overflow-checked.
                let values = try (0 ..< count).map { i -> Int in
                    let (p, q) = (x[sx.count == 1 ? 0 : i], y[sy.count == 1 ? 0 : i])
                    let (v, overflow): (Int, Bool)
                    switch op {
                    case .add: (v, overflow) = p.addingReportingOverflow(q)
                    case .sub: (v, overflow) = p.subtractingReportingOverflow(q)
                    case .mul: (v, overflow) = p.multipliedReportingOverflow(by: q)
                    case .div: (v, overflow) = q == 0 ? (0, false) : p.dividedReportingOverflow(by: q)
                    }
                    guard !overflow else { throw InvalidNode("integer \(op) of \(p) and \(q) overflows") }
                    return v
                }
                c.constants[out] = .integers(values, sx.count >= sy.count ? sx : sy)
            } else {
                guard Broadcast.shape(cl.shape, cr.shape) != nil else { throw InvalidNode("shapes \(cl.shape) and \(cr.shape) do not broadcast") }
                c.constants[out] = .float(Binary.forward(op, cl.floatTensor, cr.floatTensor))
            }
            return
        }
        try c.add(n.name, BinaryOp(op), [try c.operand(l), try c.operand(r)], [out])
    }

    static let exportedOperations: [any GraphOperation.Type] = [BinaryOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        p.opType = n.operation.type
    }
}
