// Winograd F(4×4, 3×3) on nChw8c, nChw16c or nhwc activations with AVX2 + FMA, its GEMMs
// with AVX-512F where the CPU has it. See ttl_winograd.h.
//
// For a block of tiles: the input transform Bᵀ d B turns each 6×6 input tile of 8 channels
// into 36 vectors, V[α][tile][C]; 36 small GEMMs M[α] = V[α] · U[α] with the transformed
// weights U[α][C][K] (packed in panels of 16 output channels); the output transform Aᵀ m A
// turns the 36 values back into the 4×4 output tile, with bias and post-ops. Blocks of tiles
// go to the OpenMP threads of libgomp (the team oneDNN uses on the engine thread), reached
// through its ABI (GOMP_parallel) because this target is compiled without -fopenmp.
//
// Matrices (Lavin & Gray 2015, interpolation points 0, ±1, ±2):
//   Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
//   G  = [1/4 0 0; −1/6 −1/6 −1/6; −1/6 1/6 −1/6; 1/24 1/12 1/6; 1/24 −1/12 1/6; 0 0 1]
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
#include "ttl_winograd.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__linux__)
#define TTL_WINO_X86 1
#include <dlfcn.h>
#include <immintrin.h>
#include <pthread.h>
#else
#define TTL_WINO_X86 0
#endif

#if TTL_WINO_X86

#define AVX2 __attribute__((target("avx2,fma")))

struct ttl_wino {
    int n, c, h, w, k, oh, ow, pt, pl;
    int iblk, oblk;     // the layouts' channel blocks: 8 (nChw8c), 16 (nChw16c), or all channels (nhwc is nChw{C}c)
    int wide;           // the GEMMs run as AVX-512 12×16 kernels (CPU has AVX-512F), else AVX2 6×16
    int th, tw, tiles;  // tile grid and count
    int tb;             // tiles per block, a multiple of 6
    int by_channels;    // one block of every tile, its output channels split over the threads
    float *u;           // [36][K/16][C][16], or NULL when made per panel as the tiles need it
    float *g8;          // the scaled weights, [K/8][C][9][8], only when u is NULL (panels are made from it)
    float *bias;        // [K], zeros when none
    ttl_act pre, post;
    int sum;
};

/// Floats for a buffer, 64-byte aligned. (Not madvise(MADV_HUGEPAGE): with the kernel's
/// usual `defrag=madvise`, each huge page fault may compact memory first, 4 ms per 2 MiB here.)
static float *floats(size_t count) { return aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64); }

// MARK: - OpenMP through libgomp's ABI

static void (*gomp_parallel)(void (*)(void *), void *, unsigned, unsigned);
static int (*omp_thread_num)(void);
static int (*omp_num_threads)(void);
static int (*omp_max_threads)(void);
static void (*gomp_barrier)(void);
static pthread_once_t gomp_once = PTHREAD_ONCE_INIT;

static void find_gomp(void) {
    gomp_parallel = (void (*)(void (*)(void *), void *, unsigned, unsigned))dlsym(RTLD_DEFAULT, "GOMP_parallel");
    omp_thread_num = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_thread_num");
    omp_num_threads = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_num_threads");
    omp_max_threads = (int (*)(void))dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    gomp_barrier = (void (*)(void))dlsym(RTLD_DEFAULT, "GOMP_barrier");
    if (!omp_thread_num || !omp_num_threads || !omp_max_threads || !gomp_barrier) gomp_parallel = NULL;
}

/// Runs `fn(ctx, thread, threads)` on every thread of the team (or once, inline, without libgomp).
struct team_job {
    void (*fn)(void *, int, int);
    void *ctx;
};

static void team_entry(void *p) {
    struct team_job *j = p;
    j->fn(j->ctx, omp_thread_num(), omp_num_threads());
}

static void on_team(void (*fn)(void *, int, int), void *ctx) {
    pthread_once(&gomp_once, find_gomp);
    if (!gomp_parallel) {
        fn(ctx, 0, 1);
        return;
    }
    struct team_job j = {fn, ctx};
    gomp_parallel(team_entry, &j, 0, 0);
}

