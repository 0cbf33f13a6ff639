// ONNX model → ttl Model.
// Spec: https://onnx.ai/onnx/repo-docs/IR.html and the operator pages at https://onnx.ai/onnx/operators/
//
// Weights (initializers, Constant nodes) become entries of the model's ParameterTree under their
// ONNX names; nodes keep their ONNX names and value names, so that export → import is exact.
// Shape arithmetic (Shape, Gather, Unsqueeze, Concat, Slice, … on constants) is folded at import.
// Static shapes are tracked at batch 1 and batch 2 as nodes are converted, which validates the
// graph and tells which dimensions follow the batch.
import Foundation
import SwiftProtobuf
import TTLCore
import TTLNN

/// Reads ONNX models into ``Model``s: weights become ``ParameterTree`` entries under their
/// ONNX names, and nodes keep their names, so that export then import gives the same model.
public enum ONNXImporter {
    /// The ai.onnx opsets ttl reads: 7–28 (all that onnx 1.23 defines), and the older opsets
    /// of the ONNX backend test cases (legacy `broadcast` attributes are honoured).
    public static let supportedOpsets = 1 ... 28

    /// Reads an ONNX model file (external data is resolved beside it).
    public static func load(contentsOf url: URL) throws(ONNXError) -> Model {
        // Parse the structure without the weights' bytes, then read each weight once from the
        // file into its tensor: peak memory is the weights, not the file and the weights.
        if let file = try? ReadOnlyFile(path: url.path), let (stripped, spans) = try? WireScanner.stripInitializerData(file), !spans.isEmpty {
            return try load(stripped, file: url.path, directory: url.deletingLastPathComponent(),
                            rawData: RawDataSource(byteCount: { spans[$0]?.count }, read: { index, buffer in
                                guard let span = spans[index], span.count == buffer.count else { throw ReadOnlyFile.Failure(message: "no raw data") }
                                try file.read(at: span.lowerBound, into: buffer)
                            }))
        }
        // A file the scanner cannot walk: swift-protobuf parses the whole of it (and says what is wrong).
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw ONNXError(file: url.path, .unreadable(error.localizedDescription))
        }
        return try load(data, file: url.path, directory: url.deletingLastPathComponent())
    }

    static func explain(_ error: Error) -> String {
        switch error as? BinaryDecodingError {
        case .truncated?: "the data ends in the middle of a field: truncated file"
        case .malformedProtobuf?: "corrupt or not protobuf data"
        case .messageDepthLimit?: "messages nested too deeply"
        default: "\(error)"
        }
    }

    /// Reads a serialized TensorProto file (the `.pb` inputs and outputs of ONNX test cases) as float32.
    public static func readTensor(contentsOf url: URL) throws(ONNXError) -> Tensor {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw ONNXError(file: url.path, .unreadable(error.localizedDescription)) }
        let proto: Onnx_TensorProto
        do { proto = try Onnx_TensorProto(serializedBytes: data) } catch {
            throw ONNXError(file: url.path, .malformedProtobuf(explain(error)))
        }
        var decoder = TensorDecoder(file: url.path, directory: url.deletingLastPathComponent())
        return try decoder.decode(proto).floatTensor
    }

    /// Reads an ONNX model from bytes; `file` names it in errors, `directory` holds its external data.
    public static func load(_ data: Data, file: String, directory: URL? = nil) throws(ONNXError) -> Model {
        try load(data, file: file, directory: directory, rawData: nil)
    }

    /// `rawData` supplies the raw data of the initializers `data` was stripped of.
    static func load(_ data: Data, file: String, directory: URL?, rawData: RawDataSource?) throws(ONNXError) -> Model {
        guard !data.isEmpty else { throw ONNXError(file: file, .empty) }
        var proto: Onnx_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            proto = try Onnx_ModelProto(serializedBytes: data, options: options)
        } catch {
            throw ONNXError(file: file, .malformedProtobuf(Self.explain(error)))
        }
        guard proto.hasGraph else { throw ONNXError(file: file, .noGraph) }
        var opset = 0
        for o in proto.opsetImport {
            let domain = o.domain
            if domain.isEmpty || domain == "ai.onnx" {
                opset = Int(o.version)
            }
        }
        if proto.opsetImport.isEmpty { opset = 1 }  // IR version 1–2 files default to opset 1
        guard supportedOpsets.contains(opset) else { throw ONNXError(file: file, .unsupportedOpset(domain: "", version: opset)) }

        var converter = GraphConverter(file: file, opset: opset, decoder: TensorDecoder(file: file, directory: directory))
        converter.rawData = rawData
        var graph = proto.graph
        proto.graph = Onnx_GraphProto()  // the graph's only copy is `graph`, whose bytes are freed as they are decoded
        var model = try converter.convert(&graph)
        model.metadata["format"] = "onnx"
        if converter.decoder.usedExternalData { model.metadata["onnx.external_data"] = "true" }
        model.metadata["onnx.opset"] = String(opset)
        model.metadata["onnx.ir_version"] = String(proto.irVersion)
        let producer = [proto.producerName, proto.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        if !producer.isEmpty { model.metadata["onnx.producer"] = producer }
        for entry in proto.metadataProps { model.metadata[entry.key] = entry.value }
        return model
    }
}

