// Sum, Mean, Max and Min of one or more inputs with broadcasting
// (https://onnx.ai/onnx/operators/onnx__Sum.html, …Mean, …Max, …Min). Caffe2's ResNet-50 and
// ShuffleNet add residuals with Sum. Before opset 8 the inputs must have one shape; broadcasting
// them is a superset of that rule.
import TTLCore
import TTLNN

enum VariadicNodes: ONNXOperator {
    static let kinds: [String: Variadic.Kind] = ["Sum": .sum, "Mean": .mean, "Max": .max, "Min": .min]
    static let onnxTypes = ["Sum", "Mean", "Max", "Min"]

    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws {
        guard let kind = kinds[n.type] else { throw Unsupported() }
        let vs = try n.inputs.indices.compactMap { n.input($0) == nil ? nil : try c.required(n, $0) }
        guard !vs.isEmpty else { throw InvalidNode("no inputs") }
        let constants = vs.compactMap { c.constants[$0] }
        if constants.count == vs.count {
            let integers = constants.compactMap { if case let .integers(v, s) = $0 { (v, s) } else { nil } }
            if integers.count == constants.count {
                // Shape arithmetic (CenterCropPad's expansion takes a Max of sizes): one shape, or scalars.
                let count = integers.map(\.0.count).max() ?? 0
                guard let shape = integers.first(where: { $0.0.count == count })?.1,
                      integers.allSatisfy({ $0.0.count == 1 || $0.1 == shape }),
                      !integers.contains(where: { $0.0.contains(GraphConverter.batchDimension) }) else {
                    throw Unsupported(detail: "\(n.type) of integer constants of shapes \(integers.map(\.1)) or of the batch size")
                }
                var values: [Int] = []
                for i in 0 ..< count {
                    let column = integers.map { $0.0[$0.0.count == 1 ? 0 : i] }
                    switch kind {
                    case .max: values.append(column.max() ?? 0)
                    case .min: values.append(column.min() ?? 0)
                    case .sum, .mean:
                        var total = 0
                        for v in column {
                            let (t, o) = total.addingReportingOverflow(v)
                            guard !o else { throw InvalidNode("integer sum overflows") }
                            total = t
                        }
                        values.append(kind == .mean ? total / column.count : total)
                    }
                }
                c.constants[n.output] = .integers(values, shape)
                return
            }
            guard constants.allSatisfy({ if case .float = $0 { true } else { false } }) else {
                throw Unsupported(detail: "arithmetic on integer and float constants")
            }
            guard Variadic.shape(constants.map(\.shape)) != nil else { throw InvalidNode("shapes \(constants.map(\.shape)) do not broadcast") }
            c.constants[n.output] = .float(Variadic.forward(kind, constants.map(\.floatTensor)))
            return
        }
        try c.add(n.name, VariadicOp(kind), try vs.map { try c.operand($0) }, [n.output])
    }

    static let exportedOperations: [any GraphOperation.Type] = [VariadicOp.self]

    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        p.opType = n.operation.type
    }
}
