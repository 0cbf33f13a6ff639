import Foundation
import TTLCore
import TTLNN
import TTLONNX
import XCTest
import _TestSupport

/// The ONNX project's own backend test cases (copied from the onnx package by
/// `scripts/make_onnx_fixtures.py` and `scripts/make_onnx_op_fixtures.py`): every case whose operators ttl supports must pass.
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

    /// The cases of the operators added for issue 13 (`scripts/make_onnx_op_fixtures.py`).
    static let addedForIssue13: Set<String> = [
        "test_ELU", "test_PReLU_2d", "test_PReLU_2d_multiparam", "test_ReflectionPad2d", "test_ReplicationPad2d", "test_SELU",
        "test_Softplus", "test_Tanh", "test_operator_basic", "test_operator_pad", "test_operator_params", "test_dropout_default",
        "test_dropout_default_mask", "test_dropout_default_old", "test_dropout_random_old", "test_elu", "test_elu_default",
        "test_elu_example", "test_erf", "test_exp", "test_exp_example", "test_lrn", "test_lrn_default", "test_max_example",
        "test_max_float32", "test_max_one_input", "test_max_two_inputs", "test_mean_example", "test_mean_one_input",
        "test_mean_two_inputs", "test_min_example", "test_min_float32", "test_min_one_input", "test_min_two_inputs", "test_neg",
        "test_neg_example", "test_pow", "test_pow_bcast_array", "test_pow_bcast_scalar", "test_pow_example",
        "test_prelu_broadcast", "test_prelu_example", "test_selu", "test_selu_default", "test_selu_example", "test_softplus",
        "test_softplus_example", "test_sqrt", "test_sqrt_example", "test_sum_example", "test_sum_one_input",
        "test_sum_two_inputs", "test_tanh", "test_tanh_example",
    ]

    func testBackendCases() throws {
        let root = ONNXModelTests.fixtures.appendingPathComponent("onnx-backend")
        var passed: [String] = [], unsupported: [String] = [], failed: [String] = []
        for suite in ["pytorch-converted", "pytorch-operator", "node"] {
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
        let expected = Self.passing.union(Self.addedForIssue13)
        XCTAssertTrue(expected.isSubset(of: Set(passed)), "regressions: \(expected.subtracting(passed).sorted())")
    }
}
