// Resizing of the spatial axes of NCHW tensors: ONNX Resize and Upsample
// (https://onnx.ai/onnx/operators/onnx__Resize.html), `torch.nn.functional.interpolate`.
// Resizing is separable: each output row (column) is a weighted sum of a few input rows
// (columns), its taps. Nearest reads one, linear two, cubic four; antialiased linear and cubic
// downsampling widen the filter by 1 / scale. The coordinate mapping, the choice of taps and
// their weights follow the specification's reference implementation
// (onnx/reference/ops/op_resize.py: `_interpolate_1d_along_axis` and the `_*_coeffs` functions):
// out-of-range taps take the edge value, or are dropped and the rest renormalised with
// `exclude_outside`; tf_crop_and_resize outputs whose source lies outside the input take the
// extrapolation value.
import Foundation

/// Nearest, (bi)linear and (bi)cubic resizing of H and W.
public enum Resize {
    public enum Mode: String, Sendable { case nearest, linear, cubic }
    public enum CoordinateMode: String, Sendable {
        case halfPixel = "half_pixel", halfPixelSymmetric = "half_pixel_symmetric", pytorchHalfPixel = "pytorch_half_pixel"
        case alignCorners = "align_corners", asymmetric
        case tfCropAndResize = "tf_crop_and_resize"
    }
    public enum NearestMode: String, Sendable {
        case roundPreferFloor = "round_prefer_floor", roundPreferCeil = "round_prefer_ceil", floor, ceil
    }
    /// How sizes along several axes keep their ratio (ONNX `keep_aspect_ratio_policy`, opset 18).
    public enum AspectRatioPolicy: String, Sendable { case stretch, notLarger = "not_larger", notSmaller = "not_smaller" }

    /// How the outputs along one axis read the input: output `o` is
    /// `Σ_k weight[o·width + k] · x[index[o·width + k]]`, or the extrapolation value when
    /// `outside[o]` (tf_crop_and_resize beyond the input).
    public struct Taps: Sendable, Equatable {
        /// Taps per output index.
        public var width: Int
        /// Input indices, already clamped to the axis; `output · width` of them.
        public var index: [Int]
        /// The weight of each tap.
        public var weight: [Float]
        /// Outputs that take the extrapolation value.
        public var outside: [Bool]
        /// Output length along the axis.
        public var output: Int { outside.count }
    }

    /// The filter's parameters beyond the mode (ONNX attributes of the same names).
    public struct Filter: Sendable, Equatable {
        /// The cubic kernel's `a` (`cubic_coeff_a`): −0.75 (PyTorch, ONNX) or −0.5 (TensorFlow).
        public var cubicCoefficient: Double
        /// Drop taps outside the input and renormalise the rest (`exclude_outside`).
        public var excludeOutside: Bool
        /// Widen linear and cubic filters when downsampling (`antialias`).
        public var antialias: Bool
        public init(cubicCoefficient: Double = -0.75, excludeOutside: Bool = false, antialias: Bool = false) {
            self.cubicCoefficient = cubicCoefficient; self.excludeOutside = excludeOutside; self.antialias = antialias
        }
    }

    /// Where output index `x` samples the input (the specification's `x_original`), and
    /// whether it lies outside the input (tf_crop_and_resize only). `roi` is the region of
    /// tf_crop_and_resize along the axis, as fractions of the input.
    static func source(_ x: Double, input: Int, output: Int, scale: Double, coordinates: CoordinateMode,
                       roi: (start: Double, end: Double)) -> (Double, Bool) {
        // The output's length before flooring, which the reference implementation uses
        // (the same as `output` when sizes were given).
        let extent = Double(input) * scale
        let n = Double(input)
        // A one-element output (within rounding: sizes give scale = 1 / input).
        let single = abs(extent - 1) < 1e-9
        switch coordinates {
        case .halfPixel: return ((x + 0.5) / scale - 0.5, false)
        case .halfPixelSymmetric:
            // The output's extent centred on the input's (opset 19).
            let adjustment = Double(output) / extent
            return (n / 2 * (1 - adjustment) + (x + 0.5) / scale - 0.5, false)
        case .pytorchHalfPixel: return (single ? -0.5 : (x + 0.5) / scale - 0.5, false)
        case .alignCorners: return (single ? 0 : x * (n - 1) / (extent - 1), false)
        case .asymmetric: return (x / scale, false)
        case .tfCropAndResize:
            var s = single ? (roi.end - roi.start) * (n - 1) / 2 : x * (roi.end - roi.start) * (n - 1) / (extent - 1)
            s += roi.start * (n - 1)
            return (s, s < 0 || s > n - 1)
        }
    }