/// Converts one GraphProto, node by node.
struct GraphConverter {
    let file: String
    let opset: Int
    var decoder: TensorDecoder

    /// Values known at import time: initializers, Constant outputs, folded shape arithmetic.
    /// In integer constants, `batchDimension` stands for the (dynamic) batch size.
    var constants: [String: ONNXConstant] = [:]
    /// Static shapes of activations at batch 1 and at batch 2.
    var shapes1: [String: Shape] = [:]
    var shapes2: [String: Shape] = [:]
    var nodes: [Node] = []
    var tree = ParameterTree()
    /// ONNX value name → parameter path, for constants that became weights.
    var parameterPaths: [String: String] = [:]
    var unsupported: [ONNXError.UnsupportedOperator] = []
    /// Supplies initializers' raw data read lazily from the file (see `WireScanner`).
    var rawData: RawDataSource?
    /// Outputs of unsupported nodes: nodes reading them are skipped, not reported as broken.
    var unavailable = Set<String>()

    static let batchDimension = Int.min
    /// Integer tensors computed from the batch size (see `BatchIndexTensor`).
    var batchIndices: [String: BatchIndexTensor] = [:]

    /// Every ai.onnx operator type the converter handles (some only in some forms).
    static var operatorTypes: Set<String> { Set(ONNXOperators.importers.keys) }

    init(file: String, opset: Int, decoder: TensorDecoder) {
        self.file = file
        self.opset = opset
        self.decoder = decoder
    }

