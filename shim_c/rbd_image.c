/* librbd control plane: image lifecycle, info, snapshots, diff. Anything that needs the
 * catalog goes to the Python core; what the C side already knows (size, geometry) is
 * answered here without taking the GIL. Every output is set on every return, errors included
 * (to the empty state its cleanup call accepts: python3-rbd frees what a failed call filled). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct crbd_image *crbd_image_get(void *handle)
{
    struct crbd_image *img = handle;
    return img && img->magic == CRBD_MAGIC_IMAGE ? img : NULL;
}

CRBD_API void rbd_version(int *major, int *minor, int *extra)
{
    if (major)
        *major = LIBRBD_VER_MAJOR;
    if (minor)
        *minor = LIBRBD_VER_MINOR;
    if (extra)
        *extra = LIBRBD_VER_EXTRA;
}

/* ---- pool level ---- */

CRBD_API int rbd_create(rados_ioctx_t ioctx, const char *name, uint64_t size, int *order)
{
    struct crbd_ioctx *io = crbd_ioctx_get(ioctx);
    if (!io || !name)
        return -EINVAL;
    int r = crbd_py_image_create(io->py, name, size, order ? *order : 0, 0);
    if (r == 0 && order && *order == 0)
        *order = RBD_DEFAULT_ORDER;
    return r;
}

CRBD_API int rbd_remove(rados_ioctx_t ioctx, const char *name)
{
    struct crbd_ioctx *io = crbd_ioctx_get(ioctx);
    return io && name ? crbd_py_image_remove(io->py, name) : -EINVAL;
}

/* The blob holds "id\0name\0" per image. As librbd, the caller's array is zeroed first (what
 * rbd_image_spec_list_cleanup then frees is nothing); *max_images is 0 after other errors. */
CRBD_API int rbd_list2(rados_ioctx_t ioctx, rbd_image_spec_t *images, size_t *max_images)
{
    struct crbd_ioctx *io = crbd_ioctx_get(ioctx);
    if (images && max_images && *max_images)
        memset(images, 0, *max_images * sizeof *images);
    if (!io || !max_images) {
        if (max_images)
            *max_images = 0;
        return -EINVAL;
    }
    struct crbd_blob blob = { 0 };
    int r = crbd_py_image_list(io->py, &blob);
    if (r < 0) {
        *max_images = 0;
        return r;
    }
    size_t n = crbd_blob_records(&blob, 2);
    if (*max_images < n || (n && !images)) {
        *max_images = n;
        free(blob.data);
        return -ERANGE;
    }
    const char *p = blob.data;
    for (size_t i = 0; i < n && r == 0; i++) {
        images[i].id = strdup(crbd_blob_next(&p));
        images[i].name = strdup(crbd_blob_next(&p));
        if (!images[i].id || !images[i].name) {
            rbd_image_spec_list_cleanup(images, i + 1);
            r = -ENOMEM;
        }
    }
    *max_images = r == 0 ? n : 0;
    free(blob.data);
    return r;
}

CRBD_API void rbd_image_spec_list_cleanup(rbd_image_spec_t *images, size_t num_images)
{
    for (size_t i = 0; images && i < num_images; i++) {
        free(images[i].id);
        free(images[i].name);
        images[i].id = images[i].name = NULL;
    }
}

CRBD_API int rbd_clone2(rados_ioctx_t p_ioctx, const char *p_name, const char *p_snapname, rados_ioctx_t c_ioctx,
                        const char *c_name, uint64_t features, int *c_order, uint64_t stripe_unit,
                        int stripe_count)
{
    (void)stripe_unit;
    (void)stripe_count;
    struct crbd_ioctx *pio = crbd_ioctx_get(p_ioctx), *cio = crbd_ioctx_get(c_ioctx);
    if (!pio || !cio || !p_name || !p_snapname || !c_name)
        return -EINVAL;
    int r = crbd_py_image_clone(pio->py, p_name, p_snapname, cio->py, c_name, features, c_order ? *c_order : 0, 0);
    if (r == 0 && c_order && *c_order == 0)
        *c_order = RBD_DEFAULT_ORDER;
    return r;
}

