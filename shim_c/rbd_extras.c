/* Image calls of Pacific's librbd beyond QEMU's and OpenStack's: snapshots by id and the snapshot
 * limit, snapshot namespaces, timestamps, overlap, the group, the data pool, metadata listing,
 * sparsify, deep copy, the object map rebuild, the advisory locks (rbd_lock_exclusive ...) and the
 * exclusive-lock feature's lock (rbd_lock_acquire ...), watchers, opening by id and asynchronous opens. Each forwards to the core (capi/pacific_calls.py); every
 * output is set on every return, errors included (to the empty state its cleanup call accepts). */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RBD_LOCK_MODE_EXCLUSIVE 0
#define CRBD_NOSNAP UINT64_MAX   /* librbd's CEPH_NOSNAP: the image itself */
#define RBD_SNAP_NAMESPACE_TYPE_GROUP 1
#define RBD_SNAP_NAMESPACE_TYPE_TRASH 2
#define RBD_SNAP_NAMESPACE_TYPE_MIRROR 3

static void set_timespec(struct timespec *ts, double seconds)
{
    double whole = floor(seconds);
    ts->tv_sec = (time_t)whole;
    ts->tv_nsec = (long)((seconds - whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L || ts->tv_nsec < 0)
        ts->tv_nsec = 0;
}

/* ---- snapshots by id ---- */

/* The snapshot named `name` (or with id snap_id if name is NULL): its id, name (malloc'ed into
 * name_out if given) and timestamp. */
static int snap_find(struct crbd_image *img, const char *name, uint64_t snap_id, uint64_t *id, char **name_out,
                     double *stamp)
{
    struct crbd_blob blob = { 0 };
    uint64_t found_id = 0;
    double found_stamp = 0;
    int r = crbd_py_snap_find(img->py, name, snap_id, &found_id, &found_stamp, &blob);
    if (id)
        *id = r == 0 ? found_id : 0;
    if (stamp)
        *stamp = r == 0 ? found_stamp : 0;
    if (name_out) {
        *name_out = r == 0 ? strdup(blob.data ? blob.data : "") : NULL;
        if (r == 0 && !*name_out)
            r = -ENOMEM;
    }
    free(blob.data);
    return r;
}

CRBD_API int rbd_snap_get_id(rbd_image_t image, const char *snapname, uint64_t *snap_id)
{
    struct crbd_image *img = crbd_image_get(image);
    if (snap_id)
        *snap_id = 0;
    if (!img || !snapname || !snap_id)
        return -EINVAL;
    return snap_find(img, snapname, 0, snap_id, NULL, NULL);
}

CRBD_API int rbd_snap_get_name(rbd_image_t image, uint64_t snap_id, char *snapname, size_t *name_len)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img || !name_len) {
        crbd_empty_string(snapname, name_len);
        return -EINVAL;
    }
    char *name = NULL;
    int r = snap_find(img, NULL, snap_id, NULL, &name, NULL);
    if (r == 0)
        r = crbd_put_string(snapname, name_len, name);
    else
        crbd_empty_string(snapname, name_len);
    free(name);
    return r;
}

CRBD_API int rbd_snap_get_timestamp(rbd_image_t image, uint64_t snap_id, struct timespec *timestamp)
{
    struct crbd_image *img = crbd_image_get(image);
    if (timestamp)
        memset(timestamp, 0, sizeof *timestamp);
    if (!img || !timestamp)
        return -EINVAL;
    double stamp;
    int r = snap_find(img, NULL, snap_id, NULL, NULL, &stamp);
    if (r == 0)
        set_timespec(timestamp, stamp);
    return r;
}

CRBD_API int rbd_snap_remove_by_id(rbd_image_t image, uint64_t snap_id)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img)
        return -EINVAL;
    char *name = NULL;
    int r = snap_find(img, NULL, snap_id, NULL, &name, NULL);
    if (r == 0)
        r = rbd_snap_remove(image, name);
    free(name);
    return r;
}

