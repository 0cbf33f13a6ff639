// oneDNN 2.x behind ttl_onednn.h. See the header for the model: steps, slots, one engine thread.
#include "ttl_onednn.h"
#include "ttl_winograd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__) && __has_include(<oneapi/dnnl/dnnl.h>)
#define TTL_HAVE_ONEDNN 1
#include <dlfcn.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#else
#define TTL_HAVE_ONEDNN 0
#endif

#if TTL_HAVE_ONEDNN

// MARK: - Engine and its thread

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static char isa_name[32] = "none";
// The layout of activations between convolutions: `any` lets each primitive choose (nChw8c on
// AVX2). On AVX-512, oneDNN 2.6 chooses nhwc for its brgemm kernels, whose 1×1 and depthwise
// convolutions ran EfficientNet-Lite0 at two thirds of the speed of its nChw16c kernels
// (jit_1x1, jit_dw) on an AMD EPYC Zen 4; so there, nChw16c. TTL_LAYOUT=any|nChw16c|nChw8c|nhwc
// overrides it (for comparisons).
static dnnl_format_tag_t activation_tag = dnnl_format_tag_any, isa_activation_tag = dnnl_format_tag_any;

static int layout_tag(const char *name, dnnl_format_tag_t *tag) {
    if (strcmp(name, "default") == 0) *tag = isa_activation_tag;
    else if (strcmp(name, "any") == 0) *tag = dnnl_format_tag_any;
    else if (strcmp(name, "nChw16c") == 0) *tag = dnnl_nChw16c;
    else if (strcmp(name, "nChw8c") == 0) *tag = dnnl_nChw8c;
    else if (strcmp(name, "nhwc") == 0) *tag = dnnl_nhwc;
    else return -1;
    return 0;
}

int ttl_onednn_set_activation_layout(const char *name) {
    if (!engine) return -1;
    return layout_tag(name, &activation_tag);
}
static char version_name[32] = "none";

static pthread_once_t thread_once = PTHREAD_ONCE_INIT;
static pthread_t engine_thread;
static pthread_mutex_t callers = PTHREAD_MUTEX_INITIALIZER;  // one call at a time
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER;
static void (*job_fn)(void *);
static void *job_ctx;
static unsigned long job_posted, job_done;

static void *engine_main(void *unused) {
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (job_done == job_posted) pthread_cond_wait(&wake, &lock);
        void (*fn)(void *) = job_fn;
        void *ctx = job_ctx;
        pthread_mutex_unlock(&lock);
        fn(ctx);
        pthread_mutex_lock(&lock);
        job_done = job_posted;
        pthread_cond_broadcast(&finished);
    }
    return NULL;
}

static void start_thread(void) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    // Swift's and OpenMP's stacks are small by default; primitives recurse little, but the
    // Swift fallback operations a plan runs here may use more.
    pthread_attr_setstacksize(&attr, 8u << 20);
    pthread_create(&engine_thread, &attr, engine_main, NULL);
    pthread_attr_destroy(&attr);
}

void ttl_onednn_call(void (*fn)(void *), void *ctx) {
    pthread_once(&thread_once, start_thread);
    if (pthread_equal(pthread_self(), engine_thread)) {
        fn(ctx);
        return;
    }
    pthread_mutex_lock(&callers);
    pthread_mutex_lock(&lock);
    job_fn = fn;
    job_ctx = ctx;
    unsigned long ticket = ++job_posted;
    pthread_cond_signal(&wake);
    while (job_done < ticket) pthread_cond_wait(&finished, &lock);
    pthread_mutex_unlock(&lock);
    pthread_mutex_unlock(&callers);
}

struct start_args {
    int threads;
    int status;
    char *err;
    size_t errlen;
};

static void start_on_engine_thread(void *p) {
    struct start_args *a = p;
    // libgomp is loaded with libdnnl; its per-thread team size is set from this thread.
    void (*set_threads)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (set_threads && a->threads > 0) set_threads(a->threads);
    if (engine) {
        a->status = 0;
        return;
    }
    dnnl_status_t s = dnnl_engine_create(&engine, dnnl_cpu, 0);
    if (s == dnnl_success) s = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    if (s != dnnl_success) {
        snprintf(a->err, a->errlen, "oneDNN: no CPU engine (status %d)", (int)s);
        engine = NULL;
        a->status = -1;
        return;
    }
    const char *name = "unknown";
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: name = "sse41"; break;
    case dnnl_cpu_isa_avx: name = "avx"; break;
    case dnnl_cpu_isa_avx2: name = "avx2"; break;
    case dnnl_cpu_isa_avx2_vnni: name = "avx2_vnni"; break;
    case dnnl_cpu_isa_avx512_mic: name = "avx512_mic"; break;
    case dnnl_cpu_isa_avx512_mic_4ops: name = "avx512_mic_4ops"; break;
    case dnnl_cpu_isa_avx512_core: name = "avx512_core"; break;
    case dnnl_cpu_isa_avx512_core_vnni: name = "avx512_core_vnni"; break;
    case dnnl_cpu_isa_avx512_core_bf16: name = "avx512_core_bf16"; break;
    case dnnl_cpu_isa_avx512_core_amx: name = "avx512_core_amx"; break;
    default: break;
    }
    snprintf(isa_name, sizeof isa_name, "%s", name);
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (isa == dnnl_cpu_isa_avx512_core || isa == dnnl_cpu_isa_avx512_core_vnni || isa == dnnl_cpu_isa_avx512_core_bf16 ||
        isa == dnnl_cpu_isa_avx512_core_amx)
        isa_activation_tag = dnnl_nChw16c;
    activation_tag = isa_activation_tag;
    const char *lay = getenv("TTL_LAYOUT");
    if (lay) layout_tag(lay, &activation_tag);
    const dnnl_version_t *v = dnnl_version();
    snprintf(version_name, sizeof version_name, "%d.%d.%d", v->major, v->minor, v->patch);
    a->status = 0;
}

int ttl_onednn_available(void) { return 1; }

int ttl_onednn_start(int threads, char *err, size_t errlen) {
    struct start_args a = {threads, -1, err, errlen};
    ttl_onednn_call(start_on_engine_thread, &a);
    return a.status;
}

const char *ttl_onednn_isa(void) { return isa_name; }
const char *ttl_onednn_version(void) { return version_name; }

// MARK: - Memory descriptors

struct ttl_md {
    dnnl_memory_desc_t md;
};

static ttl_md *wrap(const dnnl_memory_desc_t *md) {
    ttl_md *m = malloc(sizeof *m);
    if (m) m->md = *md;
    return m;
}

static dnnl_format_tag_t plain_tag(int ndims) {
    switch (ndims) {
    case 1: return dnnl_a;
    case 2: return dnnl_ab;
    case 3: return dnnl_abc;
    case 4: return dnnl_abcd;
    case 5: return dnnl_abcde;
    default: return dnnl_format_tag_undef;
    }
}

static int init_plain(dnnl_memory_desc_t *md, int ndims, const int64_t *dims) {
    dnnl_dims_t d = {0};
    for (int i = 0; i < ndims; i++) d[i] = dims[i];
    return dnnl_memory_desc_init_by_tag(md, ndims, d, dnnl_f32, plain_tag(ndims)) == dnnl_success ? 0 : -1;
}

static int init_any(dnnl_memory_desc_t *md, int ndims, const int64_t *dims) {
    dnnl_dims_t d = {0};
    for (int i = 0; i < ndims; i++) d[i] = dims[i];
    return dnnl_memory_desc_init_by_tag(md, ndims, d, dnnl_f32, dnnl_format_tag_any) == dnnl_success ? 0 : -1;
}

