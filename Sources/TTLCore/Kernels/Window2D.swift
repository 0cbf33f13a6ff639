/// A height/width pair (kernel size, stride, dilation).
public struct Size2D: Hashable, Sendable, CustomStringConvertible {
    /// The height component.
    public var h: Int
    /// The width component.
    public var w: Int
    /// A pair of height `h` and width `w`.
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    /// The same value for height and width.
    public init(_ both: Int) { self.init(both, both) }
    public var description: String { "\(h)×\(w)" }
}

/// Zero (or, for max pooling, −∞) padding on each side of a plane; sides may differ,
/// as TF 'SAME' padding and ONNX `pads` produce.
public struct Padding2D: Hashable, Sendable, CustomStringConvertible {
    /// Rows added above and below, columns added left and right, in elements.
    public var top: Int, left: Int, bottom: Int, right: Int
    /// Padding given side by side.
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        self.top = top; self.left = left; self.bottom = bottom; self.right = right
    }
    /// The same padding on all four sides.
    public init(_ all: Int) { self.init(top: all, left: all, bottom: all, right: all) }
    /// Symmetric padding: `h` rows above and below, `w` columns left and right.
    public init(h: Int, w: Int) { self.init(top: h, left: w, bottom: h, right: w) }
    /// No padding.
    public static let zero = Padding2D(0)

    /// TensorFlow's 'SAME' padding for one plane: the output is `ceil(input / stride)`,
    /// and when the total padding is odd the extra row/column goes at the bottom/right.
    public static func same(input: Size2D, kernel: Size2D, stride: Size2D, dilation: Size2D = Size2D(1)) -> Padding2D {
        func split(_ n: Int, _ k: Int, _ s: Int, _ d: Int) -> (Int, Int) {
            let out = (n + s - 1) / s
            let total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            return (total / 2, total - total / 2)
        }
        let (t, b) = split(input.h, kernel.h, stride.h, dilation.h)
        let (l, r) = split(input.w, kernel.w, stride.w, dilation.w)
        return Padding2D(top: t, left: l, bottom: b, right: r)
    }

    /// Whether every side is 0.
    public var isZero: Bool { self == .zero }
    public var description: String { "(t\(top) l\(left) b\(bottom) r\(right))" }
}

/// The geometry shared by convolution and pooling: a window of `kernel` taps spaced by
/// `dilation`, moved by `stride` over a plane padded by `padding`.
public struct Window2D: Hashable, Sendable {
    /// Window size, in taps.
    public var kernel: Size2D
    /// Step between consecutive windows.
    public var stride: Size2D
    /// Spacing of the taps (1: adjacent).
    public var dilation: Size2D
    /// Padding around the input plane.
    public var padding: Padding2D
    /// Pooling only: round the output size up, as PyTorch's and ONNX's `ceil_mode`.
    public var ceilMode: Bool

    /// A window; the defaults are stride 1, dilation 1, no padding and floor rounding.
    public init(kernel: Size2D, stride: Size2D = Size2D(1), dilation: Size2D = Size2D(1),
                padding: Padding2D = .zero, ceilMode: Bool = false) {
        self.kernel = kernel; self.stride = stride; self.dilation = dilation
        self.padding = padding; self.ceilMode = ceilMode
    }

    /// Output extent along one axis; may be ≤ 0 for a window larger than its input.
    /// With `ceilMode`, a last window that would start in the trailing padding is dropped
    /// (PyTorch's rule, also ONNX's since opset 19).
    static func extent(_ n: Int, _ k: Int, _ s: Int, _ d: Int, _ before: Int, _ after: Int, _ ceil: Bool) -> Int {
        // File values reach here: any overflow, or a non-positive step, is an empty output.
        guard s > 0, d > 0, k > 0, n >= 0, before >= 0, after >= 0 else { return 0 }
        let (reach, o1) = d.multipliedReportingOverflow(by: k - 1)
        let (padded, o2) = n.addingReportingOverflow(before)
        let (total, o3) = padded.addingReportingOverflow(after)
        guard !o1, !o2, !o3 else { return 0 }
        let span = total - reach - 1
        if span < 0 { return 0 }
        var out = (ceil ? span / s + (span % s == 0 ? 0 : 1) : span / s) + 1
        if ceil && (out - 1) * s >= n + before { out -= 1 }
        return out
    }

    /// Output height and width for an input plane of `height × width`.
    public func outputSize(height: Int, width: Int) -> Size2D {
        Size2D(Self.extent(height, kernel.h, stride.h, dilation.h, padding.top, padding.bottom, ceilMode),
               Self.extent(width, kernel.w, stride.w, dilation.w, padding.left, padding.right, ceilMode))
    }
}