CRBD_API int rbd_namespace_exists(rados_ioctx_t ioctx, const char *namespace_name, bool *exists)
{
    if (exists)
        *exists = false;
    if (!crbd_ioctx_get(ioctx) || !exists)
        return -EINVAL;
    *exists = !namespace_name || !*namespace_name;   /* only the default namespace */
    return 0;
}

/* ---- open / close ---- */

/* The core opens the image and makes its C image (engine.c), which is the caller's handle. */
static int image_open(rados_ioctx_t ioctx, const char *name, rbd_image_t *image, const char *snap, int read_only)
{
    struct crbd_ioctx *io = crbd_ioctx_get(ioctx);
    if (image)
        *image = NULL;
    if (!io || !name || !image)
        return -EINVAL;
    struct crbd_open_info info;
    memset(&info, 0, sizeof info);
    int r = crbd_py_image_open(io->py, name, snap, read_only, &info);
    if (r == 0)
        *image = info.c_image;
    return r;
}

CRBD_API int rbd_open(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name)
{
    return image_open(io, name, image, snap_name, 0);
}

CRBD_API int rbd_open_read_only(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name)
{
    return image_open(io, name, image, snap_name, 1);
}

/* Like librbd: the I/O in flight is waited for, then flushed, both within the image's close
 * timeout, so a client closing at exit never hangs on an unreachable daemon (the core's close;
 * it frees the C image, or abandons it with -ETIMEDOUT while requests still point at it). */
CRBD_API int rbd_close(rbd_image_t image)
{
    struct crbd_image *img = crbd_image_get(image);
    return img ? crbd_py_image_close(img->py) : -EINVAL;
}

/* ---- info ---- */

/* The image's size as the control plane knows it now: another host may have resized it (the
 * core's watch on the image's record keeps it current), so the data path's bound follows. */
static uint64_t current_size(struct crbd_image *img)
{
    uint64_t size = 0;
    if (crbd_py_image_size(img->py, &size) == 0)
        atomic_store(&img->size, size);
    return atomic_load(&img->size);
}

/* Features, order and striping as the image was created (its stored state). */
static int image_geometry(struct crbd_image *img, struct crbd_image_geometry *geo)
{
    memset(geo, 0, sizeof *geo);
    int r = crbd_py_image_geometry(img->py, geo);
    if (r == 0 && (geo->order < 12 || geo->order > 25))
        r = -EIO;
    return r;
}

CRBD_API int rbd_stat(rbd_image_t image, rbd_image_info_t *info, size_t infosize)
{
    struct crbd_image *img = crbd_image_get(image);
    if (info)   /* the caller's struct, as far as it says it reaches */
        memset(info, 0, infosize < sizeof *info ? infosize : sizeof *info);
    if (info && infosize >= sizeof *info)
        info->parent_pool = -1;
    if (!img || !info)
        return -EINVAL;
    if (infosize < sizeof *info)
        return -ERANGE;
    uint64_t size = current_size(img);
    struct crbd_image_geometry geo;
    int r = image_geometry(img, &geo);
    if (r < 0)
        return r;
    uint64_t obj_size = 1ULL << geo.order;
    info->size = size;
    info->obj_size = obj_size;
    info->num_objs = (size + obj_size - 1) / obj_size;
    info->order = geo.order;
    memcpy(info->block_name_prefix, img->block_name_prefix, sizeof info->block_name_prefix);
    info->parent_pool = -1;
    return 0;
}

CRBD_API int rbd_get_size(rbd_image_t image, uint64_t *size)
{
    struct crbd_image *img = crbd_image_get(image);
    if (size)
        *size = 0;
    if (!img || !size)
        return -EINVAL;
    *size = current_size(img);
    return 0;
}