ttl_md *ttl_md_plain(int ndims, const int64_t *dims) {
    dnnl_memory_desc_t md;
    if (ndims < 1 || ndims > 5 || init_plain(&md, ndims, dims) != 0) return NULL;
    return wrap(&md);
}

ttl_md *ttl_md_copy(const ttl_md *md) { return wrap(&md->md); }
void ttl_md_free(ttl_md *md) { free(md); }
size_t ttl_md_bytes(const ttl_md *md) { return dnnl_memory_desc_get_size(&md->md); }
int ttl_md_equal(const ttl_md *a, const ttl_md *b) { return dnnl_memory_desc_equal(&a->md, &b->md); }
int ttl_md_ndims(const ttl_md *md) { return md->md.ndims; }
int64_t ttl_md_dim(const ttl_md *md, int i) { return (i >= 0 && i < md->md.ndims) ? md->md.dims[i] : 0; }

int ttl_md_is_plain(const ttl_md *md) {
    dnnl_memory_desc_t p;
    if (init_plain(&p, md->md.ndims, md->md.dims) != 0) return 0;
    return dnnl_memory_desc_equal(&p, &md->md);
}

void ttl_md_describe(const ttl_md *md, char *buf, size_t len) {
    static const char letters[] = "nchw";
    if (len == 0) return;
    if (ttl_md_is_plain(md)) {
        snprintf(buf, len, "%.*s", md->md.ndims, md->md.ndims == 4 ? "nchw" : md->md.ndims == 2 ? "nc" : "x");
        return;
    }
    if (md->md.format_kind != dnnl_blocked) {
        snprintf(buf, len, "opaque");
        return;
    }
    const dnnl_blocking_desc_t *b = &md->md.format_desc.blocking;
    // Outer dims by decreasing stride, upper-cased where blocked, then the inner blocks.
    int order[DNNL_MAX_NDIMS], n = md->md.ndims;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (b->strides[order[j]] > b->strides[order[i]]) { int t = order[i]; order[i] = order[j]; order[j] = t; }
    size_t at = 0;
    for (int i = 0; i < n && at + 1 < len; i++) {
        int d = order[i];
        int blocked = 0;
        for (int k = 0; k < b->inner_nblks; k++) blocked |= b->inner_idxs[k] == d;
        char c = d < 4 ? letters[n == 4 ? d : (d == 0 ? 0 : 1)] : '?';
        buf[at++] = blocked ? (char)(c - 'a' + 'A') : c;
    }
    for (int k = 0; k < b->inner_nblks && at + 1 < len; k++) {
        int w = snprintf(buf + at, len - at, "%lld%c", (long long)b->inner_blks[k],
                         b->inner_idxs[k] < 4 ? letters[n == 4 ? b->inner_idxs[k] : (b->inner_idxs[k] == 0 ? 0 : 1)] : '?');
        if (w < 0) break;
        at += (size_t)w;
    }
    buf[at < len ? at : len - 1] = 0;
}

// MARK: - Steps

struct ttl_step {
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t primitive;
    // Optional reorder of the caller's source into the primitive's source layout.
    dnnl_primitive_t src_reorder;
    dnnl_memory_t src_user, src_internal;
    // The memory objects of the slots, whose buffers the caller binds.
    dnnl_memory_t slots[TTL_SLOT_COUNT_MAX];
    int slot_count;
    // Memory the step owns (reordered weights, bias, statistics).
    dnnl_memory_t owned[6];
    int owned_count;
    dnnl_exec_arg_t args[TTL_SLOT_COUNT_MAX + 8];
    int arg_count;
    dnnl_memory_desc_t dst_md;
    ttl_md dst_wrapped;
    // A step ttl runs itself instead of a primitive (pd and primitive NULL), on the buffers
    // bound to its slots.
    ttl_wino *wino;
    void *bound[TTL_SLOT_COUNT_MAX];
    char impl[96];  // what ttl_step_impl returns, made on first call
};

static void fail(char *err, size_t errlen, const char *what, dnnl_status_t s) {
    const char *reason = s == dnnl_unimplemented ? "not implemented for these shapes"
                         : s == dnnl_invalid_arguments ? "invalid arguments"
                         : s == dnnl_out_of_memory ? "out of memory" : "failed";
    if (err && errlen) snprintf(err, errlen, "oneDNN %s: %s (status %d)", what, reason, (int)s);
}

void ttl_step_free(ttl_step *st) {
    if (!st) return;
    if (st->primitive) dnnl_primitive_destroy(st->primitive);
    if (st->src_reorder) dnnl_primitive_destroy(st->src_reorder);
    if (st->pd) dnnl_primitive_desc_destroy(st->pd);
    if (st->src_user) dnnl_memory_destroy(st->src_user);
    if (st->src_internal) dnnl_memory_destroy(st->src_internal);
    for (int i = 0; i < st->slot_count; i++)
        if (st->slots[i]) dnnl_memory_destroy(st->slots[i]);
    for (int i = 0; i < st->owned_count; i++) dnnl_memory_destroy(st->owned[i]);
    ttl_wino_free(st->wino);
    free(st);
}

static void add_arg(ttl_step *st, int arg, dnnl_memory_t m) {
    st->args[st->arg_count].arg = arg;
    st->args[st->arg_count].memory = m;
    st->arg_count++;
}

/// A memory object without a buffer, for a slot.
static dnnl_status_t make_slot(ttl_step *st, int slot, const dnnl_memory_desc_t *md) {
    if (slot >= st->slot_count) st->slot_count = slot + 1;
    return dnnl_memory_create(&st->slots[slot], md, engine, DNNL_MEMORY_NONE);
}

/// Copies `data` (plain layout `user`) into a new owned memory of layout `want`, multiplying
/// by `scales` along the output channels (`scale_mask`: the dims they index) when given.
static dnnl_status_t own_scaled(ttl_step *st, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want,
                                const float *data, const float *scales, int64_t scale_count, int scale_mask, dnnl_memory_t *out) {
    dnnl_memory_t src = NULL, dst = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_status_t s = dnnl_memory_create(&src, user, engine, (void *)data);
    if (s == dnnl_success) s = dnnl_memory_create(&dst, want, engine, DNNL_MEMORY_ALLOCATE);
    if (s == dnnl_success && scales) {
        s = dnnl_primitive_attr_create(&attr);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_output_scales(attr, scale_count, scale_mask, scales);
    }
    if (s == dnnl_success && (scales || !dnnl_memory_desc_equal(user, want))) {
        s = dnnl_reorder_primitive_desc_create(&rpd, user, engine, want, engine, attr);
        if (s == dnnl_success) s = dnnl_primitive_create(&r, rpd);
        if (s == dnnl_success) {
            dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
            s = dnnl_primitive_execute(r, stream, 2, a);
            if (s == dnnl_success) s = dnnl_stream_wait(stream);
        }
    } else if (s == dnnl_success) {
        void *p = NULL;
        s = dnnl_memory_get_data_handle(dst, &p);
        if (s == dnnl_success) memcpy(p, data, dnnl_memory_desc_get_size(user));
    }
    if (r) dnnl_primitive_destroy(r);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (src) dnnl_memory_destroy(src);
    if (s == dnnl_success) {
        st->owned[st->owned_count++] = dst;
        *out = dst;
    } else if (dst) {
        dnnl_memory_destroy(dst);
    }
    return s;
}

