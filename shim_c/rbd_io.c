/* librbd data exports: aio calls hand the caller's buffers to io.c (aio writes copied first,
 * unless rbd_disable_zero_copy_writes = false); sync calls are aio + wait and return like
 * librbd's: a read the bytes read, write / discard / write-zeroes the clipped length; the
 * image notification (fio's eventfd path) is drained by rbd_poll_io_events. */
#include "internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int aio(rbd_image_t image, int kind, uint64_t off, uint64_t len, const struct iovec *iov, int iovcnt,
               rbd_completion_t c)
{
    struct crbd_image *img = crbd_image_get(image);
    struct crbd_completion *comp = crbd_completion_get(c);
    if (!img || !comp)
        return -EINVAL;
    int flags = CRBD_IO_NOTIFY;
    if (kind == CRBD_OP_WRITE && img->copy_writes)
        flags |= CRBD_IO_COPY;
    return crbd_io_submit(img, kind, off, len, iov, iovcnt, comp, flags);
}

ssize_t crbd_io_sync(struct crbd_image *img, int kind, uint64_t off, uint64_t len, const struct iovec *iov,
                     int iovcnt)
{
    if (!img)
        return -EINVAL;
    if (crbd_conn_on_engine_thread())   /* a completion callback: it would wait for its own thread */
        return -EDEADLK;
    uint64_t clipped = len;
    if (kind != CRBD_OP_FLUSH && crbd_io_clip(img, off, &clipped) < 0)
        return -EINVAL;   /* librbd's Io::read/write/discard/write_zeroes clip before submitting */
    struct crbd_completion *comp = crbd_completion_new(NULL, NULL);
    if (!comp)
        return -ENOMEM;
    int r = crbd_io_submit(img, kind, off, len, iov, iovcnt, comp, 0);
    ssize_t ret = r;
    if (r == 0) {
        /* a flush is bounded (rbd_close flushes through here): the op keeps its own reference */
        ret = kind == CRBD_OP_FLUSH ? crbd_completion_wait_for(comp, img->close_timeout_ms)
                                    : crbd_completion_wait(comp);
        if (ret == -ETIMEDOUT && kind == CRBD_OP_FLUSH)
            crbd_log("rbd_flush: the flush did not complete within %u ms (daemon away?); giving up with "
                     "-ETIMEDOUT", img->close_timeout_ms);
    }
    crbd_completion_put(comp);
    if (ret >= 0 && kind != CRBD_OP_READ && kind != CRBD_OP_FLUSH)
        ret = (ssize_t)clipped;
    return ret;
}

static uint64_t iov_total(const struct iovec *iov, int iovcnt)
{
    uint64_t n = 0;
    for (int i = 0; i < iovcnt; i++)
        n += iov[i].iov_len;
    return n;
}

CRBD_API int rbd_aio_read(rbd_image_t image, uint64_t off, size_t len, char *buf, rbd_completion_t c)
{
    struct iovec v = { buf, len };
    return buf || !len ? aio(image, CRBD_OP_READ, off, len, &v, 1, c) : -EINVAL;
}

CRBD_API int rbd_aio_write(rbd_image_t image, uint64_t off, size_t len, const char *buf, rbd_completion_t c)
{
    struct iovec v = { (void *)buf, len };
    return buf || !len ? aio(image, CRBD_OP_WRITE, off, len, &v, 1, c) : -EINVAL;
}

CRBD_API int rbd_aio_readv(rbd_image_t image, const struct iovec *iov, int iovcnt, uint64_t off, rbd_completion_t c)
{
    if (iovcnt < 0 || (iovcnt && !iov))
        return -EINVAL;
    return aio(image, CRBD_OP_READ, off, iov_total(iov, iovcnt), iov, iovcnt, c);
}

CRBD_API int rbd_aio_writev(rbd_image_t image, const struct iovec *iov, int iovcnt, uint64_t off, rbd_completion_t c)
{
    if (iovcnt < 0 || (iovcnt && !iov))
        return -EINVAL;
    return aio(image, CRBD_OP_WRITE, off, iov_total(iov, iovcnt), iov, iovcnt, c);
}