CRBD_API int rbd_snap_set_by_id(rbd_image_t image, uint64_t snap_id)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img)
        return -EINVAL;
    if (snap_id == CRBD_NOSNAP)
        return rbd_snap_set(image, NULL);
    char *name = NULL;
    int r = snap_find(img, NULL, snap_id, NULL, &name, NULL);
    if (r == 0)
        r = rbd_snap_set(image, name);
    free(name);
    return r;
}

CRBD_API int rbd_snap_get_limit(rbd_image_t image, uint64_t *limit)
{
    struct crbd_image *img = crbd_image_get(image);
    if (limit)
        *limit = UINT64_MAX;   /* librbd's "no limit" */
    if (!img || !limit)
        return -EINVAL;
    uint64_t value = UINT64_MAX;
    int r = crbd_py_snap_limit(img->py, &value);
    if (r == 0)
        *limit = value;
    return r;
}

CRBD_API int rbd_snap_set_limit(rbd_image_t image, uint64_t limit)
{
    struct crbd_image *img = crbd_image_get(image);
    return img ? crbd_py_snap_set_limit(img->py, limit) : -EINVAL;
}

/* ---- snapshot namespaces (core/image_extras.py): -ENOENT if there is no such snapshot, -EINVAL if it
 * is in another namespace (every snapshot here is a user one, or a trash one: removed while format 2
 * clones read it); -ERANGE if the caller's struct is not librbd's size. Outputs zeroed on errors. ---- */

/* A namespace no snapshot is ever in here (group, mirror): the caller's struct of `size` bytes (librbd's
 * is `want`) zeroed, then the core's ENOENT or EINVAL. */
static int absent_namespace(rbd_image_t image, uint64_t snap_id, int namespace_type, void *out, size_t size,
                            size_t want)
{
    struct crbd_image *img = crbd_image_get(image);
    if (out)
        memset(out, 0, size < want ? size : want);
    if (!img || !out)
        return -EINVAL;
    if (size != want)
        return -ERANGE;
    int type = 0;
    struct crbd_blob blob = { 0 };
    int r = crbd_py_snap_namespace(img->py, snap_id, namespace_type, &type, &blob);
    free(blob.data);
    return r < 0 ? r : -EINVAL;   /* the core never says yes for these */
}

CRBD_API int rbd_snap_get_group_namespace(rbd_image_t image, uint64_t snap_id, rbd_snap_group_namespace_t *group_snap,
                                          size_t group_snap_size)
{
    return absent_namespace(image, snap_id, RBD_SNAP_NAMESPACE_TYPE_GROUP, group_snap, group_snap_size,
                            sizeof *group_snap);
}

CRBD_API int rbd_snap_group_namespace_cleanup(rbd_snap_group_namespace_t *group_snap, size_t group_snap_size)
{
    if (!group_snap || group_snap_size != sizeof *group_snap)
        return -ERANGE;
    free(group_snap->group_name);
    free(group_snap->group_snap_name);
    group_snap->group_name = group_snap->group_snap_name = NULL;
    return 0;
}

/* The snapshot's name before it was removed; -ERANGE if it does not fit in max_length bytes (then ""). */
CRBD_API int rbd_snap_get_trash_namespace(rbd_image_t image, uint64_t snap_id, char *original_name, size_t max_length)
{
    struct crbd_image *img = crbd_image_get(image);
    crbd_empty_fixed(original_name, max_length);
    if (!img)
        return -EINVAL;
    int type = 0;
    struct crbd_blob blob = { 0 };
    int r = crbd_py_snap_namespace(img->py, snap_id, RBD_SNAP_NAMESPACE_TYPE_TRASH, &type, &blob);
    if (r == 0)
        r = crbd_put_fixed(original_name, max_length, blob.data ? blob.data : "");
    free(blob.data);
    return r;
}

CRBD_API int rbd_snap_get_mirror_namespace(rbd_image_t image, uint64_t snap_id,
                                           rbd_snap_mirror_namespace_t *mirror_snap, size_t mirror_snap_size)
{
    return absent_namespace(image, snap_id, RBD_SNAP_NAMESPACE_TYPE_MIRROR, mirror_snap, mirror_snap_size,
                            sizeof *mirror_snap);
}

