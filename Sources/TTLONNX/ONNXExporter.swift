// ttl Model → ONNX model (opset 17, IR version 8: what current onnxruntime and converters read;
// opset 18 or 19 for a model with an operation only they express, such as an antialiased Resize).
// Weights are written as float32 initializers under their parameter paths; model metadata
// goes to metadata_props. Written to a temporary file beside the target, then renamed.
import Foundation
import SwiftProtobuf
import TTLCore
import TTLNN

/// Writes a ``Model`` as an ONNX model: float32 initializers under the parameter paths,
/// nodes under their names, metadata as `metadata_props`.
public enum ONNXExporter {
    /// The ai.onnx opset of written files: this one, or the lowest later one that expresses
    /// every node (``ONNXOperator/exportOpset(_:)``).
    public static let opset = 17
    /// The ONNX IR version of written files.
    public static let irVersion = 8

    /// The model as an ONNX ModelProto's bytes. Throws for an operation ONNX cannot express.
    public static func serialize(_ model: Model, file: String = "<memory>") throws(ONNXError) -> Data {
        let parts = try modelParts(model, file: file)
        var sink = DataSink()
        do { try stream(parts, to: &sink) } catch { throw ONNXError(file: file, .cannotWrite("\(error)")) }
        return sink.data
    }

    /// The same bytes as ``serialize(_:file:)`` (and, with `externalData`, as ``write(_:to:externalDataThreshold:)``
    /// writes past its threshold: the model and the data file), built the plain way: the whole
    /// ModelProto with every weight copied into it, serialized by swift-protobuf. The reference
    /// the streamed writer is tested against.
    static func serializeMessage(_ model: Model, file: String = "<memory>", externalData location: String? = nil) throws(ONNXError) -> (model: Data, data: Data) {
        var proto = try modelProto(model, file: file)
        var blob = Data()
        if let location {
            for i in proto.graph.initializer.indices where proto.graph.initializer[i].hasRawData {
                let bytes = proto.graph.initializer[i].rawData
                proto.graph.initializer[i].clearRawData()
                proto.graph.initializer[i].dataLocation = .external
                proto.graph.initializer[i].externalData = [("location", location), ("offset", String(blob.count)),
                                                           ("length", String(bytes.count))].map { k, v in
                    var e = Onnx_StringStringEntryProto()
                    e.key = k
                    e.value = v
                    return e
                }
                blob.append(bytes)
            }
        }
        do {
            return (try proto.serializedData(), blob)
        } catch {
            throw ONNXError(file: file, .cannotWrite("\(error)"))
        }
    }

    /// One of the graph's initializers: a weight, written from its tensor's buffer, or a small
    /// constant already built as a message.
    enum Initializer {
        /// float32 data, `[dims…]` of the tensor.
        case float(name: String, tensor: Tensor)
        case message(Onnx_TensorProto)

        /// The whole TensorProto, the data copied into it.
        var proto: Onnx_TensorProto {
            switch self {
            case let .float(name, tensor): tensorProto(tensor, name: name)
            case let .message(p): p
            }
        }
    }

    /// A ModelProto taken apart where the weights go: the model with every graph field but its
    /// initializers, and the initializers in the order they are written.
    struct ModelParts {
        var model: Onnx_ModelProto
        var initializers: [Initializer]
    }

    /// The model as an ONNX ModelProto, every weight inline.
    static func modelProto(_ model: Model, file: String) throws(ONNXError) -> Onnx_ModelProto {
        let parts = try modelParts(model, file: file)
        var proto = parts.model
        proto.graph.initializer = parts.initializers.map(\.proto)
        return proto
    }

    static func modelParts(_ model: Model, file: String) throws(ONNXError) -> ModelParts {
        var proto = Onnx_ModelProto()
        proto.irVersion = Int64(irVersion)
        proto.producerName = "ttl"
        proto.producerVersion = "0.1"
        let modelOpset = model.nodes.reduce(opset) { m, n in max(m, ONNXOperators.exporter(for: n.operation)?.exportOpset(n) ?? opset) }
        var opsetID = Onnx_OperatorSetIdProto()
        opsetID.domain = ""
        opsetID.version = Int64(modelOpset)
        proto.opsetImport = [opsetID]
        for (k, v) in model.metadata.sorted(by: { $0.key < $1.key }) where !k.hasPrefix("onnx.") {
            var e = Onnx_StringStringEntryProto()
            e.key = k
            e.value = v
            proto.metadataProps.append(e)
        }
        var g = Onnx_GraphProto()
        g.name = model.metadata["name"] ?? "ttl"
        let shapes: [String: Shape]
        do {
            var feeds: [String: Shape] = [:]
            for i in model.inputs { feeds[i.name] = i.shape(batch: 1) }
            shapes = try model.inferShapes(feeds)
        } catch {
            throw ONNXError(file: file, .graph(error))
        }
        var initializers = model.parameters.entriesInOrder.map { path, entry in Initializer.float(name: path, tensor: entry.tensor) }
        var extra: [Initializer] = []
        for n in model.nodes {
            g.node.append(contentsOf: try nodeProtos(n, extra: &extra, opset: modelOpset, file: file))
        }
        initializers.append(contentsOf: extra)
        g.input = model.inputs.map { valueInfo($0.name, $0.dimensions) }
        // A dynamic batch in the input is a dynamic batch in the outputs (`first` of `[Int?]` is
        // an `Int??`: flatten it before asking whether the batch is fixed).
        let dynamicBatch = model.inputs.first.map { ($0.dimensions.first ?? nil) == nil } ?? false
        g.output = model.outputs.map { o in
            let s = shapes[o].map { $0.dimensions.enumerated().map { $0.offset == 0 && dynamicBatch ? nil : $0.element } }
            return valueInfo(o, s ?? [])
        }
        proto.graph = g
        return ModelParts(model: proto, initializers: initializers)
    }

