// See ttl_vector.h. No fused multiply-adds: the results must equal Swift's scalar arithmetic.
#pragma clang fp contract(off)

#include "ttl_vector.h"
#include <math.h>
#include <string.h>

typedef float ttl_v16 __attribute__((ext_vector_type(16)));

void ttl_adam_update(float *p, float *m, float *v, const float *g, size_t n,
                     float lr, float b1, float b2, float c1, float c2, float eps) {
    const float a1 = 1 - b1, a2 = 1 - b2;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        ttl_v16 gi, mi, vi, pi;
        memcpy(&gi, g + i, sizeof gi);
        memcpy(&mi, m + i, sizeof mi);
        memcpy(&vi, v + i, sizeof vi);
        memcpy(&pi, p + i, sizeof pi);
        mi = b1 * mi + a1 * gi;
        vi = b2 * vi + a2 * gi * gi;
        pi = pi - (lr * (mi / c1)) / (__builtin_elementwise_sqrt(vi / c2) + eps);
        memcpy(m + i, &mi, sizeof mi);
        memcpy(v + i, &vi, sizeof vi);
        memcpy(p + i, &pi, sizeof pi);
    }
    for (; i < n; i++) {
        const float mi = b1 * m[i] + a1 * g[i];
        const float vi = b2 * v[i] + a2 * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] - (lr * (mi / c1)) / (__builtin_elementwise_sqrt(vi / c2) + eps);
    }
}
