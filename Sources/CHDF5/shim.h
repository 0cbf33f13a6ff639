// libhdf5's C API (Debian: libhdf5-dev, headers in hdf5/serial; Homebrew: hdf5).
//
// Swift imports functions and enums but not HDF5's macros: the native type ids
// (`H5T_NATIVE_FLOAT` expands to a global read after `H5open()`), property-list and
// flag constants, and the versioned names (`H5Gopen` is `H5Gopen1` or `H5Gopen2`
// depending on how the library was configured; Debian builds the 1.6 API by default).
// The inline functions below give Swift the explicit, current forms.
#ifndef TTL_HDF5_SHIM_H
#define TTL_HDF5_SHIM_H
#include <hdf5.h>
#include <string.h>

static inline hid_t ttl_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t ttl_h5s_all(void) { return H5S_ALL; }
static inline unsigned ttl_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned ttl_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline size_t ttl_h5t_variable(void) { return H5T_VARIABLE; }

static inline hid_t ttl_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t ttl_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t ttl_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t ttl_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t ttl_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }

/// Switches off HDF5's printing of its error stack: failures become Swift errors instead.
static inline void ttl_h5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static inline hid_t ttl_h5_gopen(hid_t loc, const char *name) { return H5Gopen2(loc, name, H5P_DEFAULT); }
static inline hid_t ttl_h5_gcreate(hid_t loc, const char *name) {
    return H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}
static inline hid_t ttl_h5_dopen(hid_t loc, const char *name) { return H5Dopen2(loc, name, H5P_DEFAULT); }
static inline hid_t ttl_h5_dcreate(hid_t loc, const char *name, hid_t type, hid_t space) {
    return H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}
static inline hid_t ttl_h5_acreate(hid_t loc, const char *name, hid_t type, hid_t space) {
    return H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
}

/// A file access property list asking for the HDF5 1.8 file format (dense attribute storage,
/// so attributes past 64 KiB can be written, readable by every HDF5 from 1.8 on).
static inline hid_t ttl_h5_fapl_v18(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18);
    return fapl;
}

/// Frees the strings HDF5 allocated when reading variable-length strings.
static inline herr_t ttl_h5_reclaim(hid_t type, hid_t space, void *buf) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type, space, H5P_DEFAULT, buf);
#else
    return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buf);
#endif
}

/// Whether the object at `name` (relative to `loc`) is a group (1), a dataset (2), or other/missing (0).
static inline int ttl_h5_object_kind(hid_t loc, const char *name) {
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return 0;
    hid_t obj = H5Oopen(loc, name, H5P_DEFAULT);
    if (obj < 0) return 0;
    H5I_type_t t = H5Iget_type(obj);
    H5Oclose(obj);
    return t == H5I_GROUP ? 1 : t == H5I_DATASET ? 2 : 0;
}

static herr_t ttl_h5_error_walker(unsigned n, const H5E_error2_t *e, void *data) {
    // The innermost entry (n == 0) says what failed first; keep it.
    if (n == 0 && e->desc) {
        strncpy((char *)data, e->desc, 255);
        ((char *)data)[255] = 0;
    }
    return 0;
}

/// The description of the innermost error on HDF5's default error stack ("" if none), then clears it.
static inline void ttl_h5_last_error(char buffer[256]) {
    buffer[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, ttl_h5_error_walker, buffer);
    H5Eclear2(H5E_DEFAULT);
}
#endif
