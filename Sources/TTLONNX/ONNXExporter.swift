// ttl Model → ONNX model (opset 17, IR version 8: what current onnxruntime and converters read).
// Weights are written as float32 initializers under their parameter paths; model metadata
// goes to metadata_props. Written to a temporary file beside the target, then renamed.
import Foundation
import SwiftProtobuf
import TTLCore
import TTLNN

/// Writes a ``Model`` as an ONNX model: float32 initializers under the parameter paths,
/// nodes under their names, metadata as `metadata_props`.
public enum ONNXExporter {
    /// The ai.onnx opset of written files.
    public static let opset = 17
    /// The ONNX IR version of written files.
    public static let irVersion = 8

    /// The model as an ONNX ModelProto's bytes. Throws for an operation ONNX cannot express.
    public static func serialize(_ model: Model, file: String = "<memory>") throws(ONNXError) -> Data {
        let proto = try modelProto(model, file: file)
        do {
            return try proto.serializedData()
        } catch {
            throw ONNXError(file: file, .cannotWrite("\(error)"))
        }
    }

    /// The model as an ONNX ModelProto, every weight inline.
    static func modelProto(_ model: Model, file: String) throws(ONNXError) -> Onnx_ModelProto {
        var proto = Onnx_ModelProto()
        proto.irVersion = Int64(irVersion)
        proto.producerName = "ttl"
        proto.producerVersion = "0.1"
        var opsetID = Onnx_OperatorSetIdProto()
        opsetID.domain = ""
        opsetID.version = Int64(opset)
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
        for (path, entry) in model.parameters.entriesInOrder {
            g.initializer.append(tensorProto(entry.tensor, name: path))
        }
        var extra: [Onnx_TensorProto] = []
        for n in model.nodes {
            g.node.append(contentsOf: try nodeProtos(n, extra: &extra, file: file))
        }
        g.initializer.append(contentsOf: extra)
        g.input = model.inputs.map { valueInfo($0.name, $0.dimensions) }
        // A dynamic batch in the input is a dynamic batch in the outputs (`first` of `[Int?]` is
        // an `Int??`: flatten it before asking whether the batch is fixed).
        let dynamicBatch = model.inputs.first.map { ($0.dimensions.first ?? nil) == nil } ?? false
        g.output = model.outputs.map { o in
            let s = shapes[o].map { $0.dimensions.enumerated().map { $0.offset == 0 && dynamicBatch ? nil : $0.element } }
            return valueInfo(o, s ?? [])
        }
        proto.graph = g
        return proto
    }

    /// Protobuf messages cannot exceed 2 GiB: past this many bytes of weights they go to a
    /// `FILE.data` file beside the model, as ONNX external data.
    public static let externalDataThreshold = 1_800_000_000

    /// Writes the model to `url` through a temporary file in the same folder, renamed into place;
    /// weights past `externalDataThreshold` bytes go to `url.data` beside it (written the same way, first).
    public static func write(_ model: Model, to url: URL, externalDataThreshold: Int = externalDataThreshold) throws(ONNXError) {
        do {
            if model.parameters.scalarCount() * 4 > externalDataThreshold {
                let dataURL = url.appendingPathExtension("data")
                // Moved out before anything is serialized: protobuf messages stop at 2 GiB.
                var proto = try modelProto(model, file: url.path)
                var blob = Data()
                for i in proto.graph.initializer.indices where proto.graph.initializer[i].hasRawData {
                    let bytes = proto.graph.initializer[i].rawData
                    proto.graph.initializer[i].clearRawData()
                    proto.graph.initializer[i].dataLocation = .external
                    proto.graph.initializer[i].externalData = [("location", dataURL.lastPathComponent), ("offset", String(blob.count)),
                                                               ("length", String(bytes.count))].map { k, v in
                        var e = Onnx_StringStringEntryProto()
                        e.key = k
                        e.value = v
                        return e
                    }
                    blob.append(bytes)
                }
                try blob.write(to: dataURL, options: .atomic)
                try proto.serializedData().write(to: url, options: .atomic)
            } else {
                try serialize(model, file: url.path).write(to: url, options: .atomic)
            }
        } catch let error as ONNXError {
            throw error
        } catch {
            throw ONNXError(file: url.path, .cannotWrite(error.localizedDescription))
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
    static func nodeProtos(_ n: Node, extra: inout [Onnx_TensorProto], file: String) throws(ONNXError) -> [Onnx_NodeProto] {
        var p = Onnx_NodeProto()
        p.name = n.name
        p.input = n.inputs
        p.output = n.outputs
        guard let mapping = ONNXOperators.exporter(for: n.operation) else {
            throw ONNXError(file: file, .cannotExport(node: n.name, op: n.operation.type, problem: "no ONNX equivalent"))
        }
        do {
            try mapping.exportNode(n, &p, extra: &extra)
        } catch {
            throw ONNXError(file: file, .cannotExport(node: n.name, op: n.operation.type, problem: error.message))
        }
        return [p]
    }
}
