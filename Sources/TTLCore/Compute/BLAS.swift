// Single-precision GEMM through the system BLAS: OpenBLAS on Linux, Accelerate on macOS.
import Foundation
#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// Row-major single-precision matrix multiply, the one door to BLAS.
public enum BLAS {
    /// `C[M, N] = alpha · op(A) · op(B) + beta · C`, all row-major.
    /// - Parameters:
    ///   - a: `[M, K]`, or `[K, M]` when `transposeA`; leading dimension `lda`
    ///   - b: `[K, N]`, or `[N, K]` when `transposeB`; leading dimension `ldb`
    ///   - c: `[M, N]`, leading dimension `ldc`
    @inlinable
    public static func sgemm(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // BLAS would still scale C by beta; do it here so k == 0 is well defined.
            for i in 0 ..< m { for j in 0 ..< n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        #if canImport(Accelerate)
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    __LAPACK_int(m), __LAPACK_int(n), __LAPACK_int(k), alpha, a, __LAPACK_int(lda),
                    b, __LAPACK_int(ldb), beta, c, __LAPACK_int(ldc))
        #else
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
        #endif
    }

    /// ``sgemm(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)`` in double precision
    /// (the L-BFGS head fit, whose convergence float32 sums would blur).
    @inlinable
    public static func dgemm(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Double = 1,
        a: UnsafePointer<Double>, lda: Int,
        b: UnsafePointer<Double>, ldb: Int,
        beta: Double = 0,
        c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            for i in 0 ..< m { for j in 0 ..< n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        #if canImport(Accelerate)
        cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    __LAPACK_int(m), __LAPACK_int(n), __LAPACK_int(k), alpha, a, __LAPACK_int(lda),
                    b, __LAPACK_int(ldb), beta, c, __LAPACK_int(ldc))
        #else
        cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
        #endif
    }

    /// Which BLAS this is and, for OpenBLAS, the CPU kernel it picked (`Haswell`, `SkylakeX`, …).
    public static var implementation: String {
        #if canImport(Accelerate)
        return "Accelerate"
        #else
        let core = openblas_get_corename().map { String(cString: $0) } ?? "?"
        let config = openblas_get_config().map { String(cString: $0) } ?? ""
        return "OpenBLAS \(config.trimmingCharacters(in: .whitespaces)) core=\(core)"
        #endif
    }

    /// Runs `body` with BLAS limited to `n` threads, then restores ``ComputeThreads/count``.
    /// Used when ttl's own threads each call BLAS on separate work, so that BLAS's thread
    /// pool does not compete with them for the cores.
    public static func withThreadCount<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
        let restore = ComputeThreads.count
        setThreadCount(n)
        defer { setThreadCount(restore) }
        return try body()
    }

    /// Sets the number of threads BLAS may use (Accelerate chooses its own).
    static func setThreadCount(_ n: Int) {
        #if !canImport(Accelerate)
        openblas_set_num_threads(Int32(n))
        #endif
    }
}
