// Errors of the ONNX reader and writer. Every case names the file and the place.
import TTLNN

/// An ONNX model that ttl cannot read, or cannot write.
public struct ONNXError: Error, Equatable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        case unreadable(String)
        case empty
        case malformedProtobuf(String)
        case noGraph
        case unsupportedOpset(domain: String, version: Int)
        case unsupportedOperators([UnsupportedOperator])
        case tensor(name: String, problem: String)
        case externalData(tensor: String, problem: String)
        case node(name: String, op: String, problem: String)
        case input(name: String, problem: String)
        case graph(GraphError)
        case cannotExport(node: String, op: String, problem: String)
        case cannotWrite(String)
    }
    public struct UnsupportedOperator: Equatable, Sendable, CustomStringConvertible {
        public var node: String, op: String, opset: Int
        public var description: String { "'\(node)' (\(op), opset \(opset))" }
    }
    public var file: String
    public var reason: Reason

    public init(file: String, _ reason: Reason) { self.file = file; self.reason = reason }

    public var description: String {
        let what: String = switch reason {
        case let .unreadable(m): "cannot read: \(m)"
        case .empty: "the file is empty"
        case let .malformedProtobuf(m): "not a valid ONNX protobuf (\(m))"
        case .noGraph: "the model has no graph"
        case let .unsupportedOpset(d, v): "opset \(v) of domain '\(d.isEmpty ? "ai.onnx" : d)' is not supported (ttl reads ai.onnx opsets 7–28)"
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
