import Foundation
import TTLCore
@testable import TTLHDF5
import TTLNN
import TTLONNX
import XCTest
import _TestSupport

/// Export to Keras HDF5 and back. That Keras itself loads these files and predicts the same
/// is checked by `scripts/check_keras_export.py` (tf_keras and Keras 3 are not run by the suite).
final class KerasExportTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-keras-export-\(ProcessInfo.processInfo.processIdentifier)-\(name.hashValue)")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func run(_ m: Model, _ x: Tensor) throws -> Tensor { try m.run([m.inputs[0].name: x])[m.outputs[0]]! }

    func testExportThenImportIsBitIdentical() throws {
        for f in try KerasImportTests.manifest() {
            let first = try KerasImportTests.load(f)
            let url = folder.appendingPathComponent("out.h5")
            try KerasExporter.write(first, to: url)
            let second = try KerasImporter.load(contentsOf: url)
            XCTAssertEqual(second.inputs, first.inputs, f.file)
            XCTAssertEqual(Set(second.parameters.paths), Set(first.parameters.paths), f.file)
            for path in first.parameters.paths {
                XCTAssertTrue(second.parameters.tensor(path)?.bitwiseEqual(first.parameters.tensor(path)!) ?? false, "\(f.file): \(path)")
                XCTAssertEqual(second.parameters[path]?.kind, first.parameters[path]?.kind, "\(f.file): \(path)")
            }
            let x = try NPY.readTensor(KerasImportTests.fixtures.appendingPathComponent(f.input))
            XCTAssertTrue(try run(second, x).bitwiseEqual(try run(first, x)), "\(f.file): outputs after the round trip")
        }
    }

    /// A Keras-origin model goes into the store as ONNX and comes back the same.
    func testKerasModelsThroughONNXAreBitIdentical() throws {
        for f in try KerasImportTests.manifest() {
            let keras = try KerasImportTests.load(f)
            let onnx = try ONNXImporter.load(try ONNXExporter.serialize(keras), file: f.file + " (as ONNX)")
            XCTAssertEqual(onnx.inputs, keras.inputs, f.file)
            let x = try NPY.readTensor(KerasImportTests.fixtures.appendingPathComponent(f.input))
            XCTAssertTrue(try run(onnx, x).bitwiseEqual(try run(keras, x)), "\(f.file): outputs through ONNX")
        }
    }

    /// A PyTorch-origin (NCHW) network keeps its NCHW input and its outputs in Keras form.
    func testONNXOriginModelsKeepTheirInputConvention() throws {
        let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TTLONNXTests/Fixtures/models")
        for name in ["torchscript_folded_bn", "explicit_batchnorm", "efficientnet_lite_pad_clip", "grouped_conv_resnext"] {
            let onnx = try ONNXImporter.load(contentsOf: models.appendingPathComponent(name + "/model.onnx"))
            let url = folder.appendingPathComponent(name + ".h5")
            try KerasExporter.write(onnx, to: url)
            let keras = try KerasImporter.load(contentsOf: url)
            XCTAssertEqual(keras.inputs.map(\.dimensions), onnx.inputs.map(\.dimensions), name)
            XCTAssertEqual(keras.imageLayout, .nchw, name)
            let x = try NPY.readTensor(models.appendingPathComponent(name + "/input.npy"))
            let expected = try run(onnx, x)
            assertClose(try run(keras, x), expected, atol: 1e-5, rtol: 1e-5, name)
        }
    }

    func testUnexportableNodeIsNamedAndNothingIsWritten() throws {
        var b = GraphBuilder(seed: 1)
        let x = b.input("x", [nil, 3, 8, 8])
        let c = b.conv("conv", x, in: 3, out: 4, kernel: 3)
        let h = b.add("gate", ActivationOp(.hardSigmoid(alpha: 0.2, beta: 0.5)), [c])
        let model = b.build(outputs: [h])
        let url = folder.appendingPathComponent("x.h5")
        XCTAssertThrowsError(try KerasExporter.write(model, to: url)) { e in
            XCTAssertEqual("\(e)", "node 'gate' (HardSigmoid) cannot be written as a Keras layer: no Keras activation computes HardSigmoid the same way")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), [])
    }
}

