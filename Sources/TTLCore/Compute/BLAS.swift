// Single-precision GEMM through the system BLAS: OpenBLAS on Linux, Accelerate on macOS.
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

    /// Sets the number of threads BLAS may use (Accelerate chooses its own).
    static func setThreadCount(_ n: Int) {
        #if !canImport(Accelerate)
        openblas_set_num_threads(Int32(n))
        #endif
    }
}