CRBD_API int rbd_snap_mirror_namespace_cleanup(rbd_snap_mirror_namespace_t *mirror_snap, size_t mirror_snap_size)
{
    if (!mirror_snap || mirror_snap_size != sizeof *mirror_snap)
        return -ERANGE;
    free(mirror_snap->mirror_peer_uuids);
    free(mirror_snap->primary_mirror_uuid);
    mirror_snap->mirror_peer_uuids = mirror_snap->primary_mirror_uuid = NULL;
    return 0;
}

/* ---- attributes ---- */

static int image_timestamp(rbd_image_t image, int which, struct timespec *timestamp)
{
    struct crbd_image *img = crbd_image_get(image);
    if (timestamp)
        memset(timestamp, 0, sizeof *timestamp);
    if (!img || !timestamp)
        return -EINVAL;
    double times[3] = { 0, 0, 0 };
    int r = crbd_py_image_timestamps(img->py, times);
    if (r == 0)
        set_timespec(timestamp, times[which]);
    return r;
}

CRBD_API int rbd_get_create_timestamp(rbd_image_t image, struct timespec *timestamp)
{
    return image_timestamp(image, 0, timestamp);
}

CRBD_API int rbd_get_access_timestamp(rbd_image_t image, struct timespec *timestamp)
{
    return image_timestamp(image, 1, timestamp);
}

CRBD_API int rbd_get_modify_timestamp(rbd_image_t image, struct timespec *timestamp)
{
    return image_timestamp(image, 2, timestamp);
}

CRBD_API int rbd_get_overlap(rbd_image_t image, uint64_t *overlap)
{
    struct crbd_image *img = crbd_image_get(image);
    if (overlap)
        *overlap = 0;
    if (!img || !overlap)
        return -EINVAL;
    uint64_t value = 0;
    int r = crbd_py_overlap(img->py, &value);
    if (r == 0)
        *overlap = value;
    return r;
}

/* The pool holding the image's data: its own (no separate data pools); -EINVAL for a bad handle. */
CRBD_API int64_t rbd_get_data_pool_id(rbd_image_t image)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img)
        return -EINVAL;
    int64_t pool = -1;
    int r = crbd_py_data_pool_id(img->py, &pool);
    return r < 0 ? r : pool;
}

/* The image's group: never in one, so 0 with pool -1 (RBD_GROUP_INVALID_POOL) and name "" (strdup'ed,
 * freed by rbd_group_info_cleanup), as librbd answers for such an image; -ERANGE if the caller's
 * struct is not librbd's size. */
CRBD_API int rbd_get_group(rbd_image_t image, rbd_group_info_t *group_info, size_t group_info_size)
{
    struct crbd_image *img = crbd_image_get(image);
    if (group_info) {
        memset(group_info, 0, group_info_size < sizeof *group_info ? group_info_size : sizeof *group_info);
        if (group_info_size >= sizeof *group_info)
            group_info->pool = -1;
    }
    if (!img || !group_info)
        return -EINVAL;
    if (group_info_size != sizeof *group_info)
        return -ERANGE;
    int64_t pool = -1;
    struct crbd_blob blob = { 0 };
    int r = crbd_py_group(img->py, &pool, &blob);
    if (r == 0) {
        group_info->name = strdup(blob.data ? blob.data : "");
        group_info->pool = pool;
        if (!group_info->name) {
            group_info->pool = -1;
            r = -ENOMEM;
        }
    }
    free(blob.data);
    return r;
}

CRBD_API int rbd_group_info_cleanup(rbd_group_info_t *group_info, size_t group_info_size)
{
    if (!group_info || group_info_size != sizeof *group_info)
        return -ERANGE;
    free(group_info->name);
    group_info->name = NULL;
    return 0;
}

/* ---- key/value listings (image metadata here, pool metadata in rbd_pool_extras.c) ---- */

/* librbd's protocol for metadata listings: keys and values NUL-separated into (keys, *keys_len) and
 * (values, *vals_len); -ERANGE with both lengths set to what is needed if either buffer is short;
 * the lengths used otherwise. `blob` holds "key\0value\0" per pair. */
