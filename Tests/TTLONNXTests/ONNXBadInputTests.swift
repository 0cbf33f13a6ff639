import Foundation
import SwiftProtobuf
import TTLCore
import TTLNN
@testable import TTLONNX
import XCTest

/// Every malformed file ends in a typed error naming the file and the node or tensor; none crashes.
final class ONNXBadInputTests: XCTestCase {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-onnx-bad-\(ProcessInfo.processInfo.processIdentifier)")
    override func setUpWithError() throws { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A small valid model: Conv (weight w) → Relu → output.
    func model(_ edit: (inout Onnx_ModelProto) -> Void = { _ in }) -> Onnx_ModelProto {
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var op = Onnx_OperatorSetIdProto()
        op.version = 17
        m.opsetImport = [op]
        var g = Onnx_GraphProto()
        g.initializer = [ONNXExporter.tensorProto(Tensor(repeating: 0.5, shape: [2, 1, 3, 3]), name: "w")]
        var conv = Onnx_NodeProto()
        conv.name = "conv"; conv.opType = "Conv"; conv.input = ["x", "w"]; conv.output = ["c"]
        conv.attribute = [ONNXExporter.attribute("pads", ints: [1, 1, 1, 1])]
        var relu = Onnx_NodeProto()
        relu.name = "relu"; relu.opType = "Relu"; relu.input = ["c"]; relu.output = ["y"]
        g.node = [conv, relu]
        g.input = [ONNXExporter.valueInfo("x", [nil, 1, 4, 4])]
        g.output = [ONNXExporter.valueInfo("y", [nil, 2, 4, 4])]
        m.graph = g
        edit(&m)
        return m
    }

    func reason(_ m: Onnx_ModelProto, directory: URL? = nil) -> ONNXError.Reason? {
        reason(try! m.serializedData(), directory: directory)
    }

    func reason(_ data: Data, directory: URL? = nil) -> ONNXError.Reason? {
        do {
            _ = try ONNXImporter.load(data, file: "bad.onnx", directory: directory)
            return nil
        } catch {
            XCTAssertTrue("\(error)".hasPrefix("bad.onnx: "), "\(error)")
            return error.reason
        }
    }

    func testTheValidModelLoads() throws {
        XCTAssertNil(reason(model()))
        let m = try ONNXImporter.load(try model().serializedData(), file: "ok.onnx")
        let y = try m.run(["x": Tensor(repeating: 1, shape: [1, 1, 4, 4])])["y"]!
        XCTAssertEqual(y[0, 0, 1, 1], 4.5)
    }

    func testEmptyTruncatedAndCorruptFiles() throws {
        XCTAssertEqual(reason(Data()), .empty)
        let good = try model().serializedData()
        var failures = 0
        // Every truncation point throws or (where the cut falls between fields) loads; none crashes.
        for n in stride(from: 1, to: good.count, by: 7) {
            if reason(good.prefix(n)) != nil { failures += 1 }
        }
        XCTAssertGreaterThan(failures, 0)
        if case .malformedProtobuf? = reason(good.prefix(good.count - 3)) {} else { XCTFail("a cut inside the last tensor must be malformed") }
        if case .malformedProtobuf? = reason(Data("this is not a protobuf at all, just text".utf8)) {} else { XCTFail() }
        var flipped = good
        for i in stride(from: 0, to: flipped.count, by: 13) { flipped[i] ^= 0xFF }
        _ = reason(flipped)  // any typed error, or a load; never a crash
        XCTAssertEqual(reason(model { $0.clearGraph() }), .noGraph)
    }

    func testRawDataDisagreeingWithDims() {
        let r = reason(model { $0.graph.initializer[0].rawData.removeLast(4) })
        guard case let .tensor(name, problem)? = r else { return XCTFail("\(String(describing: r))") }
        XCTAssertEqual(name, "w")
        XCTAssertTrue(problem.contains("68 bytes"), problem)
    }

    func testNegativeAndOverflowingDimsAreRefusedBeforeAllocation() {
        guard case .tensor("w", _)? = reason(model { $0.graph.initializer[0].dims = [2, -1, 3, 3] }) else { return XCTFail() }
        guard case .tensor("w", _)? = reason(model { $0.graph.initializer[0].dims = [1 << 40, 1 << 40, 1, 1] }) else { return XCTFail() }
        guard case .tensor("w", _)? = reason(model { $0.graph.initializer[0].dims = [Int64.max, 2] }) else { return XCTFail() }
    }

    func testUndefinedInputsAndCycles() {
        guard case let .node(name, op, problem)? = reason(model { $0.graph.node[1].input = ["nowhere"] }) else { return XCTFail() }
        XCTAssertEqual([name, op], ["relu", "Relu"])
        XCTAssertTrue(problem.contains("nowhere"))
        // conv reads relu's output and relu reads conv's: no order can run them. ONNX requires
        // nodes in topological order, so the cycle shows as an input no earlier node produces.
        guard case let .node(cname, _, cproblem)? = reason(model { $0.graph.node[0].input = ["y", "w"] }) else { return XCTFail() }
        XCTAssertEqual(cname, "conv")
        XCTAssertTrue(cproblem.contains("'y'"), cproblem)
    }

    func testUnsupportedOperatorsAreListedTogether() {
        let r = reason(model {
            var a = Onnx_NodeProto(); a.name = "t1"; a.opType = "Sin"; a.input = ["x"]; a.output = ["t"]
            var b = Onnx_NodeProto(); b.name = "e1"; b.opType = "Cos"; b.input = ["t"]; b.output = ["e"]
            var c = Onnx_NodeProto(); c.name = "lpn"; c.opType = "LpNormalization"; c.input = ["x"]; c.output = ["l"]
            $0.graph.node += [a, b, c]
        })
        guard case let .unsupportedOperators(list)? = r else { return XCTFail("\(String(describing: r))") }
        XCTAssertEqual(list.map(\.node), ["t1", "e1", "lpn"])
        XCTAssertEqual(list.map(\.opset), [17, 17, 17])
        XCTAssertEqual("\(ONNXError(file: "m.onnx", r!))", "m.onnx: 3 unsupported operators: 't1' (Sin, opset 17), 'e1' (Cos, opset 17), 'lpn' (LpNormalization, opset 17)")
    }

    func testUnsupportedOpset() {
        XCTAssertEqual(reason(model { $0.opsetImport[0].version = 99 }), .unsupportedOpset(domain: "", version: 99))
    }

    func externalModel(location: String, offset: Int = 0, length: Int = 72) -> Onnx_ModelProto {
        model {
            var t = $0.graph.initializer[0]
            t.clearRawData()
            t.dataLocation = .external
            t.externalData = [("location", location), ("offset", String(offset)), ("length", String(length))].map { k, v in
                var e = Onnx_StringStringEntryProto(); e.key = k; e.value = v; return e
            }
            $0.graph.initializer[0] = t
        }
    }

    func testExternalData() throws {
        var bytes = Data(repeating: 0xAB, count: 8)
        for _ in 0 ..< 18 { withUnsafeBytes(of: Float(0.5).bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        try bytes.write(to: dir.appendingPathComponent("weights.bin"))
        XCTAssertNil(reason(externalModel(location: "weights.bin", offset: 8), directory: dir))
        let loaded = try ONNXImporter.load(try externalModel(location: "weights.bin", offset: 8).serializedData(), file: "ext.onnx", directory: dir)
        XCTAssertEqual(loaded.parameters.tensor("w")?.scalars, [Float](repeating: 0.5, count: 18))

        func problem(_ m: Onnx_ModelProto, _ directory: URL? = nil) -> String {
            guard case let .externalData(tensor, p)? = reason(m, directory: directory ?? dir) else { return "no external-data error" }
            XCTAssertEqual(tensor, "w")
            return p
        }
        XCTAssertTrue(problem(externalModel(location: "missing.bin")).contains("cannot be read"))
        XCTAssertTrue(problem(externalModel(location: "/etc/passwd")).contains("absolute"))
        XCTAssertTrue(problem(externalModel(location: "../outside.bin")).contains("leaves"))
        XCTAssertTrue(problem(externalModel(location: "weights.bin", offset: 40)).contains("beyond the end"))
        XCTAssertTrue(problem(externalModel(location: "weights.bin", offset: 8, length: 71)).contains("does not match"))
        // A symbolic link inside the folder that points outside it is refused too.
        let outside = dir.deletingLastPathComponent().appendingPathComponent("ttl-outside-\(ProcessInfo.processInfo.processIdentifier).bin")
        try bytes.write(to: outside)
        defer { try? FileManager.default.removeItem(at: outside) }
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("link.bin"), withDestinationURL: outside)
        XCTAssertTrue(problem(externalModel(location: "link.bin", offset: 8)).contains("outside"))
    }

    func testNonFloatInputAndDynamicSpatialDims() {
        guard case .input("x", _)? = reason(model { $0.graph.input[0].type.tensorType.elemType = 7 }) else { return XCTFail() }
        guard case .input("x", _)? = reason(model { $0.graph.input[0].type.tensorType.shape.dim[2].dimParam = "H" }) else { return XCTFail() }
    }

    func testShapeMismatchNamesTheNode() {
        guard case let .node(name, op, _)? = reason(model { $0.graph.initializer[0].dims = [2, 9, 1, 1] }) else {
            return XCTFail()
        }
        XCTAssertEqual([name, op], ["conv", "Conv"])
    }
}

final class ONNXExportShapeTests: XCTestCase {
    /// A dynamic batch in the input stays dynamic in the outputs the exporter declares
    /// (onnxruntime checks results against them).
    func testDynamicBatchInOutputs() throws {
        let url = ONNXModelTests.fixtures.appendingPathComponent("models/torchscript_folded_bn/model.onnx")
        let model = try ONNXImporter.load(contentsOf: url)
        XCTAssertNil(model.inputs[0].dimensions[0])
        let proto = try Onnx_ModelProto(serializedBytes: try ONNXExporter.serialize(model))
        XCTAssertEqual(proto.graph.output[0].type.tensorType.shape.dim[0].dimParam, "N")
        XCTAssertEqual(proto.graph.output[0].type.tensorType.shape.dim[1].dimValue, 7)
    }
}