static int team_size(void) {
    pthread_once(&gomp_once, find_gomp);
    return gomp_parallel ? omp_max_threads() : 1;
}

// MARK: - Weights

// The weights as creation reads them: OIHW, scaled per output channel.
struct wino_source {
    ttl_wino *w;
    const float *g, *scales;
};

/// The 9 taps of input channel `c` for output channels k0 … k0+7, scaled: [9][8] into `out`.
static inline void gather_unit(const struct wino_source *src, int k0, int c, float *out) {
    const int C = src->w->c;
    for (int l = 0; l < 8; l++) {
        const float *row = src->g + ((size_t)(k0 + l) * C + c) * 9;
        const float s = src->scales ? src->scales[k0 + l] : 1.f;
        for (int t = 0; t < 9; t++) out[t * 8 + l] = row[t] * s;
    }
}

// The weights, scaled, in groups of 8 output channels: g8[K/8][C][9][8], split over the team
// by groups.
static void pack_weights(void *p, int me, int threads) {
    const struct wino_source *src = p;
    ttl_wino *w = src->w;
    const int C = w->c, KB = w->k / 8;
    for (int kb = me; kb < KB; kb += threads)
        for (int c = 0; c < C; c++) gather_unit(src, kb * 8, c, w->g8 + ((size_t)kb * C + c) * 72);
}

/// U = G g Gᵀ for one input channel and 8 output channels (`g`: [9][8]), stored as 36
/// vectors `alpha_stride` floats apart.
AVX2 static inline void transform_unit(const float *g, float *u, size_t alpha_stride) {
    const __m256 q = _mm256_set1_ps(1.f / 4), s6 = _mm256_set1_ps(1.f / 6), s12 = _mm256_set1_ps(1.f / 12),
                 s24 = _mm256_set1_ps(1.f / 24), m6 = _mm256_set1_ps(-1.f / 6);
    __m256 x[3][3], t[6][3];
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) x[a][b] = _mm256_load_ps(g + (a * 3 + b) * 8);
    // t = G x (6×3), then u = t Gᵀ (6×6): the same 3 → 6 map on columns, then on rows.
#define G_MAP(x0, x1, x2, y0, y1, y2, y3, y4, y5)                                              \
    do {                                                                                       \
        __m256 sum02 = _mm256_add_ps(x0, x2);                                                  \
        y0 = _mm256_mul_ps(q, x0);                                                             \
        y1 = _mm256_mul_ps(m6, _mm256_add_ps(sum02, x1));                                      \
        y2 = _mm256_mul_ps(s6, _mm256_sub_ps(x1, sum02));                                      \
        __m256 e = _mm256_fmadd_ps(s24, x0, _mm256_mul_ps(s6, x2)), o = _mm256_mul_ps(s12, x1); \
        y3 = _mm256_add_ps(e, o);                                                              \
        y4 = _mm256_sub_ps(e, o);                                                              \
        y5 = x2;                                                                               \
    } while (0)
    for (int b = 0; b < 3; b++) G_MAP(x[0][b], x[1][b], x[2][b], t[0][b], t[1][b], t[2][b], t[3][b], t[4][b], t[5][b]);
    for (int a = 0; a < 6; a++) {
        __m256 y[6];
        G_MAP(t[a][0], t[a][1], t[a][2], y[0], y[1], y[2], y[3], y[4], y[5]);
        for (int b = 0; b < 6; b++) _mm256_store_ps(u + (size_t)(a * 6 + b) * alpha_stride, y[b]);
    }
#undef G_MAP
}