static int put_pairs(const struct crbd_blob *blob, char *keys, size_t *keys_len, char *values, size_t *vals_len)
{
    size_t n = crbd_blob_records(blob, 2), need_keys = 0, need_vals = 0;
    const char *p = blob->data;
    for (size_t i = 0; i < n; i++) {
        need_keys += strlen(crbd_blob_next(&p)) + 1;
        need_vals += strlen(crbd_blob_next(&p)) + 1;
    }
    size_t have_keys = *keys_len, have_vals = *vals_len;
    *keys_len = need_keys;
    *vals_len = need_vals;
    if ((need_keys && (!keys || have_keys < need_keys)) || (need_vals && (!values || have_vals < need_vals))) {
        if (keys && have_keys)
            keys[0] = 0;
        if (values && have_vals)
            values[0] = 0;
        return -ERANGE;
    }
    char *k = keys, *v = values;
    p = blob->data;
    for (size_t i = 0; i < n; i++) {
        const char *key = crbd_blob_next(&p), *value = crbd_blob_next(&p);
        size_t kl = strlen(key) + 1, vl = strlen(value) + 1;
        memcpy(k, key, kl);
        memcpy(v, value, vl);
        k += kl;
        v += vl;
    }
    if (!n) {
        if (keys && have_keys)
            keys[0] = 0;
        if (values && have_vals)
            values[0] = 0;
    }
    return 0;
}

/* librbd's key/value list reply from a callback's result r and its blob (freed here): both
 * buffers filled, -ERANGE with both lengths needed, or both emptied on an error. */
int crbd_pairs_reply(int r, struct crbd_blob *blob, char *keys, size_t *key_len, char *values, size_t *vals_len)
{
    if (r == 0) {
        r = put_pairs(blob, keys, key_len, values, vals_len);
    } else {
        crbd_empty_string(keys, key_len);
        crbd_empty_string(values, vals_len);
    }
    free(blob->data);
    return r;
}

CRBD_API int rbd_metadata_list(rbd_image_t image, const char *start, uint64_t max, char *keys, size_t *key_len,
                               char *values, size_t *vals_len)
{
    struct crbd_image *img = crbd_image_get(image);
    struct crbd_blob blob = { 0 };
    int r = img && key_len && vals_len ? crbd_py_metadata_list(img->py, start ? start : "", max, &blob) : -EINVAL;
    return crbd_pairs_reply(r, &blob, keys, key_len, values, vals_len);
}

/* ---- space and copies ---- */

CRBD_API int rbd_sparsify_with_progress(rbd_image_t image, size_t sparse_size, librbd_progress_fn_t cb,
                                        void *cbdata)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img)
        return -EINVAL;
    if (img->read_only)
        return -EROFS;
    crbd_io_wait_idle(img);   /* what it reads includes every write submitted before */
    return crbd_py_sparsify(img->py, sparse_size, cb, cbdata);
}

CRBD_API int rbd_sparsify(rbd_image_t image, size_t sparse_size)
{
    return rbd_sparsify_with_progress(image, sparse_size, NULL, NULL);
}

CRBD_API int rbd_deep_copy_with_progress(rbd_image_t image, rados_ioctx_t dest_io_ctx, const char *destname,
                                         rbd_image_options_t dest_opts, librbd_progress_fn_t cb, void *cbdata)
{
    struct crbd_image *img = crbd_image_get(image);
    struct crbd_ioctx *io = crbd_ioctx_get(dest_io_ctx);
    if (!img || !io || !destname)
        return -EINVAL;
    /* 0 if not given, and then the source's features / order are kept */
    uint64_t features = crbd_image_option(dest_opts, RBD_IMAGE_OPTION_FEATURES);
    int order = (int)crbd_image_option(dest_opts, RBD_IMAGE_OPTION_ORDER);
    crbd_io_wait_idle(img);   /* the copy includes every write submitted before it */
    return crbd_py_deep_copy(img->py, io->py, destname, features, order, cb, cbdata);
}

