import TTLCore
import XCTest
import _TestSupport

/// The backward of ReduceSum/Mean/Max/Min over several axis sets, of Gather, Resize and dilated
/// average pooling, against central finite differences (``checkGradient``: float32 with a step
/// of 1e-2, the objective summed in Float64). Their forward is checked against the onnx
/// package's numpy references by the ONNX backend node cases (`ONNXBackendTests.testNodeCases`).
final class ReduceGradientTests: XCTestCase {
    var rng = SeededRandom(seed: 18)

    func testReduceGradients() {
        let shape: Shape = [2, 3, 4, 2]
        for kind in Reduce.Kind.allCases {
            for axes in [[0], [1], [3], [2, 3], [0, 2], [1, 2, 3], [0, 1, 2, 3], []] {
                // Values 4/48 apart in a random order: no two within the step of each other,
                // so the differences never move the maximum or minimum to another element.
                let order = rng.array(shape.count, 0, 1).enumerated().sorted { $0.element < $1.element }.map(\.offset)
                let x = Tensor(shape: shape, scalars: order.map { Float($0) * 4 / Float(shape.count) - 2 })
                let y = checkGradient("\(kind) over \(axes)", [x], rng: &rng, forward: { Reduce.forward(kind, $0[0], axes: axes) }) { dy, x in
                    [Reduce.backward(kind, outputGradient: dy, input: x[0], output: Reduce.forward(kind, x[0], axes: axes), axes: axes)]
                }
                XCTAssertEqual(y.shape, Reduce.keptShape(shape, axes: axes))
            }
        }
    }

    /// Gather at repeated, unordered positions: backward sums the repeats.
    func testGatherGradient() {
        let shape: Shape = [2, 5, 3]
        let x = Tensor(shape: shape, scalars: rng.array(shape.count, -1, 1).map(Float.init))
        let (indices, indexShape): ([Int], Shape) = ([4, 0, 4, 2], [2, 2])
        let y = checkGradient("gather", [x], rng: &rng, forward: { Gather.forward($0[0], axis: 1, indices: indices, indexShape: indexShape) }) { dy, _ in
            [Gather.backward(outputGradient: dy, inputShape: shape, axis: 1, indices: indices)]
        }
        XCTAssertEqual(y.shape, [2, 2, 2, 3])
    }

    /// Resize, linear, nearest and cubic (exclude_outside, antialias, tf_crop_and_resize), up and
    /// down: backward spreads each gradient over its taps.
    func testResizeGradient() {
        let shape: Shape = [1, 2, 3, 4]
        let x = Tensor(shape: shape, scalars: rng.array(shape.count, -1, 1).map(Float.init))
        typealias Form = (Resize.Mode, Resize.CoordinateMode, (Int, Int), (Double, Double), Resize.Filter, (Double, Double))
        let forms: [Form] = [(.linear, .halfPixel, (5, 7), (5.0 / 3, 7.0 / 4), .init(), (0, 1)),
                             (.linear, .alignCorners, (2, 3), (2.0 / 3, 3.0 / 4), .init(), (0, 1)),
                             (.nearest, .asymmetric, (6, 8), (2.0, 2.0), .init(), (0, 1)),
                             (.cubic, .halfPixel, (5, 7), (5.0 / 3, 7.0 / 4), .init(), (0, 1)),
                             (.cubic, .asymmetric, (4, 6), (4.0 / 3, 1.5), .init(cubicCoefficient: -0.5, excludeOutside: true), (0, 1)),
                             (.linear, .halfPixel, (2, 2), (2.0 / 3, 0.5), .init(antialias: true), (0, 1)),
                             (.cubic, .pytorchHalfPixel, (2, 3), (2.0 / 3, 0.75), .init(antialias: true), (0, 1)),
                             (.linear, .tfCropAndResize, (4, 5), (4.0 / 3, 1.25), .init(), (-0.2, 1.1))]
        for (mode, coordinates, out, scale, filter, roi) in forms {
            let rows = Resize.taps(input: 3, output: out.0, scale: scale.0, mode: mode, coordinates: coordinates, nearest: .roundPreferFloor,
                                   filter: filter, roi: roi)
            let columns = Resize.taps(input: 4, output: out.1, scale: scale.1, mode: mode, coordinates: coordinates, nearest: .roundPreferFloor,
                                      filter: filter, roi: roi)
            let y = checkGradient("resize \(mode) \(coordinates) \(filter)", [x], rng: &rng,
                                  forward: { Resize.forward($0[0], rows: rows, columns: columns) }) { dy, _ in
                [Resize.backward(outputGradient: dy, inputShape: shape, rows: rows, columns: columns)]
            }
            XCTAssertEqual(y.shape, [1, 2, out.0, out.1])
        }
    }

    /// Dilated average pooling (ONNX opset 19), with and without counting the padding.
    func testDilatedAvgPoolGradient() {
        let shape: Shape = [1, 2, 7, 6]
        let x = Tensor(shape: shape, scalars: rng.array(shape.count, -1, 1).map(Float.init))
        for include in [true, false] {
            for win in [Window2D(kernel: Size2D(2), stride: Size2D(1), dilation: Size2D(2), padding: Padding2D(1), ceilMode: true),
                        Window2D(kernel: Size2D(2, 3), stride: Size2D(1, 2), dilation: Size2D(1, 2), padding: Padding2D(top: 0, left: 1, bottom: 1, right: 1))] {
                checkGradient("dilated avgpool \(win) include \(include)", [x], rng: &rng,
                              forward: { AvgPool2D.forward($0[0], window: win, countIncludePad: include) }) { dy, _ in
                    [AvgPool2D.backward(outputGradient: dy, inputShape: shape, window: win, countIncludePad: include)]
                }
            }
        }
    }
}
