/* librados objects: stored by the catalog (the daemon keeps them per pool and namespace).
 * Every call is a catalog round trip through the Python core; the aio variants run the call
 * at once and complete the completion before returning (their callbacks still run). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static struct crbd_ioctx *object_ioctx(rados_ioctx_t io, const char *oid)
{
    struct crbd_ioctx *ctx = crbd_ioctx_get(io);
    return ctx && oid ? ctx : NULL;
}

static int object_write(rados_ioctx_t io, const char *oid, const char *buf, size_t len, uint64_t off, int mode)
{
    struct crbd_ioctx *ctx = object_ioctx(io, oid);
    if (!ctx || (len && !buf))
        return -EINVAL;
    return crbd_py_object_write(ctx->py, oid, buf ? buf : "", len, off, mode);
}

CRBD_API int rados_write(rados_ioctx_t io, const char *oid, const char *buf, size_t len, uint64_t off)
{
    return object_write(io, oid, buf, len, off, CRBD_OBJECT_WRITE);
}

CRBD_API int rados_write_full(rados_ioctx_t io, const char *oid, const char *buf, size_t len)
{
    return object_write(io, oid, buf, len, 0, CRBD_OBJECT_WRITE_FULL);
}

CRBD_API int rados_append(rados_ioctx_t io, const char *oid, const char *buf, size_t len)
{
    return object_write(io, oid, buf, len, 0, CRBD_OBJECT_APPEND);
}

/* The number of bytes read (short at the object's end), or -errno (-ENOENT: no such object). */
CRBD_API int rados_read(rados_ioctx_t io, const char *oid, char *buf, size_t len, uint64_t off)
{
    struct crbd_ioctx *ctx = object_ioctx(io, oid);
    if (!ctx || (len && !buf))
        return -EINVAL;
    return crbd_py_object_read(ctx->py, oid, buf, len, off);
}

CRBD_API int rados_stat(rados_ioctx_t io, const char *oid, uint64_t *psize, time_t *pmtime)
{
    struct crbd_ioctx *ctx = object_ioctx(io, oid);
    if (!ctx)
        return -EINVAL;
    uint64_t size = 0;
    int64_t mtime = 0;
    int r = crbd_py_object_stat(ctx->py, oid, &size, &mtime);
    if (r == 0 && psize)
        *psize = size;
    if (r == 0 && pmtime)
        *pmtime = (time_t)mtime;
    return r;
}

CRBD_API int rados_remove(rados_ioctx_t io, const char *oid)
{
    struct crbd_ioctx *ctx = object_ioctx(io, oid);
    return ctx ? crbd_py_object_remove(ctx->py, oid) : -EINVAL;
}

/* ---- aio: done synchronously, then the completion fires ---- */

static int aio_finish(rados_completion_t completion, int r)
{
    struct crbd_completion *c = crbd_completion_get(completion);
    if (!c)
        return -EINVAL;
    crbd_completion_fire(c, r, NULL);
    return 0;
}

CRBD_API int rados_aio_write(rados_ioctx_t io, const char *oid, rados_completion_t completion, const char *buf,
                             size_t len, uint64_t off)
{
    if (!crbd_completion_get(completion))
        return -EINVAL;
    return aio_finish(completion, rados_write(io, oid, buf, len, off));
}

CRBD_API int rados_aio_write_full(rados_ioctx_t io, const char *oid, rados_completion_t completion,
                                  const char *buf, size_t len)
{
    if (!crbd_completion_get(completion))
        return -EINVAL;
    return aio_finish(completion, rados_write_full(io, oid, buf, len));
}

CRBD_API int rados_aio_read(rados_ioctx_t io, const char *oid, rados_completion_t completion, char *buf,
                            size_t len, uint64_t off)
{
    if (!crbd_completion_get(completion))
        return -EINVAL;
    return aio_finish(completion, rados_read(io, oid, buf, len, off));
}

CRBD_API int rados_aio_remove(rados_ioctx_t io, const char *oid, rados_completion_t completion)
{
    if (!crbd_completion_get(completion))
        return -EINVAL;
    return aio_finish(completion, rados_remove(io, oid));
}

CRBD_API int rados_aio_stat(rados_ioctx_t io, const char *oid, rados_completion_t completion, uint64_t *psize,
                            time_t *pmtime)
{
    if (psize)
        *psize = 0;
    if (pmtime)
        *pmtime = 0;
    if (!crbd_completion_get(completion))
        return -EINVAL;
    return aio_finish(completion, rados_stat(io, oid, psize, pmtime));
}

/* write ops (fio's rados engine zeroes with one): rados_ops.c */
