// Gather at constant indices along one axis (ONNX Gather, https://onnx.ai/onnx/operators/onnx__Gather.html;
// `torch.index_select`), for indices that are no strided slice.

/// Picks entries of one axis at given positions; the positions may repeat and come in any order.
public enum Gather {
    /// The output shape: the axis replaced by the indices' shape.
    /// - Parameters:
    ///   - s: the input `[d0, …, d_axis, …]`
    ///   - indexShape: the indices' shape (rank 0 removes the axis)
    /// - Returns: `[d0, …, d_{axis−1}, indexShape…, d_{axis+1}, …]`
    public static func outputShape(_ s: Shape, axis: Int, indexShape: Shape) -> Shape {
        Shape(Array(s.dimensions[..<axis]) + indexShape.dimensions + Array(s.dimensions[(axis + 1)...]))
    }

    /// - Parameters:
    ///   - input: any shape with `axis` in range
    ///   - indices: positions in `0 ..< d_axis`, row-major over `indexShape`
    /// - Returns: ``outputShape(_:axis:indexShape:)``
    public static func forward(_ input: Tensor, axis: Int, indices: [Int], indexShape: Shape) -> Tensor {
        let s = input.shape
        precondition(indices.count == indexShape.count && indices.allSatisfy { $0 >= 0 && $0 < s[axis] }, "bad gather indices for \(s)")
        let outer = s.dimensions[..<axis].reduce(1, *), inner = s.dimensions[(axis + 1)...].reduce(1, *), dim = s[axis]
        return input.withUnsafeBufferPointer { x in
            Tensor(uninitialized: outputShape(s, axis: axis, indexShape: indexShape)) { y in
                var o = 0
                for b in 0 ..< outer {
                    for j in indices {
                        let src = (b * dim + j) * inner
                        for i in 0 ..< inner { y[o + i] = x[src + i] }
                        o += inner
                    }
                }
            }
        }
    }

    /// The input gradient: each output gradient added back at its position (repeated positions sum).
    public static func backward(outputGradient dy: Tensor, inputShape s: Shape, axis: Int, indices: [Int]) -> Tensor {
        let outer = s.dimensions[..<axis].reduce(1, *), inner = s.dimensions[(axis + 1)...].reduce(1, *), dim = s[axis]
        var dx = Tensor(zeros: s)
        dy.withUnsafeBufferPointer { g in
            dx.withUnsafeMutableBufferPointer { d in
                var o = 0
                for b in 0 ..< outer {
                    for j in indices {
                        let dst = (b * dim + j) * inner
                        for i in 0 ..< inner { d[dst + i] += g[o + i] }
                        o += inner
                    }
                }
            }
        }
        return dx
    }
}
