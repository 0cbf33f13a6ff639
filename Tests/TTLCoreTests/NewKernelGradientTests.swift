import TTLCore
import XCTest
import _TestSupport

/// The backward of the kernels added for issue 13 (n-ary Sum/Mean/Max/Min, LRN, the
/// elementwise math functions, PReLU, Pow, N-D Pad) against central finite differences.
/// These kernels exist in float32 only, so the differences are taken in float32 with a step
/// of 1e-2 and the objective summed in Float64; the tolerance is set by that step.
final class NewKernelGradientTests: XCTestCase {
    var rng = SeededRandom(seed: 13)

    func tensor(_ shape: Shape, _ lo: Double = -1, _ hi: Double = 1) -> Tensor {
        Tensor(shape: shape, scalars: rng.array(shape.count, lo, hi).map(Float.init))
    }

    func gradcheck(_ name: String, _ inputs: [Tensor], forward: ([Tensor]) -> Tensor, backward: (Tensor, [Tensor]) -> [Tensor],
                   file: StaticString = #filePath, line: UInt = #line) {
        checkGradient(name, inputs, rng: &rng, forward: forward, backward: backward, file: file, line: line)
    }

    func testVariadic() {
        for kind in Variadic.Kind.allCases {
            // Distinct values (no ties for max and min), broadcasting shapes.
            let ins = [tensor([2, 3, 4]), tensor([3, 1]), tensor([4])]
            gradcheck("\(kind)", ins, forward: { Variadic.forward(kind, $0) }) { dy, x in
                Variadic.backward(kind, outputGradient: dy, inputs: x, output: Variadic.forward(kind, x))
            }
        }
    }

    func testLRN() {
        for o in [LRN.Options(size: 5, alpha: 0.5, beta: 0.75, bias: 1.5), LRN.Options(size: 2, alpha: 1, beta: 0.5, bias: 2),
                  LRN.Options(size: 3, alpha: 2e-1, beta: 1.2, bias: 1)] {
            gradcheck("lrn \(o)", [tensor([2, 6, 2, 3])], forward: { LRN.forward($0[0], o).0 }) { dy, x in
                [LRN.backward(outputGradient: dy, cache: LRN.forward(x[0], o).1, o)]
            }
        }
    }

    func testElementwiseMath() {
        let all: [ElementwiseMath.Function] = [.elu(alpha: 0.7), .selu(alpha: 1.6732632, gamma: 1.050701), .tanh, .neg, .exp, .erf, .softplus]
        for f in all {
            gradcheck("\(f)", [tensor([3, 5])], forward: { ElementwiseMath.forward(f, $0[0]) }) { dy, x in
                [ElementwiseMath.backward(f, outputGradient: dy, input: x[0])]
            }
        }
        gradcheck("sqrt", [tensor([3, 5], 0.5, 2)], forward: { ElementwiseMath.forward(.sqrt, $0[0]) }) { dy, x in
            [ElementwiseMath.backward(.sqrt, outputGradient: dy, input: x[0])]
        }
    }

    func testPReLUAndPow() {
        gradcheck("prelu", [tensor([2, 3, 2, 2]), tensor([3, 1, 1], 0, 0.5)], forward: { PReLU.forward($0[0], slope: $0[1]) }) { dy, x in
            let g = PReLU.backward(outputGradient: dy, input: x[0], slope: x[1])
            return [g.input, g.slope]
        }
        gradcheck("pow", [tensor([2, 3], 0.5, 2), tensor([3], -1.5, 2.5)], forward: { Power.forward($0[0], $0[1]) }) { dy, x in
            let g = Power.backward(outputGradient: dy, x[0], x[1])
            return [g.x, g.y]
        }
    }

    func testPadND() {
        for mode in PadND.Mode.allCases {
            let o = PadND.Options(before: [0, 1, 2, -1], after: [1, 0, 1, 2], mode: mode, value: 0.5)
            gradcheck("pad \(mode)", [tensor([2, 2, 3, 4])], forward: { PadND.forward($0[0], o) }) { dy, x in
                [PadND.backward(outputGradient: dy, inputShape: x[0].shape, o)]
            }
        }
    }

    /// Shapes a mode cannot make are refused (the values of every mode are checked against
    /// onnxruntime and the ONNX backend cases in TTLONNXTests).
    func testPadShapeRule() {
        XCTAssertNil(PadND.shape([3], PadND.Options(before: [3], after: [0], mode: .reflect)), "reflect needs pads smaller than the axis")
        XCTAssertNil(PadND.shape([3], PadND.Options(before: [Int.max], after: [1])), "overflow")
        XCTAssertNil(PadND.shape([3], PadND.Options(before: [-2], after: [-2])), "a negative size")
        XCTAssertNil(PadND.shape([0], PadND.Options(before: [1], after: [0], mode: .edge)), "edge of nothing")
        XCTAssertEqual(PadND.shape([3, 4], PadND.Options(before: [1, -1], after: [0, 2])), [4, 5])
    }

    func testLayerNorm() {
        // Rows of 6 (ConvNeXt normalizes the channel axis of NHWC activations).
        let ins = [tensor([2, 3, 6], -2, 2), tensor([6], 0.5, 1.5), tensor([6])]
        gradcheck("layer norm", ins, forward: { LayerNorm.forward($0[0], scale: $0[1], bias: $0[2], inner: 6, epsilon: 1e-5).0 }) { dy, x in
            let (_, cache) = LayerNorm.forward(x[0], scale: x[1], bias: x[2], inner: 6, epsilon: 1e-5)
            let g = LayerNorm.backward(outputGradient: dy, cache: cache, scale: x[1])
            return [g.input, g.scale, g.bias]
        }
    }

    func testMatMul() {
        // Batched with broadcast batch axes, and the rank-2 right side of a Linear.
        for (a, b) in [([2, 1, 3, 4], [3, 4, 5]), ([2, 3, 4], [4, 5]), ([3, 4], [4, 2])] as [(Shape, Shape)] {
            gradcheck("matmul \(a) \(b)", [tensor(a), tensor(b)], forward: { MatMul.forward($0[0], $0[1]) }) { dy, x in
                let g = MatMul.backward(outputGradient: dy, x[0], x[1])
                return [g.a, g.b]
            }
        }
        XCTAssertNil(MatMul.outputShape([2, 3, 4], [5, 6]), "inner sizes disagree")
        XCTAssertNil(MatMul.outputShape([2, 3, 4], [3, 4, 5]), "batch axes do not broadcast")
    }

    func testSlice() {
        let shape: Shape = [2, 5, 6]
        // Forward and backward steps, negative ends, ends past the axis (ONNX's clamping).
        let windows = [
            Slice.Window(shape: shape, starts: [1, 0], ends: [4, 100], axes: [1, 2], steps: [1, 2])!,
            Slice.Window(shape: shape, starts: [-1, 4], ends: [Int.min, -100], axes: [1, 2], steps: [-2, -1])!,
        ]
        for w in windows {
            gradcheck("slice \(w)", [tensor(shape)], forward: { Slice.forward($0[0], w) }) { dy, x in
                [Slice.backward(outputGradient: dy, inputShape: x[0].shape, w)]
            }
        }
        XCTAssertEqual(windows[0].outputShape, [2, 3, 3])
        XCTAssertEqual(windows[1].outputShape, [2, 3, 5])
        XCTAssertNil(Slice.Window(shape: shape, starts: [0], ends: [1], axes: [3], steps: [1]), "no such axis")
        XCTAssertNil(Slice.Window(shape: shape, starts: [0], ends: [1], axes: [1], steps: [0]), "step 0")
    }
}