static dnnl_status_t own_reordered(ttl_step *st, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want,
                                   const float *data, dnnl_memory_t *out) {
    return own_scaled(st, user, want, data, NULL, 0, 0, out);
}

/// Finishes a step around its primitive descriptor: the source reorder when the primitive
/// wants another layout than `src`, the slot memories, the primitive itself.
static dnnl_status_t finish(ttl_step *st, const dnnl_memory_desc_t *src, int src_arg) {
    dnnl_status_t s = dnnl_primitive_create(&st->primitive, st->pd);
    if (s != dnnl_success) return s;
    const dnnl_memory_desc_t *dst = dnnl_primitive_desc_query_md(st->pd, dnnl_query_dst_md, 0);
    st->dst_md = *dst;
    st->dst_wrapped.md = *dst;
    s = make_slot(st, TTL_SLOT_DST, dst);
    if (s != dnnl_success) return s;
    add_arg(st, DNNL_ARG_DST, st->slots[TTL_SLOT_DST]);
    if (!src) return dnnl_success;
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(st->pd, dnnl_query_src_md, 0);
    s = make_slot(st, TTL_SLOT_SRC, src);
    if (s != dnnl_success) return s;
    if (dnnl_memory_desc_equal(want, src)) {
        add_arg(st, src_arg, st->slots[TTL_SLOT_SRC]);
        return dnnl_success;
    }
    dnnl_primitive_desc_t rpd = NULL;
    s = dnnl_reorder_primitive_desc_create(&rpd, src, engine, want, engine, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(&st->src_reorder, rpd);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (s == dnnl_success) s = dnnl_memory_create(&st->src_internal, want, engine, DNNL_MEMORY_ALLOCATE);
    if (s == dnnl_success) add_arg(st, src_arg, st->src_internal);
    return s;
}

static dnnl_alg_kind_t eltwise_alg(int kind) {
    switch (kind) {
    case TTL_ACT_RELU: return dnnl_eltwise_relu;
    case TTL_ACT_CLIP: return dnnl_eltwise_clip_v2;
    case TTL_ACT_SIGMOID: return dnnl_eltwise_logistic;
    case TTL_ACT_HARDSWISH: return dnnl_eltwise_hardswish;
    case TTL_ACT_TANH: return dnnl_eltwise_tanh;
    case TTL_ACT_SWISH: return dnnl_eltwise_swish;
    case TTL_ACT_ELU: return dnnl_eltwise_elu;
    case TTL_ACT_GELU_ERF: return dnnl_eltwise_gelu_erf;
    case TTL_ACT_LINEAR: return dnnl_eltwise_linear;
    default: return dnnl_alg_kind_undef;
    }
}

/// An attribute with the post-ops pre → sum → post (each optional); NULL when there are none.
static dnnl_status_t post_ops(ttl_act pre, int sum, ttl_act post, dnnl_primitive_attr_t *attr) {
    *attr = NULL;
    if (pre.kind == TTL_ACT_NONE && !sum && post.kind == TTL_ACT_NONE) return dnnl_success;
    dnnl_post_ops_t po = NULL;
    dnnl_status_t s = dnnl_post_ops_create(&po);
    if (s == dnnl_success && pre.kind != TTL_ACT_NONE) s = dnnl_post_ops_append_eltwise(po, 1.0f, eltwise_alg(pre.kind), pre.alpha, pre.beta);
    if (s == dnnl_success && sum) s = dnnl_post_ops_append_sum(po, 1.0f);
    if (s == dnnl_success && post.kind != TTL_ACT_NONE) s = dnnl_post_ops_append_eltwise(po, 1.0f, eltwise_alg(post.kind), post.alpha, post.beta);
    if (s == dnnl_success) s = dnnl_primitive_attr_create(attr);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(*attr, po);
    if (po) dnnl_post_ops_destroy(po);
    return s;
}

static ttl_step *new_step(void) { return calloc(1, sizeof(ttl_step)); }

static ttl_step *give_up(ttl_step *st, char *err, size_t errlen, const char *what, dnnl_status_t s) {
    fail(err, errlen, what, s);
    ttl_step_free(st);
    return NULL;
}

/// The step of ttl's Winograd convolution when it applies: a 3×3, stride 1, undilated,
/// ungrouped convolution whose source is in nChw8c (oneDNN's choice on AVX2), nChw16c or nhwc
/// (oneDNN 2.6's brgemm kernels' choice on AVX-512) and whose output may be in the same
/// layout (see ttl_winograd.h).
static ttl_step *winograd_conv(const ttl_md *src, const ttl_md *dst, const int64_t dst_dims[4], const int64_t weight_dims[4],
                               int64_t groups, const int64_t stride[2], const int64_t dilation[2], const int64_t pad_l[2],
                               const int64_t pad_r[2], const float *weights, const float *scales, const float *bias, ttl_act pre,
                               int sum, ttl_act post) {
    if (groups != 1 || weight_dims[2] != 3 || weight_dims[3] != 3 || stride[0] != 1 || stride[1] != 1 || dilation[0] != 1 ||
        dilation[1] != 1 || src->md.ndims != 4 || weight_dims[1] != src->md.dims[1] || weight_dims[0] != dst_dims[1] ||
        dst_dims[0] != src->md.dims[0])
        return NULL;
    const int64_t *sd = src->md.dims;
    if (dst_dims[2] != sd[2] + pad_l[0] + pad_r[0] - 2 || dst_dims[3] != sd[3] + pad_l[1] + pad_r[1] - 2) return NULL;
    dnnl_memory_desc_t blocked_src, blocked_dst;
    dnnl_dims_t dd = {dst_dims[0], dst_dims[1], dst_dims[2], dst_dims[3]};
    // The channel block of each layout: nhwc is nChw{C}c.
    static const dnnl_format_tag_t tags[3] = {dnnl_nChw8c, dnnl_nChw16c, dnnl_nhwc};
    int64_t in_block = 0, out_block = 0;
    for (int t = 0; t < 3 && !in_block; t++) {
        if (dnnl_memory_desc_init_by_tag(&blocked_src, 4, sd, dnnl_f32, tags[t]) != dnnl_success ||
            dnnl_memory_desc_init_by_tag(&blocked_dst, 4, dd, dnnl_f32, tags[t]) != dnnl_success)
            return NULL;
        if (dnnl_memory_desc_equal(&blocked_src, &src->md) && (!dst || dnnl_memory_desc_equal(&blocked_dst, &dst->md))) {
            in_block = t == 0 ? 8 : t == 1 ? 16 : sd[1];
            out_block = t == 0 ? 8 : t == 1 ? 16 : dst_dims[1];
        }
    }
    if (!in_block) return NULL;
    ttl_wino *w = ttl_wino_create(sd[0], sd[1], sd[2], sd[3], dst_dims[1], dst_dims[2], dst_dims[3], pad_l[0], pad_l[1], in_block,
                                  out_block, weights, scales, bias, pre, sum, post, 0);
    if (!w) return NULL;
    ttl_step *st = new_step();
    if (!st || make_slot(st, TTL_SLOT_DST, &blocked_dst) != dnnl_success || make_slot(st, TTL_SLOT_SRC, &blocked_src) != dnnl_success) {
        ttl_wino_free(w);
        ttl_step_free(st);
        return NULL;
    }
    st->wino = w;
    st->dst_md = blocked_dst;
    st->dst_wrapped.md = blocked_dst;
    return st;
}

ttl_step *ttl_conv_create(const ttl_md *src, const ttl_md *dst, const int64_t dst_dims[4], const int64_t weight_dims[4],
                          int64_t groups, const int64_t stride[2], const int64_t dilation[2], const int64_t pad_l[2],
                          const int64_t pad_r[2], const float *weights, const float *scales, const float *bias, ttl_act pre,
                          int sum, ttl_act post, char *err, size_t errlen) {
    if (!engine) { fail(err, errlen, "convolution", dnnl_runtime_error); return NULL; }
    ttl_step *st = winograd_conv(src, dst, dst_dims, weight_dims, groups, stride, dilation, pad_l, pad_r, weights, scales, bias,
                                 pre, sum, post);
    if (st) return st;
    st = new_step();
    if (!st) return NULL;
    dnnl_memory_desc_t src_any, w_any, w_user, b_md, dst_md;
    dnnl_dims_t wd = {0};
    int wnd;
    dnnl_format_tag_t wtag;
    if (groups > 1) {
        wnd = 5;
        wd[0] = groups; wd[1] = weight_dims[0] / groups; wd[2] = weight_dims[1]; wd[3] = weight_dims[2]; wd[4] = weight_dims[3];
        wtag = dnnl_goihw;
    } else {
        wnd = 4;
        for (int i = 0; i < 4; i++) wd[i] = weight_dims[i];
        wtag = dnnl_oihw;
    }
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&w_user, wnd, wd, dnnl_f32, wtag);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&w_any, wnd, wd, dnnl_f32, dnnl_format_tag_any);
    if (s == dnnl_success) s = init_any(&src_any, 4, src->md.dims) == 0 ? dnnl_success : dnnl_invalid_arguments;
    if (s == dnnl_success) {
        if (dst) dst_md = dst->md;
        else s = init_any(&dst_md, 4, dst_dims) == 0 ? dnnl_success : dnnl_invalid_arguments;
        // The activation layout wanted (see `activation_tag`); a plain source (the image) is
        // left to the primitive.
        if (!dst && activation_tag != dnnl_format_tag_any && s == dnnl_success) {
            dnnl_dims_t dd4 = {dst_dims[0], dst_dims[1], dst_dims[2], dst_dims[3]};
            s = dnnl_memory_desc_init_by_tag(&dst_md, 4, dd4, dnnl_f32, activation_tag);
            if (s == dnnl_success && !ttl_md_is_plain(src)) s = dnnl_memory_desc_init_by_tag(&src_any, 4, src->md.dims, dnnl_f32, activation_tag);
        }
    }
    dnnl_dims_t bd = {weight_dims[0]};
    if (s == dnnl_success && bias) s = dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);
    if (s != dnnl_success) return give_up(st, err, errlen, "convolution descriptors", s);

    dnnl_dims_t strides = {stride[0], stride[1]}, dil = {dilation[0] - 1, dilation[1] - 1};
    dnnl_dims_t pl = {pad_l[0], pad_l[1]}, pr = {pad_r[0], pad_r[1]};
    dnnl_convolution_desc_t cd;
    s = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src_any, &w_any,
                                                   bias ? &b_md : NULL, &dst_md, strides, dil, pl, pr);
    if (s != dnnl_success) return give_up(st, err, errlen, "convolution", s);
    dnnl_primitive_attr_t attr = NULL;
    s = post_ops(pre, sum, post, &attr);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&st->pd, &cd, attr, engine, NULL);
    // A layout asked for that only oneDNN's reference kernel takes (a grouped convolution of a
    // few channels per group, say): let the primitive choose instead.
    const char *info = NULL;
    if (s == dnnl_success && !dst && activation_tag != dnnl_format_tag_any &&
        dnnl_primitive_desc_query(st->pd, dnnl_query_impl_info_str, 0, &info) == dnnl_success && info && strncmp(info, "ref", 3) == 0) {
        dnnl_primitive_desc_destroy(st->pd);
        st->pd = NULL;
        s = init_any(&dst_md, 4, dst_dims) == 0 && init_any(&src_any, 4, src->md.dims) == 0 ? dnnl_success : dnnl_invalid_arguments;
        if (s == dnnl_success)
            s = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src_any, &w_any,
                                                           bias ? &b_md : NULL, &dst_md, strides, dil, pl, pr);
        if (s == dnnl_success) s = dnnl_primitive_desc_create(&st->pd, &cd, attr, engine, NULL);
    }
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return give_up(st, err, errlen, "convolution", s);

    dnnl_memory_t w_mem = NULL, b_mem = NULL;
    const dnnl_memory_desc_t *w_want = dnnl_primitive_desc_query_md(st->pd, dnnl_query_weights_md, 0);
    // Output channels are dim 0 of oihw, dims 0 and 1 (group, channel in group) of goihw.
    s = own_scaled(st, &w_user, w_want, weights, scales, weight_dims[0], groups > 1 ? 3 : 1, &w_mem);
    if (s == dnnl_success && bias) s = own_reordered(st, &b_md, &b_md, bias, &b_mem);
    if (s == dnnl_success) s = finish(st, &src->md, DNNL_ARG_SRC);
    if (s != dnnl_success) return give_up(st, err, errlen, "convolution weights", s);
    add_arg(st, DNNL_ARG_WEIGHTS, w_mem);
    if (b_mem) add_arg(st, DNNL_ARG_BIAS, b_mem);
    return st;
}

