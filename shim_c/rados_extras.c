/* librados beyond the basics: pool ids (lookup, reverse lookup, base tier, ioctx by id), a pool's
 * application tags and their metadata, object truncation, and the calls with nothing to do here
 * (no OSD map to wait for, no full flag, no object versions). The control plane is the Python core
 * (core/rados_pools.py through capi/rados_calls.py). Every output is set on every return. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

static struct crbd_cluster *connected(rados_t cluster, int *r)
{
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    *r = !c ? -EINVAL : !c->connected ? -ENOTCONN : 0;
    return *r ? NULL : c;
}

/* ---- pool ids ---- */

CRBD_API int64_t rados_pool_lookup(rados_t cluster, const char *pool_name)
{
    int r;
    struct crbd_cluster *c = connected(cluster, &r);
    if (!c)
        return r;
    if (!pool_name)
        return -EINVAL;
    int64_t id = 0;
    r = crbd_py_pool_lookup(c->py, pool_name, &id);
    return r < 0 ? r : id;
}

/* librados' protocol: the name's length, or -ERANGE if it does not fit with its NUL ("" then). */
CRBD_API int rados_pool_reverse_lookup(rados_t cluster, int64_t id, char *buf, size_t maxlen)
{
    if (buf && maxlen)
        buf[0] = 0;
    int r;
    struct crbd_cluster *c = connected(cluster, &r);
    if (!c)
        return r;
    if (!buf)
        return -EINVAL;
    struct crbd_blob name = { 0 };
    r = crbd_py_pool_reverse_lookup(c->py, id, &name);
    if (r == 0) {
        if (name.len >= maxlen) {
            r = -ERANGE;
        } else {
            memcpy(buf, name.data, name.len + 1);
            r = (int)name.len;
        }
    }
    free(name.data);
    return r;
}

/* No cache tiers: a pool is its own base tier (-ENOENT if there is no such pool; *base_tier 0 then). */
CRBD_API int rados_pool_get_base_tier(rados_t cluster, int64_t pool, int64_t *base_tier)
{
    if (base_tier)
        *base_tier = 0;
    int r;
    struct crbd_cluster *c = connected(cluster, &r);
    if (!c)
        return r;
    if (!base_tier)
        return -EINVAL;
    int64_t tier = 0;
    r = crbd_py_pool_base_tier(c->py, pool, &tier);
    if (r == 0)
        *base_tier = tier;
    return r;
}

CRBD_API int rados_ioctx_create2(rados_t cluster, int64_t pool_id, rados_ioctx_t *ioctx)
{
    if (ioctx)
        *ioctx = NULL;
    int r;
    struct crbd_cluster *c = connected(cluster, &r);
    if (!c)
        return r;
    if (!ioctx)
        return -EINVAL;
    struct crbd_blob name = { 0 };
    r = crbd_py_pool_reverse_lookup(c->py, pool_id, &name);
    if (r == 0)
        r = rados_ioctx_create(cluster, name.data, ioctx);
    free(name.data);
    return r;
}

CRBD_API int64_t rados_ioctx_get_id(rados_ioctx_t io)
{
    struct crbd_ioctx *ctx = crbd_ioctx_get(io);
    if (!ctx)
        return -EINVAL;
    int64_t id = 0;
    int r = crbd_py_ioctx_pool_id(ctx->py, &id);
    return r < 0 ? r : id;
}

CRBD_API rados_t rados_ioctx_get_cluster(rados_ioctx_t io)
{
    struct crbd_ioctx *ctx = crbd_ioctx_get(io);
    return ctx ? ctx->cluster : NULL;
}

/* Objects carry no versions here: 0, as librados gives before any operation. */
CRBD_API uint64_t rados_get_last_version(rados_ioctx_t io)
{
    (void)io;
    return 0;
}

/* There is no OSD map: every client sees the catalog's latest state at once. */
CRBD_API int rados_wait_for_latest_osdmap(rados_t cluster)
{
    int r;
    connected(cluster, &r);
    return r;
}

/* Pools have no full flag to override (Curve's own space checks apply). */
CRBD_API void rados_set_pool_full_try(rados_ioctx_t io)
{
    (void)io;
}

CRBD_API void rados_unset_pool_full_try(rados_ioctx_t io)
{
    (void)io;
}

/* ---- objects ---- */

CRBD_API int rados_trunc(rados_ioctx_t io, const char *oid, uint64_t size)
{
    struct crbd_ioctx *ctx = crbd_ioctx_get(io);
    if (!ctx || !oid)
        return -EINVAL;
    return crbd_py_object_truncate(ctx->py, oid, size);
}

/* ---- applications ---- */

