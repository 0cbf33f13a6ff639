/// Joining tensors along one axis (DenseNet's and Inception's channel concatenation), and its
/// backward: the output gradient cut back into the inputs' pieces. Pure copies, exact.
public enum Concat {
    /// The joined shape, or nil when the ranks or the other dimensions disagree.
    /// - Parameters:
    ///   - shapes: the inputs' shapes, equal except along `axis`
    ///   - axis: `0 ..< rank`
    public static func outputShape(_ shapes: [Shape], axis: Int) -> Shape? {
        guard let first = shapes.first, axis >= 0, axis < first.rank else { return nil }
        var dims = first.dimensions
        dims[axis] = 0
        for s in shapes {
            guard s.rank == first.rank else { return nil }
            for d in 0 ..< s.rank where d != axis && s[d] != first[d] { return nil }
            dims[axis] += s[axis]
        }
        return Shape(dims)
    }

    /// - Parameters:
    ///   - inputs: tensors of equal shape except along `axis`, e.g. `[N, C_i, H, W]`
    ///   - axis: `0 ..< rank`
    /// - Returns: `[N, ΣC_i, H, W]` for `axis` 1
    public static func forward(_ inputs: [Tensor], axis: Int) -> Tensor {
        guard let shape = outputShape(inputs.map(\.shape), axis: axis) else {
            preconditionFailure("concat of \(inputs.map(\.shape)) along axis \(axis)")
        }
        let outer = shape.dimensions[..<axis].reduce(1, *)
        let inner = shape.dimensions[(axis + 1)...].reduce(1, *)
        let rowLength = shape[axis] * inner
        return Tensor(uninitialized: shape) { y in
            var offset = 0
            for t in inputs {
                let piece = t.shape[axis] * inner
                t.withUnsafeBufferPointer { x in
                    for o in 0 ..< outer {
                        (y.baseAddress! + o * rowLength + offset).update(from: x.baseAddress! + o * piece, count: piece)
                    }
                }
                offset += piece
            }
        }
    }

    /// The gradients of the inputs: `outputGradient` cut along `axis` into pieces of `sizes`.
    public static func backward(outputGradient dy: Tensor, sizes: [Int], axis: Int) -> [Tensor] {
        let s = dy.shape
        let outer = s.dimensions[..<axis].reduce(1, *)
        let inner = s.dimensions[(axis + 1)...].reduce(1, *)
        let rowLength = s[axis] * inner
        var offset = 0
        return dy.withUnsafeBufferPointer { g in
            sizes.map { size in
                var dims = s.dimensions
                dims[axis] = size
                let piece = size * inner
                let start = offset
                offset += piece
                return Tensor(uninitialized: Shape(dims)) { x in
                    for o in 0 ..< outer {
                        (x.baseAddress! + o * piece).update(from: g.baseAddress! + o * rowLength + start, count: piece)
                    }
                }
            }
        }
    }
}
