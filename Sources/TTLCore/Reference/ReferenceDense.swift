extension Reference {
    /// The multi-index of flat position `i` in `s`.
    static func multiIndex(_ i: Int, _ s: Shape) -> [Int] {
        var rest = i
        var index = [Int](repeating: 0, count: s.rank)
        for axis in stride(from: s.rank - 1, through: 0, by: -1) {
            index[axis] = rest % s[axis]
            rest /= s[axis]
        }
        return index
    }

    /// The flat position in `operand` that broadcasting reads for output multi-index `index`.
    static func broadcastSource(_ index: [Int], _ operand: Shape) -> Int {
        let pad = index.count - operand.rank
        var flat = 0
        for axis in 0 ..< operand.rank {
            flat = flat * operand[axis] + (operand[axis] == 1 ? 0 : index[axis + pad])
        }
        return flat
    }

    static func apply<T: ReferenceScalar>(_ op: Binary.Op, _ a: T, _ b: T) -> T {
        switch op {
        case .add: a + b
        case .sub: a - b
        case .mul: a * b
        case .div: a / b
        }
    }

    /// `op` elementwise with NumPy broadcasting; returns the broadcast shape.
    public static func binary<T>(_ op: Binary.Op, _ a: ReferenceTensor<T>, _ b: ReferenceTensor<T>) -> ReferenceTensor<T> {
        let s = Broadcast.shape(a.shape, b.shape)!
        return ReferenceTensor(shape: s, scalars: (0 ..< s.count).map { i in
            let index = multiIndex(i, s)
            return apply(op, a.scalars[broadcastSource(index, a.shape)], b.scalars[broadcastSource(index, b.shape)])
        })
    }

    /// Gradients of ``binary(_:_:_:)`` for `a` and `b`, each summed back to its own shape.
    public static func binaryBackward<T>(_ op: Binary.Op, _ dy: ReferenceTensor<T>, _ a: ReferenceTensor<T>, _ b: ReferenceTensor<T>)
        -> (a: ReferenceTensor<T>, b: ReferenceTensor<T>)
    {
        var da = ReferenceTensor<T>(zeros: a.shape), db = ReferenceTensor<T>(zeros: b.shape)
        for i in 0 ..< dy.shape.count {
            let index = multiIndex(i, dy.shape)
            let ia = broadcastSource(index, a.shape), ib = broadcastSource(index, b.shape)
            let (x, z, g) = (a.scalars[ia], b.scalars[ib], dy.scalars[i])
            switch op {
            case .add: da.scalars[ia] += g; db.scalars[ib] += g
            case .sub: da.scalars[ia] += g; db.scalars[ib] -= g
            case .mul: da.scalars[ia] += g * z; db.scalars[ib] += g * x
            case .div: da.scalars[ia] += g / z; db.scalars[ib] -= g * x / (z * z)
            }
        }
        return (da, db)
    }

    /// Y = alpha · op(A) · op(B) + beta · C, by the triple loop.
    public static func gemm<T>(_ a: ReferenceTensor<T>, _ b: ReferenceTensor<T>, _ c: ReferenceTensor<T>?, _ o: Gemm.Options) -> ReferenceTensor<T> {
        let (m, k, n) = Gemm.dims(a.shape, b.shape, o)
        func opA(_ i: Int, _ j: Int) -> T { o.transposeA ? a.scalars[j * m + i] : a.scalars[i * k + j] }
        func opB(_ i: Int, _ j: Int) -> T { o.transposeB ? b.scalars[j * k + i] : b.scalars[i * n + j] }
        var y = ReferenceTensor<T>(zeros: [m, n])
        for i in 0 ..< m { for j in 0 ..< n {
            var acc = T(0)
            for p in 0 ..< k { acc += opA(i, p) * opB(p, j) }
            y.scalars[i * n + j] = T(o.alpha) * acc + (c.map { T(o.beta) * $0.scalars[broadcastSource([i, j], $0.shape)] } ?? 0)
        } }
        return y
    }

    /// Gradients of ``gemm(_:_:_:_:)`` for A, B and, when `cShape` is given, C, each in its own shape.
    public static func gemmBackward<T>(_ dy: ReferenceTensor<T>, _ a: ReferenceTensor<T>, _ b: ReferenceTensor<T>, cShape: Shape?, _ o: Gemm.Options)
        -> (a: ReferenceTensor<T>, b: ReferenceTensor<T>, c: ReferenceTensor<T>?)
    {
        let (m, k, n) = Gemm.dims(a.shape, b.shape, o)
        var da = ReferenceTensor<T>(zeros: a.shape), db = ReferenceTensor<T>(zeros: b.shape)
        var dc = cShape.map { ReferenceTensor<T>(zeros: $0) }
        for i in 0 ..< m { for j in 0 ..< n {
            let g = dy.scalars[i * n + j]
            for p in 0 ..< k {
                let ia = o.transposeA ? p * m + i : i * k + p
                let ib = o.transposeB ? j * k + p : p * n + j
                da.scalars[ia] += T(o.alpha) * g * b.scalars[ib]
                db.scalars[ib] += T(o.alpha) * g * a.scalars[ia]
            }
            if let s = cShape { dc!.scalars[broadcastSource([i, j], s)] += T(o.beta) * g }
        } }
        return (da, db, dc)
    }

    /// Output element at multi-index i reads input element at i permuted back.
    public static func transpose<T>(_ x: ReferenceTensor<T>, _ perm: [Int]) -> ReferenceTensor<T> {
        let outShape = Shape(perm.map { x.shape[$0] })
        return ReferenceTensor(shape: outShape, scalars: (0 ..< outShape.count).map { i in
            let index = multiIndex(i, outShape)
            var src = [Int](repeating: 0, count: perm.count)
            for (axis, p) in perm.enumerated() { src[p] = index[axis] }
            return x.scalars[zip(src, x.shape.strides).reduce(0) { $0 + $1.0 * $1.1 }]
        })
    }

    /// The gradient of ``transpose(_:_:)``: `dy` transposed by the inverse permutation.
    public static func transposeBackward<T>(_ dy: ReferenceTensor<T>, _ perm: [Int]) -> ReferenceTensor<T> {
        var inverse = perm
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return transpose(dy, inverse)
    }

    /// Softmax along `axis`, each slice normalized by its own maximum first.
    public static func softmax<T>(_ x: ReferenceTensor<T>, axis: Int) -> ReferenceTensor<T> {
        let (outer, len, inner) = Softmax.split(x.shape, axis)
        var y = x
        for o in 0 ..< outer { for i in 0 ..< inner {
            let idx = (0 ..< len).map { (o * len + $0) * inner + i }
            let mx = idx.map { x.scalars[$0] }.max()!
            let z = idx.reduce(T(0)) { $0 + T.exp(x.scalars[$1] - mx) }
            for j in idx { y.scalars[j] = T.exp(x.scalars[j] - mx) / z }
        } }
        return y
    }

    /// dx_j = Σ_i dy_i · ∂y_i/∂x_j with ∂y_i/∂x_j = y_i (δ_ij − y_j), summed explicitly.
    public static func softmaxBackward<T>(_ dy: ReferenceTensor<T>, _ x: ReferenceTensor<T>, axis: Int) -> ReferenceTensor<T> {
        let y = softmax(x, axis: axis)
        let (outer, len, inner) = Softmax.split(x.shape, axis)
        var dx = ReferenceTensor<T>(zeros: x.shape)
        for o in 0 ..< outer { for i in 0 ..< inner {
            let idx = (0 ..< len).map { (o * len + $0) * inner + i }
            for (jj, j) in idx.enumerated() {
                var acc = T(0)
                for (ii, k) in idx.enumerated() { acc += dy.scalars[k] * y.scalars[k] * ((ii == jj ? 1 : 0) - y.scalars[j]) }
                dx.scalars[j] = acc
            }
        } }
        return dx
    }

    /// Mean over rows of −Σ_c q_c log softmax(logits)_c with q = (1 − ε) onehot + ε / C.
    public static func crossEntropy<T>(_ logits: ReferenceTensor<T>, _ labels: [Int], labelSmoothing eps: T) -> T {
        let (n, c) = (logits.shape[0], logits.shape[1])
        let p = softmax(logits, axis: 1)
        var total = T(0)
        for i in 0 ..< n { for j in 0 ..< c {
            let q = eps / T(c) + (j == labels[i] ? 1 - eps : 0)
            total -= q * T.log(p.scalars[i * c + j])
        } }
        return total / T(n)
    }

    /// d loss / d logits = (softmax − q) / N.
    public static func crossEntropyBackward<T>(_ logits: ReferenceTensor<T>, _ labels: [Int], labelSmoothing eps: T) -> ReferenceTensor<T> {
        let (n, c) = (logits.shape[0], logits.shape[1])
        var d = softmax(logits, axis: 1)
        for i in 0 ..< n { for j in 0 ..< c {
            d.scalars[i * c + j] = (d.scalars[i * c + j] - (eps / T(c) + (j == labels[i] ? 1 - eps : 0))) / T(n)
        } }
        return d
    }

    /// Mean over every entry of −t log σ(z) − (1 − t) log(1 − σ(z)), written directly from the
    /// definition (the plain reference for ``BinaryCrossEntropy``).
    public static func binaryCrossEntropy<T>(_ logits: ReferenceTensor<T>, _ targets: ReferenceTensor<T>) -> T {
        var total = T(0)
        for (z, t) in zip(logits.scalars, targets.scalars) {
            let s = 1 / (1 + T.exp(-z))
            total -= t * T.log(s) + (1 - t) * T.log(1 - s)
        }
        return total / T(logits.scalars.count)
    }

    /// d loss / d logits = (σ(z) − t) / (N·C).
    public static func binaryCrossEntropyBackward<T>(_ logits: ReferenceTensor<T>, _ targets: ReferenceTensor<T>) -> ReferenceTensor<T> {
        var d = logits
        let n = T(logits.scalars.count)
        for i in d.scalars.indices { d.scalars[i] = (1 / (1 + T.exp(-logits.scalars[i])) - targets.scalars[i]) / n }
        return d
    }
}
