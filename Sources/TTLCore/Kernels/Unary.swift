// Shared machinery of the elementwise activations: each activation file gives a
// scalar forward and a scalar derivative; these run them over a tensor in parallel.

extension Tensor {
    /// `f` applied to every element, in parallel for large tensors. Any shape.
    @inlinable
    public func map(_ f: (Float) -> Float) -> Tensor {
        withUnsafeBufferPointer { x in
            Tensor(uninitialized: shape) { y in
                parallelChunks(x.count) { r in
                    for i in r { y[i] = f(x[i]) }
                }
            }
        }
    }

    /// `f(self[i], other[i])` for tensors of one shape, in parallel for large tensors.
    @inlinable
    public func zipMap(_ other: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(shape == other.shape, "elementwise shapes differ: \(shape) vs \(other.shape)")
        return withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                Tensor(uninitialized: shape) { y in
                    parallelChunks(a.count) { r in
                        for i in r { y[i] = f(a[i], b[i]) }
                    }
                }
            }
        }
    }
}
