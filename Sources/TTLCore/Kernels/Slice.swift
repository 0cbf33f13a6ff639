/// A strided window of a tensor (ONNX Slice, `x[:, a:b:s]`), forward and backward.
public enum Slice {
    /// Per axis: the first index taken, the step between indices (never 0) and how many are
    /// taken. Axes not sliced take everything: start 0, step 1, count = the dimension.
    public struct Window: Hashable, Sendable {
        public var start: [Int], step: [Int], count: [Int]
        public init(start: [Int], step: [Int], count: [Int]) { self.start = start; self.step = step; self.count = count }

        /// ONNX's rule for `starts`, `ends`, `axes`, `steps` on `shape`: negative starts and ends
        /// count from the end, then both are clamped to the axis (for a negative step, the
        /// start to `[0, n-1]` and the end to `[-1, n-1]`); nil when an axis is out of range or
        /// repeated, or a step is 0.
        public init?(shape: Shape, starts: [Int], ends: [Int], axes: [Int], steps: [Int]) {
            let r = shape.rank
            guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else { return nil }
            var start = [Int](repeating: 0, count: r), step = [Int](repeating: 1, count: r), count = shape.dimensions
            var seen = Set<Int>()
            for k in axes.indices {
                let a = axes[k] < 0 ? axes[k] &+ r : axes[k]
                guard a >= 0, a < r, seen.insert(a).inserted, steps[k] != 0, steps[k] != .min else { return nil }
                let n = shape[a], st = steps[k]
                // Adding n ≥ 0 to a negative value cannot overflow.
                var b = starts[k] < 0 ? starts[k] + n : starts[k], e = ends[k] < 0 ? ends[k] + n : ends[k]
                if st > 0 {
                    b = min(max(b, 0), n); e = min(max(e, 0), n)
                    count[a] = e > b ? (e - b - 1) / st + 1 : 0
                } else {
                    b = min(max(b, 0), n - 1); e = min(max(e, -1), n - 1)
                    count[a] = b > e ? (b - e - 1) / -st + 1 : 0
                }
                start[a] = b
                step[a] = st
            }
            self.init(start: start, step: step, count: count)
        }

        public var outputShape: Shape { Shape(count) }
    }

    /// Visits (input offset, output offset, run length, input stride along the run) for every
    /// run of the last axis.
    static func forEachRun(_ shape: Shape, _ w: Window, _ body: (Int, Int, Int, Int) -> Void) {
        let out = w.outputShape
        guard out.count > 0 else { return }
        let strides = shape.strides, r = shape.rank
        guard r > 0 else { body(0, 0, 1, 1); return }
        let inner = w.count[r - 1], innerStride = w.step[r - 1] * strides[r - 1]
        var base = 0
        for a in 0 ..< r { base += w.start[a] * strides[a] }
        var index = [Int](repeating: 0, count: r)
        for run in 0 ..< out.count / inner {
            var src = base
            for a in 0 ..< r - 1 { src += index[a] * w.step[a] * strides[a] }
            body(src, run * inner, inner, innerStride)
            advance(&index, in: w.count, axes: r - 1)
        }
    }

    /// - Parameters:
    ///   - input: any shape
    ///   - window: a window of `input`'s shape
    /// - Returns: `window.outputShape`
    public static func forward(_ input: Tensor, _ window: Window) -> Tensor {
        precondition(window.count.count == input.shape.rank, "slice window of rank \(window.count.count) for \(input.shape)")
        return input.withUnsafeBufferPointer { x in
            Tensor(uninitialized: window.outputShape) { y in
                forEachRun(input.shape, window) { src, dst, n, stride in
                    for i in 0 ..< n { y[dst + i] = x[src + i * stride] }
                }
            }
        }
    }

    /// The output gradient put back in place, zeros elsewhere.
    public static func backward(outputGradient dy: Tensor, inputShape: Shape, _ window: Window) -> Tensor {
        precondition(dy.shape == window.outputShape, "slice backward: gradient \(dy.shape), window \(window.outputShape)")
        var dx = Tensor(zeros: inputShape)
        dy.withUnsafeBufferPointer { g in
            dx.withUnsafeMutableBufferPointer { d in
                forEachRun(inputShape, window) { src, dst, n, stride in
                    for i in 0 ..< n { d[src + i * stride] = g[dst + i] }
                }
            }
        }
        return dx
    }
}
