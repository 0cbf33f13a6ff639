// libpng's simplified API (Debian: libpng-dev). PNG_IMAGE_SIZE and the format flags are
// macros Swift cannot import; the constants below carry the ones ttl uses.
#ifndef TTL_PNG_SHIM_H
#define TTL_PNG_SHIM_H
#include <png.h>
static const unsigned int ttl_png_format_rgba = PNG_FORMAT_RGBA;
static const unsigned int ttl_png_format_flag_linear = PNG_FORMAT_FLAG_LINEAR;
static const unsigned int ttl_png_image_version = PNG_IMAGE_VERSION;
static inline int ttl_png_failed(const png_image *image) { return PNG_IMAGE_FAILED(*image); }
#endif