/// All of U, [36][K/16][C][16], from the weights, split over the team in contiguous runs of
/// (panel, input channel) units. Each unit makes both halves of its 16 output channels before
/// storing, so that every 64-byte line of U is written whole, once, with streaming stores: U
/// (tens of MB for a ResNet-50) is not read again until the first run, and a line written in
/// two halves at different times was read from memory twice first.
AVX2 static void transform_weights(void *p, int me, int threads) {
    const struct wino_source *src = p;
    ttl_wino *w = src->w;
    const int C = w->c, KP = w->k / 16;
    const size_t alpha_stride = (size_t)KP * C * 16;
    float g[72] __attribute__((aligned(32)));
    float t[36 * 16] __attribute__((aligned(64)));
    const int64_t units = (int64_t)KP * C, u0 = units * me / threads, u1 = units * (me + 1) / threads;
    for (int64_t unit = u0; unit < u1; unit++) {
        const int kp = (int)(unit / C), c = (int)(unit % C);
        for (int half = 0; half < 2; half++) {
            gather_unit(src, kp * 16 + half * 8, c, g);
            transform_unit(g, t + half * 8, 16);
        }
        float *dst = w->u + ((size_t)kp * C + c) * 16;
        for (int a = 0; a < 36; a++) {
            _mm256_stream_ps(dst + (size_t)a * alpha_stride, _mm256_load_ps(t + a * 16));
            _mm256_stream_ps(dst + (size_t)a * alpha_stride + 8, _mm256_load_ps(t + a * 16 + 8));
        }
    }
    _mm_sfence();
}

/// One panel of 16 output channels of U, [36][C][16], into `panel`.
AVX2 static void transform_panel(const ttl_wino *w, int kp, float *panel) {
    const int C = w->c;
    for (int half = 0; half < 2; half++)
        for (int c = 0; c < C; c++)
            transform_unit(w->g8 + ((size_t)(2 * kp + half) * C + c) * 72, panel + (size_t)c * 16 + half * 8, (size_t)C * 16);
}

// MARK: - Running

// Bᵀ applied to 6 vectors.
#define BT_MAP(d0, d1, d2, d3, d4, d5, t0, t1, t2, t3, t4, t5)                                \
    do {                                                                                      \
        const __m256 f4 = _mm256_set1_ps(4.f), f5 = _mm256_set1_ps(5.f), f2 = _mm256_set1_ps(2.f); \
        t0 = _mm256_fnmadd_ps(f5, d2, _mm256_fmadd_ps(f4, d0, d4));                             \
        __m256 p = _mm256_fnmadd_ps(f4, d2, d4), r = _mm256_fnmadd_ps(f4, d1, d3);              \
        t1 = _mm256_add_ps(p, r);                                                               \
        t2 = _mm256_sub_ps(p, r);                                                               \
        __m256 s = _mm256_sub_ps(d4, d2), e = _mm256_mul_ps(f2, _mm256_sub_ps(d3, d1));         \
        t3 = _mm256_add_ps(s, e);                                                               \
        t4 = _mm256_sub_ps(s, e);                                                               \
        t5 = _mm256_fnmadd_ps(f5, d3, _mm256_fmadd_ps(f4, d1, d5));                             \
    } while (0)

// Aᵀ applied to 6 vectors.
#define AT_MAP(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3)                            \
    do {                                                                          \
        __m256 s12 = _mm256_add_ps(m1, m2), d12 = _mm256_sub_ps(m1, m2);          \
        __m256 s34 = _mm256_add_ps(m3, m4), d34 = _mm256_sub_ps(m3, m4);          \
        o0 = _mm256_add_ps(_mm256_add_ps(m0, s12), s34);                          \
        o1 = _mm256_fmadd_ps(_mm256_set1_ps(2.f), d34, d12);                      \
        o2 = _mm256_fmadd_ps(_mm256_set1_ps(4.f), s34, s12);                      \
        o3 = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.f), d34, d12), m5);    \
    } while (0)

