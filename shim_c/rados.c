/* librados: cluster and pool handles. The control plane is the Python core (crbd_py_*), which
 * also owns the nebd data connections (engine.c); C keeps the handle structs. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct crbd_cluster *crbd_cluster_get(void *handle)
{
    struct crbd_cluster *c = handle;
    return c && c->magic == CRBD_MAGIC_CLUSTER ? c : NULL;
}

struct crbd_ioctx *crbd_ioctx_get(void *handle)
{
    struct crbd_ioctx *io = handle;
    return io && io->magic == CRBD_MAGIC_IOCTX ? io : NULL;
}

static int cluster_new(const char *user, rados_t *out)
{
    if (!out)
        return -EINVAL;
    int r = crbd_ensure_python();
    if (r < 0)
        return r;
    struct crbd_cluster *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    r = crbd_py_cluster_create(user, &c->py);
    if (r < 0) {
        free(c);
        return r;
    }
    c->magic = CRBD_MAGIC_CLUSTER;
    *out = c;
    return 0;
}

CRBD_API int rados_create(rados_t *cluster, const char *const id)
{
    return cluster_new(id, cluster);
}

CRBD_API int rados_create2(rados_t *pcluster, const char *const clustername, const char *const name,
                           uint64_t flags)
{
    (void)clustername;
    (void)flags;
    const char *user = name;
    if (user && strncmp(user, "client.", 7) == 0)
        user += 7;
    return cluster_new(user, pcluster);
}

CRBD_API int rados_conf_read_file(rados_t cluster, const char *path)
{
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    return c ? crbd_py_conf_read_file(c->py, path) : -EINVAL;
}

CRBD_API int rados_conf_set(rados_t cluster, const char *option, const char *value)
{
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    return c && option ? crbd_py_conf_set(c->py, option, value) : -EINVAL;
}

CRBD_API int rados_conf_get(rados_t cluster, const char *option, char *buf, size_t len)
{
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    if (!c || !option || !buf)
        return -EINVAL;
    struct crbd_blob value = { 0 };
    int r = crbd_py_conf_get(c->py, option, &value);
    if (r == 0) {
        if (value.len + 1 > len) {
            r = -ENAMETOOLONG;
        } else {
            memcpy(buf, value.data, value.len);
            buf[value.len] = 0;
        }
    }
    free(value.data);
    return r;
}

CRBD_API int rados_connect(rados_t cluster)
{
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    if (!c)
        return -EINVAL;
    if (c->connected)
        return -EISCONN;
    int r = crbd_py_connect(c->py);   /* the core Cluster opens the data connections (engine.c) */
    if (r == 0)
        c->connected = 1;
    return r;
}

CRBD_API void rados_shutdown(rados_t cluster)
{
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    if (!c)
        return;
    c->magic = CRBD_MAGIC_DEAD;
    crbd_py_cluster_shutdown(c->py);
    free(c);
}

CRBD_API void rados_version(int *major, int *minor, int *extra)
{
    if (major)
        *major = LIBRADOS_VER_MAJOR;
    if (minor)
        *minor = LIBRADOS_VER_MINOR;
    if (extra)
        *extra = LIBRADOS_VER_EXTRA;
}

CRBD_API int rados_cluster_stat(rados_t cluster, struct rados_cluster_stat_t *result)
{
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    if (!c || !result)
        return -EINVAL;
    memset(result, 0, sizeof *result);
    return crbd_py_cluster_stat(c->py, result);
}

CRBD_API int rados_ioctx_create(rados_t cluster, const char *pool_name, rados_ioctx_t *ioctx)
{
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    if (!c || !pool_name || !ioctx)
        return -EINVAL;
    if (!c->connected)
        return -ENOTCONN;
    struct crbd_ioctx *io = calloc(1, sizeof *io);
    if (!io)
        return -ENOMEM;
    io->pool_name = strdup(pool_name);
    int r = io->pool_name ? crbd_py_ioctx_create(c->py, pool_name, &io->py) : -ENOMEM;
    if (r < 0) {
        free(io->pool_name);
        free(io);
        return r;
    }
    io->magic = CRBD_MAGIC_IOCTX;
    io->cluster = c;
    *ioctx = io;
    return 0;
}