CRBD_API int rbd_deep_copy(rbd_image_t image, rados_ioctx_t dest_io_ctx, const char *destname,
                           rbd_image_options_t dest_opts)
{
    return rbd_deep_copy_with_progress(image, dest_io_ctx, destname, dest_opts, NULL, NULL);
}

/* librbd: -EROFS on a read-only handle, -EINVAL without the object-map feature. No object map is kept,
 * so there is nothing to rebuild: the callback hears (1, 1) and 0 is returned (core/image_extras.py). */
CRBD_API int rbd_rebuild_object_map(rbd_image_t image, librbd_progress_fn_t cb, void *cbdata)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img)
        return -EINVAL;
    return crbd_py_rebuild_object_map(img->py, cb, cbdata);
}

/* ---- advisory locks (core/advisory_locks.py) ---- */

CRBD_API int rbd_lock_exclusive(rbd_image_t image, const char *cookie)
{
    struct crbd_image *img = crbd_image_get(image);
    return img && cookie ? crbd_py_advisory_lock(img->py, CRBD_LOCK_EXCLUSIVE, cookie, NULL) : -EINVAL;
}

CRBD_API int rbd_lock_shared(rbd_image_t image, const char *cookie, const char *tag)
{
    struct crbd_image *img = crbd_image_get(image);
    return img && cookie && tag ? crbd_py_advisory_lock(img->py, CRBD_LOCK_SHARED, cookie, tag) : -EINVAL;
}

CRBD_API int rbd_unlock(rbd_image_t image, const char *cookie)
{
    struct crbd_image *img = crbd_image_get(image);
    return img && cookie ? crbd_py_advisory_lock(img->py, CRBD_UNLOCK, cookie, NULL) : -EINVAL;
}

CRBD_API int rbd_break_lock(rbd_image_t image, const char *client, const char *cookie)
{
    struct crbd_image *img = crbd_image_get(image);
    return img && client && cookie ? crbd_py_advisory_lock(img->py, CRBD_BREAK_LOCK, cookie, client) : -EINVAL;
}

/* The number of lockers; the tag and the lockers' clients, cookies and addresses NUL-separated into
 * the caller's buffers; -ERANGE with every length set to what is needed if any buffer is short. */
CRBD_API ssize_t rbd_list_lockers(rbd_image_t image, int *exclusive, char *tag, size_t *tag_len, char *clients,
                                  size_t *clients_len, char *cookies, size_t *cookies_len, char *addrs,
                                  size_t *addrs_len)
{
    struct crbd_image *img = crbd_image_get(image);
    if (exclusive)
        *exclusive = 0;
    if (!img || !exclusive || !tag_len || !clients_len || !cookies_len || !addrs_len) {
        crbd_empty_string(tag, tag_len);
        crbd_empty_string(clients, clients_len);
        crbd_empty_string(cookies, cookies_len);
        crbd_empty_string(addrs, addrs_len);
        return -EINVAL;
    }
    struct crbd_blob blob = { 0 };   /* "tag\0" then "client\0cookie\0address\0" per locker */
    int excl = 0;
    int r = crbd_py_lockers(img->py, &excl, &blob);
    if (r < 0) {
        crbd_empty_string(tag, tag_len);
        crbd_empty_string(clients, clients_len);
        crbd_empty_string(cookies, cookies_len);
        crbd_empty_string(addrs, addrs_len);
        return r;
    }
    const char *p = blob.data;
    const char *tag_value = crbd_blob_next(&p);
    size_t n = (crbd_blob_records(&blob, 1) - 1) / 3;
    size_t need[3] = { 0, 0, 0 };
    const char *q = p;
    for (size_t i = 0; i < 3 * n; i++)
        need[i % 3] += strlen(crbd_blob_next(&q)) + 1;
    char *bufs[3] = { clients, cookies, addrs };
    size_t *lens[3] = { clients_len, cookies_len, addrs_len };
    size_t need_tag = strlen(tag_value) + 1;
    int short_buf = !tag || *tag_len < need_tag;
    for (int f = 0; f < 3; f++)
        short_buf |= need[f] && (!bufs[f] || *lens[f] < need[f]);
    if (short_buf) {
        for (int f = 0; f < 3; f++) {
            if (bufs[f] && *lens[f])
                bufs[f][0] = 0;
            *lens[f] = need[f];
        }
        if (tag && *tag_len)
            tag[0] = 0;
        *tag_len = need_tag;
        free(blob.data);
        return -ERANGE;
    }
    memcpy(tag, tag_value, need_tag);
    *tag_len = need_tag;
    char *out[3] = { clients, cookies, addrs };
    for (size_t i = 0; i < 3 * n; i++) {
        const char *s = crbd_blob_next(&p);
        size_t l = strlen(s) + 1;
        memcpy(out[i % 3], s, l);
        out[i % 3] += l;
    }
    for (int f = 0; f < 3; f++) {
        if (!n && bufs[f] && *lens[f])
            bufs[f][0] = 0;
        *lens[f] = need[f];
    }
    *exclusive = excl;
    free(blob.data);
    return (ssize_t)n;
}

