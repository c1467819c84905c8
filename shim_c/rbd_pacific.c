/* The Pacific-era names python3-rbd calls where QEMU/libvirt use the older ones: the "2"
 * variants with flags and progress callbacks, linked image specs (parent, children), ids and
 * names. Each forwards to the older call or to the core; progress is reported once, at the
 * end, where the work is not incremental. Every output is set on every return, errors included
 * (librbd's -ERANGE protocol: the length needed; else the empty state its cleanup call accepts). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static int progress_done(librbd_progress_fn_t cb, void *cbdata, int r)
{
    if (r == 0 && cb)
        cb(1, 1, cbdata);
    return r;
}

/* ---- pool level ---- */

/* librbd's protocol: NUL-separated names; -ERANGE with *size = bytes needed if the buffer is
 * short (then "" in it, if there is room); else the number of bytes used. */
CRBD_API int rbd_list(rados_ioctx_t ioctx, char *names, size_t *size)
{
    struct crbd_ioctx *io = crbd_ioctx_get(ioctx);
    if (!io || !size) {
        crbd_empty_string(names, size);
        return -EINVAL;
    }
    struct crbd_blob blob = { 0 };
    int r = crbd_py_image_list(io->py, &blob);   /* "id\0name\0" per image */
    if (r < 0) {
        crbd_empty_string(names, size);
        return r;
    }
    size_t need = 0;
    for (const char *p = blob.data; p && p < blob.data + blob.len;) {
        p += strlen(p) + 1;
        need += strlen(p) + 1;
        p += strlen(p) + 1;
    }
    if (*size < need || (need && !names)) {
        if (names && *size)
            names[0] = 0;
        *size = need;
        free(blob.data);
        return -ERANGE;
    }
    char *out = names;
    for (const char *p = blob.data; p && p < blob.data + blob.len;) {
        p += strlen(p) + 1;
        size_t n = strlen(p) + 1;
        memcpy(out, p, n);
        out += n;
        p += n;
    }
    *size = need;
    free(blob.data);
    return (int)need;
}

CRBD_API int rbd_remove_with_progress(rados_ioctx_t io, const char *name, librbd_progress_fn_t cb, void *cbdata)
{
    struct crbd_ioctx *ctx = crbd_ioctx_get(io);
    return ctx && name ? crbd_py_image_remove2(ctx->py, name, cb, cbdata) : -EINVAL;   /* cb: the core's */
}

/* ---- image I/O and size (fadvise flags are hints: ignored) ---- */

CRBD_API ssize_t rbd_read2(rbd_image_t image, uint64_t ofs, size_t len, char *buf, int op_flags)
{
    (void)op_flags;
    return rbd_read(image, ofs, len, buf);
}

CRBD_API ssize_t rbd_write2(rbd_image_t image, uint64_t ofs, size_t len, const char *buf, int op_flags)
{
    (void)op_flags;
    return rbd_write(image, ofs, len, buf);
}

CRBD_API int rbd_aio_read2(rbd_image_t image, uint64_t off, size_t len, char *buf, rbd_completion_t c, int op_flags)
{
    (void)op_flags;
    return rbd_aio_read(image, off, len, buf, c);
}

CRBD_API int rbd_aio_write2(rbd_image_t image, uint64_t off, size_t len, const char *buf, rbd_completion_t c,
                            int op_flags)
{
    (void)op_flags;
    return rbd_aio_write(image, off, len, buf, c);
}

CRBD_API int rbd_resize2(rbd_image_t image, uint64_t size, bool allow_shrink, librbd_progress_fn_t cb, void *cbdata)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img)
        return -EINVAL;
    if (!allow_shrink && size < atomic_load(&img->size))
        return -EINVAL;
    return progress_done(cb, cbdata, rbd_resize(image, size));
}

/* ---- snapshots ---- */

CRBD_API int rbd_snap_create2(rbd_image_t image, const char *snap_name, uint32_t flags, librbd_progress_fn_t cb,
                              void *cbdata)
{
    (void)flags;   /* quiesce flags: there are no watchers to quiesce */
    return progress_done(cb, cbdata, rbd_snap_create(image, snap_name));
}

CRBD_API int rbd_snap_remove2(rbd_image_t image, const char *snap_name, uint32_t flags, librbd_progress_fn_t cb,
                              void *cbdata)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img || !snap_name)
        return -EINVAL;
    int r = crbd_py_snap_remove2(img->py, snap_name, flags);   /* flags: RBD_SNAP_REMOVE_UNPROTECT */
    return progress_done(cb, cbdata, r);
}

/* User snapshots, and those removed while format 2 clones read them (the trash namespace; no group
 * or mirror snapshots here): core/image_extras.py. -ENOENT if there is no such snapshot. */
CRBD_API int rbd_snap_get_namespace_type(rbd_image_t image, uint64_t snap_id,
                                         rbd_snap_namespace_type_t *namespace_type)
{
    struct crbd_image *img = crbd_image_get(image);
    if (namespace_type)
        *namespace_type = RBD_SNAP_NAMESPACE_TYPE_USER;
    if (!img || !namespace_type)
        return -EINVAL;
    int type = RBD_SNAP_NAMESPACE_TYPE_USER;
    int r = crbd_py_snap_namespace(img->py, snap_id, -1, &type, NULL);
    if (r == 0)
        *namespace_type = type;
    return r;
}

