/// Axis permutation (ONNX Transpose, `torch.permute`): output axis i is input axis `permutation[i]`.
public enum Transpose {
    /// The elements of `input` with its axes permuted (a copy, unless the permutation is the identity).
    /// - Parameters:
    ///   - input: any shape `[d0, d1, …]`
    ///   - permutation: a permutation of `0 ..< rank`
    /// - Returns: `[d_perm[0], d_perm[1], …]`
    public static func forward(_ input: Tensor, permutation: [Int]) -> Tensor {
        let s = input.shape
        precondition(permutation.sorted() == Array(0 ..< s.rank), "bad permutation \(permutation) for \(s)")
        let outShape = Shape(permutation.map { s[$0] })
        if permutation == Array(0 ..< s.rank) { return input.reshaped(outShape) }
        let inStrides = s.strides
        let srcStrides = permutation.map { inStrides[$0] }
        let dims = outShape.dimensions
        return input.withUnsafeBufferPointer { x in
            Tensor(uninitialized: outShape) { y in
                guard y.count > 0 else { return }
                let inner = dims[dims.count - 1], innerStride = srcStrides[dims.count - 1]
                let outer = y.count / inner
                var index = [Int](repeating: 0, count: dims.count)
                for run in 0 ..< outer {
                    var src = 0
                    for axis in 0 ..< dims.count - 1 { src += index[axis] * srcStrides[axis] }
                    let dst = run * inner
                    for i in 0 ..< inner { y[dst + i] = x[src + i * innerStride] }
                    advance(&index, in: dims, axes: dims.count - 1)
                }
            }
        }
    }

    /// The gradient is the output gradient transposed back by the inverse permutation.
    public static func backward(outputGradient: Tensor, permutation: [Int]) -> Tensor {
        var inverse = [Int](repeating: 0, count: permutation.count)
        for (i, p) in permutation.enumerated() { inverse[p] = i }
        return forward(outputGradient, permutation: inverse)
    }
}

/// Reshape (ONNX Reshape, `view`): the same elements in another shape; a view, no copy.
public enum Reshape {
    /// `input` viewed in `shape`, which must hold the same number of elements.
    public static func forward(_ input: Tensor, to shape: Shape) -> Tensor { input.reshaped(shape) }
    /// The output gradient viewed in the input's shape.
    public static func backward(outputGradient: Tensor, inputShape: Shape) -> Tensor { outputGradient.reshaped(inputShape) }
}

/// Flatten (ONNX Flatten): `[d0 … d_{axis−1}]` and `[d_axis …]` each collapsed to one axis.
public enum Flatten {
    /// The 2-D shape of `s` flattened at `axis`, which may be negative (counted from the end).
    /// - Returns: `[d0 · … · d_{axis−1}, d_axis · … · d_last]`
    public static func outputShape(_ s: Shape, axis: Int = 1) -> Shape {
        let a = axis < 0 ? axis + s.rank : axis
        precondition(a >= 0 && a <= s.rank, "flatten axis \(axis) for \(s)")
        let outer = s.dimensions[..<a].reduce(1, *)
        return [outer, s.dimensions[a...].reduce(1, *)]
    }
    /// `input` viewed in ``outputShape(_:axis:)``; no copy.
    public static func forward(_ input: Tensor, axis: Int = 1) -> Tensor { input.reshaped(outputShape(input.shape, axis: axis)) }
    /// The output gradient viewed in the input's shape.
    public static func backward(outputGradient: Tensor, inputShape: Shape) -> Tensor { outputGradient.reshaped(inputShape) }
}