/// The exported file's own layout, read back with the HDF5 layer.
final class KerasExportLayoutTests: XCTestCase {
    /// Keras loads a legacy file's weights by position in its rebuilt model's layer order, so
    /// `layer_names` must list layers in exactly Keras's order: for a Keras-built ResNet, the
    /// order Keras itself wrote.
    func testLayerNamesFollowKerasOrder() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-keras-order-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["resnet_v1_tiny.tfkeras.h5", "resnet_v2_tiny.tfkeras.h5"] {
            let source = KerasImportTests.fixtures.appendingPathComponent(name)
            let url = folder.appendingPathComponent(name)
            try KerasExporter.write(try KerasImporter.load(contentsOf: source), to: url)
            let (original, written) = try HDF5.serialized {
                (try HDF5File.open(source).root.group("model_weights").strings("layer_names"),
                 try HDF5File.open(url).root.group("model_weights").strings("layer_names"))
            }
            XCTAssertEqual(written, original, name)
        }
    }
}

final class KerasApplicationPreprocessingTests: XCTestCase {
    /// `keras.applications.resnet.preprocess_input` ("caffe") and `resnet_v2`'s ("tf") in ttl's terms.
    func testKnownApplicationsGetTheirPreprocessing() throws {
        let caffe = try XCTUnwrap(KerasImporter.applicationPreprocessing("ResNet50", size: 224))
        XCTAssertEqual(caffe, Preprocessing(json: "{\"channels\":\"bgr\",\"mean\":[0.407603922,0.457956863,0.485019608],\"resize\":\"squash\",\"size\":224,\"std\":[0.00392156863,0.00392156863,0.00392156863]}"))
        XCTAssertEqual(KerasImporter.applicationPreprocessing("resnet152v2", size: 224),
                       Preprocessing(json: "{\"mean\":[0.5,0.5,0.5],\"resize\":\"squash\",\"size\":224,\"std\":[0.5,0.5,0.5]}"))
        XCTAssertEqual(KerasImporter.applicationPreprocessing("mobilenetv2_1.00_224", size: 224),
                       Preprocessing(json: "{\"mean\":[0.5,0.5,0.5],\"resize\":\"squash\",\"size\":224,\"std\":[0.5,0.5,0.5]}"))
        XCTAssertEqual(KerasImporter.applicationPreprocessing("efficientnetb3", size: 300),
                       Preprocessing(json: "{\"mean\":[0,0,0],\"resize\":\"squash\",\"size\":300,\"std\":[0.00392156863,0.00392156863,0.00392156863]}"))
        XCTAssertNil(KerasImporter.applicationPreprocessing("model", size: 224))
    }
}

final class KerasPositionalWeightsTests: XCTestCase {
    /// A weights-only file whose layer names are not the model's (an older naming of the same
    /// network) loads by position, as Keras's own loader does; with a layer too few it is refused.
    func testOtherLayerNamesLoadByPosition() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ttl-keras-positional-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let f = try XCTUnwrap(try KerasImportTests.manifest().first { $0.file == "resnet_v1_tiny.weights_legacy.h5" })
        let reference = try KerasImportTests.load(f)
        let source = KerasImportTests.fixtures.appendingPathComponent(f.file)
        for dropLast in [false, true] {
            let url = folder.appendingPathComponent("renamed.h5")
            try HDF5.serialized {
                var weights = try XCTUnwrap(try KerasWeights.read(try HDF5File.open(source).root))
                if dropLast { weights.layers.removeLast() }
                let file = try HDF5File.create(url)
                try file.root.write(strings: weights.layers.indices.map { "layer_\($0)" }, as: "layer_names")
                for (i, layer) in weights.layers.enumerated() {
                    let g = try file.root.createGroup("layer_\(i)")
                    let stored = weights.byLayer[layer] ?? []
                    try g.write(strings: stored.indices.map { "w\($0)" }, as: "weight_names")
                    for (k, w) in stored.enumerated() { try g.write(w.tensor, as: "w\(k)") }
                }
                try file.flush()
            }
            if dropLast {
                XCTAssertThrowsError(try KerasImporter.load(contentsOf: url, configuration: f.architecture))
            } else {
                let model = try KerasImporter.load(contentsOf: url, configuration: f.architecture)
                for path in reference.parameters.paths {
                    XCTAssertTrue(model.parameters.tensor(path)?.bitwiseEqual(reference.parameters.tensor(path)!) ?? false, path)
                }
            }
        }
    }
}