AVX2 static void input_tiles(const ttl_wino *w, const float *src, float *v, int t0, int nt) {
    const int C = w->c, CB = C / 8, H = w->h, W = w->w, TB = w->tb, ps = w->iblk, per = w->iblk / 8;
    const size_t as = (size_t)TB * C;
    for (int ti = 0; ti < nt; ti++) {
        const int t = t0 + ti, n = t / (w->th * w->tw), r = t % (w->th * w->tw);
        const int ih0 = (r / w->tw) * 4 - w->pt, iw0 = (r % w->tw) * 4 - w->pl;
        const int inside = ih0 >= 0 && iw0 >= 0 && ih0 + 6 <= H && iw0 + 6 <= W;
        for (int cb = 0; cb < CB; cb++) {
            // 8 channels cb·8 … cb·8+7: in block cb / per of the layout, at lane (cb % per)·8 of each pixel.
            const float *base = src + ((size_t)n * ((C + ps - 1) / ps) + cb / per) * H * W * ps + (cb % per) * 8;
            __m256 d[6][6], t6[6][6];
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++) {
                    const int y = ih0 + i, x = iw0 + j;
                    d[i][j] = inside || (y >= 0 && y < H && x >= 0 && x < W) ? _mm256_load_ps(base + ((size_t)y * W + x) * ps)
                                                                              : _mm256_setzero_ps();
                }
            for (int j = 0; j < 6; j++)
                BT_MAP(d[0][j], d[1][j], d[2][j], d[3][j], d[4][j], d[5][j], t6[0][j], t6[1][j], t6[2][j], t6[3][j], t6[4][j], t6[5][j]);
            for (int i = 0; i < 6; i++) {
                __m256 u0, u1, u2, u3, u4, u5;
                BT_MAP(t6[i][0], t6[i][1], t6[i][2], t6[i][3], t6[i][4], t6[i][5], u0, u1, u2, u3, u4, u5);
                float *o = v + (size_t)(i * 6) * as + (size_t)ti * C + cb * 8;
                _mm256_store_ps(o, u0);
                _mm256_store_ps(o + as, u1);
                _mm256_store_ps(o + 2 * as, u2);
                _mm256_store_ps(o + 3 * as, u3);
                _mm256_store_ps(o + 4 * as, u4);
                _mm256_store_ps(o + 5 * as, u5);
            }
        }
    }
}

/// m[r][0..16] = Σ_c v[r][c] · u[c][0..16] for 6 rows of v (stride vs), the first `rows` stored.
AVX2 static inline void gemm_6x16(int rows, int C, const float *v, size_t vs, const float *u, float *m, size_t ms) {
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00,
           a40 = a00, a41 = a00, a50 = a00, a51 = a00;
    const float *v0 = v, *v1 = v + vs, *v2 = v + 2 * vs, *v3 = v + 3 * vs, *v4 = v + 4 * vs, *v5 = v + 5 * vs;
    for (int c = 0; c < C; c++) {
        const __m256 b0 = _mm256_load_ps(u + c * 16), b1 = _mm256_load_ps(u + c * 16 + 8);
        __m256 a = _mm256_broadcast_ss(v0 + c);
        a00 = _mm256_fmadd_ps(a, b0, a00); a01 = _mm256_fmadd_ps(a, b1, a01);
        a = _mm256_broadcast_ss(v1 + c);
        a10 = _mm256_fmadd_ps(a, b0, a10); a11 = _mm256_fmadd_ps(a, b1, a11);
        a = _mm256_broadcast_ss(v2 + c);
        a20 = _mm256_fmadd_ps(a, b0, a20); a21 = _mm256_fmadd_ps(a, b1, a21);
        a = _mm256_broadcast_ss(v3 + c);
        a30 = _mm256_fmadd_ps(a, b0, a30); a31 = _mm256_fmadd_ps(a, b1, a31);
        a = _mm256_broadcast_ss(v4 + c);
        a40 = _mm256_fmadd_ps(a, b0, a40); a41 = _mm256_fmadd_ps(a, b1, a41);
        a = _mm256_broadcast_ss(v5 + c);
        a50 = _mm256_fmadd_ps(a, b0, a50); a51 = _mm256_fmadd_ps(a, b1, a51);
    }
    _mm256_store_ps(m, a00); _mm256_store_ps(m + 8, a01);
    if (rows > 1) { _mm256_store_ps(m + ms, a10); _mm256_store_ps(m + ms + 8, a11); }
    if (rows > 2) { _mm256_store_ps(m + 2 * ms, a20); _mm256_store_ps(m + 2 * ms + 8, a21); }
    if (rows > 3) { _mm256_store_ps(m + 3 * ms, a30); _mm256_store_ps(m + 3 * ms + 8, a31); }
    if (rows > 4) { _mm256_store_ps(m + 4 * ms, a40); _mm256_store_ps(m + 4 * ms + 8, a41); }
    if (rows > 5) { _mm256_store_ps(m + 5 * ms, a50); _mm256_store_ps(m + 5 * ms + 8, a51); }
}