CRBD_API int rbd_aio_discard(rbd_image_t image, uint64_t off, uint64_t len, rbd_completion_t c)
{
    return aio(image, CRBD_OP_DISCARD, off, len, NULL, 0, c);
}

CRBD_API int rbd_aio_write_zeroes(rbd_image_t image, uint64_t off, size_t len, rbd_completion_t c, int zero_flags,
                                  int op_flags)
{
    (void)zero_flags;   /* thick or thin: the middle reads back as zeros either way */
    (void)op_flags;
    return aio(image, CRBD_OP_ZERO, off, len, NULL, 0, c);
}

CRBD_API int rbd_aio_flush(rbd_image_t image, rbd_completion_t c)
{
    return aio(image, CRBD_OP_FLUSH, 0, 0, NULL, 0, c);
}

CRBD_API ssize_t rbd_read(rbd_image_t image, uint64_t ofs, size_t len, char *buf)
{
    struct iovec v = { buf, len };
    return buf || !len ? crbd_io_sync(crbd_image_get(image), CRBD_OP_READ, ofs, len, &v, 1) : -EINVAL;
}

CRBD_API ssize_t rbd_write(rbd_image_t image, uint64_t ofs, size_t len, const char *buf)
{
    struct iovec v = { (void *)buf, len };
    return buf || !len ? crbd_io_sync(crbd_image_get(image), CRBD_OP_WRITE, ofs, len, &v, 1) : -EINVAL;
}

/* librbd returns the clipped length in an int: a length it cannot carry is -EINVAL. */
CRBD_API int rbd_discard(rbd_image_t image, uint64_t ofs, uint64_t len)
{
    if (len > INT_MAX)
        return -EINVAL;
    return (int)crbd_io_sync(crbd_image_get(image), CRBD_OP_DISCARD, ofs, len, NULL, 0);
}

CRBD_API int rbd_write_zeroes(rbd_image_t image, uint64_t ofs, size_t len, int zero_flags, int op_flags)
{
    (void)zero_flags;
    (void)op_flags;
    if (len > INT_MAX)
        return -EINVAL;
    return (int)crbd_io_sync(crbd_image_get(image), CRBD_OP_ZERO, ofs, len, NULL, 0);
}

CRBD_API int rbd_flush(rbd_image_t image)
{
    return (int)crbd_io_sync(crbd_image_get(image), CRBD_OP_FLUSH, 0, 0, NULL, 0);
}

CRBD_API int rbd_set_image_notification(rbd_image_t image, int fd, int type)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img || fd < 0 || (type != EVENT_TYPE_PIPE && type != EVENT_TYPE_EVENTFD))
        return -EINVAL;
    pthread_mutex_lock(&img->lock);
    img->event_fd = fd;
    img->event_type = type;
    pthread_mutex_unlock(&img->lock);
    return 0;
}

/* Hands out up to numcomp completed completions, oldest first. The queue's reference is
 * dropped here: the caller still holds its own until rbd_aio_release. */
CRBD_API int rbd_poll_io_events(rbd_image_t image, rbd_completion_t *comps, int numcomp)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img || numcomp < 0 || (numcomp && !comps))
        return -EINVAL;
    pthread_mutex_lock(&img->lock);
    size_t n = img->nevents < (size_t)numcomp ? img->nevents : (size_t)numcomp;
    struct crbd_completion *taken[n ? n : 1];
    memcpy(taken, img->events, n * sizeof *taken);
    memmove(img->events, img->events + n, (img->nevents - n) * sizeof *img->events);
    img->nevents -= n;
    pthread_mutex_unlock(&img->lock);
    for (size_t i = 0; i < n; i++) {
        comps[i] = taken[i];
        crbd_completion_put(taken[i]);
    }
    return (int)n;
}
