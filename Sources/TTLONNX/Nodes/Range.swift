// Range (https://onnx.ai/onnx/operators/onnx__Range.html): folded on constants; Range(0, N, 1)
// of the dynamic batch size N becomes batch-dependent indices (`BatchIndexTensor`).
import TTLCore
import TTLNN

enum RangeNode: ONNXOperator {
    static let onnxTypes = ["Range"]

    /// The most elements a folded Range may have.
    static let elementLimit = 1 << 24

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        let names = try (0 ..< 3).map { try c.required(n, $0) }
        let values = names.compactMap { c.constants[$0] }
        guard values.count == 3, values.allSatisfy({ $0.shape.count == 1 }) else {
            throw Unsupported(detail: "range of computed values")
        }
        let isInteger = values.allSatisfy { if case .integers = $0 { true } else { false } }
        if isInteger, let s = values[0].integers?[0], let l = values[1].integers?[0], let d = values[2].integers?[0] {
            if l == GraphConverter.batchDimension {
                guard s == 0, d == 1 else { throw Unsupported(detail: "range over the batch size from \(s) by \(d)") }
                c.batchIndices[n.output] = .batchRange
                return
            }
            guard d != 0 else { throw InvalidNode("delta 0") }
            guard s != GraphConverter.batchDimension, d != GraphConverter.batchDimension else {
                throw Unsupported(detail: "range with the batch size as start or delta")
            }
            // count = max(ceil((limit − start) / delta), 0), overflow-checked.
            let (span, o) = l.subtractingReportingOverflow(s)
            guard !o else { throw InvalidNode("range from \(s) to \(l) overflows") }
            let (quotient, o2) = span.dividedReportingOverflow(by: d)
            guard !o2 else { throw InvalidNode("range from \(s) to \(l) by \(d) overflows") }
            let count = max(0, quotient + (span % d != 0 && (span > 0) == (d > 0) ? 1 : 0))
            guard count <= elementLimit else { throw InvalidNode("range of \(count) elements beyond \(elementLimit)") }
            c.constants[n.output] = .integers((0 ..< count).map { s + $0 * d }, [count])
            return
        }
        let (s, l, d) = (values[0].floatTensor.scalars[0], values[1].floatTensor.scalars[0], values[2].floatTensor.scalars[0])
        guard d != 0, s.isFinite, l.isFinite, d.isFinite else { throw InvalidNode("range from \(s) to \(l) by \(d)") }
        let steps = ((l - s) / d).rounded(.up)
        guard steps.isFinite, steps <= Float(elementLimit) else { throw InvalidNode("range of \(steps) elements beyond \(elementLimit)") }
        let count = steps <= 0 ? 0 : Int(steps)
        c.constants[n.output] = .float(Tensor(shape: [count], scalars: (0 ..< count).map { s + Float($0) * d }))
    }
}
