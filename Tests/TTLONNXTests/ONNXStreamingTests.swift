import Foundation
import SwiftProtobuf
import TTLCore
import TTLNN
@testable import TTLONNX
import XCTest

/// The streamed writer (weights written from their tensors, the message never built) against
/// swift-protobuf serializing the whole ModelProto, and the file reader (structure through a
/// window, weights read into their tensors) against parsing the bytes in memory.
final class ONNXStreamingTests: XCTestCase {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-onnx-stream-\(ProcessInfo.processInfo.processIdentifier)")
    override func setUpWithError() throws { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Every fixture model, and built-in architectures whose export adds constants of its own
    /// (Clip bounds, Pad amounts and value, Reshape targets).
    func models() throws -> [(String, Model)] {
        var out: [(String, Model)] = []
        for folder in ONNXModelTests.cases {
            out.append((folder.lastPathComponent, try ONNXImporter.load(contentsOf: folder.appendingPathComponent("model.onnx"))))
        }
        var resnet = ResNet.Configuration(block: .basic, layers: [1, 1, 1, 1], classes: 5)
        resnet.imageSize = 32
        out.append(("resnet", ResNet.build(resnet)))
        var lite = EfficientNetLite.Configuration.lite0
        lite.imageSize = 32
        lite.classes = 3
        out.append(("efficientnet-lite0", EfficientNetLite.build(lite)))
        return out
    }

    func testStreamedBytesAreSwiftProtobufsBytes() throws {
        for (name, model) in try models() {
            let streamed = try ONNXExporter.serialize(model)
            let reference = try ONNXExporter.serializeMessage(model).model
            XCTAssertEqual(streamed.count, reference.count, name)
            XCTAssertTrue(streamed == reference, "\(name): streamed bytes differ from the serialized message")
            // Parsed back by swift-protobuf: the same message, every weight's bytes included.
            let parsed = try Onnx_ModelProto(serializedBytes: streamed)
            XCTAssertEqual(parsed, try ONNXExporter.modelProto(model, file: name), name)

            let url = dir.appendingPathComponent(name + ".onnx")
            try ONNXExporter.write(model, to: url)
            XCTAssertEqual(try Data(contentsOf: url), reference, "\(name): the written file")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".tmp") }, [], "no temporary file left")
        }
    }

    func testStreamedExternalDataIsTheMessageWritersFiles() throws {
        for (name, model) in try models() {
            let url = dir.appendingPathComponent(name + ".onnx")
            try ONNXExporter.write(model, to: url, externalDataThreshold: 0)
            let reference = try ONNXExporter.serializeMessage(model, externalData: url.lastPathComponent + ".data")
            XCTAssertEqual(try Data(contentsOf: url), reference.model, "\(name): model file")
            XCTAssertEqual(try Data(contentsOf: url.appendingPathExtension("data")), reference.data, "\(name): data file")
        }
    }

    func testFileReaderReadsWhatTheBytesHold() throws {
        for (name, model) in try models() {
            let url = dir.appendingPathComponent(name + ".onnx")
            try ONNXExporter.write(model, to: url)
            let data = try Data(contentsOf: url)
            let file = try ReadOnlyFile(path: url.path)
            let fromFile = try WireScanner.stripInitializerData(file)
            let fromMemory = try WireScanner.stripInitializerData(data)
            XCTAssertEqual(fromFile.stripped, fromMemory.stripped, name)
            XCTAssertEqual(fromFile.spans, fromMemory.spans, name)
            XCTAssertFalse(fromFile.spans.isEmpty, name)

            let viaFile = try ONNXImporter.load(contentsOf: url)
            let viaMemory = try ONNXImporter.load(data, file: name)
            XCTAssertEqual(viaFile.parameters.paths, model.parameters.paths, name)
            for path in model.parameters.paths {
                XCTAssertTrue(viaFile.parameters.tensor(path)!.bitwiseEqual(model.parameters.tensor(path)!), "\(name): \(path)")
                XCTAssertTrue(viaMemory.parameters.tensor(path)!.bitwiseEqual(model.parameters.tensor(path)!), "\(name): \(path)")
            }
        }
    }

    /// A damaged file read from disk fails as the same bytes read from memory do.
    func testDamagedFilesFailAsTheirBytesDo() throws {
        let (_, model) = try XCTUnwrap(try models().first { $0.0 == "resnet" })
        let good = try ONNXExporter.serialize(model)
        let url = dir.appendingPathComponent("damaged.onnx")
        func reasons(_ bytes: Data) throws -> (file: String?, memory: String?) {
            try bytes.write(to: url)
            var file: String?, memory: String?
            do { _ = try ONNXImporter.load(contentsOf: url) } catch { file = "\(error.reason)" }
            do { _ = try ONNXImporter.load(bytes, file: url.path) } catch { memory = "\(error.reason)" }
            return (file, memory)
        }
        var failures = 0
        for n in stride(from: 1, to: good.count, by: max(1, good.count / 97)) {
            let r = try reasons(good.prefix(n))
            XCTAssertEqual(r.file, r.memory, "cut at \(n)")
            if r.file != nil { failures += 1 }
        }
        XCTAssertGreaterThan(failures, 90)
        var flipped = good
        for i in stride(from: 0, to: flipped.count, by: 4099) { flipped[i] ^= 0xFF }
        let r = try reasons(flipped)
        XCTAssertEqual(r.file, r.memory, "flipped bytes")
    }
}