/* The image answers with a constant: fill *out and return 0, or -EINVAL for bad arguments. */
static int image_const(rbd_image_t image, void *out, uint64_t value, size_t width)
{
    int ok = crbd_image_get(image) != NULL;
    if (!out)
        return -EINVAL;
    if (width == 1)
        *(uint8_t *)out = ok ? (uint8_t)value : 0;
    else
        *(uint64_t *)out = ok ? value : 0;
    return ok ? 0 : -EINVAL;
}

/* One field of the image's stored geometry. */
static int geometry_field(rbd_image_t image, uint64_t *out, int field)
{
    struct crbd_image *img = crbd_image_get(image);
    if (out)
        *out = 0;
    if (!img || !out)
        return -EINVAL;
    struct crbd_image_geometry geo;
    int r = image_geometry(img, &geo);
    if (r < 0)
        return r;
    *out = field == 0 ? geo.features : field == 1 ? geo.stripe_unit : geo.stripe_count;
    return 0;
}

CRBD_API int rbd_get_features(rbd_image_t image, uint64_t *features)
{
    return geometry_field(image, features, 0);
}

CRBD_API int rbd_get_flags(rbd_image_t image, uint64_t *flags) { return image_const(image, flags, 0, 8); }
CRBD_API int rbd_get_old_format(rbd_image_t image, uint8_t *old) { return image_const(image, old, 0, 1); }
CRBD_API int rbd_get_stripe_unit(rbd_image_t image, uint64_t *stripe_unit)
{
    return geometry_field(image, stripe_unit, 1);
}
CRBD_API int rbd_get_stripe_count(rbd_image_t image, uint64_t *stripe_count)
{
    return geometry_field(image, stripe_count, 2);
}

/* -ENOENT for an image that is not a clone (QEMU relies on exactly that). The blob holds
 * "pool\0image\0snap\0". As librbd: a NULL buffer is not asked for; the buffers get their fields
 * in order up to the first that is too short: -ERANGE (it and those after it hold ""). */
CRBD_API int rbd_get_parent_info(rbd_image_t image, char *parent_poolname, size_t ppoolnamelen, char *parent_name,
                                 size_t pnamelen, char *parent_snapname, size_t psnapnamelen)
{
    struct crbd_image *img = crbd_image_get(image);
    char *bufs[3] = { parent_poolname, parent_name, parent_snapname };
    size_t lens[3] = { ppoolnamelen, pnamelen, psnapnamelen };
    for (int i = 0; i < 3; i++)
        crbd_empty_fixed(bufs[i], lens[i]);
    if (!img)
        return -EINVAL;
    struct crbd_blob blob = { 0 };
    int r = crbd_py_parent_info(img->py, &blob);
    const char *field = blob.data;
    for (int i = 0; r == 0 && i < 3 && field; i++) {
        if (bufs[i] && crbd_put_fixed(bufs[i], lens[i], field) < 0)
            r = -ERANGE;
        field += strlen(field) + 1;
    }
    free(blob.data);
    return r;
}

CRBD_API int rbd_resize(rbd_image_t image, uint64_t size)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img)
        return -EINVAL;
    if (img->read_only)
        return -EROFS;
    crbd_io_wait_idle(img);   /* a shrink zeroes the cut tail: no C write may land after it */
    int r = crbd_py_image_resize(img->py, size);
    if (r == 0 && img->crypto)
        current_size(img);   /* librbd's resize takes the raw size; the image shows its data area's */
    else if (r == 0)
        atomic_store(&img->size, size);
    return r;
}

CRBD_API int rbd_invalidate_cache(rbd_image_t image)
{
    return crbd_image_get(image) ? 0 : -EINVAL;   /* no client-side cache to drop */
}

/* ---- snapshots (the core's; a snapshot opens as a read-only view with its own nebd fd) ---- */

static int snap_op(rbd_image_t image, int op, const char *name, int *result)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img || !name)
        return -EINVAL;
    int dummy = 0;
    /* the core flushes first (a snapshot or rollback sees every write submitted before it) and
     * hands the engine the file and size a rollback brings back */
    return crbd_py_snap_op(img->py, op, name, result ? result : &dummy);
}

