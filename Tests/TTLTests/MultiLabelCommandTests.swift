import Foundation
import TTL
import TTLCore
import TTLFineTune
import TTLNN
import XCTest
import _TestSupport

/// `ttl finetune --multi-label`, `evaluate`, `predict` and the exports, run as a user runs them;
/// and a multi-label export checked by onnxruntime and Keras (`scripts/check_multilabel_export.py`).
final class MultiLabelCommandTests: CommandTestCase {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let fixture = tests.appendingPathComponent("TTLTests/Fixtures/multilabel")
    static let backbone = tests.appendingPathComponent("TTLONNXTests/Fixtures/models/torchscript_folded_bn/model.onnx").path
    static let fashion = tests.deletingLastPathComponent().appendingPathComponent("examples/fashion-mnist/train")

    /// ttl's multi-label exports (committed) re-run by ttl give onnxruntime's and Keras 3's
    /// probabilities on the committed input within 1e-5·max(1, max|ref|), and carry the metadata
    /// the script read from them.
    func testExportsAgainstOnnxruntimeAndKeras() throws {
        let x = try NPY.readTensor(Self.fixture.appendingPathComponent("input.npy"))
        let meta = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: Self.fixture.appendingPathComponent("metadata.json")))
        let expectedInfo = ModelInfo(metadata: meta)
        XCTAssertTrue(expectedInfo.multiLabel)
        XCTAssertEqual(expectedInfo.thresholds?.count, 4)
        for (file, reference) in [("model.onnx", "onnxruntime.npy"), ("model.h5", "keras.npy")] {
            let model = try ModelFile.load(Self.fixture.appendingPathComponent(file))
            XCTAssertEqual(model.info, expectedInfo, file)
            XCTAssertNotNil(try model.findHead().sigmoid, "\(file) ends in a Sigmoid")
            let y = try model.run([model.inputs[0].name: x], outputs: [model.outputs[0]])[model.outputs[0]]!
            let ref = try NPY.readTensor(Self.fixture.appendingPathComponent(reference))
            let scale = max(1, ref.scalars.map { abs(Double($0)) }.max() ?? 0)
            assertClose(y, ref, atol: 1e-5 * scale, rtol: 0, "\(file) against \(reference)")
        }
    }

    /// Fashion-MNIST images with their class and `top-wear` or `footwear`, from a CSV.
    func writeLabels() throws -> URL {
        var rows = ["file,labels"]
        for (group, classes) in [("top-wear", ["t-shirt", "shirt", "pullover"]), ("footwear", ["sneaker", "sandal", "ankle-boot"])] {
            for c in classes {
                let files = try FileManager.default.contentsOfDirectory(atPath: Self.fashion.appendingPathComponent(c).path).sorted().prefix(8)
                rows += files.map { "\(c)/\($0),\(group);\(c)" }
            }
        }
        let url = home.appendingPathComponent("labels.csv")
        try (rows.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func testFineTuneEvaluatePredictExport() throws {
        let csv = try writeLabels()
        let data = Self.fashion.path
        let r = try ttl("finetune", "--multi-label", "--labels", csv.path, "--data", data, "--model", Self.backbone, "--epochs", "10",
                        "--lr", "0.05", "--batch-size", "8", "--resize", "squash", "--seed", "3", "--val-split", "0.25", "--output", "clothes")
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "fine-tuning model on 8 labels, multi-label (ankle-boot, footwear, pullover, sandal, shirt, sneaker, t-shirt, top-wear): 36 training and 12 validation images")
        XCTAssertEqual(lines.count, 14, r.out)
        XCTAssertEqual(lines[1], "features: 48 computed, 0 from the cache in \(home.path)/cache/features")
        XCTAssertTrue(lines[2].hasPrefix("epoch 1/10  train loss ") && lines[2].contains("  val loss ") && lines[2].contains("  mAP "), lines[2])
        XCTAssertTrue(lines[12].hasPrefix("thresholds (best F1 on validation): ankle-boot 0."), lines[12])
        XCTAssertTrue(lines[13].hasPrefix("kept epoch ") && lines[13].contains("validation mAP") && lines[13].hasSuffix("saved to clothes"), lines[13])

        let stored = try ModelStore(root: home).load("clothes")
        XCTAssertTrue(stored.info.multiLabel)
        XCTAssertEqual(stored.info.labels, ["ankle-boot", "footwear", "pullover", "sandal", "shirt", "sneaker", "t-shirt", "top-wear"])
        XCTAssertEqual(stored.info.thresholds?.count, 8)

        let shown = try ttl("show", "clothes")
        XCTAssertEqual(shown.status, 0, shown.err)
        XCTAssertTrue(shown.out.contains(", then sigmoid '/fc/Gemm/sigmoid'\n"), shown.out)
        let thresholds = stored.info.thresholds!.map { String(format: "%.3f", $0) }.joined(separator: ", ")
        XCTAssertTrue(shown.out.split(separator: "\n").contains("multi-label:  thresholds \(thresholds)"), shown.out)

        let evaluated = try ttl("evaluate", "clothes", "--data", data, "--labels", csv.path)
        XCTAssertEqual(evaluated.status, 0, evaluated.err)
        let table = evaluated.out.split(separator: "\n").map(String.init)
        XCTAssertTrue(table[0].hasPrefix("mAP: 0.") && table[0].hasSuffix(" (48 images)"), table[0])
        XCTAssertEqual(table[1], "label       threshold  precision  recall     F1     AP  images")
        XCTAssertEqual(table.count, 10)
        XCTAssertTrue(table[2].hasPrefix("ankle-boot  ") && table[2].hasSuffix("       8"), table[2])
        XCTAssertTrue(table[3].hasPrefix("footwear  ") && table[3].hasSuffix("      24"), table[3])

        let images = ["sneaker", "shirt"].map { c in
            Self.fashion.appendingPathComponent(c).appendingPathComponent((try? FileManager.default.contentsOfDirectory(atPath: Self.fashion.appendingPathComponent(c).path).sorted().first) ?? "").path
        }
        let predicted = try ttl(["predict", "clothes"] + images)
        XCTAssertEqual(predicted.status, 0, predicted.err)
        let rows = predicted.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(rows.count, 2)
        for (row, image) in zip(rows, images) {
            XCTAssertTrue(row.hasPrefix(image + ": "), row)
            let rest = row.dropFirst(image.count + 2)
            XCTAssertTrue(rest == "no label above its threshold" || rest.split(separator: ",").allSatisfy { $0.trimmingCharacters(in: .whitespaces).split(separator: " ").count == 2 }, row)
        }

        // The exports carry multi_label and the thresholds, and predict what the store predicts.
        for ext in ["onnx", "h5"] {
            let file = home.appendingPathComponent("clothes.\(ext)")
            XCTAssertEqual(try ttl("export", "clothes", "--output", file.path).status, 0)
            let back = try ModelFile.load(file)
            XCTAssertEqual(back.info, stored.info, ext)
            let again = try ttl(["predict", file.path] + images)
            XCTAssertEqual(again.out, predicted.out, ext)
        }

        // Mistakes are one line naming the place.
        let noFlag = try ttl("finetune", "--labels", csv.path, "--data", data, "--model", Self.backbone)
        XCTAssertEqual(noFlag.status, 1)
        XCTAssertTrue(noFlag.err.contains("--labels needs --multi-label"), noFlag.err)
        try "file,labels\nsneaker/none.png,footwear\n".write(to: csv, atomically: true, encoding: .utf8)
        let unknown = try ttl("finetune", "--multi-label", "--labels", csv.path, "--data", data, "--model", Self.backbone)
        XCTAssertEqual(unknown.status, 1)
        XCTAssertEqual(unknown.err.split(separator: "\n").last.map(String.init), "ttl: \(csv.path):2: no image 'sneaker/none.png' under the data folder")
        XCTAssertFalse(unknown.out.contains("epoch"))
    }
}
