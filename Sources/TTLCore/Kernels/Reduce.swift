// Reductions over any set of axes: ONNX ReduceSum, ReduceMean, ReduceMax and ReduceMin
// (https://onnx.ai/onnx/operators/onnx__ReduceMean.html). The kernel keeps the reduced axes as
// size 1 (keepdims); dropping them is a reshape, done by the operation.

/// Sum, mean, maximum or minimum of a tensor over some of its axes.
public enum Reduce {
    /// The reduction.
    public enum Kind: String, Sendable, CaseIterable { case sum, mean, max, min }

    /// The shape of the reduction with the reduced axes kept as 1.
    /// - Parameters:
    ///   - s: the input shape `[d0, d1, …]`
    ///   - axes: distinct axes in `0 ..< rank`
    /// - Returns: `s` with `d_a = 1` for every `a` in `axes`
    public static func keptShape(_ s: Shape, axes: [Int]) -> Shape {
        var dims = s.dimensions
        for a in axes { dims[a] = 1 }
        return Shape(dims)
    }

    /// For each input element, in order, the index of the output element it reduces into:
    /// the input's multi-index with the reduced axes set to 0, in the kept shape's strides.
    static func outputIndices(_ s: Shape, axes: [Int]) -> [Int] {
        let kept = keptShape(s, axes: axes)
        var strides = kept.strides
        for a in axes { strides[a] = 0 }
        let dims = s.dimensions
        var result = [Int](repeating: 0, count: s.count)
        guard s.count > 0 else { return result }
        var index = [Int](repeating: 0, count: dims.count)
        var offset = 0
        for i in 0 ..< s.count {
            result[i] = offset
            // Advance the multi-index (last axis fastest), keeping `offset` in step.
            var axis = dims.count - 1
            while axis >= 0 {
                index[axis] += 1
                offset += strides[axis]
                if index[axis] < dims[axis] { break }
                offset -= strides[axis] * dims[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }

    /// The reduction of `input` over `axes`.
    /// - Parameters:
    ///   - input: any shape `[d0, d1, …]` with no empty dimension
    ///   - axes: distinct axes in `0 ..< rank` (empty: the input unchanged)
    /// - Returns: ``keptShape(_:axes:)``
    public static func forward(_ kind: Kind, _ input: Tensor, axes: [Int]) -> Tensor {
        let s = input.shape
        precondition(Set(axes).count == axes.count && axes.allSatisfy { $0 >= 0 && $0 < s.rank }, "bad axes \(axes) for \(s)")
        let outShape = keptShape(s, axes: axes)
        let map = outputIndices(s, axes: axes)
        let initial: Float = switch kind {
        case .sum, .mean: 0
        case .max: -.infinity
        case .min: .infinity
        }
        var y = Tensor(repeating: initial, shape: outShape)
        input.withUnsafeBufferPointer { x in
            y.withUnsafeMutableBufferPointer { out in
                switch kind {
                case .sum, .mean: for i in 0 ..< x.count { out[map[i]] += x[i] }
                // A NaN wins, as in numpy and onnxruntime.
                case .max: for i in 0 ..< x.count where !(x[i] <= out[map[i]]) { out[map[i]] = x[i] }
                case .min: for i in 0 ..< x.count where !(x[i] >= out[map[i]]) { out[map[i]] = x[i] }
                }
            }
        }
        if kind == .mean, outShape.count > 0 {
            let n = Float(s.count / outShape.count)
            y = y.map { $0 / n }
        }
        return y
    }

    /// The gradient of the input. Sum passes the output gradient to every element reduced into
    /// it, mean the same divided by the count; max and min give it to the first element (in
    /// memory order) equal to the extreme, as PyTorch's `max(dim)` does through its index.
    /// - Parameters:
    ///   - outputGradient: ``keptShape(_:axes:)``
    ///   - input: the forward input
    ///   - output: the forward output (kept shape)
    /// - Returns: the input's shape
    public static func backward(_ kind: Kind, outputGradient dy: Tensor, input: Tensor, output y: Tensor, axes: [Int]) -> Tensor {
        let s = input.shape
        let map = outputIndices(s, axes: axes)
        let scale: Float = kind == .mean && y.count > 0 ? 1 / Float(s.count / y.count) : 1
        return dy.withUnsafeBufferPointer { g in
            input.withUnsafeBufferPointer { x in
                y.withUnsafeBufferPointer { yv in
                    Tensor(uninitialized: s) { dx in
                        switch kind {
                        case .sum, .mean:
                            for i in 0 ..< dx.count { dx[i] = g[map[i]] * scale }
                        case .max, .min:
                            var taken = [Bool](repeating: false, count: yv.count)
                            for i in 0 ..< dx.count {
                                let o = map[i]
                                if !taken[o] && (x[i] == yv[o] || (x[i].isNaN && yv[o].isNaN)) {
                                    dx[i] = g[o]
                                    taken[o] = true
                                } else {
                                    dx[i] = 0
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
