// Broadcasting a tensor out to a larger shape, the building block of the n-ary elementwise
// operations (Sum, Mean, Max, Min), PRelu and Pow.

extension Broadcast {
    /// `tensor` repeated along its broadcast axes to `shape`.
    /// - Parameters:
    ///   - tensor: a shape that broadcasts to `shape`
    ///   - shape: the output shape
    /// - Returns: `shape`
    public static func expand(_ tensor: Tensor, to shape: Shape) -> Tensor {
        if tensor.shape == shape { return tensor }
        precondition(Self.shape(tensor.shape, shape) == shape, "cannot broadcast \(tensor.shape) to \(shape)")
        return tensor.withUnsafeBufferPointer { x in
            Tensor(uninitialized: shape) { y in
                forEachRun(shape, shape, tensor.shape) { o, _, offX, n, _, sX in
                    for i in 0 ..< n { y[o + i] = x[offX + i * sX] }
                }
            }
        }
    }
}
