import TTLCore
import XCTest
import _TestSupport

/// The backward of ReduceSum/Mean/Max/Min over several axis sets, of Gather and of Resize, against central finite
/// differences (float32 with a step of 1e-2, the objective summed in Float64, as in
/// `NewKernelGradientTests`). Their forward is checked against the onnx package's numpy
/// references by the ONNX backend node cases (`ONNXBackendTests.testNodeCases`).
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
                let y = Reduce.forward(kind, x, axes: axes)
                XCTAssertEqual(y.shape, Reduce.keptShape(shape, axes: axes))
                let dy = Tensor(shape: y.shape, scalars: rng.array(y.count, -1, 1).map(Float.init))
                let analytic = Reduce.backward(kind, outputGradient: dy, input: x, output: y, axes: axes)
                let h: Float = 1e-2
                func objective(_ t: Tensor) -> Double { zip(Reduce.forward(kind, t, axes: axes).scalars, dy.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
                var numeric: [Double] = []
                for i in 0 ..< x.count {
                    var p = x.scalars, m = x.scalars
                    p[i] += h; m[i] -= h
                    numeric.append((objective(Tensor(shape: shape, scalars: p)) - objective(Tensor(shape: shape, scalars: m))) / (2 * Double(h)))
                }
                let c = closeness(analytic.scalars.map(Double.init), numeric, atol: 2e-3, rtol: 2e-2)
                XCTAssertTrue(c.passes, "\(kind) over \(axes): \(c)")
            }
        }
    }

    /// Gather at repeated, unordered positions: backward sums the repeats.
    func testGatherGradient() {
        let shape: Shape = [2, 5, 3]
        let x = Tensor(shape: shape, scalars: rng.array(shape.count, -1, 1).map(Float.init))
        let (indices, indexShape): ([Int], Shape) = ([4, 0, 4, 2], [2, 2])
        let y = Gather.forward(x, axis: 1, indices: indices, indexShape: indexShape)
        XCTAssertEqual(y.shape, [2, 2, 2, 3])
        let dy = Tensor(shape: y.shape, scalars: rng.array(y.count, -1, 1).map(Float.init))
        let analytic = Gather.backward(outputGradient: dy, inputShape: shape, axis: 1, indices: indices)
        let h: Float = 1e-2
        func objective(_ t: Tensor) -> Double {
            zip(Gather.forward(t, axis: 1, indices: indices, indexShape: indexShape).scalars, dy.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        var numeric: [Double] = []
        for i in 0 ..< x.count {
            var p = x.scalars, m = x.scalars
            p[i] += h; m[i] -= h
            numeric.append((objective(Tensor(shape: shape, scalars: p)) - objective(Tensor(shape: shape, scalars: m))) / (2 * Double(h)))
        }
        let c = closeness(analytic.scalars.map(Double.init), numeric, atol: 2e-3, rtol: 2e-2)
        XCTAssertTrue(c.passes, "gather: \(c)")
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
            let y = Resize.forward(x, rows: rows, columns: columns)
            XCTAssertEqual(y.shape, [1, 2, out.0, out.1])
            let dy = Tensor(shape: y.shape, scalars: rng.array(y.count, -1, 1).map(Float.init))
            let analytic = Resize.backward(outputGradient: dy, inputShape: shape, rows: rows, columns: columns)
            let h: Float = 1e-2
            func objective(_ t: Tensor) -> Double {
                zip(Resize.forward(t, rows: rows, columns: columns).scalars, dy.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            }
            var numeric: [Double] = []
            for i in 0 ..< x.count {
                var p = x.scalars, m = x.scalars
                p[i] += h; m[i] -= h
                numeric.append((objective(Tensor(shape: shape, scalars: p)) - objective(Tensor(shape: shape, scalars: m))) / (2 * Double(h)))
            }
            let c = closeness(analytic.scalars.map(Double.init), numeric, atol: 2e-3, rtol: 2e-2)
            XCTAssertTrue(c.passes, "resize \(mode) \(coordinates) \(filter): \(c)")
        }
    }

    /// Dilated average pooling (ONNX opset 19), with and without counting the padding.
    func testDilatedAvgPoolGradient() {
        let shape: Shape = [1, 2, 7, 6]
        let x = Tensor(shape: shape, scalars: rng.array(shape.count, -1, 1).map(Float.init))
        for include in [true, false] {
            for win in [Window2D(kernel: Size2D(2), stride: Size2D(1), dilation: Size2D(2), padding: Padding2D(1), ceilMode: true),
                        Window2D(kernel: Size2D(2, 3), stride: Size2D(1, 2), dilation: Size2D(1, 2), padding: Padding2D(top: 0, left: 1, bottom: 1, right: 1))] {
                let y = AvgPool2D.forward(x, window: win, countIncludePad: include)
                let dy = Tensor(shape: y.shape, scalars: rng.array(y.count, -1, 1).map(Float.init))
                let analytic = AvgPool2D.backward(outputGradient: dy, inputShape: shape, window: win, countIncludePad: include)
                let h: Float = 1e-2
                func objective(_ t: Tensor) -> Double {
                    zip(AvgPool2D.forward(t, window: win, countIncludePad: include).scalars, dy.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
                }
                var numeric: [Double] = []
                for i in 0 ..< x.count {
                    var p = x.scalars, m = x.scalars
                    p[i] += h; m[i] -= h
                    numeric.append((objective(Tensor(shape: shape, scalars: p)) - objective(Tensor(shape: shape, scalars: m))) / (2 * Double(h)))
                }
                let c = closeness(analytic.scalars.map(Double.init), numeric, atol: 2e-3, rtol: 2e-2)
                XCTAssertTrue(c.passes, "dilated avgpool \(win) include \(include): \(c)")
            }
        }
    }
}
