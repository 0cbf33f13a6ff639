// Errors of the ONNX reader and writer. Every case names the file and the place.
import TTLNN

/// An ONNX model that ttl cannot read, or cannot write.
public struct ONNXError: Error, Equatable, CustomStringConvertible {
    /// What went wrong, naming the tensor, node or input where there is one.
    public enum Reason: Equatable, Sendable {
        /// The file could not be read; the system's message.
        case unreadable(String)
        case empty
        /// The bytes do not decode as a ModelProto; the string explains the decoding error.
        case malformedProtobuf(String)
        case noGraph
        /// The file imports an ai.onnx opset outside ``ONNXImporter/supportedOpsets``.
        case unsupportedOpset(domain: String, version: Int)
        /// Every node ttl cannot convert, all reported at once.
        case unsupportedOperators([UnsupportedOperator])
        /// An initializer or Constant that cannot be decoded (data type, dims or data size).
        case tensor(name: String, problem: String)
        /// A tensor whose external data is missing, unreadable, out of bounds or outside the model's folder.
        case externalData(tensor: String, problem: String)
        /// A node whose attributes or inputs are invalid, or a graph output that nothing computes.
        case node(name: String, op: String, problem: String)
        /// A graph input ttl cannot take (not a floating-point tensor, no shape, a dynamic non-batch dimension).
        case input(name: String, problem: String)
        /// The converted graph is not a valid ``Model``.
        case graph(GraphError)
        /// A node the exporter cannot express in ONNX.
        case cannotExport(node: String, op: String, problem: String)
        /// Serializing or writing the file failed; the system's message.
        case cannotWrite(String)
    }
    /// A node ttl cannot convert.
    public struct UnsupportedOperator: Equatable, Sendable, CustomStringConvertible {
        /// The node's name, its operator type (with the domain, or a detail, when there is one) and the model's opset.
        public var node: String, op: String, opset: Int
        public var description: String { "'\(node)' (\(op), opset \(opset))" }
    }
    /// The file's path, or the name given for bytes read from memory.
    public var file: String
    /// What went wrong.
    public var reason: Reason

    /// An error about `file`.
    public init(file: String, _ reason: Reason) { self.file = file; self.reason = reason }

    public var description: String {
        let what: String = switch reason {
        case let .unreadable(m): "cannot read: \(m)"
        case .empty: "the file is empty"
        case let .malformedProtobuf(m): "not a valid ONNX protobuf (\(m))"
        case .noGraph: "the model has no graph"
        case let .unsupportedOpset(d, v): "opset \(v) of domain '\(d.isEmpty ? "ai.onnx" : d)' is not supported (ttl reads ai.onnx opsets 1–28)"
        case let .unsupportedOperators(list):
            "\(list.count) unsupported operator\(list.count == 1 ? "" : "s"): " + list.map(\.description).joined(separator: ", ")
        case let .tensor(name, problem): "tensor '\(name)': \(problem)"
        case let .externalData(name, problem): "tensor '\(name)': external data \(problem)"
        case let .node(name, op, problem): "node '\(name)' (\(op)): \(problem)"
        case let .input(name, problem): "input '\(name)': \(problem)"
        case let .graph(e): "\(e)"
        case let .cannotExport(node, op, problem): "cannot export node '\(node)' (\(op)): \(problem)"
        case let .cannotWrite(m): "cannot write: \(m)"
        }
        return "\(file): \(what)"
    }
}
