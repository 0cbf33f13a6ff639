// NumPy-style broadcasting for elementwise binary ops and their gradients.
// Shapes align on the right; a dimension of 1 (or a missing one) repeats.
// Adjacent dimensions that broadcast the same way are merged first, so `[N, C, H, W] + [1, C, 1, 1]`
// runs as `[N, C, H·W]` with an inner loop over whole planes.

/// NumPy-style broadcasting: shapes align on the right, and a dimension of 1 (or a missing one) repeats.
public enum Broadcast {
    /// The broadcast shape of `a` and `b`, or nil when they are incompatible.
    public static func shape(_ a: Shape, _ b: Shape) -> Shape? {
        let rank = max(a.rank, b.rank)
        var dims = [Int](repeating: 1, count: rank)
        for i in 0 ..< rank {
            let da = i < rank - a.rank ? 1 : a[i - (rank - a.rank)]
            let db = i < rank - b.rank ? 1 : b[i - (rank - b.rank)]
            guard da == db || da == 1 || db == 1 else { return nil }
            dims[i] = da == 1 ? db : da
        }
        return Shape(dims)
    }

    /// Strides of `operand` read as `output`-shaped: 0 along broadcast axes.
    static func strides(of operand: Shape, in output: Shape) -> [Int] {
        let pad = output.rank - operand.rank
        let own = operand.strides
        return (0 ..< output.rank).map { i in
            i < pad || operand[i - pad] == 1 ? 0 : own[i - pad]
        }
    }

    /// Output dims and per-operand strides with mergeable neighbours merged.
    static func coalesce(_ dims: [Int], _ strides: [[Int]]) -> (dims: [Int], strides: [[Int]]) {
        var d: [Int] = []
        var s: [[Int]] = strides.map { _ in [] }
        for i in 0 ..< dims.count where dims[i] != 1 {
            if let last = d.last,
               strides.indices.allSatisfy({ k in s[k].last! == strides[k][i] * dims[i] }) {
                d[d.count - 1] = last * dims[i]
                for k in strides.indices { s[k][s[k].count - 1] = strides[k][i] }
            } else {
                d.append(dims[i])
                for k in strides.indices { s[k].append(strides[k][i]) }
            }
        }
        if d.isEmpty { return ([1], strides.map { _ in [0] }) }
        return (d, s)
    }

    /// Visits every output element in order: `body(outIndex, offsetA, offsetB, innerCount, strideA, strideB)`
    /// once per innermost run.
    static func forEachRun(_ output: Shape, _ a: Shape, _ b: Shape,
                           _ body: (_ out: Int, _ offA: Int, _ offB: Int, _ n: Int, _ sA: Int, _ sB: Int) -> Void) {
        let (dims, st) = coalesce(output.dimensions, [strides(of: a, in: output), strides(of: b, in: output)])
        let inner = dims[dims.count - 1]
        let outer = dims.dropLast().reduce(1, *)
        var index = [Int](repeating: 0, count: dims.count)
        for run in 0 ..< outer {
            var offA = 0, offB = 0
            for axis in 0 ..< dims.count - 1 { offA += index[axis] * st[0][axis]; offB += index[axis] * st[1][axis] }
            body(run * inner, offA, offB, inner, st[0][dims.count - 1], st[1][dims.count - 1])
            advance(&index, in: dims, axes: dims.count - 1)
        }
    }

    /// Sums `tensor` over the axes along which `target` was broadcast, giving `target`'s shape.
    /// - Parameters:
    ///   - tensor: the broadcast shape
    ///   - target: a shape that broadcasts to `tensor.shape`
    public static func sum(_ tensor: Tensor, to target: Shape) -> Tensor {
        if tensor.shape == target { return tensor }
        precondition(shape(tensor.shape, target) == tensor.shape, "cannot reduce \(tensor.shape) to \(target)")
        var out = Tensor(zeros: target)
        tensor.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in
                forEachRun(tensor.shape, tensor.shape, target) { o, _, offT, n, _, sT in
                    if sT == 0 {
                        var acc: Float = 0
                        for i in 0 ..< n { acc += x[o + i] }
                        y[offT] += acc
                    } else {
                        for i in 0 ..< n { y[offT + i * sT] += x[o + i] }
                    }
                }
            }
        }
        return out.reshaped(target)
    }
}

/// Elementwise binary arithmetic with broadcasting (ONNX Add/Sub/Mul/Div).
public enum Binary {
    /// The arithmetic operation.
    public enum Op: String, Sendable, CaseIterable { case add, sub, mul, div }

    /// Applies `op` elementwise, broadcasting `a` and `b` against each other.
    /// - Parameters: `a` and `b` of broadcast-compatible shapes.
    /// - Returns: the broadcast shape.
    public static func forward(_ op: Op, _ a: Tensor, _ b: Tensor) -> Tensor {
        guard let outShape = Broadcast.shape(a.shape, b.shape) else {
            preconditionFailure("\(op): shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        if a.shape == b.shape {
            switch op {
            case .add: return a.zipMap(b, +)
            case .sub: return a.zipMap(b, -)
            case .mul: return a.zipMap(b, *)
            case .div: return a.zipMap(b, /)
            }
        }
        return a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { z in
                Tensor(uninitialized: outShape) { y in
                    Broadcast.forEachRun(outShape, a.shape, b.shape) { o, oa, ob, n, sa, sb in
                        switch op {
                        case .add: for i in 0 ..< n { y[o + i] = x[oa + i * sa] + z[ob + i * sb] }
                        case .sub: for i in 0 ..< n { y[o + i] = x[oa + i * sa] - z[ob + i * sb] }
                        case .mul: for i in 0 ..< n { y[o + i] = x[oa + i * sa] * z[ob + i * sb] }
                        case .div: for i in 0 ..< n { y[o + i] = x[oa + i * sa] / z[ob + i * sb] }
                        }
                    }
                }
            }
        }
    }

    /// Gradients with respect to `a` and `b`, each reduced back to its own shape.
    /// - Parameter outputGradient: the broadcast shape
    public static func backward(_ op: Op, outputGradient dy: Tensor, _ a: Tensor, _ b: Tensor) -> (a: Tensor, b: Tensor) {
        switch op {
        case .add:
            return (Broadcast.sum(dy, to: a.shape), Broadcast.sum(dy, to: b.shape))
        case .sub:
            return (Broadcast.sum(dy, to: a.shape), Broadcast.sum(dy, to: b.shape).map { -$0 })
        case .mul:
            return (Broadcast.sum(forward(.mul, dy, b), to: a.shape), Broadcast.sum(forward(.mul, dy, a), to: b.shape))
        case .div:
            // d(a/b)/db = −a/b²  =  −(a/b)/b
            let quotient = forward(.div, dy, b)
            let db = forward(.div, forward(.mul, quotient, a), b).map { -$0 }
            return (Broadcast.sum(quotient, to: a.shape), Broadcast.sum(db, to: b.shape))
        }
    }
}
