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

    /// The pytorch-converted cases of the operators added for issue 13 (`scripts/make_onnx_op_fixtures.py`).
    static let addedForIssue13: Set<String> = [
        "test_ELU", "test_PReLU_2d", "test_PReLU_2d_multiparam", "test_ReflectionPad2d", "test_ReplicationPad2d", "test_SELU",
        "test_Softplus", "test_Tanh", "test_operator_basic", "test_operator_pad", "test_operator_params",
        // ReduceMean over one axis of a 3-D tensor (ReduceOp).
        "test_operator_reduced_mean", "test_operator_reduced_mean_keepdim",
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
        print("ONNX backend pytorch cases: \(passed.count) pass, \(unsupported.count) use unsupported operators, \(failed.count) fail")
        print("passing: " + passed.joined(separator: ", "))
        for u in unsupported { print("unsupported: \(u)") }
        XCTAssertEqual(failed, [], "supported cases that fail")
        let expected = Self.passing.union(Self.addedForIssue13)
        XCTAssertTrue(expected.isSubset(of: Set(passed)), "regressions: \(expected.subtracting(passed).sorted())")
    }

    /// The node cases that ttl refuses with an "unsupported" error naming the form, and why.
    /// A case leaving this list (it now runs) or joining it (a regression) fails the test.
    /// Empty since cubic, antialiased and tf_crop_and_resize Resize, 1-D windows and dilated
    /// AveragePool run (and 3-D pooling, as two 2-D poolings).
    static let refusedNodeCases: [String: String] = [:]

    /// The ONNX backend *node* cases whose operator types ttl imports, written from the onnx
    /// package's case definitions by `scripts/make_onnx_node_fixtures.py` (which also records
    /// the cases it leaves out and why, in node/cases.json). Every output of every case is
    /// compared with the package's numpy reference on both engines, at 1e-4·max(1, |ref|).
    func testNodeCases() throws {
        let root = ONNXModelTests.fixtures.appendingPathComponent("onnx-backend/node")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("cases.json"))) as? [String: Any]
        let cases = try XCTUnwrap(manifest?["cases"] as? [String: Any]).keys.sorted()
        XCTAssertGreaterThan(cases.count, 200)
        var passed: [String] = [], refused: [String: String] = [:], failed: [String] = [], unexportable: [String] = []
        for name in cases {
            let folder = root.appendingPathComponent(name)
            let model: Model
            do {
                model = try ONNXImporter.load(contentsOf: folder.appendingPathComponent("model.onnx"))
            } catch {
                if case .unsupportedOperators = error.reason { refused[name] = "\(error)"; continue }
                failed.append("\(name): \(error)")
                continue
            }
            let data = folder.appendingPathComponent("test_data_set_0")
            var feeds: [String: Tensor] = [:]
            for (k, spec) in model.inputs.enumerated() {
                feeds[spec.name] = try ONNXImporter.readTensor(contentsOf: data.appendingPathComponent("input_\(k).pb"))
            }
            let expected = try model.outputs.indices.map { k in
                try ONNXImporter.readTensor(contentsOf: data.appendingPathComponent("output_\(k).pb"))
            }
            var ok = true
            forEachEngine { engine in
                do {
                    let results = try model.run(feeds)
                    for (k, output) in model.outputs.enumerated() {
                        let (y, ref) = (try XCTUnwrap(results[output]), expected[k])
                        guard y.shape == ref.shape else {
                            ok = false
                            failed.append("\(name) [\(engine.rawValue)] output \(k): shape \(y.shape), expected \(ref.shape)")
                            continue
                        }
                        let scale = max(1, ref.scalars.map(abs).filter(\.isFinite).max() ?? 0)
                        var err: Float = 0
                        for (a, b) in zip(y.scalars, ref.scalars) {
                            if b.isFinite { err = max(err, a.isNaN ? .infinity : abs(a - b)) } else if !(a == b || (a.isNaN && b.isNaN)) { err = .infinity }
                        }
                        if !(err <= 1e-4 * scale) {
                            ok = false
                            failed.append("\(name) [\(engine.rawValue)] output \(k): max error \(err)")
                        }
                    }
                } catch {
                    ok = false
                    failed.append("\(name) [\(engine.rawValue)]: \(error)")
                }
            }
            if ok { passed.append(name) }
            // Export → import gives a model computing the same outputs, bit for bit (the
            // exported operators: ReduceOp, GatherOp, ResizeOp in every form, … written back as
            // ONNX); scripts/check_exported_onnx.py runs the exported files in onnxruntime.
            if ok {
                do {
                    let back = try ONNXImporter.load(try ONNXExporter.serialize(model), file: "\(name) (exported)")
                    let (a, b) = (try model.run(feeds), try back.run(feeds))
                    for o in model.outputs where !(a[o]?.bitwiseEqual(b[o] ?? Tensor(zeros: [0])) ?? false) {
                        failed.append("\(name): output \(o) changes through export")
                    }
                } catch {
                    unexportable.append("\(name): \(error)")
                }
            }
        }
        print("ONNX backend node cases: \(passed.count) of \(cases.count) pass, \(refused.count) refused, \(failed.count) fail")
        for (name, why) in refused.sorted(by: { $0.key < $1.key }) { print("refused: \(name): \(why)") }
        XCTAssertEqual(failed, [], "supported node cases that fail")
        // Every case that runs is written back as ONNX (the exporter picks opset 18 or 19 where
        // a form needs it: antialias, Resize sizes by axes, dilated AveragePool).
        XCTAssertEqual(unexportable, [], "node cases that run but cannot be exported")
        XCTAssertEqual(Set(refused.keys), Set(Self.refusedNodeCases.keys), "refused cases changed")
    }
}