#define AVX512 __attribute__((target("avx512f,avx2,fma")))

/// gemm_6x16 for 12 rows with AVX-512: one 16-lane accumulator per row, the row's value
/// broadcast from memory into the FMA. Rows past `rows` are computed but not stored.
AVX512 static inline void gemm_12x16(int rows, int C, const float *v, size_t vs, const float *u, float *m, size_t ms) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    for (int c = 0; c < C; c++) {
        const __m512 b = _mm512_loadu_ps(u + c * 16);
        a0 = _mm512_fmadd_ps(_mm512_set1_ps(v[c]), b, a0);
        a1 = _mm512_fmadd_ps(_mm512_set1_ps(v[vs + c]), b, a1);
        a2 = _mm512_fmadd_ps(_mm512_set1_ps(v[2 * vs + c]), b, a2);
        a3 = _mm512_fmadd_ps(_mm512_set1_ps(v[3 * vs + c]), b, a3);
        a4 = _mm512_fmadd_ps(_mm512_set1_ps(v[4 * vs + c]), b, a4);
        a5 = _mm512_fmadd_ps(_mm512_set1_ps(v[5 * vs + c]), b, a5);
        a6 = _mm512_fmadd_ps(_mm512_set1_ps(v[6 * vs + c]), b, a6);
        a7 = _mm512_fmadd_ps(_mm512_set1_ps(v[7 * vs + c]), b, a7);
        a8 = _mm512_fmadd_ps(_mm512_set1_ps(v[8 * vs + c]), b, a8);
        a9 = _mm512_fmadd_ps(_mm512_set1_ps(v[9 * vs + c]), b, a9);
        a10 = _mm512_fmadd_ps(_mm512_set1_ps(v[10 * vs + c]), b, a10);
        a11 = _mm512_fmadd_ps(_mm512_set1_ps(v[11 * vs + c]), b, a11);
    }
    const __m512 acc[12] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11};
    for (int r = 0; r < 12 && r < rows; r++) _mm512_storeu_ps(m + (size_t)r * ms, acc[r]);
}

/// Rows 0 ..< nt of M[α] = V[α] · U[α] for one panel of 16 output channels: 12 rows at a
/// time with AVX-512 where the CPU has it, then 6 (V and M hold a multiple of 6 rows).
AVX2 static inline void gemm_rows(const ttl_wino *w, int nt, int C, const float *v, size_t vs, const float *u, float *m, size_t ms) {
    int r = 0;
    if (w->wide)
        for (; nt - r >= 12; r += 12) gemm_12x16(12, C, v + (size_t)r * vs, vs, u, m + (size_t)r * ms, ms);
    for (; r < nt; r += 6) gemm_6x16(nt - r < 6 ? nt - r : 6, C, v + (size_t)r * vs, vs, u, m + (size_t)r * ms, ms);
}

/// M[α] = V[α] · U[α] for the 36 α. `panel` ([36][C][16]) is scratch for the steps that
/// make U a panel of 16 output channels at a time instead of keeping it.
AVX2 static void block_gemms(const ttl_wino *w, const float *v, float *m, float *panel, int nt) {
    const int C = w->c, K = w->k, KP = K / 16, TB = w->tb;
    for (int kp = 0; kp < KP; kp++) {
        if (!w->u) transform_panel(w, kp, panel);
        for (int a = 0; a < 36; a++) {
            const float *va = v + (size_t)a * TB * C;
            float *ma = m + (size_t)a * TB * K + kp * 16;
            const float *ua = w->u ? w->u + ((size_t)a * KP + kp) * C * 16 : panel + (size_t)a * C * 16;
            gemm_rows(w, nt, C, va, C, ua, ma, K);
        }
    }
}

