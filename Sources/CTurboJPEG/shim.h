// libjpeg-turbo's TurboJPEG API (Debian: libturbojpeg0-dev).
#ifndef TTL_TURBOJPEG_SHIM_H
#define TTL_TURBOJPEG_SHIM_H
#include <stddef.h>
#include <turbojpeg.h>
#endif