/* ---- the exclusive-lock feature's lock (core/writer_lock.py) ---- */

CRBD_API int rbd_lock_acquire(rbd_image_t image, rbd_lock_mode_t lock_mode)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img)
        return -EINVAL;
    if (lock_mode != RBD_LOCK_MODE_EXCLUSIVE)
        return -EOPNOTSUPP;   /* as librbd: only the exclusive mode exists */
    return crbd_py_managed_lock(img->py, CRBD_LOCK_ACQUIRE, NULL);
}

CRBD_API int rbd_lock_release(rbd_image_t image)
{
    struct crbd_image *img = crbd_image_get(image);
    return img ? crbd_py_managed_lock(img->py, CRBD_LOCK_RELEASE, NULL) : -EINVAL;
}

CRBD_API int rbd_lock_break(rbd_image_t image, rbd_lock_mode_t lock_mode, const char *lock_owner)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img || !lock_owner)
        return -EINVAL;
    if (lock_mode != RBD_LOCK_MODE_EXCLUSIVE)
        return -EOPNOTSUPP;
    return crbd_py_managed_lock(img->py, CRBD_LOCK_BREAK, lock_owner);
}

CRBD_API int rbd_is_exclusive_lock_owner(rbd_image_t image, int *is_owner)
{
    struct crbd_image *img = crbd_image_get(image);
    if (is_owner)
        *is_owner = 0;
    if (!img || !is_owner)
        return -EINVAL;
    int owner = 0;
    int r = crbd_py_is_lock_owner(img->py, &owner);
    if (r == 0)
        *is_owner = owner;
    return r;
}

/* -ENOENT if nobody holds the lock, -EINVAL without the exclusive-lock feature, -ERANGE with
 * *max_lock_owners = owners if the array is short; else the owners (strdup'ed, freed by
 * rbd_lock_get_owners_cleanup) and their count. */
CRBD_API int rbd_lock_get_owners(rbd_image_t image, rbd_lock_mode_t *lock_mode, char **lock_owners,
                                 size_t *max_lock_owners)
{
    struct crbd_image *img = crbd_image_get(image);
    if (lock_mode)
        *lock_mode = RBD_LOCK_MODE_EXCLUSIVE;
    if (!img || !lock_mode || !max_lock_owners) {
        if (max_lock_owners)
            *max_lock_owners = 0;
        return -EINVAL;
    }
    size_t have = *max_lock_owners;
    *max_lock_owners = 0;
    struct crbd_blob blob = { 0 };
    int r = crbd_py_lock_owners(img->py, &blob);
    if (r < 0)
        return r;
    size_t n = crbd_blob_records(&blob, 1);
    if (!n) {
        r = -ENOENT;
    } else if (have < n || !lock_owners) {
        *max_lock_owners = n;
        r = -ERANGE;
    } else {
        const char *p = blob.data;
        for (size_t i = 0; i < n; i++) {
            lock_owners[i] = strdup(crbd_blob_next(&p));
            if (!lock_owners[i]) {
                rbd_lock_get_owners_cleanup(lock_owners, i);
                r = -ENOMEM;
                break;
            }
        }
        if (r == 0)
            *max_lock_owners = n;
    }
    free(blob.data);
    return r;
}