CRBD_API void rados_ioctx_destroy(rados_ioctx_t ioctx)
{
    struct crbd_ioctx *io = crbd_ioctx_get(ioctx);
    if (!io)
        return;
    io->magic = CRBD_MAGIC_DEAD;
    crbd_py_ioctx_destroy(io->py);
    free(io->pool_name);
    free(io);
}

/* Namespaces are not supported: "" and NULL (the default namespace, which QEMU always
 * sets) are accepted; QEMU asks rbd_namespace_exists before setting any other. */
CRBD_API void rados_ioctx_set_namespace(rados_ioctx_t ioctx, const char *nspace)
{
    if (crbd_ioctx_get(ioctx) && nspace && *nspace)
        crbd_log("namespace '%s' requested; namespaces are not supported, using the default", nspace);
}

CRBD_API int rados_ioctx_pool_stat(rados_ioctx_t ioctx, struct rados_pool_stat_t *stats)
{
    struct crbd_ioctx *io = crbd_ioctx_get(ioctx);
    if (!io || !stats)
        return -EINVAL;
    memset(stats, 0, sizeof *stats);
    return crbd_py_pool_stat(io->py, stats);
}

/* The fsid as a 36-character UUID string; librados returns its length, or -ERANGE. */
CRBD_API int rados_cluster_fsid(rados_t cluster, char *buf, size_t len)
{
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    if (!c || !buf)
        return -EINVAL;
    if (!c->connected)
        return -ENOTCONN;
    struct crbd_blob fsid = { 0 };
    int r = crbd_py_cluster_fsid(c->py, &fsid);
    if (r == 0) {
        if (fsid.len + 1 > len) {
            r = -ERANGE;
        } else {
            memcpy(buf, fsid.data, fsid.len);
            buf[fsid.len] = 0;
            r = (int)fsid.len;
        }
    }
    free(fsid.data);
    return r;
}

/* ---- pools ---- */

/* librados' protocol: NUL-terminated names and a final NUL, as many as fit in len; the
 * return value is the length needed for all of them. */
CRBD_API int rados_pool_list(rados_t cluster, char *buf, size_t len)
{
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    if (!c)
        return -EINVAL;
    if (!c->connected)
        return -ENOTCONN;
    struct crbd_blob names = { 0 };
    int r = crbd_py_pool_list(c->py, &names);
    if (r < 0)
        return r;
    size_t used = 0;
    for (const char *p = names.data; p && p < names.data + names.len; p += strlen(p) + 1)
        used += strlen(p) + 1;
    if (buf && len) {
        if (used + 1 <= len) {
            memcpy(buf, names.data, used);
            buf[used] = 0;
        } else {
            memset(buf, 0, len);   /* a partial list would read as complete */
        }
    }
    free(names.data);
    return (int)(used + 1);
}

CRBD_API int rados_pool_create(rados_t cluster, const char *pool_name)
{
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    if (!c || !pool_name)
        return -EINVAL;
    return c->connected ? crbd_py_pool_create(c->py, pool_name) : -ENOTCONN;
}

CRBD_API int rados_pool_delete(rados_t cluster, const char *pool_name)
{
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    if (!c || !pool_name)
        return -EINVAL;
    return c->connected ? crbd_py_pool_delete(c->py, pool_name) : -ENOTCONN;
}

/* librados' protocol: the name's length, or -ERANGE if it does not fit with its NUL. */
CRBD_API int rados_ioctx_get_pool_name(rados_ioctx_t ioctx, char *buf, unsigned maxlen)
{
    struct crbd_ioctx *io = crbd_ioctx_get(ioctx);
    if (!io || !buf)
        return -EINVAL;
    size_t n = strlen(io->pool_name);
    if (n + 1 > maxlen)
        return -ERANGE;
    memcpy(buf, io->pool_name, n + 1);
    return (int)n;
}

/* CEPH_ARGS carries Ceph command-line options; none of them mean anything here. */
CRBD_API int rados_conf_parse_env(rados_t cluster, const char *var)
{
    (void)var;
    return crbd_cluster_get(cluster) ? 0 : -EINVAL;
}
