// The registry of ONNX operators: each file in this folder handles one operator type (or a
// family of closely related ones), its import into ttl nodes or folded constants and, where
// ttl has the operation, its export. Adding an operator is one new file plus one line in
// `ONNXOperators.all`; neither the importer nor the exporter has a switch over types.
// Operator semantics: https://onnx.ai/onnx/operators/
import TTLCore
import TTLNN

/// One ONNX operator (or family): how its nodes import, and how ttl's operations export as it.
protocol ONNXOperator {
    /// The ai.onnx operator types this mapping imports.
    static var onnxTypes: [String] { get }
    /// Converts one node of these types: adds ttl nodes to `c`, or folds constants.
    /// Throws ``Unsupported`` for a form ttl does not handle, ``InvalidNode`` for a broken one.
    static func importNode(_ n: ONNXNode, _ c: inout GraphConverter) throws
    /// The ttl operations this mapping writes (none by default).
    static var exportedOperations: [any GraphOperation.Type] { get }
    /// Fills `p` (name, inputs and outputs already set) for a node whose operation is one of
    /// ``exportedOperations``; constants the ONNX node needs go to `extra` initializers.
    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem)
    /// The lowest ai.onnx opset that can express node `n` (``ONNXExporter/opset`` by default); a
    /// model is written at the highest of its nodes'.
    static func exportOpset(_ n: Node) -> Int
    /// ``exportNode(_:_:extra:)`` for a model written at `opset`, for the mappings whose form
    /// changed between the opsets the exporter writes (by default the same for every opset).
    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer], opset: Int) throws(ExportProblem)
}

extension ONNXOperator {
    static var exportedOperations: [any GraphOperation.Type] { [] }
    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer]) throws(ExportProblem) {
        throw ExportProblem("no ONNX equivalent")
    }
    static func exportOpset(_ n: Node) -> Int { ONNXExporter.opset }
    static func exportNode(_ n: Node, _ p: inout Onnx_NodeProto, extra: inout [ONNXExporter.Initializer], opset: Int) throws(ExportProblem) {
        try exportNode(n, &p, extra: &extra)
    }
}

/// Why a node cannot be written as ONNX.
struct ExportProblem: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Every operator mapping, and lookups by ONNX type and by ttl operation.
enum ONNXOperators {
    static let all: [any ONNXOperator.Type] = [
        // Constants and shape arithmetic folded at import.
        ConstantNode.self, ShapeNode.self, GatherNode.self, ConstantOfShapeNode.self, SqueezeNode.self, SliceNode.self,
        CastNode.self,
        // Layers.
        IdentityNode.self, DropoutNode.self, ConvNode.self, BatchNormalizationNode.self, ActivationNodes.self,
        ArithmeticNodes.self, PoolNodes.self, GlobalAveragePoolNode.self, ReduceNodes.self, FlattenNode.self,
        ReshapeNode.self, TransposeNode.self, GemmNode.self, MatMulNode.self, PadNode.self, SoftmaxNode.self, ConcatNode.self,
        VariadicNodes.self, LRNNode.self, ElementwiseMathNodes.self, PReluNode.self, PowNode.self, SplitNode.self,
        LayerNormalizationNode.self, GeluNode.self, RangeNode.self, ResizeNode.self, InstanceNormalizationNode.self,
    ]

    /// ONNX operator type → its mapping.
    static let importers: [String: any ONNXOperator.Type] = {
        var map: [String: any ONNXOperator.Type] = [:]
        for m in all {
            for t in m.onnxTypes {
                precondition(map[t] == nil, "ONNX operator \(t) is registered twice")
                map[t] = m
            }
        }
        return map
    }()

    /// ttl operation type → the mapping that exports it.
    static let exporters: [ObjectIdentifier: any ONNXOperator.Type] = {
        var map: [ObjectIdentifier: any ONNXOperator.Type] = [:]
        for m in all {
            for op in m.exportedOperations {
                precondition(map[ObjectIdentifier(op)] == nil, "\(op) is exported by two mappings")
                map[ObjectIdentifier(op)] = m
            }
        }
        return map
    }()

    /// The mapping that writes `operation`, if any.
    static func exporter(for operation: any GraphOperation) -> (any ONNXOperator.Type)? {
        exporters[ObjectIdentifier(type(of: operation))]
    }
}

/// One ONNX node as its mapping sees it: name, type, attributes, inputs and outputs.
struct ONNXNode {
    let proto: Onnx_NodeProto
    /// The node's name, or `<type>_<index>` for an unnamed node.
    let name: String
    let attributes: Attributes
    /// The model's ai.onnx opset.
    let opset: Int

    init(_ proto: Onnx_NodeProto, name: String, opset: Int) {
        self.proto = proto
        self.name = name
        self.attributes = Attributes(proto)
        self.opset = opset
    }

    var type: String { proto.opType }
    var inputs: [String] { proto.input }
    var outputs: [String] { proto.output }
    /// The first output's name.
    var output: String { proto.output.first ?? name }

    /// Input `k`, nil when absent or empty (an omitted optional input).
    func input(_ k: Int) -> String? { k < proto.input.count && !proto.input[k].isEmpty ? proto.input[k] : nil }

    /// Extra outputs (max pool indices, batch-norm statistics) must be unused.
    func onlyFirstOutput() throws {
        if proto.output.dropFirst().contains(where: { !$0.isEmpty }) { throw Unsupported(detail: "extra outputs") }
    }
}