CRBD_API int rbd_snap_create(rbd_image_t image, const char *name) { return snap_op(image, CRBD_SNAP_CREATE, name, NULL); }
CRBD_API int rbd_snap_remove(rbd_image_t image, const char *name) { return snap_op(image, CRBD_SNAP_REMOVE, name, NULL); }
CRBD_API int rbd_snap_rollback(rbd_image_t image, const char *name)
{
    return snap_op(image, CRBD_SNAP_ROLLBACK, name, NULL);
}
CRBD_API int rbd_snap_protect(rbd_image_t image, const char *name) { return snap_op(image, CRBD_SNAP_PROTECT, name, NULL); }
CRBD_API int rbd_snap_unprotect(rbd_image_t image, const char *name)
{
    return snap_op(image, CRBD_SNAP_UNPROTECT, name, NULL);
}
CRBD_API int rbd_snap_is_protected(rbd_image_t image, const char *name, int *is_protected)
{
    if (!is_protected)
        return -EINVAL;
    *is_protected = 0;
    int r = snap_op(image, CRBD_SNAP_IS_PROTECTED, name, is_protected);
    if (r < 0)
        *is_protected = 0;
    return r;
}

/* The blob holds, per snapshot, id (u64) | size (u64) | name NUL. librbd's protocol: room
 * for every snapshot plus a terminating entry, else -ERANGE with the count needed. As librbd, the
 * caller's array is zeroed first (rbd_snap_list_end then frees nothing after an error; python3-rbd
 * calls it on an array it did not initialise); *max_snaps is 0 after other errors. */
CRBD_API int rbd_snap_list(rbd_image_t image, rbd_snap_info_t *snaps, int *max_snaps)
{
    struct crbd_image *img = crbd_image_get(image);
    if (snaps && max_snaps && *max_snaps > 0)
        memset(snaps, 0, (size_t)*max_snaps * sizeof *snaps);
    if (!img || !max_snaps) {
        if (max_snaps)
            *max_snaps = 0;
        return -EINVAL;
    }
    struct crbd_blob blob = { 0 };
    int r = crbd_py_snap_list(img->py, &blob);
    if (r < 0) {
        *max_snaps = 0;
        return r;
    }
    int n = 0;
    for (size_t pos = 0; pos + 16 < blob.len; n++)
        pos += 16 + strlen(blob.data + pos + 16) + 1;
    if (*max_snaps < n + 1 || !snaps) {
        *max_snaps = n + 1;
        free(blob.data);
        return -ERANGE;
    }
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        memcpy(&snaps[i].id, blob.data + pos, 8);
        memcpy(&snaps[i].size, blob.data + pos + 8, 8);
        snaps[i].name = strdup(blob.data + pos + 16);
        pos += 16 + strlen(blob.data + pos + 16) + 1;
        if (!snaps[i].name) {
            rbd_snap_list_end(snaps);
            memset(&snaps[i], 0, sizeof snaps[i]);
            *max_snaps = 0;
            free(blob.data);
            return -ENOMEM;
        }
    }
    memset(&snaps[n], 0, sizeof snaps[n]);
    free(blob.data);
    return n;
}

CRBD_API void rbd_snap_list_end(rbd_snap_info_t *snaps)
{
    for (; snaps && snaps->name; snaps++) {
        free((void *)snaps->name);
        snaps->name = NULL;
    }
}

/* ---- diff / encryption ---- */

/* Extents come from the catalog (what is allocated, or what changed since fromsnapname);
 * a negative return of the callback stops the walk and is returned (QEMU stops with -9000). */
