// ttl's own Winograd convolution for the 3×3 stride-1 layers, private to COneDNN.
//
// oneDNN 2.6 has Winograd kernels only for AVX-512; on AVX2 it runs 3×3 convolutions as
// direct convolutions. F(4×4, 3×3) computes a 4×4 output tile from a 6×6 input tile with
// 36 multiplications per (input, output) channel pair instead of 144, so the 3×3 layers of
// ResNets run at about twice the rate of direct convolution on those machines.
//
// Layout: activations in nChw8c (what oneDNN picks on AVX2), in and out. The epilogue
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
                          int64_t pad_left, const float *weights, const float *scales, const float *bias, ttl_act pre, int sum,
                          ttl_act post, int threads);
/// Runs it: `src` [N, C/8, H, W, 8], `dst` [N, K/8, OH, OW, 8] (holding the residual when `sum`).
/// Returns 0, or −1 when its workspace cannot be allocated (nothing is computed then).
int ttl_wino_run(ttl_wino *w, const float *src, float *dst);
void ttl_wino_free(ttl_wino *w);

#endif
