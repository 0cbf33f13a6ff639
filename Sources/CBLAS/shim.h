// OpenBLAS's CBLAS interface. Debian installs cblas.h under an
// openblas-pthread include folder that `pkg-config --cflags openblas` adds.
#ifndef TTL_CBLAS_SHIM_H
#define TTL_CBLAS_SHIM_H
#include <cblas.h>
#endif