ttl_step *ttl_pool_create(const ttl_md *src, const int64_t dst_dims[4], int alg, const int64_t kernel[2], const int64_t stride[2],
                          const int64_t dilation[2], const int64_t pad_l[2], const int64_t pad_r[2], char *err, size_t errlen) {
    if (!engine) { fail(err, errlen, "pooling", dnnl_runtime_error); return NULL; }
    ttl_step *st = new_step();
    if (!st) return NULL;
    dnnl_memory_desc_t dst_md;
    init_any(&dst_md, 4, dst_dims);
    dnnl_alg_kind_t a = alg == TTL_POOL_MAX ? dnnl_pooling_max
                        : alg == TTL_POOL_AVG_INCLUDE_PAD ? dnnl_pooling_avg_include_padding : dnnl_pooling_avg_exclude_padding;
    dnnl_dims_t k = {kernel[0], kernel[1]}, str = {stride[0], stride[1]}, dil = {dilation[0] - 1, dilation[1] - 1};
    dnnl_dims_t pl = {pad_l[0], pad_l[1]}, pr = {pad_r[0], pad_r[1]};
    dnnl_pooling_v2_desc_t pd;
    dnnl_status_t s = dnnl_pooling_v2_forward_desc_init(&pd, dnnl_forward_inference, a, &src->md, &dst_md, str, k, dil, pl, pr);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&st->pd, &pd, NULL, engine, NULL);
    if (s == dnnl_success) s = finish(st, &src->md, DNNL_ARG_SRC);
    if (s != dnnl_success) return give_up(st, err, errlen, "pooling", s);
    return st;
}

ttl_step *ttl_eltwise_create(const ttl_md *src, ttl_act act, char *err, size_t errlen) {
    if (!engine) { fail(err, errlen, "eltwise", dnnl_runtime_error); return NULL; }
    ttl_step *st = new_step();
    if (!st) return NULL;
    dnnl_eltwise_desc_t ed;
    dnnl_status_t s = dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, eltwise_alg(act.kind), &src->md, act.alpha, act.beta);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&st->pd, &ed, NULL, engine, NULL);
    if (s == dnnl_success) s = finish(st, &src->md, DNNL_ARG_SRC);
    if (s != dnnl_success) return give_up(st, err, errlen, "eltwise", s);
    return st;
}

