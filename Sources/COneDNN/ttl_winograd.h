// ttl's own Winograd convolution for the 3×3 stride-1 layers, private to COneDNN.
//
// oneDNN 2.6 has Winograd kernels only for AVX-512; on AVX2 it runs 3×3 convolutions as
// direct convolutions. F(4×4, 3×3) computes a 4×4 output tile from a 6×6 input tile with
// 36 multiplications per (input, output) channel pair instead of 144, so the 3×3 layers of
// ResNets run at about twice the rate of direct convolution on those machines.
//
// Layout: activations in nChw8c (what oneDNN picks on AVX2), nChw16c or nhwc, in and out. The epilogue
// applies what ttl_conv_create's post-ops describe: pre activation, sum, post activation.
#ifndef TTL_WINOGRAD_H
#define TTL_WINOGRAD_H

#include "include/ttl_onednn.h"

typedef struct ttl_wino ttl_wino;

/// A Winograd convolution for these shapes, or NULL when it does not apply (not AVX2 + FMA,
/// channels not multiples of 8 and 16, an activation the epilogue lacks, too few tiles to
/// occupy `threads` (0: the engine's team), or `TTL_WINOGRAD=0`;
/// `TTL_WINOGRAD=panels` makes U per panel of output channels even where it would be kept). Weights [K, C, 3, 3] row-major; `scales`
/// (NULL or [K]) multiply them; `bias` NULL or [K].
ttl_wino *ttl_wino_create(int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t oh, int64_t ow, int64_t pad_top,
                          int64_t pad_left, int64_t in_block, int64_t out_block, const float *weights, const float *scales, const float *bias, ttl_act pre, int sum,
                          ttl_act post, int threads);
/// `in_block`, `out_block`: the channel block of the source's and destination's layouts, 8
/// (nChw8c, what oneDNN picks on AVX2), 16 (nChw16c) or all the channels, C and K (nhwc,
/// which oneDNN 2.6's brgemm kernels pick on AVX-512: nhwc is nChw{C}c). The arithmetic is
/// AVX2's 8 lanes either way; where the CPU has AVX-512F the 36 GEMMs run as a 12×16
/// AVX-512 kernel.
/// Runs it: `src` [N, ⌈C/in_block⌉, H, W, in_block], `dst` [N, ⌈K/out_block⌉, OH, OW, out_block] (holding the residual when `sum`).
/// Returns 0, or −1 when its workspace cannot be allocated (nothing is computed then).
int ttl_wino_run(ttl_wino *w, const float *src, float *dst);
void ttl_wino_free(ttl_wino *w);
/// "ttl:winograd_4x4_3x3:avx2", or ":avx512" when its GEMMs run as the AVX-512 kernel.
const char *ttl_wino_name(const ttl_wino *w);

#endif
