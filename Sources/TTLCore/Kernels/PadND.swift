// Padding of any axes of a tensor of any rank in ONNX Pad's modes
// (https://onnx.ai/onnx/operators/onnx__Pad.html): constant, reflect (numpy's: the edge is not
// repeated), edge (repeat the edge) and wrap. Negative pads crop. Pad2D is the fast 4-D
// constant-mode case of H and W; this is the general one.

/// Pads (or crops) every axis of a tensor.
public enum PadND {
    public enum Mode: String, Sendable, CaseIterable { case constant, reflect, edge, wrap }

    /// Elements added before and after each axis (negative: removed).
    public struct Options: Sendable, Equatable {
        public var before: [Int], after: [Int]
        public var mode: Mode
        /// The value of added elements in constant mode.
        public var value: Float
        public init(before: [Int], after: [Int], mode: Mode = .constant, value: Float = 0) {
            self.before = before; self.after = after; self.mode = mode; self.value = value
        }
    }

    /// The padded shape, or nil when an axis would become negative, the sizes overflow, or a
    /// non-constant mode pads an empty axis (reflect needs pads smaller than the axis), or the
    /// result exceeds `Shape.maximumElementCount`.
    public static func shape(_ s: Shape, _ o: Options) -> Shape? {
        guard o.before.count == s.rank, o.after.count == s.rank else { return nil }
        var dims: [Int] = []
        for axis in 0 ..< s.rank {
            let (a, o1) = s[axis].addingReportingOverflow(o.before[axis])
            let (d, o2) = a.addingReportingOverflow(o.after[axis])
            guard !o1, !o2, d >= 0 else { return nil }
            let pads = o.before[axis] > 0 || o.after[axis] > 0
            if pads && o.mode != .constant && s[axis] == 0 { return nil }
            if o.mode == .reflect && max(o.before[axis], o.after[axis]) >= s[axis] && pads { return nil }
            dims.append(d)
        }
        return try? Shape(checking: dims)
    }

    /// Per axis, the source index of each output position (−1: a constant-mode pad).
    static func sourceIndices(_ s: Shape, _ out: Shape, _ o: Options) -> [[Int]] {
        (0 ..< s.rank).map { axis in
            let n = s[axis]
            return (0 ..< out[axis]).map { i in
                let src = i - o.before[axis]
                if src >= 0 && src < n { return src }
                switch o.mode {
                case .constant: return -1
                case .edge: return src < 0 ? 0 : n - 1
                case .wrap: return ((src % n) + n) % n
                case .reflect:
                    if n == 1 { return 0 }
                    let period = 2 * (n - 1)
                    var r = ((src % period) + period) % period
                    if r > n - 1 { r = period - r }
                    return r
                }
            }
        }
    }

    /// - Parameter x: any shape; `o.before`/`o.after` have one entry per axis
    /// - Returns: ``shape(_:_:)``
    public static func forward(_ x: Tensor, _ o: Options) -> Tensor {
        guard let out = shape(x.shape, o) else { preconditionFailure("cannot pad \(x.shape) by \(o)") }
        let map = sourceIndices(x.shape, out, o)
        let strides = x.shape.strides
        return x.withUnsafeBufferPointer { xv in
            Tensor(uninitialized: out) { y in
                var k = 0
                forEachSource(out, map, strides) { src in
                    y[k] = src < 0 ? o.value : xv[src]
                    k += 1
                }
            }
        }
    }

    /// Each input element's gradient: the sum of the gradients of the outputs it was copied to.
    public static func backward(outputGradient dy: Tensor, inputShape: Shape, _ o: Options) -> Tensor {
        let map = sourceIndices(inputShape, dy.shape, o)
        var dx = Tensor(zeros: inputShape)
        dy.withUnsafeBufferPointer { g in
            dx.withUnsafeMutableBufferPointer { d in
                var k = 0
                forEachSource(dy.shape, map, inputShape.strides) { src in
                    if src >= 0 { d[src] += g[k] }
                    k += 1
                }
            }
        }
        return dx
    }

    /// Visits the output positions in row-major order with the flat input index each reads (−1: padding).
    static func forEachSource(_ out: Shape, _ map: [[Int]], _ strides: [Int], _ body: (Int) -> Void) {
        guard out.count > 0 else { return }
        if out.rank == 0 { body(0); return }
        var index = [Int](repeating: 0, count: out.rank)
        for _ in 0 ..< out.count {
            var src = 0
            for axis in 0 ..< out.rank {
                let s = map[axis][index[axis]]
                if s < 0 { src = -1; break }
                src += s * strides[axis]
            }
            body(src)
            var axis = out.rank - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < out[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
    }
}
