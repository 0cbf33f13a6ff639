// Nearest and (bi)linear resizing of the spatial axes of NCHW tensors: ONNX Resize and Upsample
// (https://onnx.ai/onnx/operators/onnx__Resize.html), `torch.nn.functional.interpolate`.
// Each output row (column) reads two input rows (columns) with weights; nearest gives all the
// weight to one. The coordinate mapping follows the ONNX specification's
// `coordinate_transformation_mode` and `nearest_mode`; out-of-range neighbours take the edge
// value, as in the specification's reference implementation and in PyTorch.
import Foundation

/// Nearest or bilinear resizing of H and W.
public enum Resize {
    public enum Mode: String, Sendable { case nearest, linear }
    public enum CoordinateMode: String, Sendable {
        case halfPixel = "half_pixel", halfPixelSymmetric = "half_pixel_symmetric", pytorchHalfPixel = "pytorch_half_pixel"
        case alignCorners = "align_corners", asymmetric
    }
    public enum NearestMode: String, Sendable {
        case roundPreferFloor = "round_prefer_floor", roundPreferCeil = "round_prefer_ceil", floor, ceil
    }

    /// How one output index along one axis reads the input: `(1 − w)·x[i0] + w·x[i1]`.
    public struct Tap: Sendable, Equatable { public var i0: Int, i1: Int, w: Float }

    /// The taps of every output index along an axis of `input` elements resized to `output`
    /// with the given `scale` (the file's scale, or output / input when sizes were given).
    public static func taps(input: Int, output: Int, scale: Double, mode: Mode, coordinates: CoordinateMode,
                            nearest: NearestMode) -> [Tap] {
        // The output's length before flooring, which the specification's reference
        // implementation uses in align_corners and pytorch_half_pixel (the same as `output`
        // when sizes were given).
        let extent = Double(input) * scale
        return (0 ..< output).map { o in
            let x = Double(o)
            let src: Double = switch coordinates {
            case .halfPixel: (x + 0.5) / scale - 0.5
            case .halfPixelSymmetric:
                // The output's extent centred on the input's (opset 19).
                Double(input) / 2 * (1 - Double(output) / (scale * Double(input))) + (x + 0.5) / scale - 0.5
            case .pytorchHalfPixel: abs(extent - 1) < 1e-9 ? -0.5 : (x + 0.5) / scale - 0.5
            case .alignCorners: abs(extent - 1) < 1e-9 ? 0 : x * Double(input - 1) / (extent - 1)
            case .asymmetric: x / scale
            }
            func clamp(_ i: Int) -> Int { Swift.min(Swift.max(i, 0), input - 1) }
            switch mode {
            case .nearest:
                let i: Double = switch nearest {
                case .roundPreferFloor: src == src.rounded(.down) + 0.5 ? src.rounded(.down) : src.rounded()
                case .roundPreferCeil: src == src.rounded(.down) + 0.5 ? src.rounded(.up) : src.rounded()
                case .floor: src.rounded(.down)
                case .ceil: src.rounded(.up)
                }
                let k = clamp(Int(i))
                return Tap(i0: k, i1: k, w: 0)
            case .linear:
                let f = src.rounded(.down)
                return Tap(i0: clamp(Int(f)), i1: clamp(Int(f) + 1), w: Float(src - f))
            }
        }
    }

    /// - Parameters:
    ///   - input: `[N, C, H, W]`
    ///   - rows: one tap per output row (`H_out` of them), `columns` one per output column
    /// - Returns: `[N, C, H_out, W_out]`
    public static func forward(_ input: Tensor, rows: [Tap], columns: [Tap]) -> Tensor {
        let s = input.shape
        precondition(s.rank == 4, "resize takes NCHW, got \(s)")
        let (planes, h, w) = (s[0] * s[1], s[2], s[3])
        return input.withUnsafeBufferPointer { x in
            Tensor(uninitialized: [s[0], s[1], rows.count, columns.count]) { y in
                var o = 0
                for p in 0 ..< planes {
                    let base = p * h * w
                    for r in rows {
                        let (a, b) = (base + r.i0 * w, base + r.i1 * w)
                        for c in columns {
                            let top = x[a + c.i0] + c.w * (x[a + c.i1] - x[a + c.i0])
                            let bottom = x[b + c.i0] + c.w * (x[b + c.i1] - x[b + c.i0])
                            y[o] = top + r.w * (bottom - top)
                            o += 1
                        }
                    }
                }
            }
        }
    }

    /// The input gradient: each output gradient spread back over its (up to) four taps.
    public static func backward(outputGradient dy: Tensor, inputShape s: Shape, rows: [Tap], columns: [Tap]) -> Tensor {
        let (planes, h, w) = (s[0] * s[1], s[2], s[3])
        var dx = Tensor(zeros: s)
        dy.withUnsafeBufferPointer { g in
            dx.withUnsafeMutableBufferPointer { d in
                var o = 0
                for p in 0 ..< planes {
                    let base = p * h * w
                    for r in rows {
                        let (a, b) = (base + r.i0 * w, base + r.i1 * w)
                        for c in columns {
                            let v = g[o]
                            o += 1
                            let (top, bottom) = (v * (1 - r.w), v * r.w)
                            d[a + c.i0] += top * (1 - c.w); d[a + c.i1] += top * c.w
                            d[b + c.i0] += bottom * (1 - c.w); d[b + c.i1] += bottom * c.w
                        }
                    }
                }
            }
        }
        return dx
    }
}
