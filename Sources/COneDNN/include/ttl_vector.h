// Element-wise loops that Swift cannot vectorise on its own: a square root in Swift goes
// through sqrtf's errno check, which keeps every lane scalar. These loops use clang's
// element-wise vector square root, which is correctly rounded and sets no errno, so they
// give the same bits as the scalar loops they replace.
#ifndef TTL_VECTOR_H
#define TTL_VECTOR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Adam's update of n parameters in place, in exactly this order of operations:
///   m = b1·m + (1−b1)·g;  v = b2·v + (1−b2)·g·g;  p = p − (lr·(m/c1)) / (√(v/c2) + eps)
/// where c1 and c2 are the bias corrections 1 − b1^t and 1 − b2^t.
void ttl_adam_update(float *p, float *m, float *v, const float *g, size_t n,
                     float lr, float b1, float b2, float c1, float c2, float eps);

#ifdef __cplusplus
}
#endif

#endif