    /// The weights of the taps around a source coordinate whose distance past its left
    /// neighbour is `ratio` (in (0, 1]: 1 for a source on an input index).
    static func coefficients(_ ratio: Double, scale: Double, mode: Mode, filter: Filter) -> [Double] {
        let a = filter.cubicCoefficient
        switch (mode, filter.antialias) {
        case (.linear, false): return [1 - ratio, ratio]
        case (.cubic, false):
            let (r, q) = (ratio, 1 - ratio)
            return [((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                    ((a + 2) * r - (a + 3)) * r * r + 1,
                    ((a + 2) * q - (a + 3)) * q * q + 1,
                    ((a * (q + 1) - 5 * a) * (q + 1) + 8 * a) * (q + 1) - 4 * a]
        case (.linear, true):
            // The triangle filter stretched by 1 / scale when downsampling.
            let s = Swift.min(scale, 1)
            let start = Int((-1 / s).rounded(.down)) + 1
            let c = (start ..< 2 - start).map { i in Swift.min(Swift.max(1 - abs((Double(i) - ratio) * s), 0), 1) }
            let total = c.reduce(0, +)
            return c.map { $0 / total }
        case (.cubic, true):
            let s = Swift.min(scale, 1)
            func kernel(_ t: Double) -> Double {
                let x = abs(t), x2 = x * x, x3 = x2 * x
                if x <= 1 { return (a + 2) * x3 - (a + 3) * x2 + 1 }
                if x < 2 { return a * x3 - 5 * a * x2 + 8 * a * x - 4 * a }
                return 0
            }
            let start = Int((-2 / s).rounded(.down)) + 1
            let c = (start ..< 2 - start).map { i in kernel(s * (Double(i) - ratio)) }
            let total = c.reduce(0, +)
            return c.map { $0 / total }
        case (.nearest, _): preconditionFailure("nearest taps are chosen, not weighted")
        }
    }

    /// The taps of every output index along an axis of `input` elements resized to `output`
    /// with the given `scale` (the file's scale, or output / input when sizes were given).
    public static func taps(input: Int, output: Int, scale: Double, mode: Mode, coordinates: CoordinateMode,
                            nearest: NearestMode, filter: Filter = Filter(), roi: (start: Double, end: Double) = (0, 1)) -> Taps {
        precondition(input >= 1 && output >= 0, "resize of \(input) to \(output)")
        func clamp(_ i: Int) -> Int { Swift.min(Swift.max(i, 0), input - 1) }
        var taps = Taps(width: mode == .nearest ? 1 : 0, index: [], weight: [], outside: [])
        for o in 0 ..< output {
            let (x, outside) = source(Double(o), input: input, output: output, scale: scale, coordinates: coordinates, roi: roi)
            taps.outside.append(outside)
            if mode == .nearest {
                let i: Double = switch nearest {
                case .roundPreferFloor: x == x.rounded(.down) + 0.5 ? x.rounded(.down) : x.rounded()
                case .roundPreferCeil: x == x.rounded(.down) + 0.5 ? x.rounded(.up) : x.rounded()
                case .floor: x.rounded(.down)
                case .ceil: x.rounded(.up)
                }
                // A non-finite or huge source (a crafted scale) clamps like any other.
                taps.index.append(i.isFinite ? clamp(Int(Swift.max(Swift.min(i, 1e15), -1e15))) : 0)
                taps.weight.append(1)
                continue
            }
            let floorX = x.rounded(.down)
            let ratio = x == floorX ? 1 : x - floorX
            var c = coefficients(ratio, scale: scale, mode: mode, filter: filter)
            let n = c.count
            taps.width = n
            // The n indices nearest to x, ties to the smaller (the reference's window, found in
            // coordinates shifted by ceil(n / 2) exactly as it does).
            let pad = (n + 1) / 2
            let shifted = x + Double(pad)
            let p = shifted.rounded(.down), frac = shifted - p
            let offset = n % 2 == 0 ? (frac == 0 ? -(n / 2) : -(n / 2) + 1) : (frac <= 0.5 ? -((n - 1) / 2) : -((n - 1) / 2) + 1)
            let start = (p.isFinite ? Int(Swift.max(Swift.min(p, 1e15), -1e15)) : 0) + offset - pad
            if filter.excludeOutside {
                for k in 0 ..< n where start + k < 0 || start + k >= input { c[k] = 0 }
                let total = c.reduce(0, +)
                if total != 0 { c = c.map { $0 / total } }
            }
            for k in 0 ..< n {
                taps.index.append(clamp(start + k))
                taps.weight.append(Float(c[k]))
            }
        }
        return taps
    }

    /// Multiply-adds per plane, saturated (sizes come from files).
    static func cost(_ rows: Taps, _ columns: Taps, inputWidth w: Int) -> Int {
        Int(Swift.min(Double(rows.output) * (Double(w) * Double(rows.width) + Double(columns.output) * Double(columns.width)), 1e15))
    }

    /// - Parameters:
    ///   - input: `[N, C, H, W]`
    ///   - rows: the taps of the `H_out` output rows, `columns` those of the `W_out` columns
    ///   - extrapolation: the value of outputs outside the input (tf_crop_and_resize)
    /// - Returns: `[N, C, H_out, W_out]`
    public static func forward(_ input: Tensor, rows: Taps, columns: Taps, extrapolation: Float = 0) -> Tensor {
        let s = input.shape
        precondition(s.rank == 4, "resize takes NCHW, got \(s)")
        let (planes, h, w) = (s[0] * s[1], s[2], s[3])
        let (oh, ow, rn, cn) = (rows.output, columns.output, rows.width, columns.width)
        precondition(rows.index.allSatisfy { $0 < h } && columns.index.allSatisfy { $0 < w }, "taps beyond \(s)")
        return input.withUnsafeBufferPointer { x in
            Tensor(uninitialized: [s[0], s[1], oh, ow]) { y in
                parallelFor(planes, costPerItem: cost(rows, columns, inputWidth: w)) { p in
                    let src = x.baseAddress! + p * h * w, dst = y.baseAddress! + p * oh * ow
                    // Rows first (as the reference resizes axis 2 before axis 3), into [H_out, W].
                    var tmp = [Float](repeating: 0, count: oh * w)
                    tmp.withUnsafeMutableBufferPointer { t in
                        for o in 0 ..< oh where !rows.outside[o] {
                            let row = t.baseAddress! + o * w
                            for k in 0 ..< rn {
                                let (line, wt) = (src + rows.index[o * rn + k] * w, rows.weight[o * rn + k])
                                for c in 0 ..< w { row[c] += wt * line[c] }
                            }
                        }
                        for o in 0 ..< oh {
                            let row = t.baseAddress! + o * w
                            for c in 0 ..< ow {
                                if rows.outside[o] || columns.outside[c] { dst[o * ow + c] = extrapolation; continue }
                                var acc: Float = 0
                                for k in 0 ..< cn { acc += columns.weight[c * cn + k] * row[columns.index[c * cn + k]] }
                                dst[o * ow + c] = acc
                            }
                        }
                    }
                }
            }
        }
    }

    /// The input gradient: each output gradient spread back over its taps (the transpose of
    /// ``forward(_:rows:columns:extrapolation:)``; extrapolated outputs pass nothing back).
    /// - Parameter dy: `[N, C, H_out, W_out]`
    /// - Returns: `inputShape`, `[N, C, H, W]`
    public static func backward(outputGradient dy: Tensor, inputShape s: Shape, rows: Taps, columns: Taps) -> Tensor {
        let (planes, h, w) = (s[0] * s[1], s[2], s[3])
        let (oh, ow, rn, cn) = (rows.output, columns.output, rows.width, columns.width)
        precondition(dy.shape == [s[0], s[1], oh, ow], "resize gradient \(dy.shape) for \(s)")
        var dx = Tensor(zeros: s)
        dy.withUnsafeBufferPointer { g in
            dx.withUnsafeMutableBufferPointer { d in
                parallelFor(planes, costPerItem: cost(rows, columns, inputWidth: w)) { p in
                    let gy = g.baseAddress! + p * oh * ow, dst = d.baseAddress! + p * h * w
                    var tmp = [Float](repeating: 0, count: oh * w)
                    tmp.withUnsafeMutableBufferPointer { t in
                        for o in 0 ..< oh where !rows.outside[o] {
                            let row = t.baseAddress! + o * w
                            for c in 0 ..< ow where !columns.outside[c] {
                                let v = gy[o * ow + c]
                                for k in 0 ..< cn { row[columns.index[c * cn + k]] += columns.weight[c * cn + k] * v }
                            }
                            for k in 0 ..< rn {
                                let (line, wt) = (dst + rows.index[o * rn + k] * w, rows.weight[o * rn + k])
                                for c in 0 ..< w { line[c] += wt * row[c] }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }
}