    mutating func convert(_ g: inout Onnx_GraphProto) throws(ONNXError) -> Model {
        let initializerNames = g.initializer.map(\.name)
        for i in g.initializer.indices {
            if let rawData, let count = rawData.byteCount(i) {
                // Read from the file straight into the constant (a float32 tensor's own buffer).
                constants[g.initializer[i].name] = try decoder.decode(g.initializer[i], rawByteCount: count) { buffer throws(ONNXError) in
                    do { try rawData.read(i, buffer) } catch {
                        throw ONNXError(file: file, .tensor(name: g.initializer[i].name, problem: "raw data cannot be read: \(error)"))
                    }
                }
            } else {
                constants[g.initializer[i].name] = try decoder.decode(g.initializer[i])
            }
            g.initializer[i].rawData = Data()  // keep one copy of the weights, not two
        }
        var inputs: [InputSpec] = []
        for i in g.input where constants[i.name] == nil {
            let spec = try inputSpec(i)
            inputs.append(spec)
            shapes1[i.name] = Shape(spec.dimensions.map { $0 ?? 1 })
            shapes2[i.name] = Shape(spec.dimensions.map { $0 ?? 2 })
        }
        for (index, n) in g.node.enumerated() {
            let name = n.name.isEmpty ? "\(n.opType)_\(index)" : n.name
            let domain = n.domain
            if n.input.contains(where: unavailable.contains) {
                // Downstream of an unsupported node: still list it if its own type is unsupported.
                if !Self.operatorTypes.contains(n.opType) { unsupported.append(.init(node: name, op: n.opType, opset: opset)) }
                unavailable.formUnion(n.output)
                continue
            }
            guard domain.isEmpty || domain == "ai.onnx" else {
                unsupported.append(.init(node: name, op: "\(domain).\(n.opType)", opset: opset))
                unavailable.formUnion(n.output)
                continue
            }
            do {
                try convertNode(n, name: name)
            } catch let error as ONNXError {
                throw error
            } catch let error as Unsupported {
                unsupported.append(.init(node: name, op: n.opType + (error.detail.isEmpty ? "" : " (\(error.detail))"), opset: opset))
                unavailable.formUnion(n.output)
            } catch {
                throw ONNXError(file: file, .node(name: name, op: n.opType, problem: "\(error)"))
            }
        }
        if !unsupported.isEmpty { throw ONNXError(file: file, .unsupportedOperators(unsupported)) }
        // Weights in the file's initializer order (then weights from Constant nodes), so that
        // export writes them back in the same order.
        var ordered = ParameterTree()
        for name in initializerNames { if let p = parameterPaths[name] { ordered[p] = tree[p] } }
        for (p, entry) in tree.entriesInOrder where ordered[p] == nil { ordered[p] = entry }
        tree = ordered
        let outputs = g.output.map(\.name)
        // A graph output that is a constant (a Constant node's, a folded computation's) is
        // produced by a node copying the stored value.
        for o in outputs where shapes1[o] == nil {
            guard let value = constants[o] else { continue }
            do {
                constants[o + "/value"] = .float(value.floatTensor)
                let path = try operand(o + "/value")
                try add(o + "/value", ReshapeOp(value.shape.dimensions), [path], [o])
            } catch {
                throw ONNXError(file: file, .node(name: o, op: "output", problem: "\(error)"))
            }
        }
        for o in outputs where shapes1[o] == nil {
            throw ONNXError(file: file, .node(name: o, op: "output", problem: "graph output is a constant or is produced by no node"))
        }
        do {
            return try Model(inputs: inputs, outputs: outputs, nodes: nodes, parameters: tree)
        } catch {
            throw ONNXError(file: file, .graph(error))
        }
    }

    func inputSpec(_ i: Onnx_ValueInfoProto) throws(ONNXError) -> InputSpec {
        guard case let .tensorType(t)? = i.type.value else {
            throw ONNXError(file: file, .input(name: i.name, problem: "is not a tensor"))
        }
        // float32; float16, double and bfloat16 inputs are given as float32 too (ttl computes in float32).
        guard [1, 10, 11, 16].contains(t.elemType) else {
            throw ONNXError(file: file, .input(name: i.name, problem: "has element type \(t.elemType); ttl takes floating-point inputs"))
        }
        guard t.hasShape else { throw ONNXError(file: file, .input(name: i.name, problem: "has no shape")) }
        var dims: [Int?] = []
        for (axis, d) in t.shape.dim.enumerated() {
            if case let .dimValue(v)? = d.value, v > 0 {
                dims.append(Int(v))
            } else if axis == 0 {
                dims.append(nil)
            } else {
                throw ONNXError(file: file, .input(name: i.name, problem: "dimension \(axis) is dynamic; ttl needs a fixed size for every dimension but the batch"))
            }
        }
        // Dims come from the file: their product (at batch 2, as shape inference runs) is
        // checked against the activation cap before any shape rule multiplies them.
        var count = 1
        for d in dims {
            let (p, overflow) = count.multipliedReportingOverflow(by: d ?? 2)
            guard !overflow, p <= Shape.maximumActivationElementCount else {
                throw ONNXError(file: file, .input(name: i.name, problem: "shape \(dims.map { $0.map(String.init) ?? "N" }) is above the limit of \(Shape.maximumActivationElementCount) elements"))
            }
            count = p
        }
        return InputSpec(name: i.name, dimensions: dims)
    }
}

/// The raw data of initializers that the parsed bytes were stripped of: how many bytes
/// initializer `i` has (nil: none were stripped), and reading them into a buffer of that size.
struct RawDataSource {
    var byteCount: (Int) -> Int?
    var read: (Int, UnsafeMutableRawBufferPointer) throws -> Void
}

/// A node ttl cannot convert, collected so that all of them are reported at once.
struct Unsupported: Error {
    var detail = ""
}

/// A node whose attributes or inputs are wrong (as opposed to unsupported).
struct InvalidNode: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
