import Foundation
import TTLCore
import TTLNN
import XCTest

/// The typed classifier metadata and its metadata keys.
final class ModelInfoTests: XCTestCase {
    /// Values written before ModelInfo existed (as the fine-tune and export tests recorded them)
    /// read, and are written back byte for byte.
    func testKeysAndBytesOfEarlierFiles() {
        let earlier = ["labels": "[\"blue\",\"green\",\"red\"]",
                       "preprocessing": "{\"mean\":[0.485,0.456,0.406],\"resize\":\"squash\",\"size\":32,\"std\":[0.229,0.224,0.225]}",
                       "source": "model.onnx"]
        let info = ModelInfo(metadata: earlier)
        XCTAssertEqual(info.labels, ["blue", "green", "red"])
        XCTAssertEqual(info.preprocessing, Preprocessing(size: 32, resize: .squash))
        XCTAssertFalse(info.multiLabel)
        XCTAssertNil(info.thresholds)
        var written = ["source": "model.onnx"]
        info.write(to: &written)
        XCTAssertEqual(written, earlier)
    }

    func testMultiLabelRoundTrip() {
        let info = ModelInfo(labels: ["a/b", "cone"], preprocessing: .imagenet, multiLabel: true, thresholds: [0.25, 0.6])
        let m = info.metadata
        XCTAssertEqual(m["multi_label"], "true")
        XCTAssertEqual(m["thresholds"], "[0.25,0.6]")
        XCTAssertEqual(m["labels"], "[\"a/b\",\"cone\"]")
        XCTAssertEqual(ModelInfo(metadata: m), info)
        // Writing a single-label value removes the multi-label keys; other keys stay.
        var metadata = m.merging(["training": "{}"]) { a, _ in a }
        ModelInfo(labels: ["x"]).write(to: &metadata)
        XCTAssertEqual(metadata, ["labels": "[\"x\"]", "training": "{}"])
        // Values that do not read are absent, never a crash.
        let bad = ModelInfo(metadata: ["labels": "[1,", "preprocessing": "{}", "multi_label": "yes", "thresholds": "[\"x\"]"])
        XCTAssertEqual(bad, ModelInfo())
    }
}
