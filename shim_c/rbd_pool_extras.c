/* Pool calls of Pacific's librbd beyond the image life cycle: pool init, metadata, config and
 * statistics, feature names, the trash (get, purge, restore), and rados_get_instance_id. Each forwards to the core
 * (core/pool_meta.py through capi/pacific_calls.py); every output is set on every return. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define CRBD_POOL_STATS 8   /* RBD_POOL_STAT_OPTION_IMAGES .. _TRASH_SNAPSHOTS */

/* ---- pool ---- */

/* Nothing to prepare: every curverbd pool is ready for images. */
CRBD_API int rbd_pool_init(rados_ioctx_t io_ctx, bool force)
{
    struct crbd_ioctx *io = crbd_ioctx_get(io_ctx);
    return io ? crbd_py_pool_init(io->py, force) : -EINVAL;
}

CRBD_API int rbd_pool_metadata_get(rados_ioctx_t io_ctx, const char *key, char *value, size_t *val_len)
{
    struct crbd_ioctx *io = crbd_ioctx_get(io_ctx);
    if (!io || !key || !val_len) {
        crbd_empty_string(value, val_len);
        return -EINVAL;
    }
    struct crbd_blob blob = { 0 };
    int r = crbd_py_pool_metadata_get(io->py, key, &blob);
    if (r == 0)
        r = crbd_put_string(value, val_len, blob.data ? blob.data : "");
    else
        crbd_empty_string(value, val_len);
    free(blob.data);
    return r;
}

CRBD_API int rbd_pool_metadata_set(rados_ioctx_t io_ctx, const char *key, const char *value)
{
    struct crbd_ioctx *io = crbd_ioctx_get(io_ctx);
    return io && key && value ? crbd_py_pool_metadata_set(io->py, key, value) : -EINVAL;
}

CRBD_API int rbd_pool_metadata_remove(rados_ioctx_t io_ctx, const char *key)
{
    struct crbd_ioctx *io = crbd_ioctx_get(io_ctx);
    return io && key ? crbd_py_pool_metadata_set(io->py, key, NULL) : -EINVAL;
}

CRBD_API int rbd_pool_metadata_list(rados_ioctx_t io_ctx, const char *start, uint64_t max, char *keys,
                                    size_t *key_len, char *values, size_t *vals_len)
{
    struct crbd_ioctx *io = crbd_ioctx_get(io_ctx);
    struct crbd_blob blob = { 0 };
    int r = io && key_len && vals_len ? crbd_py_pool_metadata_list(io->py, start ? start : "", max, &blob) : -EINVAL;
    return crbd_pairs_reply(r, &blob, keys, key_len, values, vals_len);
}

/* librbd's protocol: -ERANGE with *max_options = options needed if the array is short; else the
 * options (the QoS options' client values, source CONFIG, and the pool's overrides, source POOL:
 * core/pool_meta.py; strings freed by rbd_config_pool_list_cleanup) and 0. *max_options is 0 after
 * other errors; the array is zeroed first. */
CRBD_API int rbd_config_pool_list(rados_ioctx_t io_ctx, rbd_config_option_t *options, int *max_options)
{
    struct crbd_ioctx *io = crbd_ioctx_get(io_ctx);
    if (options && max_options && *max_options > 0)
        memset(options, 0, (size_t)*max_options * sizeof *options);
    if (!io || !max_options) {
        if (max_options)
            *max_options = 0;
        return -EINVAL;
    }
    struct crbd_blob blob = { 0 };
    return crbd_config_options(crbd_py_config_pool_list(io->py, &blob), &blob, options, max_options);
}

CRBD_API void rbd_config_pool_list_cleanup(rbd_config_option_t *options, int max_options)
{
    rbd_config_image_list_cleanup(options, max_options);   /* the same strings */
}

/* ---- pool statistics: the caller names where each figure goes, then asks for them all ---- */

struct crbd_pool_stats {
    uint64_t *out[CRBD_POOL_STATS];
};

CRBD_API void rbd_pool_stats_create(rbd_pool_stats_t *stats)
{
    if (stats)
        *stats = calloc(1, sizeof(struct crbd_pool_stats));
}

CRBD_API void rbd_pool_stats_destroy(rbd_pool_stats_t stats)
{
    free(stats);
}

CRBD_API int rbd_pool_stats_option_add_uint64(rbd_pool_stats_t stats, int stat_option, uint64_t *stat_val)
{
    struct crbd_pool_stats *s = stats;
    if (stat_val)
        *stat_val = 0;
    if (!s || !stat_val || stat_option < 0 || stat_option >= CRBD_POOL_STATS)
        return -EINVAL;
    s->out[stat_option] = stat_val;
    return 0;
}