static struct crbd_ioctx *app_ioctx(rados_ioctx_t io, const char *app)
{
    struct crbd_ioctx *ctx = crbd_ioctx_get(io);
    return ctx && app ? ctx : NULL;
}

CRBD_API int rados_application_enable(rados_ioctx_t io, const char *app_name, int force)
{
    struct crbd_ioctx *ctx = app_ioctx(io, app_name);
    return ctx ? crbd_py_application_enable(ctx->py, app_name, force) : -EINVAL;
}

CRBD_API int rados_application_metadata_set(rados_ioctx_t io, const char *app_name, const char *key,
                                            const char *value)
{
    struct crbd_ioctx *ctx = app_ioctx(io, app_name);
    if (!ctx || !key || !value)
        return -EINVAL;
    return crbd_py_application_metadata_set(ctx->py, app_name, key, value);
}

CRBD_API int rados_application_metadata_remove(rados_ioctx_t io, const char *app_name, const char *key)
{
    struct crbd_ioctx *ctx = app_ioctx(io, app_name);
    if (!ctx || !key)
        return -EINVAL;
    return crbd_py_application_metadata_set(ctx->py, app_name, key, NULL);
}

/* The caller's buffer of *len bytes: "" and 0 (an error other than -ERANGE). */
static void empty(char *buf, size_t *len)
{
    if (buf && len && *len)
        buf[0] = 0;
    if (len)
        *len = 0;
}

/* librados' protocol for a list of NUL-terminated strings (blob) into buf of *len bytes: -ERANGE with
 * *len the size needed if it does not fit, else the strings, a final NUL if there is room (librados
 * always writes it, one byte past what it reports), and *len their total length. */
static int give_strings(const struct crbd_blob *blob, char *buf, size_t *len)
{
    size_t room = *len;
    *len = blob->len;
    if (room < blob->len)
        return -ERANGE;
    if (blob->len)
        memcpy(buf, blob->data, blob->len);
    if (room > blob->len)
        buf[blob->len] = 0;
    return 0;
}

CRBD_API int rados_application_list(rados_ioctx_t io, char *values, size_t *values_len)
{
    struct crbd_ioctx *ctx = crbd_ioctx_get(io);
    if (!ctx || !values_len || (!values && *values_len)) {
        empty(values, values_len);
        return -EINVAL;
    }
    struct crbd_blob names = { 0 };
    int r = crbd_py_application_list(ctx->py, &names);
    if (r == 0)
        r = give_strings(&names, values, values_len);
    else
        empty(values, values_len);
    free(names.data);
    return r;
}

/* The value and its NUL: -ERANGE with *value_len the size needed if it does not fit. */
CRBD_API int rados_application_metadata_get(rados_ioctx_t io, const char *app_name, const char *key, char *value,
                                            size_t *value_len)
{
    struct crbd_ioctx *ctx = app_ioctx(io, app_name);
    if (!ctx || !key || !value_len || (!value && *value_len)) {
        empty(value, value_len);
        return -EINVAL;
    }
    struct crbd_blob found = { 0 };
    int r = crbd_py_application_metadata_get(ctx->py, app_name, key, &found);
    if (r == 0) {
        size_t room = *value_len;
        *value_len = found.len + 1;
        if (room < found.len + 1)
            r = -ERANGE;
        else
            memcpy(value, found.data ? found.data : "", found.len + 1);
    } else {
        empty(value, value_len);
    }
    free(found.data);
    return r;
}

/* Keys and values as two lists of NUL-terminated strings: -ERANGE with both sizes needed if either
 * does not fit. */
CRBD_API int rados_application_metadata_list(rados_ioctx_t io, const char *app_name, char *keys, size_t *key_len,
                                             char *values, size_t *vals_len)
{
    struct crbd_ioctx *ctx = app_ioctx(io, app_name);
    if (!ctx || !key_len || !vals_len || (!keys && *key_len) || (!values && *vals_len)) {
        empty(keys, key_len);
        empty(values, vals_len);
        return -EINVAL;
    }
    struct crbd_blob pairs = { 0 };
    int r = crbd_py_application_metadata_list(ctx->py, app_name, &pairs);
    if (r < 0) {
        empty(keys, key_len);
        empty(values, vals_len);
        free(pairs.data);
        return r;
    }
    size_t need_k = 0, need_v = 0, n = crbd_blob_records(&pairs, 2);
    const char *p = pairs.data;
    for (size_t i = 0; i < n; i++) {
        need_k += strlen(crbd_blob_next(&p)) + 1;
        need_v += strlen(crbd_blob_next(&p)) + 1;
    }
    size_t room_k = *key_len, room_v = *vals_len;
    *key_len = need_k;
    *vals_len = need_v;
    if (room_k < need_k || room_v < need_v) {
        free(pairs.data);
        return -ERANGE;
    }
    char *k = keys, *v = values;
    p = pairs.data;
    for (size_t i = 0; i < n; i++) {
        const char *key = crbd_blob_next(&p), *val = crbd_blob_next(&p);
        memcpy(k, key, strlen(key) + 1);
        k += strlen(key) + 1;
        memcpy(v, val, strlen(val) + 1);
        v += strlen(val) + 1;
    }
    if (room_k > need_k)
        *k = 0;
    if (room_v > need_v)
        *v = 0;
    free(pairs.data);
    return 0;
}