    /// Writes `parts` as swift-protobuf would serialize the whole message, byte for byte, without
    /// building it: fields in number order, each weight's `raw_data` (TensorProto field 9) from
    /// the tensor's own memory. With `externalData`, float initializers name their bytes in that
    /// file instead (``writeExternalData(_:to:)`` writes it: each tensor's bytes, in order).
    static func stream<S: ProtobufSink>(_ parts: ModelParts, to sink: inout S, externalData: String? = nil) throws {
        // ModelProto: fields 1–6, graph (7), then opset_import (8) and metadata_props (14).
        var head = parts.model
        head.clearGraph()
        head.opsetImport = []
        head.metadataProps = []
        var tail = Onnx_ModelProto()
        tail.opsetImport = parts.model.opsetImport
        tail.metadataProps = parts.model.metadataProps
        // GraphProto: node (1) and name (2), initializer (5), then doc_string (10) onwards.
        var graphHead = Onnx_GraphProto()
        graphHead.node = parts.model.graph.node
        if parts.model.graph.hasName { graphHead.name = parts.model.graph.name }
        var graphTail = parts.model.graph
        graphTail.node = []
        graphTail.clearName()
        graphTail.initializer = []

        // Each initializer as (the TensorProto's bytes before raw_data, the tensor whose bytes follow).
        var initializers: [(Data, Tensor?)] = []
        var offset = 0
        for i in parts.initializers {
            switch i {
            case let .float(name, tensor):
                var p = Onnx_TensorProto()
                p.name = name
                p.dims = tensor.shape.dimensions.map { Int64($0) }
                p.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
                if let externalData {
                    let length = tensor.shape.count * 4
                    p.dataLocation = .external
                    p.externalData = [("location", externalData), ("offset", String(offset)), ("length", String(length))].map { k, v in
                        var e = Onnx_StringStringEntryProto()
                        e.key = k
                        e.value = v
                        return e
                    }
                    offset += length
                    initializers.append((try p.serializedData(), nil))
                } else {
                    // Fields 1, 2 and 8 here; raw_data (9) is the last field such a TensorProto has.
                    initializers.append((try p.serializedData(), tensor))
                }
            case let .message(p):
                initializers.append((try p.serializedData(), nil))
            }
        }
        func payloadSize(_ i: (Data, Tensor?)) -> Int {
            i.0.count + (i.1.map { ProtobufWire.fieldSize(9, length: $0.shape.count * 4) } ?? 0)
        }
        let headBytes = try head.serializedData(), tailBytes = try tail.serializedData()
        let graphHeadBytes = try graphHead.serializedData(), graphTailBytes = try graphTail.serializedData()
        var graphSize = graphHeadBytes.count + graphTailBytes.count
        for i in initializers { graphSize += ProtobufWire.fieldSize(5, length: payloadSize(i)) }

        try sink.write(headBytes)
        try sink.writeFieldHeader(7, length: graphSize)
        try sink.write(graphHeadBytes)
        for i in initializers {
            try sink.writeFieldHeader(5, length: payloadSize(i))
            try sink.write(i.0)
            if let tensor = i.1 {
                try sink.writeFieldHeader(9, length: tensor.shape.count * 4)
                // float32 little-endian, the machine's own layout: written as it lies in memory.
                try tensor.withUnsafeBufferPointer { try sink.write(UnsafeRawBufferPointer($0)) }
            }
        }
        try sink.write(graphTailBytes)
        try sink.write(tailBytes)
    }

    /// The external data file of ``stream(_:to:externalData:)``: every float initializer's bytes, in order.
    static func writeExternalData<S: ProtobufSink>(_ parts: ModelParts, to sink: inout S) throws {
        for case let .float(_, tensor) in parts.initializers {
            try tensor.withUnsafeBufferPointer { try sink.write(UnsafeRawBufferPointer($0)) }
        }
    }

