// A small C door to oneDNN 2.x (Debian's libdnnl-dev 2.6) for ttl's engine.
//
// oneDNN's 2.x descriptor API (`dnnl_*_desc_init`), which 3.x removed, is used only in
// ttl_onednn.c; Swift sees the plain functions below. A *step* is one oneDNN primitive with
// its weights already reordered into the layout the primitive wants, plus the memory objects
// for its activations, whose buffers the caller binds (`ttl_step_bind`) before running it.
//
// Threads: oneDNN here runs on OpenMP, and libgomp keeps one thread team per calling
// thread, so every primitive is created and run on one dedicated engine thread
// (`ttl_onednn_call`), never from Swift's concurrency pool.
#ifndef TTL_ONEDNN_H
#define TTL_ONEDNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when ttl was built against oneDNN, else 0 (every other call then fails).
int ttl_onednn_available(void);

/// Starts the engine thread, the oneDNN engine and stream, with `threads` OpenMP threads.
/// Safe to call again (later calls only change the thread count). Returns 0 on success.
int ttl_onednn_start(int threads, char *err, size_t errlen);

/// Runs `fn(ctx)` on the engine thread and waits for it; runs it directly when called from
/// the engine thread. Calls from several threads are serialized.
void ttl_onednn_call(void (*fn)(void *), void *ctx);

/// The instruction set oneDNN dispatches to on this CPU ("avx2", "avx512_core", …) and the
/// library version ("2.6.3").
const char *ttl_onednn_isa(void);
const char *ttl_onednn_version(void);

/// The layout convolutions write activations in from now on: "default" (nChw16c where oneDNN
/// runs AVX-512 kernels, else each primitive's choice), "any" (each primitive's choice),
/// "nChw16c", "nChw8c" or "nhwc". Plans made before keep theirs. Returns 0, or −1 for an
/// unknown name or an engine not started. (`TTL_LAYOUT` sets it at start.)
int ttl_onednn_set_activation_layout(const char *name);

// MARK: - Memory descriptors (float32)

typedef struct ttl_md ttl_md;

/// A plain row-major descriptor: x, nc, nchw for 1, 2, 4 dims.
ttl_md *ttl_md_plain(int ndims, const int64_t *dims);
ttl_md *ttl_md_copy(const ttl_md *md);
void ttl_md_free(ttl_md *md);
/// Bytes a buffer of this layout needs (blocked layouts pad channels to the block).
size_t ttl_md_bytes(const ttl_md *md);
int ttl_md_equal(const ttl_md *a, const ttl_md *b);
int ttl_md_ndims(const ttl_md *md);
int64_t ttl_md_dim(const ttl_md *md, int i);
/// Whether the layout is the plain row-major one for its dims.
int ttl_md_is_plain(const ttl_md *md);
/// A short name of the layout: "nchw", "nChw8c", "nChw16c", …
void ttl_md_describe(const ttl_md *md, char *buf, size_t len);

// MARK: - Steps

typedef struct ttl_step ttl_step;

enum {
    TTL_SLOT_DST = 0,
    TTL_SLOT_SRC = 1,
    TTL_SLOT_SRC1 = 2,
    TTL_SLOT_COUNT_MAX = 16
};

enum {
    TTL_ACT_NONE = 0,
    TTL_ACT_RELU = 1,       // alpha: slope of the negative part (leaky ReLU)
    TTL_ACT_CLIP = 2,       // min(max(x, alpha), beta)
    TTL_ACT_SIGMOID = 3,
    TTL_ACT_HARDSWISH = 4,  // x · relu6(x + 3) / 6
    TTL_ACT_TANH = 5,
    TTL_ACT_SWISH = 6,      // x · sigmoid(alpha · x)
    TTL_ACT_ELU = 7,
    TTL_ACT_GELU_ERF = 8,
    TTL_ACT_LINEAR = 9      // alpha · x + beta
};

typedef struct {
    int kind;
    float alpha, beta;
} ttl_act;

enum { TTL_POOL_MAX = 0, TTL_POOL_AVG_INCLUDE_PAD = 1, TTL_POOL_AVG_EXCLUDE_PAD = 2 };
enum { TTL_BINARY_ADD = 0, TTL_BINARY_MUL = 1, TTL_BINARY_SUB = 2, TTL_BINARY_DIV = 3, TTL_BINARY_MAX = 4, TTL_BINARY_MIN = 5 };