CRBD_API int rbd_diff_iterate2(rbd_image_t image, const char *fromsnapname, uint64_t ofs, uint64_t len,
                               uint8_t include_parent, uint8_t whole_object, rbd_diff_cb_t cb, void *arg)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img || !cb)
        return -EINVAL;
    if (ofs > atomic_load(&img->size))
        return -EINVAL;
    crbd_io_wait_idle(img);   /* report the writes that completed before the call */
    return crbd_py_diff_iterate(img->py, fromsnapname && *fromsnapname ? fromsnapname : NULL, ofs, len,
                                include_parent, whole_object, cb, arg);
}

/* librbd's option structs (librbd.h). Pacific loads LUKS1 / LUKS2 with their format options too
 * (QEMU 7.2 passes rbd_encryption_luks1_format_options_t to rbd_encryption_load; alg is ignored);
 * Quincy's RBD_ENCRYPTION_FORMAT_LUKS (2, load only) takes {passphrase, size}. */
#define RBD_ENCRYPTION_FORMAT_LUKS1 0
#define RBD_ENCRYPTION_FORMAT_LUKS2 1

struct crbd_luks_format_opts { int alg; const char *passphrase; size_t passphrase_size; };   /* 24 bytes */
struct crbd_luks_load_opts { const char *passphrase; size_t passphrase_size; };              /* 16 bytes */

/* Common checks: 0, or the errno (logged) that librbd gives. */
static int encryption_check(struct crbd_image *img, rbd_encryption_format_t format, const void *opts,
                            size_t opts_size, int load, const char *what)
{
    size_t want_size = format == 2 ? sizeof(struct crbd_luks_load_opts) : sizeof(struct crbd_luks_format_opts);
    if (format != RBD_ENCRYPTION_FORMAT_LUKS1 && format != RBD_ENCRYPTION_FORMAT_LUKS2 &&
        !(format == 2 && load)) {   /* 2: Quincy's "LUKS" (either version) */
        crbd_log("%s: encryption format %d is not supported (LUKS1 0, LUKS2 1)", what, (int)format);
        return -ENOTSUP;
    }
    if (!opts || opts_size != want_size) {
        crbd_log("%s: options of %zu bytes given, %zu expected", what, opts ? opts_size : 0, want_size);
        return -EINVAL;
    }
    if (img->crypto) {
        crbd_log("%s: encryption is already loaded on this image handle", what);
        return -EEXIST;
    }
    return 0;
}

CRBD_API int rbd_encryption_format(rbd_image_t image, rbd_encryption_format_t format, rbd_encryption_options_t opts,
                                   size_t opts_size)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img)
        return -EINVAL;
    int r = encryption_check(img, format, opts, opts_size, 0, "rbd_encryption_format");
    if (r < 0)
        return r;
    const struct crbd_luks_format_opts *o = opts;
    if (!o->passphrase && o->passphrase_size) {
        crbd_log("rbd_encryption_format: NULL passphrase of %zu bytes", o->passphrase_size);
        return -EINVAL;
    }
    if (img->read_only)
        return -EROFS;
    return crbd_py_encryption_format(img->py, format, o->alg, o->passphrase ? o->passphrase : "",
                                     o->passphrase_size);
}

CRBD_API int rbd_encryption_load(rbd_image_t image, rbd_encryption_format_t format, rbd_encryption_options_t opts,
                                 size_t opts_size)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img)
        return -EINVAL;
    int r = encryption_check(img, format, opts, opts_size, 1, "rbd_encryption_load");
    if (r < 0)
        return r;
    struct crbd_luks_load_opts o;
    if (format == 2) {
        o = *(const struct crbd_luks_load_opts *)opts;
    } else {
        o.passphrase = ((const struct crbd_luks_format_opts *)opts)->passphrase;
        o.passphrase_size = ((const struct crbd_luks_format_opts *)opts)->passphrase_size;
    }
    if (!o.passphrase && o.passphrase_size) {
        crbd_log("rbd_encryption_load: NULL passphrase of %zu bytes", o.passphrase_size);
        return -EINVAL;
    }
    return crbd_py_encryption_load(img->py, format, o.passphrase ? o.passphrase : "", o.passphrase_size);
}