/* ---- object xattrs (core/object_xattrs.py) ---- */

/* The value's length, or -ERANGE if it is longer than len (the buffer then untouched); -ENOENT
 * without the object, -ENODATA without the xattr. */
CRBD_API int rados_getxattr(rados_ioctx_t io, const char *o, const char *name, char *buf, size_t len)
{
    struct crbd_ioctx *ctx = crbd_ioctx_get(io);
    if (!ctx || !o || !name || (len && !buf))
        return -EINVAL;
    struct crbd_blob value = { 0 };
    int r = crbd_py_object_xattr_get(ctx->py, o, name, &value);
    if (r == 0) {
        if (value.len > len || value.len > INT32_MAX) {
            r = -ERANGE;
        } else {
            if (value.len)
                memcpy(buf, value.data, value.len);
            r = (int)value.len;
        }
    }
    free(value.data);
    return r;
}

CRBD_API int rados_setxattr(rados_ioctx_t io, const char *o, const char *name, const char *buf, size_t len)
{
    struct crbd_ioctx *ctx = crbd_ioctx_get(io);
    if (!ctx || !o || !name || (len && !buf))
        return -EINVAL;
    return crbd_py_object_xattr_set(ctx->py, o, name, buf ? buf : "", len, 0);
}

CRBD_API int rados_rmxattr(rados_ioctx_t io, const char *o, const char *name)
{
    struct crbd_ioctx *ctx = crbd_ioctx_get(io);
    if (!ctx || !o || !name)
        return -EINVAL;
    return crbd_py_object_xattr_set(ctx->py, o, name, "", 0, 1);
}

/* A snapshot of the object's xattrs: "name\0<decimal length>\0<bytes>" each, read by _next. */
struct crbd_xattrs_iter {
    struct crbd_blob attrs;
    size_t pos;
};

CRBD_API int rados_getxattrs(rados_ioctx_t io, const char *oid, void **iter)
{
    if (iter)
        *iter = NULL;
    struct crbd_ioctx *ctx = crbd_ioctx_get(io);
    if (!ctx || !oid || !iter)
        return -EINVAL;
    struct crbd_xattrs_iter *it = calloc(1, sizeof *it);
    if (!it)
        return -ENOMEM;
    int r = crbd_py_object_xattrs(ctx->py, oid, &it->attrs);
    if (r < 0) {
        free(it->attrs.data);
        free(it);
        return r;
    }
    *iter = it;
    return 0;
}

/* The next xattr; at the end *name and *val NULL and *len 0 (return 0). The pointers stay valid
 * until rados_getxattrs_end. */
CRBD_API int rados_getxattrs_next(void *iter, const char **name, const char **val, size_t *len)
{
    if (name)
        *name = NULL;
    if (val)
        *val = NULL;
    if (len)
        *len = 0;
    struct crbd_xattrs_iter *it = iter;
    if (!it || !name || !val || !len)
        return -EINVAL;
    const char *end = it->attrs.data + it->attrs.len;
    const char *p = it->attrs.data ? it->attrs.data + it->pos : NULL;
    if (!p || p >= end)
        return 0;
    const char *n = p;
    p += strlen(p) + 1;
    if (p >= end)
        return -EIO;
    char *after = NULL;
    unsigned long long size = strtoull(p, &after, 10);
    p += strlen(p) + 1;
    if (!after || *after || size > (unsigned long long)(end - p))
        return -EIO;
    *name = n;
    *val = p;
    *len = (size_t)size;
    it->pos = (size_t)(p + size - it->attrs.data);
    return 0;
}

CRBD_API void rados_getxattrs_end(void *iter)
{
    struct crbd_xattrs_iter *it = iter;
    if (it) {
        free(it->attrs.data);
        free(it);
    }
}

/* aio: done at once, then the completion fires (as rados_objects.c's) */
static int fire(rados_completion_t completion, int r)
{
    struct crbd_completion *c = crbd_completion_get(completion);
    if (!c)
        return -EINVAL;
    crbd_completion_fire(c, r, NULL);
    return 0;
}