/// Convolution, inference. `src`: the input's actual layout (reordered inside the step when
/// the primitive wants another); `dst`: the output layout wanted, or NULL to let oneDNN
/// choose. `weights`: [O, I/groups, kH, kW] row-major, copied; `bias`: [O] or NULL.
/// Post-ops, in order: `pre` (an activation), then `sum` (adds what the dst buffer holds
/// before the step runs: a fused residual Add), then `post`.
/// Dilation is ONNX's (1: adjacent taps). Pads are top/left and bottom/right.
/// `scales` (NULL, or one per output channel) multiply the weights as they are reordered:
/// a batch norm folded in without a copy of the weights.
ttl_step *ttl_conv_create(const ttl_md *src, const ttl_md *dst, const int64_t dst_dims[4], const int64_t weight_dims[4],
                          int64_t groups, const int64_t stride[2], const int64_t dilation[2], const int64_t pad_l[2],
                          const int64_t pad_r[2], const float *weights, const float *scales, const float *bias, ttl_act pre,
                          int sum, ttl_act post, char *err, size_t errlen);

/// Pooling over H and W; `dst_dims` [N, C, H_out, W_out]. Dilation is ONNX's.
ttl_step *ttl_pool_create(const ttl_md *src, const int64_t dst_dims[4], int alg, const int64_t kernel[2], const int64_t stride[2],
                          const int64_t dilation[2], const int64_t pad_l[2], const int64_t pad_r[2], char *err, size_t errlen);

/// An activation, in place or not; output in `src`'s layout.
ttl_step *ttl_eltwise_create(const ttl_md *src, ttl_act act, char *err, size_t errlen);

/// `src0 ∘ src1` (src1 broadcast over dims of size 1), then `post`; output in src0's layout.
ttl_step *ttl_binary_create(const ttl_md *src0, const ttl_md *src1, int alg, ttl_act post, char *err, size_t errlen);

/// Inner product: `dst[N, O] = src[N, …] · weightsᵀ + bias`; weights [O, prod(src dims 1…)] row-major.
ttl_step *ttl_inner_product_create(const ttl_md *src, int64_t outputs, const float *weights, const float *bias,
                                   char *err, size_t errlen);

/// Batch norm with stored statistics: `scale · (x − mean) / sqrt(var + eps) + shift`, then `post`.
ttl_step *ttl_batch_norm_create(const ttl_md *src, float epsilon, const float *mean, const float *variance,
                                const float *scale, const float *shift, ttl_act post, char *err, size_t errlen);

/// Concatenation of `n` inputs along `axis`; inputs bind to slots SRC, SRC + 1, …
ttl_step *ttl_concat_create(int n, const ttl_md *const *srcs, int axis, char *err, size_t errlen);

/// Layout change from `src` to `dst` (same dims).
ttl_step *ttl_reorder_create(const ttl_md *src, const ttl_md *dst, char *err, size_t errlen);

/// The output layout of a step.
const ttl_md *ttl_step_dst_md(const ttl_step *step);
/// Binds the buffer of a slot (it must hold `ttl_md_bytes` of that slot's layout).
void ttl_step_bind(ttl_step *step, int slot, void *buffer);
/// Runs the step on the current thread (which must be the engine thread). Returns 0 on success.
int ttl_step_run(ttl_step *step);
/// The implementation oneDNN picked ("jit:avx2", "brg:avx512_core", "ref", …), followed by
/// " after a source reorder to nChw16c" (say) when the step reorders its source first.
const char *ttl_step_impl(ttl_step *step);
void ttl_step_free(ttl_step *step);

// MARK: - Convolutions for training, on plain buffers

/// A convolution's three primitives for training: forward, backward data, backward weights
/// (and bias), sharing one set of blocked layouts. Every call takes and returns plain NCHW /
/// OIHW buffers; the reorders into and out of oneDNN's layouts happen inside.
typedef struct ttl_conv_train ttl_conv_train;

ttl_conv_train *ttl_conv_train_create(const int64_t src_dims[4], const int64_t dst_dims[4], const int64_t weight_dims[4],
                                      int64_t groups, const int64_t stride[2], const int64_t dilation[2],
                                      const int64_t pad_l[2], const int64_t pad_r[2], int with_bias, char *err, size_t errlen);
/// `dst = conv(src, weights) + bias` (bias may be NULL when created without).
int ttl_conv_train_forward(ttl_conv_train *c, const float *src, const float *weights, const float *bias, float *dst);
/// `diff_src = conv_backward_data(diff_dst, weights)`.
int ttl_conv_train_backward_data(ttl_conv_train *c, const float *diff_dst, const float *weights, float *diff_src);
/// `diff_weights`, and `diff_bias` when not NULL, from `diff_dst` and the forward's `src`.
int ttl_conv_train_backward_weights(ttl_conv_train *c, const float *diff_dst, const float *src, float *diff_weights, float *diff_bias);
void ttl_conv_train_free(ttl_conv_train *c);
/// The implementation oneDNN picked for the forward (0), backward data (1) or backward weights (2).
const char *ttl_conv_train_impl(const ttl_conv_train *c, int which);

#ifdef __cplusplus
}
#endif

#endif