ttl_step *ttl_binary_create(const ttl_md *src0, const ttl_md *src1, int alg, ttl_act post, char *err, size_t errlen) {
    if (!engine) { fail(err, errlen, "binary", dnnl_runtime_error); return NULL; }
    ttl_step *st = new_step();
    if (!st) return NULL;
    static const dnnl_alg_kind_t algs[] = {dnnl_binary_add, dnnl_binary_mul, dnnl_binary_sub, dnnl_binary_div, dnnl_binary_max, dnnl_binary_min};
    if (alg < 0 || alg > 5) return give_up(st, err, errlen, "binary", dnnl_invalid_arguments);
    dnnl_binary_desc_t bd;
    dnnl_status_t s = dnnl_binary_desc_init(&bd, algs[alg], &src0->md, &src1->md, &src0->md);
    dnnl_primitive_attr_t attr = NULL;
    ttl_act none = {TTL_ACT_NONE, 0, 0};
    if (s == dnnl_success) s = post_ops(none, 0, post, &attr);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&st->pd, &bd, attr, engine, NULL);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s == dnnl_success) s = finish(st, &src0->md, DNNL_ARG_SRC_0);
    if (s == dnnl_success) s = make_slot(st, TTL_SLOT_SRC1, &src1->md);
    if (s != dnnl_success) return give_up(st, err, errlen, "binary", s);
    add_arg(st, DNNL_ARG_SRC_1, st->slots[TTL_SLOT_SRC1]);
    return st;
}

ttl_step *ttl_inner_product_create(const ttl_md *src, int64_t outputs, const float *weights, const float *bias,
                                   char *err, size_t errlen) {
    if (!engine) { fail(err, errlen, "inner product", dnnl_runtime_error); return NULL; }
    ttl_step *st = new_step();
    if (!st) return NULL;
    int n = src->md.ndims;
    dnnl_dims_t wd = {0}, dd = {src->md.dims[0], outputs}, bd = {outputs};
    wd[0] = outputs;
    for (int i = 1; i < n; i++) wd[i] = src->md.dims[i];
    dnnl_memory_desc_t w_user, w_any, b_md, dst_md, src_any;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&w_user, n, wd, dnnl_f32, plain_tag(n));
    // Batches of 8 and more let oneDNN choose the weights' layout: its brgemm kernel on
    // reordered weights ran a 32 × 2048 → 1000 classifier in 1.7 ms against 7.3 ms for its
    // gemm on the row-major weights (AMD EPYC Zen 4, 2 threads, loaded), and its first run
    // took 4 ms instead of 170 ms (the gemm generates its kernels then). Smaller batches keep
    // the caller's row-major layout: there both ran alike (0.17 ms at batch 1) and the plan
    // saves the reorder.
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&w_any, n, wd, dnnl_f32, src->md.dims[0] >= 8 ? dnnl_format_tag_any : plain_tag(n));
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, dnnl_f32, dnnl_ab);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&src_any, n, src->md.dims, dnnl_f32, dnnl_format_tag_any);
    dnnl_inner_product_desc_t ipd;
    if (s == dnnl_success) s = dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &src_any, &w_any, bias ? &b_md : NULL, &dst_md);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&st->pd, &ipd, NULL, engine, NULL);
    if (s != dnnl_success) return give_up(st, err, errlen, "inner product", s);
    dnnl_memory_t w_mem = NULL, b_mem = NULL;
    s = own_reordered(st, &w_user, dnnl_primitive_desc_query_md(st->pd, dnnl_query_weights_md, 0), weights, &w_mem);
    if (s == dnnl_success && bias) s = own_reordered(st, &b_md, &b_md, bias, &b_mem);
    if (s == dnnl_success) s = finish(st, &src->md, DNNL_ARG_SRC);
    if (s != dnnl_success) return give_up(st, err, errlen, "inner product", s);
    add_arg(st, DNNL_ARG_WEIGHTS, w_mem);
    if (b_mem) add_arg(st, DNNL_ARG_BIAS, b_mem);
    return st;
}

ttl_step *ttl_batch_norm_create(const ttl_md *src, float epsilon, const float *mean, const float *variance,
                                const float *scale, const float *shift, ttl_act post, char *err, size_t errlen) {
    if (!engine) { fail(err, errlen, "batch norm", dnnl_runtime_error); return NULL; }
    ttl_step *st = new_step();
    if (!st) return NULL;
    dnnl_batch_normalization_desc_t bd;
    unsigned flags = dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift;
    dnnl_status_t s = dnnl_batch_normalization_forward_desc_init(&bd, dnnl_forward_inference, &src->md, epsilon, flags);
    dnnl_primitive_attr_t attr = NULL;
    ttl_act none = {TTL_ACT_NONE, 0, 0};
    if (s == dnnl_success) s = post_ops(none, 0, post, &attr);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&st->pd, &bd, attr, engine, NULL);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return give_up(st, err, errlen, "batch norm", s);
    dnnl_memory_desc_t c_md;
    dnnl_dims_t cd = {src->md.dims[1]};
    dnnl_memory_desc_init_by_tag(&c_md, 1, cd, dnnl_f32, dnnl_a);
    dnnl_memory_t m[4] = {NULL};
    const float *data[4] = {mean, variance, scale, shift};
    static const int args[4] = {DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_SCALE, DNNL_ARG_SHIFT};
    for (int i = 0; i < 4 && s == dnnl_success; i++) s = own_reordered(st, &c_md, &c_md, data[i], &m[i]);
    if (s == dnnl_success) s = finish(st, &src->md, DNNL_ARG_SRC);
    if (s != dnnl_success) return give_up(st, err, errlen, "batch norm", s);
    for (int i = 0; i < 4; i++) add_arg(st, args[i], m[i]);
    return st;
}

ttl_step *ttl_concat_create(int n, const ttl_md *const *srcs, int axis, char *err, size_t errlen) {
    if (!engine) { fail(err, errlen, "concat", dnnl_runtime_error); return NULL; }
    if (n < 1 || n > TTL_SLOT_COUNT_MAX - 1) { fail(err, errlen, "concat", dnnl_invalid_arguments); return NULL; }
    ttl_step *st = new_step();
    if (!st) return NULL;
    dnnl_memory_desc_t mds[TTL_SLOT_COUNT_MAX];
    for (int i = 0; i < n; i++) mds[i] = srcs[i]->md;
    dnnl_status_t s = dnnl_concat_primitive_desc_create(&st->pd, NULL, n, axis, mds, NULL, engine);
    if (s == dnnl_success) s = finish(st, NULL, 0);
    for (int i = 0; i < n && s == dnnl_success; i++) {
        s = make_slot(st, TTL_SLOT_SRC + i, &mds[i]);
        if (s == dnnl_success) add_arg(st, DNNL_ARG_MULTIPLE_SRC + i, st->slots[TTL_SLOT_SRC + i]);
    }
    if (s != dnnl_success) return give_up(st, err, errlen, "concat", s);
    return st;
}