CRBD_API void rbd_lock_get_owners_cleanup(char **lock_owners, size_t lock_owner_count)
{
    for (size_t i = 0; lock_owners && i < lock_owner_count; i++) {
        free(lock_owners[i]);
        lock_owners[i] = NULL;
    }
}

/* ---- watchers: curverbd keeps no rados watches on a header, so there are none ---- */

CRBD_API int rbd_watchers_list(rbd_image_t image, rbd_image_watcher_t *watchers, size_t *max_watchers)
{
    (void)watchers;
    if (max_watchers)
        *max_watchers = 0;
    return crbd_image_get(image) && max_watchers ? 0 : -EINVAL;
}

CRBD_API void rbd_watchers_list_cleanup(rbd_image_watcher_t *watchers, size_t num_watchers)
{
    for (size_t i = 0; watchers && i < num_watchers; i++) {
        free(watchers[i].addr);
        watchers[i].addr = NULL;
    }
}

/* ---- opening by id, asynchronous opens (done before returning; the completion then fires) ---- */

static int open_by_id(rados_ioctx_t io, const char *id, rbd_image_t *image, const char *snap_name, int read_only)
{
    struct crbd_ioctx *ioc = crbd_ioctx_get(io);
    if (image)
        *image = NULL;
    if (!ioc || !id || !image)
        return -EINVAL;
    struct crbd_blob blob = { 0 };
    int r = crbd_py_image_name_of_id(ioc->py, id, &blob);
    if (r == 0)
        r = read_only ? rbd_open_read_only(io, blob.data, image, snap_name) : rbd_open(io, blob.data, image, snap_name);
    free(blob.data);
    return r;
}

CRBD_API int rbd_open_by_id(rados_ioctx_t io, const char *id, rbd_image_t *image, const char *snap_name)
{
    return open_by_id(io, id, image, snap_name, 0);
}

CRBD_API int rbd_open_by_id_read_only(rados_ioctx_t io, const char *id, rbd_image_t *image, const char *snap_name)
{
    return open_by_id(io, id, image, snap_name, 1);
}

/* librbd's aio opens report the result through the completion (the call itself returns 0). */
static int aio_open_done(rbd_completion_t c, int r)
{
    struct crbd_completion *comp = crbd_completion_get(c);
    if (!comp)
        return -EINVAL;
    crbd_completion_fire(comp, r, NULL);
    return 0;
}

/* The four aio opens: the open runs now, its result goes through the completion. */
static int aio_open(rados_ioctx_t io, const char *name_or_id, int by_id, int read_only, rbd_image_t *image,
                    const char *snap_name, rbd_completion_t c)
{
    if (image)
        *image = NULL;
    if (!crbd_completion_get(c))
        return -EINVAL;
    int r = by_id ? open_by_id(io, name_or_id, image, snap_name, read_only)
            : read_only ? rbd_open_read_only(io, name_or_id, image, snap_name)
            : rbd_open(io, name_or_id, image, snap_name);
    return aio_open_done(c, r);
}

CRBD_API int rbd_aio_open(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name,
                          rbd_completion_t c)
{
    return aio_open(io, name, 0, 0, image, snap_name, c);
}

CRBD_API int rbd_aio_open_read_only(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name,
                                    rbd_completion_t c)
{
    return aio_open(io, name, 0, 1, image, snap_name, c);
}

CRBD_API int rbd_aio_open_by_id(rados_ioctx_t io, const char *id, rbd_image_t *image, const char *snap_name,
                                rbd_completion_t c)
{
    return aio_open(io, id, 1, 0, image, snap_name, c);
}

CRBD_API int rbd_aio_open_by_id_read_only(rados_ioctx_t io, const char *id, rbd_image_t *image,
                                          const char *snap_name, rbd_completion_t c)
{
    return aio_open(io, id, 1, 1, image, snap_name, c);
}

CRBD_API int rbd_aio_close(rbd_image_t image, rbd_completion_t c)
{
    if (!crbd_completion_get(c) || !crbd_image_get(image))
        return -EINVAL;
    return aio_open_done(c, rbd_close(image));
}
