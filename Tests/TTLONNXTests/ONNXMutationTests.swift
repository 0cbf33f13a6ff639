import Foundation
import SwiftProtobuf
import TTLCore
import TTLNN
@testable import TTLONNX
import XCTest
import _TestSupport

/// Crafted files: every integer a small model's graph holds (each node attribute, each integer
/// initializer such as a Reshape target or Slice bounds, each input dimension) replaced in turn
/// by extreme values, and every integer list made one too short and one too long. Each mutant
/// must end in a typed error with a one-line message, or import and run (on both engines) to
/// an output or a typed error; a trap, an overflow or a hang fails the whole suite.
final class ONNXMutationTests: XCTestCase {
    static let extremes: [Int64] = [0, -1, 1 << 31 - 1, 1 << 62, .min, .max]
    /// Small graphs that hold between them every operator family ttl imports.
    static let models = [
        "torchvision/shufflenet_v2_torchscript_opset13", "torchvision/googlenet_torchscript_opset11",
        "torchvision/convnext_torchscript_opset17", "torchvision/squeezenet1_1_dynamo_opset18",
        "torchvision/efficientnet_b0_torchscript_opset17", "models/zoo_preact_reshape",
        // Resize in cubic, antialiased and tf_crop_and_resize forms (sizes, axes); 1-D windows
        // and dilated average pooling.
        "ops/opset18_resize_cubic_antialias_crop", "ops/opset19_window1d_avgpool_dilated",
    ]

    /// One description and mutated copy per (place, value).
    static func mutants(of model: Onnx_ModelProto) -> [(String, Onnx_ModelProto)] {
        var out: [(String, Onnx_ModelProto)] = []
        func lists(_ v: [Int64]) -> [(String, [Int64])] {
            var r: [(String, [Int64])] = []
            for i in v.indices { for e in extremes { var w = v; w[i] = e; r.append(("[\(i)] = \(e)", w)) } }
            r.append(("one short", Array(v.dropLast())))
            r.append(("one long", v + [v.last ?? 1]))
            return r
        }
        for (n, node) in model.graph.node.enumerated() {
            for (a, attribute) in node.attribute.enumerated() {
                let place = "node '\(node.name)' (\(node.opType)) attribute \(attribute.name)"
                switch attribute.type {
                case .int:
                    for e in extremes {
                        var m = model
                        m.graph.node[n].attribute[a].i = e
                        out.append(("\(place) = \(e)", m))
                    }
                case .ints:
                    for (what, v) in lists(attribute.ints) {
                        var m = model
                        m.graph.node[n].attribute[a].ints = v
                        out.append(("\(place) \(what)", m))
                    }
                case .tensor where attribute.t.dataType == 7:
                    for (what, v) in lists(int64s(attribute.t)) {
                        var m = model
                        setInt64s(&m.graph.node[n].attribute[a].t, v)
                        out.append(("\(place) \(what)", m))
                    }
                default: break
                }
            }
        }
        for (k, t) in model.graph.initializer.enumerated() where t.dataType == 7 {
            for (what, v) in lists(int64s(t)) {
                var m = model
                setInt64s(&m.graph.initializer[k], v)
                out.append(("initializer '\(t.name)' \(what)", m))
            }
        }
        for (k, input) in model.graph.input.enumerated() {
            for (d, _) in input.type.tensorType.shape.dim.enumerated() {
                for e in extremes {
                    var m = model
                    m.graph.input[k].type.tensorType.shape.dim[d].dimValue = e
                    out.append(("input '\(input.name)' dim \(d) = \(e)", m))
                }
            }
        }
        var none = model
        none.graph.output = []
        out.append(("a graph without outputs", none))
        var unknown = model
        unknown.graph.output[0].name = "computed by no node"
        out.append(("an output no node computes", unknown))
        return out
    }

    static func int64s(_ t: Onnx_TensorProto) -> [Int64] {
        guard !t.rawData.isEmpty else { return t.int64Data }
        return t.rawData.withUnsafeBytes { raw in (0 ..< raw.count / 8).map { Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) } }
    }

    /// Writes `v` as the tensor's values, dims following the length (a wrong length is then a
    /// list of another size, not a tensor disagreeing with its dims, which another test covers).
    static func setInt64s(_ t: inout Onnx_TensorProto, _ v: [Int64]) {
        if v.count != int64s(t).count { t.dims = [Int64(v.count)] }
        if t.rawData.isEmpty { t.int64Data = v } else { t.rawData = v.withUnsafeBytes { Data($0) } }
    }

    func testEveryMutantIsAnErrorOrARun() throws {
        let verbose = ProcessInfo.processInfo.environment["TTL_MUTATION_VERBOSE"] != nil
        var (errors, runs, total) = (0, 0, 0)
        for name in Self.models {
            let folder = ONNXModelTests.fixtures.appendingPathComponent(name)
            let bytes = try Data(contentsOf: folder.appendingPathComponent("model.onnx"))
            let model = try Onnx_ModelProto(serializedBytes: bytes)
            let x = try NPY.readTensor(folder.appendingPathComponent("input.npy"))
            for (place, mutant) in Self.mutants(of: model) {
                total += 1
                if verbose { FileHandle.standardError.write(Data("\(name): \(place)\n".utf8)) }
                let data: Data = try mutant.serializedBytes()
                let imported: Model
                do {
                    imported = try ONNXImporter.load(data, file: name)
                } catch {
                    let text = "\(error)"
                    XCTAssertFalse(text.isEmpty || text.contains("\n"), "\(name): \(place): \(text)")
                    errors += 1
                    continue
                }
                try forEachEngine { _ in
                    do {
                        _ = try imported.run([imported.inputs[0].name: x])
                        runs += 1
                    } catch {
                        XCTAssertFalse("\(error)".contains("\n"), "\(name): \(place): \(error)")
                        errors += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(total, 10_000)
        var none = try Onnx_ModelProto(serializedBytes: Data(contentsOf: ONNXModelTests.fixtures.appendingPathComponent("models/zoo_preact_reshape/model.onnx")))
        none.graph.output = []
        XCTAssertThrowsError(try ONNXImporter.load(try none.serializedBytes(), file: "no-outputs.onnx")) {
            XCTAssertEqual("\($0)", "no-outputs.onnx: the graph has no outputs")
        }
        print("mutants: \(total), errors \(errors), runs \(runs)")
    }
}