ttl_step *ttl_reorder_create(const ttl_md *src, const ttl_md *dst, char *err, size_t errlen) {
    if (!engine) { fail(err, errlen, "reorder", dnnl_runtime_error); return NULL; }
    ttl_step *st = new_step();
    if (!st) return NULL;
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(&st->pd, &src->md, engine, &dst->md, engine, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(&st->primitive, st->pd);
    if (s == dnnl_success) {
        st->dst_md = dst->md;
        st->dst_wrapped.md = dst->md;
        s = make_slot(st, TTL_SLOT_DST, &dst->md);
    }
    if (s == dnnl_success) s = make_slot(st, TTL_SLOT_SRC, &src->md);
    if (s != dnnl_success) return give_up(st, err, errlen, "reorder", s);
    add_arg(st, DNNL_ARG_FROM, st->slots[TTL_SLOT_SRC]);
    add_arg(st, DNNL_ARG_TO, st->slots[TTL_SLOT_DST]);
    return st;
}

const ttl_md *ttl_step_dst_md(const ttl_step *st) { return &st->dst_wrapped; }

void ttl_step_bind(ttl_step *st, int slot, void *buffer) {
    if (slot < 0 || slot >= st->slot_count || !st->slots[slot]) return;
    st->bound[slot] = buffer;
    dnnl_memory_set_data_handle(st->slots[slot], buffer);
}

int ttl_step_run(ttl_step *st) {
    if (st->wino) {
        if (!st->bound[TTL_SLOT_SRC] || !st->bound[TTL_SLOT_DST]) return (int)dnnl_invalid_arguments;
        return ttl_wino_run(st->wino, st->bound[TTL_SLOT_SRC], st->bound[TTL_SLOT_DST]) == 0 ? 0 : (int)dnnl_out_of_memory;
    }
    dnnl_status_t s = dnnl_success;
    if (st->src_reorder) {
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, st->slots[TTL_SLOT_SRC]}, {DNNL_ARG_TO, st->src_internal}};
        s = dnnl_primitive_execute(st->src_reorder, stream, 2, a);
    }
    if (s == dnnl_success) s = dnnl_primitive_execute(st->primitive, stream, st->arg_count, st->args);
    if (s == dnnl_success) s = dnnl_stream_wait(stream);
    return s == dnnl_success ? 0 : (int)s;
}

const char *ttl_step_impl(ttl_step *st) {
    if (st->wino) return ttl_wino_name(st->wino);
    if (st->impl[0]) return st->impl;
    const char *info = NULL;
    if (dnnl_primitive_desc_query(st->pd, dnnl_query_impl_info_str, 0, &info) != dnnl_success || !info) info = "?";
    // A step that reorders its source first says so, with the layout it reorders into.
    char want[32] = "";
    if (st->src_internal) {
        ttl_md m = {*dnnl_primitive_desc_query_md(st->pd, dnnl_query_src_md, 0)};
        ttl_md_describe(&m, want, sizeof want);
    }
    snprintf(st->impl, sizeof st->impl, "%s%s%s", info, st->src_internal ? " after a source reorder to " : "", want);
    return st->impl;
}


// MARK: - Convolutions for training

/// A plain user buffer and, when the primitive wants another layout, its internal copy.
struct ttl_port {
    dnnl_memory_desc_t user_md, want_md;
    dnnl_memory_t user, internal;  // internal NULL when the layouts agree
    dnnl_primitive_t to_internal, to_user;
};

struct ttl_conv_train {
    dnnl_primitive_desc_t fwd_pd, bwd_data_pd, bwd_weights_pd;
    dnnl_primitive_t fwd, bwd_data, bwd_weights;
    // Forward: src, weights, dst. Backward data: diff_dst, weights, diff_src.
    // Backward weights: src, diff_dst, diff_weights. Each primitive gets its own ports, as
    // their preferred layouts may differ.
    struct ttl_port f_src, f_w, f_dst, d_ddst, d_w, d_dsrc, w_src, w_ddst, w_dw;
    dnnl_memory_t bias, diff_bias;
    int with_bias;
    int64_t outputs;
};

static dnnl_status_t port_init(struct ttl_port *p, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want, int output) {
    memset(p, 0, sizeof *p);
    p->user_md = *user;
    p->want_md = *want;
    dnnl_status_t s = dnnl_memory_create(&p->user, user, engine, DNNL_MEMORY_NONE);
    if (s != dnnl_success || dnnl_memory_desc_equal(user, want)) return s;
    s = dnnl_memory_create(&p->internal, want, engine, DNNL_MEMORY_ALLOCATE);
    dnnl_primitive_desc_t rpd = NULL;
    if (s == dnnl_success) {
        s = output ? dnnl_reorder_primitive_desc_create(&rpd, want, engine, user, engine, NULL)
                   : dnnl_reorder_primitive_desc_create(&rpd, user, engine, want, engine, NULL);
    }
    if (s == dnnl_success) s = dnnl_primitive_create(output ? &p->to_user : &p->to_internal, rpd);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return s;
}

static void port_free(struct ttl_port *p) {
    if (p->user) dnnl_memory_destroy(p->user);
    if (p->internal) dnnl_memory_destroy(p->internal);
    if (p->to_internal) dnnl_primitive_destroy(p->to_internal);
    if (p->to_user) dnnl_primitive_destroy(p->to_user);
}

/// Binds `buffer` and returns the memory the primitive reads (reordered in when needed).
static dnnl_status_t port_in(struct ttl_port *p, const void *buffer, dnnl_memory_t *out) {
    dnnl_status_t s = dnnl_memory_set_data_handle(p->user, (void *)buffer);
    if (s != dnnl_success) return s;
    if (!p->internal) { *out = p->user; return dnnl_success; }
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, p->user}, {DNNL_ARG_TO, p->internal}};
    s = dnnl_primitive_execute(p->to_internal, stream, 2, a);
    *out = p->internal;
    return s;
}

static dnnl_status_t port_out(struct ttl_port *p, void *buffer, dnnl_memory_t *out) {
    dnnl_status_t s = dnnl_memory_set_data_handle(p->user, buffer);
    *out = p->internal ? p->internal : p->user;
    return s;
}

static dnnl_status_t port_finish(struct ttl_port *p) {
    if (!p->internal) return dnnl_success;
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, p->internal}, {DNNL_ARG_TO, p->user}};
    return dnnl_primitive_execute(p->to_user, stream, 2, a);
}

const char *ttl_conv_train_impl(const ttl_conv_train *c, int which) {
    const dnnl_primitive_desc_t pd = which == 0 ? c->fwd_pd : which == 1 ? c->bwd_data_pd : c->bwd_weights_pd;
    const char *info = NULL;
    if (!pd || dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &info) != dnnl_success || !info) return "?";
    return info;
}

void ttl_conv_train_free(ttl_conv_train *c) {
    if (!c) return;
    if (c->fwd) dnnl_primitive_destroy(c->fwd);
    if (c->bwd_data) dnnl_primitive_destroy(c->bwd_data);
    if (c->bwd_weights) dnnl_primitive_destroy(c->bwd_weights);
    if (c->fwd_pd) dnnl_primitive_desc_destroy(c->fwd_pd);
    if (c->bwd_data_pd) dnnl_primitive_desc_destroy(c->bwd_data_pd);
    if (c->bwd_weights_pd) dnnl_primitive_desc_destroy(c->bwd_weights_pd);
    struct ttl_port *ports[] = {&c->f_src, &c->f_w, &c->f_dst, &c->d_ddst, &c->d_w, &c->d_dsrc, &c->w_src, &c->w_ddst, &c->w_dw};
    for (size_t i = 0; i < sizeof ports / sizeof *ports; i++) port_free(ports[i]);
    if (c->bias) dnnl_memory_destroy(c->bias);
    if (c->diff_bias) dnnl_memory_destroy(c->diff_bias);
    free(c);
}