    /// Protobuf messages cannot exceed 2 GiB: past this many bytes of weights they go to a
    /// `FILE.data` file beside the model, as ONNX external data.
    public static let externalDataThreshold = 1_800_000_000

    /// Writes the model to `url` through a temporary file in the same folder, renamed into place;
    /// weights past `externalDataThreshold` bytes go to `url.data` beside it (written the same way, first).
    /// The file is streamed: no copy of the weights is made (see ``stream(_:to:externalData:)``).
    public static func write(_ model: Model, to url: URL, externalDataThreshold: Int = externalDataThreshold) throws(ONNXError) {
        let parts = try modelParts(model, file: url.path)
        do {
            if model.parameters.scalarCount() * 4 > externalDataThreshold {
                let dataURL = url.appendingPathExtension("data")
                try writeThroughTemporary(dataURL) { sink in try writeExternalData(parts, to: &sink) }
                try writeThroughTemporary(url) { sink in try stream(parts, to: &sink, externalData: dataURL.lastPathComponent) }
            } else {
                try writeThroughTemporary(url) { sink in try stream(parts, to: &sink) }
            }
        } catch let error as ONNXError {
            throw error
        } catch let error as POSIXFailure {
            throw ONNXError(file: url.path, .cannotWrite(error.description))
        } catch {
            throw ONNXError(file: url.path, .cannotWrite("\(error)"))
        }
    }

    /// Writes `url` as `.NAME.PID.tmp` beside it, renamed into place when `body` succeeds and removed when it fails.
    static func writeThroughTemporary(_ url: URL, _ body: (inout FileSink) throws -> Void) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp").path
        var sink = try FileSink(creating: temporary)
        do {
            try body(&sink)
            try sink.close()
        } catch {
            try? sink.close()
            unlink(temporary)
            throw error
        }
        guard rename(temporary, url.path) == 0 else {
            let failure = POSIXFailure(path: url.path, operation: "rename")
            unlink(temporary)
            throw failure
        }
    }

    static func tensorProto(_ t: Tensor, name: String) -> Onnx_TensorProto {
        var p = Onnx_TensorProto()
        p.name = name
        p.dims = t.shape.dimensions.map { Int64($0) }
        p.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        // float32 little-endian, the machine's own layout: one copy.
        p.rawData = t.withUnsafeBufferPointer { Data(buffer: $0) }
        return p
    }

    static func int64Tensor(_ values: [Int], name: String) -> Onnx_TensorProto {
        var p = Onnx_TensorProto()
        p.name = name
        p.dims = [Int64(values.count)]
        p.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        p.int64Data = values.map { Int64($0) }
        return p
    }

    static func valueInfo(_ name: String, _ dims: [Int?]) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var t = Onnx_TypeProto.Tensor()
        t.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            if let d { dim.dimValue = Int64(d) } else { dim.dimParam = "N" }
            return dim
        }
        t.shape = shape
        v.type.tensorType = t
        return v
    }

    static func attribute(_ name: String, ints: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .ints
        a.ints = ints.map { Int64($0) }
        return a
    }

    static func attribute(_ name: String, int: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .int
        a.i = Int64(int)
        return a
    }

    static func attribute(_ name: String, string: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .string
        a.s = Data(string.utf8)
        return a
    }

    static func attribute(_ name: String, float: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name
        a.type = .float
        a.f = float
        return a
    }

    static func windowAttributes(_ w: Window2D, withKernel: Bool = true) -> [Onnx_AttributeProto] {
        var attrs = [attribute("strides", ints: [w.stride.h, w.stride.w]),
                     attribute("pads", ints: [w.padding.top, w.padding.left, w.padding.bottom, w.padding.right])]
        if withKernel { attrs.insert(attribute("kernel_shape", ints: [w.kernel.h, w.kernel.w]), at: 0) }
        return attrs
    }

    /// The ONNX node of one ttl node, written by its operation's mapping (`Nodes/`); constants
    /// it needs go to `extra` initializers.
    static func nodeProtos(_ n: Node, extra: inout [Initializer], opset: Int, file: String) throws(ONNXError) -> [Onnx_NodeProto] {
        var p = Onnx_NodeProto()
        p.name = n.name
        p.input = n.inputs
        p.output = n.outputs
        guard let mapping = ONNXOperators.exporter(for: n.operation) else {
            throw ONNXError(file: file, .cannotExport(node: n.name, op: n.operation.type, problem: "no ONNX equivalent"))
        }
        do {
            try mapping.exportNode(n, &p, extra: &extra, opset: opset)
        } catch {
            throw ONNXError(file: file, .cannotExport(node: n.name, op: n.operation.type, problem: error.message))
        }
        return [p]
    }
}
