import Foundation
import SwiftProtobuf
import TTLCore
import TTLNN
@testable import TTLONNX
import XCTest

/// Extreme file values in the operators added for the backend node cases (Resize, Range,
/// ReduceSum/Mean/Max/Min axes, Gather indices): each file loads and runs, or ends in a
/// one-line error naming the file; none traps.
final class ONNXNewOperatorBadInputTests: XCTestCase {
    static let extremes: [Int64] = [0, -1, 1, 2, 3, 4, 5, Int64(Int32.max), 1 << 62, Int64.min, Int64.max]

    /// x `[N, 1, 4, 4]` → `node` (its other inputs from `initializers`) → y.
    func model(_ node: Onnx_NodeProto, _ initializers: [Onnx_TensorProto], opset: Int64) -> Data {
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var op = Onnx_OperatorSetIdProto()
        op.version = opset
        m.opsetImport = [op]
        var g = Onnx_GraphProto()
        g.initializer = initializers
        g.node = [node]
        g.input = [ONNXExporter.valueInfo("x", [nil, 1, 4, 4])]
        g.output = [ONNXExporter.valueInfo("y", [nil])]
        m.graph = g
        return (try? m.serializedData()) ?? Data()
    }

    func node(_ type: String, _ inputs: [String], _ attributes: [Onnx_AttributeProto] = []) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.name = "n"; n.opType = type; n.input = inputs; n.output = ["y"]; n.attribute = attributes
        return n
    }

    func int64s(_ name: String, _ v: [Int64], scalar: Bool = false) -> Onnx_TensorProto {
        var t = ONNXExporter.int64Tensor(v.map { Int($0) }, name: name)
        if scalar { t.dims = [] }
        return t
    }

    func floats(_ name: String, _ v: [Float]) -> Onnx_TensorProto { ONNXExporter.tensorProto(Tensor(shape: [v.count], scalars: v), name: name) }

    /// Loads and, when that works, runs at batch 2; returns whether it ran.
    @discardableResult
    func check(_ data: Data, _ what: String) -> Bool {
        do {
            let m = try ONNXImporter.load(data, file: "crafted.onnx")
            _ = try m.run([m.inputs[0].name: Tensor(repeating: 0.5, shape: [2, 1, 4, 4])])
            return true
        } catch let e as ONNXError {
            XCTAssertTrue("\(e)".hasPrefix("crafted.onnx: "), "\(what): \(e)")
            XCTAssertFalse("\(e)".contains("\n"), "\(what): \(e)")
        } catch {
            XCTAssertFalse("\(error)".isEmpty, what)
        }
        return false
    }

    func testResizeScalesSizesAndAxes() {
        let scales: [Float] = [0, -1, 1e-30, 0.5, 1.5, 2, 1e30, .nan, .infinity]
        var ran = 0
        for s in scales {
            for mode in ["nearest", "linear"] {
                let n = node("Resize", ["x", "", "scales"], [ONNXExporter.attribute("mode", string: mode)])
                if check(model(n, [floats("scales", [1, 1, s, s])], opset: 13), "scales \(s)") { ran += 1 }
            }
        }
        for v in Self.extremes {
            let n = node("Resize", ["x", "", "", "sizes"])
            if check(model(n, [int64s("sizes", [1, 1, v, v])], opset: 13), "sizes \(v)") { ran += 1 }
            let a = node("Resize", ["x", "", "scales"], [ONNXExporter.attribute("axes", ints: [Int(truncatingIfNeeded: v), 3])])
            check(model(a, [floats("scales", [2, 2])], opset: 18), "axes \(v)")
        }
        XCTAssertGreaterThan(ran, 4)  // the sensible values run
    }

    func testRangeBounds() {
        for s in Self.extremes {
            for l in Self.extremes {
                for d in [Int64(1), -1, 0, 1 << 62, Int64.min] {
                    let n = node("Range", ["s", "l", "d"])
                    check(model(n, [int64s("s", [s], scalar: true), int64s("l", [l], scalar: true), int64s("d", [d], scalar: true)], opset: 13),
                          "range \(s) \(l) \(d)")
                }
            }
        }
        for (s, l, d) in [(Float(0), Float.infinity, Float(1)), (-3e38, 3e38, 1), (0, 5, .nan), (5, 0, 1e-30), (0, -1e30, 1e-30)] {
            check(model(node("Range", ["s", "l", "d"]), [floats("s", [s]), floats("l", [l]), floats("d", [d])].map {
                var t = $0; t.dims = []; return t
            }, opset: 13), "float range \(s) \(l) \(d)")
        }
    }

    func testReduceAxesAndGatherIndices() {
        for op in ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin"] {
            for v in Self.extremes {
                check(model(node(op, ["x", "axes"]), [int64s("axes", [v])], opset: 18), "\(op) axes \(v)")
                check(model(node(op, ["x"], [ONNXExporter.attribute("axes", ints: [Int(truncatingIfNeeded: v), Int(truncatingIfNeeded: v)])]), [], opset: 11),
                      "\(op) attribute axes \(v)")
            }
        }
        for v in Self.extremes {
            for axis in [0, 1, 2, 3, -5, 4] {
                check(model(node("Gather", ["x", "i"], [ONNXExporter.attribute("axis", int: axis)]), [int64s("i", [v, 0, v])], opset: 13),
                      "gather \(v) axis \(axis)")
            }
        }
    }
}