ttl_conv_train *ttl_conv_train_create(const int64_t src_dims[4], const int64_t dst_dims[4], const int64_t weight_dims[4],
                                      int64_t groups, const int64_t stride[2], const int64_t dilation[2],
                                      const int64_t pad_l[2], const int64_t pad_r[2], int with_bias, char *err, size_t errlen) {
    if (!engine) { fail(err, errlen, "training convolution", dnnl_runtime_error); return NULL; }
    ttl_conv_train *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->with_bias = with_bias;
    c->outputs = weight_dims[0];
    dnnl_memory_desc_t src_u, dst_u, w_u, b_md, src_a, dst_a, w_a;
    dnnl_dims_t wd = {0};
    int wnd = groups > 1 ? 5 : 4;
    if (groups > 1) {
        wd[0] = groups; wd[1] = weight_dims[0] / groups; wd[2] = weight_dims[1]; wd[3] = weight_dims[2]; wd[4] = weight_dims[3];
    } else {
        for (int i = 0; i < 4; i++) wd[i] = weight_dims[i];
    }
    dnnl_dims_t bd = {weight_dims[0]};
    dnnl_status_t s = init_plain(&src_u, 4, src_dims) == 0 && init_plain(&dst_u, 4, dst_dims) == 0 ? dnnl_success : dnnl_invalid_arguments;
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&w_u, wnd, wd, dnnl_f32, groups > 1 ? dnnl_goihw : dnnl_oihw);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&w_a, wnd, wd, dnnl_f32, dnnl_format_tag_any);
    if (s == dnnl_success) s = dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a);
    if (s == dnnl_success) s = init_any(&src_a, 4, src_dims) == 0 && init_any(&dst_a, 4, dst_dims) == 0 ? dnnl_success : dnnl_invalid_arguments;
    dnnl_dims_t strides = {stride[0], stride[1]}, dil = {dilation[0] - 1, dilation[1] - 1};
    dnnl_dims_t pl = {pad_l[0], pad_l[1]}, pr = {pad_r[0], pad_r[1]};
    // A 3×3, stride-1 convolution tries oneDNN's Winograd F(4×4, 3×3) first, for all three
    // primitives: oneDNN has it only for AVX-512 (`jit_wino_4x3:avx512_core`, 16-channel
    // multiples), where it ran ResNet-50's layer4 3×3 backward weights about twice as fast as
    // direct convolution. Anywhere it is not implemented, direct convolution as before.
    const char *wino_env = getenv("TTL_WINOGRAD");
    const int try_wino = groups == 1 && weight_dims[2] == 3 && weight_dims[3] == 3 && stride[0] == 1 && stride[1] == 1 &&
                         dilation[0] == 1 && dilation[1] == 1 && !(wino_env && strcmp(wino_env, "0") == 0);
    for (int attempt = try_wino ? 0 : 1; attempt < 2 && s == dnnl_success; attempt++) {
        dnnl_alg_kind_t alg = attempt == 0 ? dnnl_convolution_winograd : dnnl_convolution_direct;
        dnnl_convolution_desc_t fd, dd, wdsc;
        dnnl_status_t t = dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training, alg, &src_a, &w_a,
                                                                     with_bias ? &b_md : NULL, &dst_a, strides, dil, pl, pr);
        if (t == dnnl_success) t = dnnl_primitive_desc_create(&c->fwd_pd, &fd, NULL, engine, NULL);
        if (t == dnnl_success)
            t = dnnl_dilated_convolution_backward_data_desc_init(&dd, alg, &src_a, &w_a, &dst_a, strides, dil, pl, pr);
        if (t == dnnl_success) t = dnnl_primitive_desc_create(&c->bwd_data_pd, &dd, NULL, engine, c->fwd_pd);
        if (t == dnnl_success)
            t = dnnl_dilated_convolution_backward_weights_desc_init(&wdsc, alg, &src_a, &w_a, with_bias ? &b_md : NULL, &dst_a,
                                                                    strides, dil, pl, pr);
        if (t == dnnl_success) t = dnnl_primitive_desc_create(&c->bwd_weights_pd, &wdsc, NULL, engine, c->fwd_pd);
        if (t == dnnl_success) break;
        dnnl_primitive_desc_t *pds[3] = {&c->fwd_pd, &c->bwd_data_pd, &c->bwd_weights_pd};
        for (int i = 0; i < 3; i++)
            if (*pds[i]) { dnnl_primitive_desc_destroy(*pds[i]); *pds[i] = NULL; }
        if (attempt == 1) s = t;
    }
    if (s == dnnl_success) s = dnnl_primitive_create(&c->fwd, c->fwd_pd);
    if (s == dnnl_success) s = dnnl_primitive_create(&c->bwd_data, c->bwd_data_pd);
    if (s == dnnl_success) s = dnnl_primitive_create(&c->bwd_weights, c->bwd_weights_pd);
#define Q(pd, what) dnnl_primitive_desc_query_md(c->pd, what, 0)
    if (s == dnnl_success) s = port_init(&c->f_src, &src_u, Q(fwd_pd, dnnl_query_src_md), 0);
    if (s == dnnl_success) s = port_init(&c->f_w, &w_u, Q(fwd_pd, dnnl_query_weights_md), 0);
    if (s == dnnl_success) s = port_init(&c->f_dst, &dst_u, Q(fwd_pd, dnnl_query_dst_md), 1);
    if (s == dnnl_success) s = port_init(&c->d_ddst, &dst_u, Q(bwd_data_pd, dnnl_query_diff_dst_md), 0);
    if (s == dnnl_success) s = port_init(&c->d_w, &w_u, Q(bwd_data_pd, dnnl_query_weights_md), 0);
    if (s == dnnl_success) s = port_init(&c->d_dsrc, &src_u, Q(bwd_data_pd, dnnl_query_diff_src_md), 1);
    if (s == dnnl_success) s = port_init(&c->w_src, &src_u, Q(bwd_weights_pd, dnnl_query_src_md), 0);
    if (s == dnnl_success) s = port_init(&c->w_ddst, &dst_u, Q(bwd_weights_pd, dnnl_query_diff_dst_md), 0);
    if (s == dnnl_success) s = port_init(&c->w_dw, &w_u, Q(bwd_weights_pd, dnnl_query_diff_weights_md), 1);
#undef Q
    if (s == dnnl_success && with_bias) s = dnnl_memory_create(&c->bias, &b_md, engine, DNNL_MEMORY_NONE);
    if (s == dnnl_success && with_bias) s = dnnl_memory_create(&c->diff_bias, &b_md, engine, DNNL_MEMORY_NONE);
    if (s != dnnl_success) {
        fail(err, errlen, "training convolution", s);
        ttl_conv_train_free(c);
        return NULL;
    }
    return c;
}

int ttl_conv_train_forward(ttl_conv_train *c, const float *src, const float *weights, const float *bias, float *dst) {
    dnnl_memory_t x, w, y;
    dnnl_status_t s = port_in(&c->f_src, src, &x);
    if (s == dnnl_success) s = port_in(&c->f_w, weights, &w);
    if (s == dnnl_success) s = port_out(&c->f_dst, dst, &y);
    if (s != dnnl_success) return (int)s;
    dnnl_exec_arg_t a[4] = {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, y}, {DNNL_ARG_BIAS, c->bias}};
    int n = 3;
    if (c->with_bias) {
        if (!bias) return (int)dnnl_invalid_arguments;
        dnnl_memory_set_data_handle(c->bias, (void *)bias);
        n = 4;
    }
    s = dnnl_primitive_execute(c->fwd, stream, n, a);
    if (s == dnnl_success) s = port_finish(&c->f_dst);
    if (s == dnnl_success) s = dnnl_stream_wait(stream);
    return (int)s;
}