AVX2 static inline __m256 activate(ttl_act act, __m256 x) {
    switch (act.kind) {
    case TTL_ACT_RELU:
        if (act.alpha == 0) return _mm256_max_ps(x, _mm256_setzero_ps());
        return _mm256_fmadd_ps(_mm256_set1_ps(act.alpha), _mm256_min_ps(x, _mm256_setzero_ps()), _mm256_max_ps(x, _mm256_setzero_ps()));
    case TTL_ACT_CLIP: return _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(act.alpha)), _mm256_set1_ps(act.beta));
    case TTL_ACT_LINEAR: return _mm256_fmadd_ps(_mm256_set1_ps(act.alpha), x, _mm256_set1_ps(act.beta));
    default: return x;
    }
}

/// Output tiles t0 ..< t0 + nt, channel blocks kb0 ..< kb1: the value of (α, tile ti, block
/// kb) is at m[α·as + ti·rs + (kb − kb0)·8].
AVX2 static void output_tiles(const ttl_wino *w, const float *m, size_t as, size_t rs, int kb0, int kb1, float *dst, int t0, int nt) {
    const int OH = w->oh, OW = w->ow, ps = w->oblk, per = w->oblk / 8;
    for (int ti = 0; ti < nt; ti++) {
        const int t = t0 + ti, n = t / (w->th * w->tw), r = t % (w->th * w->tw);
        const int oh0 = (r / w->tw) * 4, ow0 = (r % w->tw) * 4;
        for (int kb = kb0; kb < kb1; kb++) {
            const float *mm = m + (size_t)ti * rs + (size_t)(kb - kb0) * 8;
            __m256 s[4][6];
            for (int j = 0; j < 6; j++)
                AT_MAP(_mm256_load_ps(mm + (size_t)j * as), _mm256_load_ps(mm + (size_t)(6 + j) * as),
                       _mm256_load_ps(mm + (size_t)(12 + j) * as), _mm256_load_ps(mm + (size_t)(18 + j) * as),
                       _mm256_load_ps(mm + (size_t)(24 + j) * as), _mm256_load_ps(mm + (size_t)(30 + j) * as), s[0][j], s[1][j],
                       s[2][j], s[3][j]);
            const __m256 bias = _mm256_load_ps(w->bias + kb * 8);
            float *base = dst + ((size_t)n * ((w->k + ps - 1) / ps) + kb / per) * OH * OW * ps + (kb % per) * 8;
            for (int i = 0; i < 4 && oh0 + i < OH; i++) {
                __m256 o[4];
                AT_MAP(s[i][0], s[i][1], s[i][2], s[i][3], s[i][4], s[i][5], o[0], o[1], o[2], o[3]);
                for (int j = 0; j < 4 && ow0 + j < OW; j++) {
                    float *at = base + ((size_t)(oh0 + i) * OW + ow0 + j) * ps;
                    __m256 x = activate(w->pre, _mm256_add_ps(o[j], bias));
                    if (w->sum) x = _mm256_add_ps(x, _mm256_load_ps(at));
                    _mm256_store_ps(at, activate(w->post, x));
                }
            }
        }
    }
}

// Scratch, grown as needed: per thread V [36][TB][C], M [36][TB][K] and a panel of U
// [36][C][16]; by channels, one V shared, and per thread M [36][TB][16] and a panel. Runs
// happen only on the engine thread, one at a time, so one workspace serves every convolution.
static float *workspace;
static size_t workspace_floats;

struct run_job {
    const ttl_wino *w;
    const float *src;
    float *dst;
    size_t per_thread;
};

AVX2 static void run_blocks(void *p, int me, int threads) {
    const struct run_job *j = p;
    const ttl_wino *w = j->w;
    float *v = workspace + (size_t)me * j->per_thread, *m = v + (size_t)36 * w->tb * w->c, *panel = m + (size_t)36 * w->tb * w->k;
    const int blocks = (w->tiles + w->tb - 1) / w->tb;
    for (int b = me; b < blocks; b += threads) {
        const int t0 = b * w->tb, nt = w->tiles - t0 < w->tb ? w->tiles - t0 : w->tb;
        input_tiles(w, j->src, v, t0, nt);
        block_gemms(w, v, m, panel, nt);
        output_tiles(w, m, (size_t)w->tb * w->k, (size_t)w->k, 0, w->k / 8, j->dst, t0, nt);
    }
}

