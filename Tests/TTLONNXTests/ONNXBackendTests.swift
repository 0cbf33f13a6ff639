import Foundation
import TTLCore
import TTLNN
import TTLONNX
import XCTest
import _TestSupport

/// The ONNX project's own backend test cases (copied from the onnx package by
/// `scripts/make_onnx_fixtures.py`): every case whose operators ttl supports must pass.
final class ONNXBackendTests: XCTestCase {
    /// The cases that pass today; a case leaving this list is a regression. Also listed in the README.
    static let passing: Set<String> = [
        "test_AvgPool2d", "test_AvgPool2d_stride", "test_BatchNorm2d_eval", "test_BatchNorm2d_momentum_eval",
        "test_ConstantPad2d", "test_Conv2d", "test_Conv2d_depthwise", "test_Conv2d_depthwise_padded",
        "test_Conv2d_depthwise_strided", "test_Conv2d_depthwise_with_multiplier", "test_Conv2d_dilated", "test_Conv2d_groups",
        "test_Conv2d_groups_thnn", "test_Conv2d_no_bias", "test_Conv2d_padding", "test_Conv2d_strided", "test_LeakyReLU",
        "test_LeakyReLU_with_negval", "test_Linear", "test_Linear_no_bias", "test_MaxPool2d", "test_MaxPool2d_stride_padding_dilation",
        "test_ReLU", "test_Sigmoid", "test_Softmax", "test_ZeroPad2d", "test_softmax_functional_dim3", "test_softmax_lastdim",
        "test_operator_add_broadcast", "test_operator_add_size1_broadcast", "test_operator_add_size1_right_broadcast",
        "test_operator_add_size1_singleton_broadcast", "test_operator_addconstant", "test_operator_addmm", "test_operator_clip",
        "test_operator_conv", "test_operator_flatten", "test_operator_mm", "test_operator_permute2", "test_operator_view",
    ]

    func testBackendCases() throws {
        let root = ONNXModelTests.fixtures.appendingPathComponent("onnx-backend")
        var passed: [String] = [], unsupported: [String] = [], failed: [String] = []
        for suite in ["pytorch-converted", "pytorch-operator"] {
            let dir = root.appendingPathComponent(suite)
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() {
                let folder = dir.appendingPathComponent(name)
                let model: Model
                do {
                    model = try ONNXImporter.load(contentsOf: folder.appendingPathComponent("model.onnx"))
                } catch {
                    if case .unsupportedOperators = error.reason { unsupported.append("\(name): \(error)"); continue }
                    failed.append("\(name): \(error)")
                    continue
                }
                let data = folder.appendingPathComponent("test_data_set_0")
                let files = try FileManager.default.contentsOfDirectory(atPath: data.path)
                var feeds: [String: Tensor] = [:]
                for (k, spec) in model.inputs.enumerated() {
                    feeds[spec.name] = try ONNXImporter.readTensor(contentsOf: data.appendingPathComponent("input_\(k).pb"))
                }
                let expected = try ONNXImporter.readTensor(contentsOf: data.appendingPathComponent("output_0.pb"))
                XCTAssertTrue(files.contains("output_0.pb"))
                // A case passes when it passes on every engine.
                var ok = true
                forEachEngine { engine in
                    do {
                        let y = try model.run(feeds)[model.outputs[0]]!
                        let scale = max(1, expected.scalars.map(abs).max() ?? 0)
                        let err = y.shape.count == expected.shape.count ? zip(y.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0 : .infinity
                        if !(err <= 1e-4 * scale && y.count == expected.count) { ok = false; failed.append("\(name) [\(engine.rawValue)]: max error \(err)") }
                    } catch {
                        ok = false
                        failed.append("\(name) [\(engine.rawValue)]: \(error)")
                    }
                }
                if ok { passed.append(name) }
            }
        }
        print("ONNX backend cases: \(passed.count) pass, \(unsupported.count) use unsupported operators, \(failed.count) fail")
        print("passing: " + passed.joined(separator: ", "))
        for u in unsupported { print("unsupported: \(u)") }
        XCTAssertEqual(failed, [], "supported cases that fail")
        XCTAssertTrue(Self.passing.isSubset(of: Set(passed)), "regressions: \(Self.passing.subtracting(passed).sorted())")
    }
}