int ttl_conv_train_backward_data(ttl_conv_train *c, const float *diff_dst, const float *weights, float *diff_src) {
    dnnl_memory_t dy, w, dx;
    dnnl_status_t s = port_in(&c->d_ddst, diff_dst, &dy);
    if (s == dnnl_success) s = port_in(&c->d_w, weights, &w);
    if (s == dnnl_success) s = port_out(&c->d_dsrc, diff_src, &dx);
    if (s != dnnl_success) return (int)s;
    dnnl_exec_arg_t a[3] = {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, dx}};
    s = dnnl_primitive_execute(c->bwd_data, stream, 3, a);
    if (s == dnnl_success) s = port_finish(&c->d_dsrc);
    if (s == dnnl_success) s = dnnl_stream_wait(stream);
    return (int)s;
}

int ttl_conv_train_backward_weights(ttl_conv_train *c, const float *diff_dst, const float *src, float *diff_weights, float *diff_bias) {
    dnnl_memory_t dy, x, dw;
    dnnl_status_t s = port_in(&c->w_ddst, diff_dst, &dy);
    if (s == dnnl_success) s = port_in(&c->w_src, src, &x);
    if (s == dnnl_success) s = port_out(&c->w_dw, diff_weights, &dw);
    if (s != dnnl_success) return (int)s;
    // oneDNN always writes the bias gradient of a primitive made with a bias: give it a
    // scratch buffer when the caller does not want it.
    float *scratch = NULL;
    dnnl_exec_arg_t a[4] = {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_WEIGHTS, dw}, {DNNL_ARG_DIFF_BIAS, c->diff_bias}};
    int n = 3;
    if (c->with_bias) {
        if (!diff_bias) {
            scratch = malloc((size_t)c->outputs * sizeof(float));
            if (!scratch) return (int)dnnl_out_of_memory;
        }
        dnnl_memory_set_data_handle(c->diff_bias, diff_bias ? diff_bias : scratch);
        n = 4;
    }
    s = dnnl_primitive_execute(c->bwd_weights, stream, n, a);
    if (s == dnnl_success) s = port_finish(&c->w_dw);
    if (s == dnnl_success) s = dnnl_stream_wait(stream);
    free(scratch);
    return (int)s;
}

#else  // no oneDNN: every call fails and the Swift kernels run instead.

int ttl_onednn_available(void) { return 0; }
int ttl_onednn_start(int threads, char *err, size_t errlen) {
    (void)threads;
    if (err && errlen) snprintf(err, errlen, "ttl was built without oneDNN");
    return -1;
}
void ttl_onednn_call(void (*fn)(void *), void *ctx) { fn(ctx); }
const char *ttl_onednn_isa(void) { return "none"; }
const char *ttl_onednn_version(void) { return "none"; }
int ttl_onednn_set_activation_layout(const char *name) { (void)name; return -1; }
ttl_md *ttl_md_plain(int ndims, const int64_t *dims) { (void)ndims; (void)dims; return NULL; }
ttl_md *ttl_md_copy(const ttl_md *md) { (void)md; return NULL; }
void ttl_md_free(ttl_md *md) { (void)md; }
size_t ttl_md_bytes(const ttl_md *md) { (void)md; return 0; }
int ttl_md_equal(const ttl_md *a, const ttl_md *b) { (void)a; (void)b; return 0; }
int ttl_md_ndims(const ttl_md *md) { (void)md; return 0; }
int64_t ttl_md_dim(const ttl_md *md, int i) { (void)md; (void)i; return 0; }
int ttl_md_is_plain(const ttl_md *md) { (void)md; return 0; }
void ttl_md_describe(const ttl_md *md, char *buf, size_t len) { (void)md; if (len) snprintf(buf, len, "none"); }
#define TTL_NO_STEP(...) { if (err && errlen) snprintf(err, errlen, "ttl was built without oneDNN"); return NULL; }
ttl_step *ttl_conv_create(const ttl_md *src, const ttl_md *dst, const int64_t dst_dims[4], const int64_t weight_dims[4],
                          int64_t groups, const int64_t stride[2], const int64_t dilation[2], const int64_t pad_l[2],
                          const int64_t pad_r[2], const float *weights, const float *scales, const float *bias, ttl_act pre,
                          int sum, ttl_act post, char *err, size_t errlen) TTL_NO_STEP()
ttl_step *ttl_pool_create(const ttl_md *src, const int64_t dst_dims[4], int alg, const int64_t kernel[2], const int64_t stride[2],
                          const int64_t dilation[2], const int64_t pad_l[2], const int64_t pad_r[2], char *err, size_t errlen) TTL_NO_STEP()
ttl_step *ttl_eltwise_create(const ttl_md *src, ttl_act act, char *err, size_t errlen) TTL_NO_STEP()
ttl_step *ttl_binary_create(const ttl_md *src0, const ttl_md *src1, int alg, ttl_act post, char *err, size_t errlen) TTL_NO_STEP()
ttl_step *ttl_inner_product_create(const ttl_md *src, int64_t outputs, const float *weights, const float *bias,
                                   char *err, size_t errlen) TTL_NO_STEP()
ttl_step *ttl_batch_norm_create(const ttl_md *src, float epsilon, const float *mean, const float *variance,
                                const float *scale, const float *shift, ttl_act post, char *err, size_t errlen) TTL_NO_STEP()
ttl_step *ttl_concat_create(int n, const ttl_md *const *srcs, int axis, char *err, size_t errlen) TTL_NO_STEP()
ttl_step *ttl_reorder_create(const ttl_md *src, const ttl_md *dst, char *err, size_t errlen) TTL_NO_STEP()
const ttl_md *ttl_step_dst_md(const ttl_step *st) { (void)st; return NULL; }
void ttl_step_bind(ttl_step *st, int slot, void *buffer) { (void)st; (void)slot; (void)buffer; }
int ttl_step_run(ttl_step *st) { (void)st; return -1; }
const char *ttl_step_impl(ttl_step *st) { (void)st; return "none"; }
void ttl_step_free(ttl_step *st) { (void)st; }

ttl_conv_train *ttl_conv_train_create(const int64_t src_dims[4], const int64_t dst_dims[4], const int64_t weight_dims[4],
                                      int64_t groups, const int64_t stride[2], const int64_t dilation[2],
                                      const int64_t pad_l[2], const int64_t pad_r[2], int with_bias, char *err, size_t errlen) TTL_NO_STEP()
int ttl_conv_train_forward(ttl_conv_train *c, const float *src, const float *weights, const float *bias, float *dst) {
    (void)c; (void)src; (void)weights; (void)bias; (void)dst; return -1;
}
int ttl_conv_train_backward_data(ttl_conv_train *c, const float *diff_dst, const float *weights, float *diff_src) {
    (void)c; (void)diff_dst; (void)weights; (void)diff_src; return -1;
}
int ttl_conv_train_backward_weights(ttl_conv_train *c, const float *diff_dst, const float *src, float *diff_weights, float *diff_bias) {
    (void)c; (void)diff_dst; (void)src; (void)diff_weights; (void)diff_bias; return -1;
}
void ttl_conv_train_free(ttl_conv_train *c) { (void)c; }
const char *ttl_conv_train_impl(const ttl_conv_train *c, int which) { (void)c; (void)which; return "none"; }

#endif