/// Few tiles (batch 1): every thread transforms a share of the tiles, then makes the output
/// channels of its panels of 16 for all of them.
AVX2 static void run_channels(void *p, int me, int threads) {
    const struct run_job *j = p;
    const ttl_wino *w = j->w;
    const int C = w->c, KP = w->k / 16, T = w->tiles, TB = w->tb;
    float *v = workspace, *m = v + (size_t)36 * TB * C + (size_t)me * j->per_thread, *panel = m + (size_t)36 * TB * 16;
    const int t0 = (int)((int64_t)T * me / threads), t1 = (int)((int64_t)T * (me + 1) / threads);
    input_tiles(w, j->src, v + (size_t)t0 * C, t0, t1 - t0);
    if (threads > 1) gomp_barrier();
    for (int kp = me; kp < KP; kp += threads) {
        if (!w->u) transform_panel(w, kp, panel);
        for (int a = 0; a < 36; a++) {
            const float *va = v + (size_t)a * TB * C;
            const float *ua = w->u ? w->u + ((size_t)a * KP + kp) * C * 16 : panel + (size_t)a * C * 16;
            float *ma = m + (size_t)a * TB * 16;
            gemm_rows(w, T, C, va, C, ua, ma, 16);
        }
        output_tiles(w, m, (size_t)TB * 16, 16, 2 * kp, 2 * kp + 2, j->dst, 0, T);
    }
}

int ttl_wino_run(ttl_wino *w, const float *src, float *dst) {
    const size_t panel = w->u ? 0 : (size_t)36 * w->c * 16;
    const size_t per_thread = w->by_channels ? (size_t)36 * w->tb * 16 + panel : (size_t)36 * w->tb * (w->c + w->k) + panel;
    const size_t need = per_thread * (size_t)team_size() + (w->by_channels ? (size_t)36 * w->tb * w->c : 0);
    if (need > workspace_floats) {
        free(workspace);
        workspace = floats(need);
        workspace_floats = workspace ? need : 0;
        if (!workspace) return -1;
    }
    struct run_job j = {w, src, dst, per_thread};
    on_team(w->by_channels ? run_channels : run_blocks, &j);
    return 0;
}

// MARK: - Creation

static int epilogue_has(ttl_act a) {
    return a.kind == TTL_ACT_NONE || a.kind == TTL_ACT_RELU || a.kind == TTL_ACT_CLIP || a.kind == TTL_ACT_LINEAR;
}