CRBD_API int rados_aio_setxattr(rados_ioctx_t io, const char *o, rados_completion_t completion, const char *name,
                                const char *buf, size_t len)
{
    if (!crbd_completion_get(completion))
        return -EINVAL;
    return fire(completion, rados_setxattr(io, o, name, buf, len));
}

CRBD_API int rados_aio_rmxattr(rados_ioctx_t io, const char *o, rados_completion_t completion, const char *name)
{
    if (!crbd_completion_get(completion))
        return -EINVAL;
    return fire(completion, rados_rmxattr(io, o, name));
}

/* Pacific's completion without the "safe" callback (python3-rados' aio calls make theirs with it). */
CRBD_API int rados_aio_create_completion2(void *cb_arg, rados_callback_t cb_complete, rados_completion_t *pc)
{
    return rados_aio_create_completion(cb_arg, cb_complete, NULL, pc);
}

/* ---- calls with a fixed answer here ---- */

/* Objects take writes at any offset: no pool requires an alignment. */
CRBD_API int rados_ioctx_pool_requires_alignment2(rados_ioctx_t io, int *req)
{
    if (req)
        *req = 0;
    return crbd_ioctx_get(io) && req ? 0 : -EINVAL;
}

CRBD_API int rados_ioctx_pool_required_alignment2(rados_ioctx_t io, uint64_t *alignment)
{
    if (alignment)
        *alignment = 0;
    return crbd_ioctx_get(io) && alignment ? 0 : -EINVAL;
}

/* A pool is a Curve directory: no auid, no CRUSH rule to choose. */
CRBD_API int rados_pool_create_with_auid(rados_t cluster, const char *pool_name, uint64_t auid)
{
    (void)auid;
    return rados_pool_create(cluster, pool_name);
}

CRBD_API int rados_pool_create_with_crush_rule(rados_t cluster, const char *pool_name, uint8_t crush_rule_num)
{
    (void)crush_rule_num;
    return rados_pool_create(cluster, pool_name);
}

CRBD_API int rados_pool_create_with_all(rados_t cluster, const char *pool_name, uint64_t auid,
                                        uint8_t crush_rule_num)
{
    (void)auid;
    (void)crush_rule_num;
    return rados_pool_create(cluster, pool_name);
}

/* Curve has no placement groups to be inconsistent: an empty list (the bytes needed, 0). */
CRBD_API int rados_inconsistent_pg_list(rados_t cluster, int64_t pool, char *buf, size_t len)
{
    (void)pool;
    if (buf && len)
        buf[0] = 0;
    return crbd_cluster_get(cluster) ? 0 : -EINVAL;
}

/* No manager daemon keeps a service map here: registering and reporting status succeed and are
 * kept nowhere (as with a cluster whose mgr ignores them). */
CRBD_API int rados_service_register(rados_t cluster, const char *service, const char *daemon,
                                    const char *metadata_dict)
{
    (void)metadata_dict;
    return crbd_cluster_get(cluster) && service && daemon ? 0 : -EINVAL;
}

CRBD_API int rados_service_update_status(rados_t cluster, const char *status_dict)
{
    (void)status_dict;
    return crbd_cluster_get(cluster) ? 0 : -EINVAL;
}

/* This client's address, as lock listings name it (core/advisory_locks.py client_of). */
CRBD_API int rados_getaddrs(rados_t cluster, char **addrs)
{
    if (addrs)
        *addrs = NULL;
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    uint64_t id = 0;
    if (!c || !addrs)
        return -EINVAL;
    int r = crbd_py_instance_id(c->py, &id);
    if (r < 0)
        return r;
    char buf[64];
    snprintf(buf, sizeof buf, "127.0.0.1:0/%llu", (unsigned long long)id);
    *addrs = strdup(buf);
    return *addrs ? 0 : -ENOMEM;
}

/* The "monitor" is curverbd-server's control plane, which a connected cluster handle reaches (its
 * heartbeat would have failed the handle otherwise): healthy while connected, -ENOTCONN before. */
CRBD_API int rados_ping_monitor(rados_t cluster, const char *mon_id, char **outstr, size_t *outstrlen)
{
    if (outstr)
        *outstr = NULL;
    if (outstrlen)
        *outstrlen = 0;
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    if (!c || !mon_id || !outstr || !outstrlen)
        return -EINVAL;
    if (!c->connected)
        return -ENOTCONN;
    static const char pong[] = "{\"health\": {\"status\": \"HEALTH_OK\"}}";
    if (!(*outstr = strdup(pong)))
        return -ENOMEM;
    *outstrlen = sizeof pong - 1;
    return 0;
}