CRBD_API int rbd_pool_stats_get(rados_ioctx_t io_ctx, rbd_pool_stats_t stats)
{
    struct crbd_ioctx *io = crbd_ioctx_get(io_ctx);
    struct crbd_pool_stats *s = stats;
    if (!s)
        return -EINVAL;
    uint64_t values[CRBD_POOL_STATS] = { 0 };
    int r = io ? crbd_py_pool_stats(io->py, values) : -EINVAL;
    for (int i = 0; i < CRBD_POOL_STATS; i++)
        if (s->out[i])
            *s->out[i] = r == 0 ? values[i] : 0;
    return r;
}

/* ---- feature names ---- */

CRBD_API int rbd_features_to_string(uint64_t features, char *str_features, size_t *size)
{
    if (!size)
        return -EINVAL;   /* the buffer's size is unknown: it is left alone */
    struct crbd_blob blob = { 0 };
    int r = crbd_py_features_to_string(features, &blob);
    if (r == 0)
        r = crbd_put_string(str_features, size, blob.data ? blob.data : "");
    else
        crbd_empty_string(str_features, size);
    free(blob.data);
    return r;
}

CRBD_API int rbd_features_from_string(const char *str_features, uint64_t *features)
{
    if (features)
        *features = 0;
    if (!features)
        return -EINVAL;
    uint64_t value = 0;
    int r = crbd_py_features_from_string(str_features ? str_features : "", &value);
    if (r == 0)
        *features = value;
    return r;
}

/* ---- trash ---- */

/* The entry with id `id` of rbd_trash_list (strings freed by rbd_trash_get_cleanup); -ENOENT if none. */
CRBD_API int rbd_trash_get(rados_ioctx_t io, const char *id, rbd_trash_image_info_t *info)
{
    if (info)
        memset(info, 0, sizeof *info);
    if (!info || !id || !crbd_ioctx_get(io))
        return -EINVAL;
    size_t count = 0;
    int r = rbd_trash_list(io, NULL, &count);
    rbd_trash_image_info_t *entries = NULL;
    while (r == -ERANGE) {
        rbd_trash_image_info_t *more = realloc(entries, (count ? count : 1) * sizeof *entries);
        if (!more) {
            free(entries);
            return -ENOMEM;
        }
        entries = more;
        r = rbd_trash_list(io, entries, &count);
    }
    if (r < 0) {
        free(entries);
        return r;
    }
    r = -ENOENT;
    for (size_t i = 0; i < count; i++) {
        if (r == -ENOENT && strcmp(entries[i].id, id) == 0) {
            *info = entries[i];   /* its strings move to the caller */
            memset(&entries[i], 0, sizeof entries[i]);
            r = 0;
        }
    }
    rbd_trash_list_cleanup(entries, count);
    free(entries);
    return r;
}

CRBD_API void rbd_trash_get_cleanup(rbd_trash_image_info_t *info)
{
    if (!info)
        return;
    free(info->id);
    free(info->name);
    info->id = info->name = NULL;
}

CRBD_API int rbd_trash_purge_with_progress(rados_ioctx_t io, time_t expire_ts, float threshold,
                                           librbd_progress_fn_t cb, void *cbdata)
{
    (void)threshold;   /* pool fullness: not known here, the expiry alone decides */
    struct crbd_ioctx *ioc = crbd_ioctx_get(io);
    if (!ioc)
        return -EINVAL;
    int r = crbd_py_trash_purge(ioc->py, (int64_t)expire_ts);
    if (r == 0 && cb)
        cb(1, 1, cbdata);
    return r;
}

CRBD_API int rbd_trash_purge(rados_ioctx_t io, time_t expire_ts, float threshold)
{
    return rbd_trash_purge_with_progress(io, expire_ts, threshold, NULL, NULL);
}

/* The trashed image `id` back in the pool, as `name` ("" or NULL: its name before the trash): the
 * core's restore (-ENOENT if no such entry, -EEXIST if the name is taken). */
CRBD_API int rbd_trash_restore(rados_ioctx_t io, const char *id, const char *name)
{
    struct crbd_ioctx *ioc = crbd_ioctx_get(io);
    return ioc && id ? crbd_py_trash_restore(ioc->py, id, name ? name : "") : -EINVAL;
}

/* ---- librados: the handle's client instance id (client.<id> in lock listings) ---- */

CRBD_API uint64_t rados_get_instance_id(rados_t cluster)
{
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    uint64_t id = 0;
    if (!c || crbd_py_instance_id(c->py, &id) < 0)
        return 0;
    return id;
}