CRBD_API int rbd_snap_exists(rbd_image_t image, const char *snapname, bool *exists)
{
    if (!exists)
        return -EINVAL;
    int is_protected;
    int r = rbd_snap_is_protected(image, snapname, &is_protected);
    *exists = r == 0;
    return r == -ENOENT ? 0 : r;
}

/* ---- clones ---- */

CRBD_API int rbd_flatten_with_progress(rbd_image_t image, librbd_progress_fn_t cb, void *cbdata)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img)
        return -EINVAL;
    if (img->read_only)
        return -EROFS;
    crbd_io_wait_idle(img);   /* the copy must not race this handle's writes */
    return crbd_py_image_flatten(img->py, cb, cbdata);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* The parent blob holds "pool\0image\0snap\0image_id\0snap_id\0" (snap_id in decimal). As librbd,
 * both structs are zeroed after an error (-ENOENT: not a clone); python3-rbd cleans them up anyway. */
CRBD_API int rbd_get_parent(rbd_image_t image, rbd_linked_image_spec_t *parent_image, rbd_snap_spec_t *parent_snap)
{
    struct crbd_image *img = crbd_image_get(image);
    if (parent_image)
        memset(parent_image, 0, sizeof *parent_image);
    if (parent_snap)
        memset(parent_snap, 0, sizeof *parent_snap);
    if (!img || !parent_image || !parent_snap)
        return -EINVAL;
    struct crbd_blob blob = { 0 };
    int r = crbd_py_parent_info(img->py, &blob);
    if (r < 0)
        return r;
    const char *f[5] = { 0 };
    const char *p = blob.data;
    for (int i = 0; i < 5 && p && p < blob.data + blob.len; i++, p += strlen(p) + 1)
        f[i] = p;
    parent_image->pool_id = -1;   /* pools have names only */
    parent_image->pool_name = dup_or_empty(f[0]);
    parent_image->pool_namespace = dup_or_empty("");
    parent_image->image_name = dup_or_empty(f[1]);
    parent_image->image_id = dup_or_empty(f[3]);
    parent_snap->name = dup_or_empty(f[2]);
    parent_snap->id = f[4] ? strtoull(f[4], NULL, 10) : 0;
    parent_snap->namespace_type = RBD_SNAP_NAMESPACE_TYPE_USER;
    free(blob.data);
    if (!parent_image->pool_name || !parent_image->pool_namespace || !parent_image->image_name ||
        !parent_image->image_id || !parent_snap->name) {
        rbd_linked_image_spec_cleanup(parent_image);
        rbd_snap_spec_cleanup(parent_snap);
        memset(parent_image, 0, sizeof *parent_image);
        memset(parent_snap, 0, sizeof *parent_snap);
        return -ENOMEM;
    }
    return 0;
}

/* The children blob holds "pool\0image_id\0image_name\0" per clone. As librbd, the caller's
 * array is zeroed first; *max_images is the count needed after -ERANGE, 0 after other errors. */
static int linked_images(rbd_image_t image, int descendants, rbd_linked_image_spec_t *images, size_t *max_images)
{
    struct crbd_image *img = crbd_image_get(image);
    if (images && max_images && *max_images)
        memset(images, 0, *max_images * sizeof *images);
    if (!img || !max_images) {
        if (max_images)
            *max_images = 0;
        return -EINVAL;
    }
    struct crbd_blob blob = { 0 };
    int r = crbd_py_children(img->py, descendants, &blob);
    if (r < 0) {
        *max_images = 0;
        return r;
    }
    size_t n = crbd_blob_records(&blob, 3);
    if (*max_images < n || (n && !images)) {
        *max_images = n;
        free(blob.data);
        return -ERANGE;
    }
    const char *p = blob.data;
    for (size_t i = 0; i < n && r == 0; i++) {
        images[i].pool_id = -1;
        images[i].pool_name = strdup(crbd_blob_next(&p));
        images[i].image_id = strdup(crbd_blob_next(&p));
        images[i].image_name = strdup(crbd_blob_next(&p));
        images[i].pool_namespace = strdup("");
        if (!images[i].pool_name || !images[i].image_id || !images[i].image_name || !images[i].pool_namespace) {
            rbd_linked_image_spec_list_cleanup(images, i + 1);
            r = -ENOMEM;
        }
    }
    *max_images = r == 0 ? n : 0;
    free(blob.data);
    return r;
}

CRBD_API int rbd_list_children3(rbd_image_t image, rbd_linked_image_spec_t *images, size_t *max_images)
{
    return linked_images(image, 0, images, max_images);
}

/* The clones of the image's snapshots (of the set snapshot, if one is), their clones, and so on,
 * children first. */
CRBD_API int rbd_list_descendants(rbd_image_t image, rbd_linked_image_spec_t *images, size_t *max_images)
{
    return linked_images(image, 1, images, max_images);
}

