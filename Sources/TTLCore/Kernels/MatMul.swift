/// Matrix product with batch dimensions (ONNX MatMul, `torch.matmul` of rank ≥ 2 operands):
/// `A [..., M, K] · B [..., K, N] → [..., M, N]`, the batch dimensions broadcast as numpy's.
public enum MatMul {
    /// The output shape, nil when the operands do not fit (ranks below 2, inner dimensions
    /// that differ, batch dimensions that do not broadcast).
    public static func outputShape(_ a: Shape, _ b: Shape) -> Shape? {
        guard a.rank >= 2, b.rank >= 2, a[a.rank - 1] == b[b.rank - 2] else { return nil }
        guard let batch = Broadcast.shape(Shape(Array(a.dimensions.dropLast(2))), Shape(Array(b.dimensions.dropLast(2)))) else { return nil }
        return Shape(batch.dimensions + [a[a.rank - 2], b[b.rank - 1]])
    }

    /// Offsets of each batch matrix of an operand of `shape` in the broadcast batch `batch`.
    static func offsets(_ shape: Shape, batch: Shape) -> [Int] {
        let matrix = shape[shape.rank - 2] * shape[shape.rank - 1]
        let own = Array(shape.dimensions.dropLast(2))
        let padded = [Int](repeating: 1, count: batch.rank - own.count) + own
        var strides = [Int](repeating: 0, count: batch.rank), s = matrix
        for a in stride(from: batch.rank - 1, through: 0, by: -1) {
            strides[a] = padded[a] == 1 ? 0 : s
            s *= padded[a]
        }
        var out: [Int] = [], index = [Int](repeating: 0, count: batch.rank)
        for _ in 0 ..< max(batch.count, 1) {
            out.append(zip(index, strides).reduce(0) { $0 + $1.0 * $1.1 })
            advance(&index, in: batch.dimensions)
        }
        return out
    }

    public static func forward(_ a: Tensor, _ b: Tensor) -> Tensor {
        guard let out = outputShape(a.shape, b.shape) else { preconditionFailure("matmul of \(a.shape) and \(b.shape)") }
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
        var y = Tensor(zeros: out)
        guard out.count > 0 else { return y }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                y.withUnsafeMutableBufferPointer { py in
                    if b.rank == 2 {
                        // One GEMM: A's batch dimensions are rows.
                        BLAS.sgemm(m: a.shape.count / max(k, 1), n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n,
                                   c: py.baseAddress!, ldc: n)
                        return
                    }
                    let batch = Shape(Array(out.dimensions.dropLast(2)))
                    let oa = offsets(a.shape, batch: batch), ob = offsets(b.shape, batch: batch)
                    for i in oa.indices {
                        BLAS.sgemm(m: m, n: n, k: k, a: pa.baseAddress! + oa[i], lda: k, b: pb.baseAddress! + ob[i], ldb: n,
                                   c: py.baseAddress! + i * m * n, ldc: n)
                    }
                }
            }
        }
        return y
    }

    /// Gradients of both operands, in their own shapes (summed over broadcast batch dimensions).
    public static func backward(outputGradient dy: Tensor, _ a: Tensor, _ b: Tensor) -> (a: Tensor, b: Tensor) {
        guard let out = outputShape(a.shape, b.shape), dy.shape == out else { preconditionFailure("matmul backward: \(dy.shape)") }
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
        let batch = Shape(Array(out.dimensions.dropLast(2)))
        let fullA = Shape(batch.dimensions + [m, k]), fullB = Shape(batch.dimensions + [k, n])
        var da = Tensor(zeros: b.rank == 2 ? a.shape : fullA), db = Tensor(zeros: b.rank == 2 ? b.shape : fullB)
        guard out.count > 0 else { return (Tensor(zeros: a.shape), Tensor(zeros: b.shape)) }
        dy.withUnsafeBufferPointer { g in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    da.withUnsafeMutableBufferPointer { pda in
                        db.withUnsafeMutableBufferPointer { pdb in
                            if b.rank == 2 {
                                let rows = a.shape.count / max(k, 1)
                                // dA = dY · Bᵀ, dB = Aᵀ · dY over every row at once.
                                BLAS.sgemm(transposeB: true, m: rows, n: k, k: n, a: g.baseAddress!, lda: n, b: pb.baseAddress!, ldb: n,
                                           c: pda.baseAddress!, ldc: k)
                                BLAS.sgemm(transposeA: true, m: k, n: n, k: rows, a: pa.baseAddress!, lda: k, b: g.baseAddress!, ldb: n,
                                           c: pdb.baseAddress!, ldc: n)
                                return
                            }
                            let oa = offsets(a.shape, batch: batch), ob = offsets(b.shape, batch: batch)
                            for i in oa.indices {
                                let gi = g.baseAddress! + i * m * n
                                BLAS.sgemm(transposeB: true, m: m, n: k, k: n, a: gi, lda: n, b: pb.baseAddress! + ob[i], ldb: n,
                                           c: pda.baseAddress! + i * m * k, ldc: k)
                                BLAS.sgemm(transposeA: true, m: k, n: n, k: m, a: pa.baseAddress! + oa[i], lda: k, b: gi, ldb: n,
                                           c: pdb.baseAddress! + i * k * n, ldc: n)
                            }
                        }
                    }
                }
            }
        }
        if b.rank == 2 { return (da, db) }
        return (Broadcast.sum(da, to: a.shape), Broadcast.sum(db, to: b.shape))
    }
}
