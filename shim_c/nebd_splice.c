/* Big write attachments leave without a copy: the caller's pages are mapped into a pipe
 * (vmsplice) and moved from the pipe into the socket (splice), so the daemon reads the guest's
 * own pages. This is safe because a write completes only after the daemon answered it, i.e.
 * after it copied the data out, and the caller keeps its buffer untouched until completion
 * (the librbd contract). The bytes on the wire are the same as with sendmsg(). */
#include "internal.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#define PIPE_BYTES (1u << 20)   /* one 1 MiB write per round trip through the pipe */

static int pipe_open(struct crbd_pipe *p)
{
    if (p->rd >= 0)
        return 0;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    /* Failure keeps the default 64 KiB (e.g. over pipe-user-pages-soft): slower, still right. */
    int got = fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES);
    p->rd = fds[0];
    p->wr = fds[1];
    p->cap = got > 0 ? (size_t)got : 65536;
    return 0;
}

void crbd_pipe_close(struct crbd_pipe *p)
{
    if (p->rd >= 0) {
        close(p->rd);
        close(p->wr);
    }
    p->rd = p->wr = -1;
}

/* Move n bytes from the pipe into the socket. */
static int drain_to(struct crbd_pipe *p, int sock, size_t n, int more)
{
    while (n > 0) {
        ssize_t k = splice(p->rd, NULL, sock, NULL, n, more ? SPLICE_F_MORE : 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (k == 0)
            return -EPIPE;
        n -= (size_t)k;
    }
    return 0;
}

int crbd_pipe_send(struct crbd_pipe *p, int sock, const struct iovec *iov, int iovcnt, int *started)
{
    *started = 0;
    int r = pipe_open(p);
    if (r < 0)
        return r;
    struct iovec cur = { 0 };
    int i = 0;
    while (i < iovcnt || cur.iov_len) {
        /* Fill the pipe with up to cap bytes of the remaining iovecs. */
        size_t filled = 0;
        while (filled < p->cap && (cur.iov_len || i < iovcnt)) {
            if (!cur.iov_len) {
                cur = iov[i++];
                continue;
            }
            struct iovec piece = cur;
            if (piece.iov_len > p->cap - filled)
                piece.iov_len = p->cap - filled;
            /* Non-blocking: an unaligned buffer takes one more pipe slot than its bytes
             * suggest, and a full pipe must be drained here rather than waited on. */
            ssize_t k = vmsplice(p->wr, &piece, 1, SPLICE_F_NONBLOCK);
            if (k < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN && filled > 0)
                    break;
                r = errno == EAGAIN ? -ENOBUFS : -errno;
                crbd_pipe_close(p);   /* it may hold part of this frame */
                return r;
            }
            filled += (size_t)k;
            cur.iov_base = (char *)cur.iov_base + k;
            cur.iov_len -= (size_t)k;
        }
        *started = 1;
        r = drain_to(p, sock, filled, i < iovcnt || cur.iov_len);
        if (r < 0) {
            crbd_pipe_close(p);
            return r;
        }
    }
    return 0;
}