CRBD_API void rbd_linked_image_spec_cleanup(rbd_linked_image_spec_t *image)
{
    if (!image)
        return;
    free(image->pool_name);
    free(image->pool_namespace);
    free(image->image_id);
    free(image->image_name);
    image->pool_name = image->pool_namespace = image->image_id = image->image_name = NULL;
}

CRBD_API void rbd_linked_image_spec_list_cleanup(rbd_linked_image_spec_t *images, size_t num_images)
{
    for (size_t i = 0; images && i < num_images; i++)
        rbd_linked_image_spec_cleanup(&images[i]);
}

CRBD_API void rbd_snap_spec_cleanup(rbd_snap_spec_t *snap)
{
    if (snap) {
        free(snap->name);
        snap->name = NULL;
    }
}

/* ---- identity ---- */

static int image_names(struct crbd_image *img, const char **id, const char **name, struct crbd_blob *blob)
{
    int r = crbd_py_image_names(img->py, blob);   /* "id\0name\0op_features\0" */
    if (r == 0) {
        *id = blob->data;
        *name = blob->data + strlen(blob->data) + 1;
    }
    return r;
}

/* librbd's buffer without a length output: the id if it fits, else "" (room permitting) and -ERANGE. */
CRBD_API int rbd_get_id(rbd_image_t image, char *id, size_t id_len)
{
    struct crbd_image *img = crbd_image_get(image);
    crbd_empty_fixed(id, id_len);
    if (!img)
        return -EINVAL;
    struct crbd_blob blob = { 0 };
    const char *image_id, *name;
    int r = image_names(img, &image_id, &name, &blob);
    if (r == 0)
        r = crbd_put_fixed(id, id_len, image_id);
    free(blob.data);
    return r;
}

/* librbd's -ERANGE protocol: *name_len = bytes needed; "" and 0 after other errors. */
CRBD_API int rbd_get_name(rbd_image_t image, char *name, size_t *name_len)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img || !name_len) {
        crbd_empty_string(name, name_len);
        return -EINVAL;
    }
    struct crbd_blob blob = { 0 };
    const char *image_id, *image_name;
    int r = image_names(img, &image_id, &image_name, &blob);
    if (r == 0)
        r = crbd_put_string(name, name_len, image_name);
    else
        crbd_empty_string(name, name_len);
    free(blob.data);
    return r;
}

CRBD_API int rbd_get_block_name_prefix(rbd_image_t image, char *prefix, size_t prefix_len)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img) {
        crbd_empty_fixed(prefix, prefix_len);
        return -EINVAL;
    }
    return crbd_put_fixed(prefix, prefix_len, img->block_name_prefix);
}

CRBD_API int rbd_get_op_features(rbd_image_t image, uint64_t *op_features)
{
    struct crbd_image *img = crbd_image_get(image);
    if (op_features)
        *op_features = 0;
    if (!img || !op_features)
        return -EINVAL;
    struct crbd_blob blob = { 0 };
    const char *image_id, *name;
    int r = image_names(img, &image_id, &name, &blob);   /* "id\0name\0op_features\0" */
    if (r == 0) {
        const char *ops = name + strlen(name) + 1;
        *op_features = ops < blob.data + blob.len ? strtoull(ops, NULL, 10) : 0;
    }
    free(blob.data);
    return r;
}

/* ---- rename / copy ---- */

CRBD_API int rbd_rename(rados_ioctx_t src_io_ctx, const char *srcname, const char *destname)
{
    struct crbd_ioctx *io = crbd_ioctx_get(src_io_ctx);
    return io && srcname && destname ? crbd_py_image_rename(io->py, srcname, destname) : -EINVAL;
}

/* Reads go to snapshot snapname from now on (writes fail with -EROFS), or to the image again
 * (NULL). The core opens the snapshot's view and moves the engine to its nebd fd (core/image.py
 * _switch_file: the old one is closed once the requests in flight on it have finished). */
CRBD_API int rbd_snap_set(rbd_image_t image, const char *snapname)
{
    struct crbd_image *img = crbd_image_get(image);
    return img ? crbd_py_snap_set(img->py, snapname) : -EINVAL;
}

CRBD_API int rbd_snap_rename(rbd_image_t image, const char *snapname, const char *dstsnapsname)
{
    struct crbd_image *img = crbd_image_get(image);
    return img && snapname && dstsnapsname ? crbd_py_snap_rename(img->py, snapname, dstsnapsname) : -EINVAL;
}

/* The current data (not the snapshots) into a new image; the options (features, order,
 * striping) are not needed for that. */
CRBD_API int rbd_copy3(rbd_image_t src, rados_ioctx_t dest_io_ctx, const char *destname, rbd_image_options_t dest_opts)
{
    (void)dest_opts;
    struct crbd_image *img = crbd_image_get(src);
    struct crbd_ioctx *io = crbd_ioctx_get(dest_io_ctx);
    if (!img || !io || !destname)
        return -EINVAL;
    crbd_io_wait_idle(img);   /* the copy includes every write submitted before it */
    return crbd_py_image_copy(img->py, io->py, destname);
}