ttl_wino *ttl_wino_create(int64_t n, int64_t c, int64_t h, int64_t wd, int64_t k, int64_t oh, int64_t ow, int64_t pad_top,
                          int64_t pad_left, int64_t in_block, int64_t out_block, const float *weights, const float *scales, const float *bias, ttl_act pre, int sum,
                          ttl_act post, int threads) {
    const char *env = getenv("TTL_WINOGRAD");
    if (env && strcmp(env, "0") == 0) return NULL;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return NULL;
    if (!epilogue_has(pre) || !epilogue_has(post)) return NULL;
    if (in_block <= 0 || in_block % 8 || in_block > c + 15 || out_block <= 0 || out_block % 8 || out_block > k + 15) return NULL;
    if (c <= 0 || k <= 0 || c % 8 || k % 16 || n <= 0 || oh <= 0 || ow <= 0 || pad_top < 0 || pad_left < 0) return NULL;
    // Sizes small enough for int indexing everywhere below.
    const int64_t limit = (int64_t)1 << 30;
    if (c > 65536 || k > 65536 || h > 65536 || wd > 65536 || oh > 65536 || ow > 65536 || n * c * h * wd > limit ||
        n * k * oh * ow > limit || 36 * c * k > limit)
        return NULL;
    const int64_t th = (oh + 3) / 4, tw = (ow + 3) / 4, tiles = n * th * tw;
    if (tiles > limit) return NULL;
    // Tiles per block: more when the weights are large, so that U is streamed fewer times.
    int64_t tb = c * k <= 128 * 128 ? 24 : c * k <= 256 * 256 ? 48 : 72;
    if (threads < 1) threads = team_size();
    const int64_t share = ((tiles + threads - 1) / threads + 5) / 6 * 6;
    if (share < tb) tb = share;
    // Too few blocks to keep the threads evenly busy (batch 1): one block of every tile, its
    // panels of output channels split over the threads, when the tiles' V fits in 4 MB.
    const int64_t all = (tiles + 5) / 6 * 6;
    const int by_channels = (tiles + tb - 1) / tb < 6 * threads && k / 16 >= threads && 36 * all * c * 4 <= (4 << 20);
    if (by_channels) tb = all;
    else if ((tiles + tb - 1) / tb < threads) return NULL;  // a thread would idle: direct convolution is better

    // U is 4× the weights. Above 256×256 channels (ResNets' last stage: 38 MB per layer) it
    // is made a panel at a time as the tiles need it, ~5 % more work there, instead of kept.
    // Making a panel costs about as much as 4 tiles' GEMM with it: with fewer than 48 tiles
    // (batch 1 on a 7×7 map) direct convolution is faster.
    // TTL_WINOGRAD=panels makes panels everywhere (the tests' way to reach that path on small shapes).
    const int panels = env && strcmp(env, "panels") == 0;
    const int keep_u = c * k <= 256 * 256 && !panels;
    if (!keep_u && tiles < 48 && !panels) return NULL;
    ttl_wino *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    *w = (ttl_wino){.n = (int)n, .c = (int)c, .h = (int)h, .w = (int)wd, .k = (int)k, .oh = (int)oh, .ow = (int)ow,
                    .pt = (int)pad_top, .pl = (int)pad_left, .th = (int)th, .tw = (int)tw, .tiles = (int)tiles, .tb = (int)tb, .by_channels = by_channels,
                    .pre = pre, .post = post, .sum = sum, .iblk = (int)in_block, .oblk = (int)out_block,
                    // TTL_WINOGRAD=avx2 keeps the AVX2 GEMM kernel on AVX-512 machines (for comparison).
                    .wide = __builtin_cpu_supports("avx512f") && !(env && strcmp(env, "avx2") == 0)};
    w->bias = floats((size_t)k);
    if (keep_u) w->u = floats(36 * (size_t)c * (size_t)k);
    else w->g8 = floats(9 * (size_t)c * (size_t)k);
    if (!w->bias || !(keep_u ? (void *)w->u : (void *)w->g8)) {
        ttl_wino_free(w);
        return NULL;
    }
    for (int64_t i = 0; i < k; i++) w->bias[i] = bias ? bias[i] : 0;
    struct wino_source src = {w, weights, scales};
    on_team(keep_u ? transform_weights : pack_weights, &src);
    return w;
}

const char *ttl_wino_name(const ttl_wino *w) { return w->wide ? "ttl:winograd_4x4_3x3:avx512" : "ttl:winograd_4x4_3x3:avx2"; }

void ttl_wino_free(ttl_wino *w) {
    if (!w) return;
    free(w->u);
    free(w->g8);
    free(w->bias);
    free(w);
}

#else

ttl_wino *ttl_wino_create(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t oh, int64_t ow, int64_t pad_top,
                          int64_t pad_left, int64_t in_block, int64_t out_block, const float *weights, const float *scales, const float *bias, ttl_act pre, int sum,
                          ttl_act post, int threads) {
    (void)n; (void)c; (void)h; (void)w; (void)k; (void)oh; (void)ow; (void)pad_top; (void)pad_left; (void)in_block; (void)out_block; (void)weights;
    (void)scales; (void)bias; (void)pre; (void)sum; (void)post; (void)threads;
    return NULL;
}
int ttl_wino_run(ttl_wino *w, const float *src, float *dst) { (void)w; (void)src; (void)dst; return -1; }
void ttl_wino_free(ttl_wino *w) { (void)w; }
const char *ttl_wino_name(const ttl_wino *w) { (void)w; return "none"; }

#endif
