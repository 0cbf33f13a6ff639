/// General matrix multiply, ONNX Gemm: `Y = alpha · op(A) · op(B) + beta · C`.
/// A PyTorch `Linear(in, out)` is `Gemm(x, W, b, transposeB: true)` with `W: [out, in]`.
public enum Gemm {
    /// How the operands are read and scaled.
    public struct Options: Hashable, Sendable {
        /// Whether A is stored `[K, M]` rather than `[M, K]`, and B `[N, K]` rather than `[K, N]`.
        public var transposeA: Bool, transposeB: Bool
        /// The factors of `op(A) · op(B)` and of `C`.
        public var alpha: Float, beta: Float
        /// Options; the defaults are ONNX's: no transposes, alpha and beta 1.
        public init(transposeA: Bool = false, transposeB: Bool = false, alpha: Float = 1, beta: Float = 1) {
            self.transposeA = transposeA; self.transposeB = transposeB; self.alpha = alpha; self.beta = beta
        }
    }

    /// (M, K, N) of the product, checking that the operands agree.
    static func dims(_ a: Shape, _ b: Shape, _ o: Options) -> (m: Int, k: Int, n: Int) {
        precondition(a.rank == 2 && b.rank == 2, "gemm wants 2-D operands, got \(a) and \(b)")
        let (m, k) = o.transposeA ? (a[1], a[0]) : (a[0], a[1])
        let (k2, n) = o.transposeB ? (b[1], b[0]) : (b[0], b[1])
        precondition(k == k2, "gemm: inner dimensions differ, \(a) and \(b) with \(o)")
        return (m, k, n)
    }

    /// `alpha · op(A) · op(B) + beta · C` through BLAS.
    /// - Parameters:
    ///   - a: `[M, K]`, or `[K, M]` when `transposeA`
    ///   - b: `[K, N]`, or `[N, K]` when `transposeB`
    ///   - c: broadcastable to `[M, N]` (`[N]`, `[1, N]`, `[M, 1]`, `[M, N]`, a scalar), or nil
    /// - Returns: `[M, N]`
    public static func forward(_ a: Tensor, _ b: Tensor, _ c: Tensor? = nil, options o: Options = Options()) -> Tensor {
        let (m, k, n) = dims(a.shape, b.shape, o)
        var y: Tensor
        if let c, o.beta != 0 {
            precondition(Broadcast.shape(c.shape, [m, n]) == [m, n], "gemm: C \(c.shape) does not broadcast to [\(m), \(n)]")
            y = Binary.forward(.add, Tensor(zeros: [m, n]), c)
            if o.beta != 1 { y = y.map { $0 * o.beta } }
        } else {
            y = Tensor(zeros: [m, n])
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                y.withUnsafeMutableBufferPointer { py in
                    BLAS.sgemm(transposeA: o.transposeA, transposeB: o.transposeB, m: m, n: n, k: k, alpha: o.alpha,
                               a: pa.baseAddress!, lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1],
                               beta: 1, c: py.baseAddress!, ldc: n)
                }
            }
        }
        return y
    }

    /// Gradients of the three operands, in their own shapes (`c` nil when there was none).
    /// - Parameter outputGradient: `[M, N]`
    public static func backward(outputGradient dy: Tensor, _ a: Tensor, _ b: Tensor, cShape: Shape?, options o: Options = Options())
        -> (a: Tensor, b: Tensor, c: Tensor?)
    {
        let (m, k, n) = dims(a.shape, b.shape, o)
        precondition(dy.shape == [m, n], "gemm backward: gradient \(dy.shape), output [\(m), \(n)]")
        var da = Tensor(zeros: a.shape), db = Tensor(zeros: b.shape)
        dy.withUnsafeBufferPointer { g in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    da.withUnsafeMutableBufferPointer { pda in
                        if o.transposeA {
                            // A is [K, M]: dA = alpha · op(B) · dYᵀ
                            BLAS.sgemm(transposeA: o.transposeB, transposeB: true, m: k, n: m, k: n, alpha: o.alpha,
                                       a: pb.baseAddress!, lda: b.shape[1], b: g.baseAddress!, ldb: n, c: pda.baseAddress!, ldc: m)
                        } else {
                            // A is [M, K]: dA = alpha · dY · op(B)ᵀ
                            BLAS.sgemm(transposeA: false, transposeB: !o.transposeB, m: m, n: k, k: n, alpha: o.alpha,
                                       a: g.baseAddress!, lda: n, b: pb.baseAddress!, ldb: b.shape[1], c: pda.baseAddress!, ldc: k)
                        }
                    }
                    db.withUnsafeMutableBufferPointer { pdb in
                        if o.transposeB {
                            // B is [N, K]: dB = alpha · dYᵀ · op(A)
                            BLAS.sgemm(transposeA: true, transposeB: o.transposeA, m: n, n: k, k: m, alpha: o.alpha,
                                       a: g.baseAddress!, lda: n, b: pa.baseAddress!, ldb: a.shape[1], c: pdb.baseAddress!, ldc: k)
                        } else {
                            // B is [K, N]: dB = alpha · op(A)ᵀ · dY
                            BLAS.sgemm(transposeA: !o.transposeA, transposeB: false, m: k, n: n, k: m, alpha: o.alpha,
                                       a: pa.baseAddress!, lda: a.shape[1], b: g.baseAddress!, ldb: n, c: pdb.baseAddress!, ldc: n)
                        }
                    }
                }
            }
        }
        let dc = cShape.map { s in Broadcast.sum(dy, to: s).map { $0 * o.beta } }
        return (da, db, dc)
    }
}
