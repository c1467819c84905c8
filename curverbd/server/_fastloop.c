/* The daemon's frame loop for the common data requests, in C (built by build_fastpath.py with cffi).
 *
 * crbd_serve() walks the complete baidu_std frames in a receive buffer and answers every aligned,
 * in-bounds NebdFileService Read / Write / Discard on a volume the caller listed (a head layer
 * without a parent): the I/O goes straight between the receive buffer, the data file and the
 * reply buffer (read data lands right behind its reply head, so one send() carries a whole
 * batch). It stops at the first frame it does not answer (anything else, any error, any doubt)
 * and leaves that frame to the Python service, which owns every rule and every error message.
 * A big Write it would answer whose attachment is still arriving is not received into the buffer:
 * crbd_splice_write() moves the rest from the socket through a pipe into the data file (splice:
 * the daemon copies each byte once, into the page cache).
 * It runs without the GIL and touches no Python object: the caller pins the listed volumes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* fallocate */
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 1
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 2
#endif

#include "_fastloop.h"
#include "nebd_wire.h"

/* Reads of at least this size are not copied into the reply buffer: crbd_send() hands their pages
 * from the page cache to the socket with sendfile (no copy in the daemon on this kernel). */
#define SPLICE_MIN (128u << 10)
/* Writes of at least this size whose attachment is not all in the receive buffer yet take the rest
 * from the socket by splice (crbd_splice_write) instead of being received into the buffer. */
#define SPLICE_WRITE_MIN (128u << 10)
#define PAGE 4096u

/* The data requests this loop answers: the rest (Flush, every other method) is Python's. */
static int served_method(int m) { return m == NEBD_READ || m == NEBD_WRITE || m == NEBD_DISCARD; }

/* RpcRequestMeta: the method if it is a data method on the file service, else NEBD_NO_METHOD. */
static int request_op(const unsigned char *p, const unsigned char *end)
{
    static const char service[] = NEBD_FILE_SERVICE;
    int ours = 0, op = NEBD_NO_METHOD;
    struct nebd_field f;
    int rc;
    while ((rc = nebd_next_field(&p, end, &f)) > 0) {
        if (f.wt != NEBD_WT_LEN)
            continue;
        if (f.number == NEBD_REQ_SERVICE)
            ours = f.len == sizeof service - 1 && !memcmp(f.data, service, f.len);
        else if (f.number == NEBD_REQ_METHOD)
            op = nebd_method_of(f.data, f.len);
    }
    return rc == 0 && ours && served_method(op) ? op : NEBD_NO_METHOD;
}

struct req { int op; uint64_t cid; uint64_t att; int64_t fd; uint64_t offset, size; int have; };

/* RpcMeta of a request: 0 if it is ours, -1 to leave it to Python. */
static int parse_meta(const unsigned char *p, const unsigned char *end, struct req *r)
{
    r->op = NEBD_NO_METHOD;
    r->cid = r->att = 0;
    struct nebd_field f;
    int rc;
    while ((rc = nebd_next_field(&p, end, &f)) > 0) {
        if (f.number == NEBD_META_REQUEST && f.wt == NEBD_WT_LEN)
            r->op = request_op(f.data, f.data + f.len);
        else if (f.number == NEBD_META_RESPONSE)   /* a response meta: not a request */
            return -1;
        else if (f.wt != NEBD_WT_VARINT)
            continue;
        else if (f.number == NEBD_META_COMPRESS && f.value)   /* compressed: Python refuses it */
            return -1;
        else if (f.number == NEBD_META_CID)
            r->cid = f.value;
        else if (f.number == NEBD_META_ATTACHMENT)
            r->att = f.value & 0xffffffffu;
    }
    return rc == 0 && r->op != NEBD_NO_METHOD ? 0 : -1;
}

/* {1 fd, 2 offset, 3 size}: 0 if all three are there, else -1. */
static int parse_payload(const unsigned char *p, const unsigned char *end, struct req *r)
{
    r->have = 0;
    struct nebd_field f;
    int rc;
    while ((rc = nebd_next_field(&p, end, &f)) > 0) {
        if (f.wt != NEBD_WT_VARINT || f.number < NEBD_IO_FD || f.number > NEBD_IO_SIZE)
            continue;
        if (f.number == NEBD_IO_FD)
            r->fd = (int32_t)(uint32_t)f.value;
        else if (f.number == NEBD_IO_OFFSET)
            r->offset = f.value;
        else
            r->size = f.value;
        r->have |= 1 << f.number;
    }
    return rc == 0 && r->have == 0xe ? 0 : -1;
}

static int read_all(int fd, unsigned char *dst, uint64_t size, uint64_t offset)
{
    uint64_t done = 0;
    while (done < size) {
        ssize_t n = pread(fd, dst + done, size - done, (off_t)(offset + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {   /* past the data file's end: zeros */
            memset(dst + done, 0, size - done);
            break;
        }
        done += (uint64_t)n;
    }
    return 0;
}

/* Large writes go to the page cache in pieces of CRBD_WRITE_PIECE: on ext4 with large folios a
 * 4 KiB write into a folio that one 1 MiB write created costs ~40 us, into a 64 KiB one ~5 us
 * (measured here). */
static int write_all(int fd, const unsigned char *src, uint64_t size, uint64_t offset)
{
    uint64_t done = 0;
    while (done < size) {
        uint64_t piece = size - done < CRBD_WRITE_PIECE ? size - done : CRBD_WRITE_PIECE;
        ssize_t n = pwrite(fd, src + done, piece, (off_t)(offset + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (uint64_t)n;
    }
    return 0;
}

/* Answer frames from b->pos on; b->pos ends at the first frame not answered. Returns CRBD_MORE
 * (the rest is an incomplete frame: receive more), CRBD_PYTHON (the frame at pos is Python's),
 * CRBD_OUT_FULL (send the replies, then call again) or CRBD_SPLICE (the frame at pos is a big
 * write this loop answers whose attachment is still arriving: b->big describes it; send the
 * replies, then call crbd_splice_write). */
int crbd_serve(struct crbd_batch *b)
{
    for (;;) {
        size_t avail = b->end - b->pos;
        if (avail < NEBD_HEAD_SIZE)
            return CRBD_MORE;
        const unsigned char *h = b->buf + b->pos;
        uint32_t body, meta;
        if (nebd_frame_head(h, &body, &meta) < 0 || body > NEBD_MAX_BODY)
            return CRBD_PYTHON;   /* Python names the protocol error */
        int whole = avail - NEBD_HEAD_SIZE >= body;
        /* an incomplete frame is only looked at for a big write: anything else waits for its end */
        int refuse = whole ? CRBD_PYTHON : CRBD_MORE;
        if (!whole && avail - NEBD_HEAD_SIZE < meta)
            return CRBD_MORE;
        const unsigned char *m = h + NEBD_HEAD_SIZE, *fend = m + body;
        struct req r = { 0 };
        if (parse_meta(m, m + meta, &r) < 0 || r.att > (uint64_t)(body - meta))
            return refuse;
        const unsigned char *att = fend - r.att;
        if (!whole && (r.op != NEBD_WRITE || r.att < SPLICE_WRITE_MIN ||
                       avail - NEBD_HEAD_SIZE < body - r.att))
            return CRBD_MORE;
        if (parse_payload(m + meta, att, &r) < 0)
            return refuse;
        struct crbd_volume *v = NULL;
        int vi = -1;
        for (int i = 0; i < b->nvolumes; i++)
            if (b->volumes[i].nebd_fd == r.fd && b->volumes[i].data_fd >= 0)
                v = &b->volumes[vi = i];
        if (!v || r.offset > (uint64_t)v->length || r.size > (uint64_t)v->length - r.offset ||
            (v->align_check && ((r.offset | r.size) & (uint64_t)(v->blocksize - 1))))
            return refuse;
        if (!whole) {
            if (r.att != r.size)
                return CRBD_MORE;   /* Python refuses it once it is all there */
            b->big.volume = vi;
            b->big.cid = r.cid;
            b->big.offset = r.offset;
            b->big.size = r.size;
            b->big.at = (size_t)(att - b->buf);
            return CRBD_SPLICE;
        }
        if (r.op == NEBD_READ && r.size >= SPLICE_MIN) {
            if (b->out_cap - b->out_len < NEBD_REPLY_HEAD_MAX || b->nsplices >= b->max_splices)
                return CRBD_OUT_FULL;
            b->out_len += nebd_reply_head(b->out + b->out_len, r.cid, (uint32_t)r.size);
            struct crbd_splice *sp = &b->splices[b->nsplices++];
            sp->at = b->out_len;
            sp->fd = v->data_fd;
            sp->offset = r.offset;
            sp->size = r.size;
        } else if (r.op == NEBD_READ) {
            if (b->out_cap - b->out_len < NEBD_REPLY_HEAD_MAX + r.size)
                return b->out_len ? CRBD_OUT_FULL : CRBD_PYTHON;
            unsigned char *o = b->out + b->out_len;
            size_t n = nebd_reply_head(o, r.cid, (uint32_t)r.size);
            if (read_all(v->data_fd, o + n, r.size, r.offset) < 0)
                return CRBD_PYTHON;
            b->out_len += n + r.size;
        } else {
            if (b->out_cap - b->out_len < NEBD_REPLY_HEAD_MAX)
                return CRBD_OUT_FULL;
            if (b->changes >= b->max_changes)
                return CRBD_OUT_FULL;
            if (r.op == NEBD_WRITE) {
                if (r.att != r.size || write_all(v->data_fd, att, r.size, r.offset) < 0)
                    return CRBD_PYTHON;
            } else if (r.size && fallocate(v->data_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                           (off_t)r.offset, (off_t)r.size) < 0) {
                return CRBD_PYTHON;
            }
            b->changed[b->changes++] = b->pos;
            b->out_len += nebd_reply_head(b->out + b->out_len, r.cid, 0);
        }
        b->pos += NEBD_HEAD_SIZE + body;
    }
}

static int send_all(int sock, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(sock, p, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int sendfile_all(int sock, int fd, uint64_t offset, uint64_t n)
{
    static const unsigned char zeros[65536];
    off_t off = (off_t)offset;
    while (n > 0) {
        ssize_t k = sendfile(sock, fd, &off, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (k == 0) {   /* past the data file's end: zeros */
            while (n > 0) {
                size_t z = n < sizeof zeros ? (size_t)n : sizeof zeros;
                int r = send_all(sock, zeros, z);
                if (r < 0)
                    return r;
                n -= z;
            }
            break;
        }
        n -= (uint64_t)k;
    }
    return 0;
}

/* Send the replies built so far (reply bytes, with the data of the big reads from their files in
 * between) and reset the batch's reply state. 0, or -errno: the stream is then cut mid-frame. */
int crbd_send(int sock, struct crbd_batch *b)
{
    size_t pos = 0;
    int r = 0;
    for (int i = 0; i < b->nsplices && r == 0; i++) {
        struct crbd_splice *sp = &b->splices[i];
        r = send_all(sock, b->out + pos, sp->at - pos);
        if (r == 0)
            r = sendfile_all(sock, sp->fd, sp->offset, sp->size);
        pos = sp->at;
    }
    if (r == 0)
        r = send_all(sock, b->out + pos, b->out_len - pos);
    b->out_len = 0;
    b->nsplices = 0;
    return r;
}

enum { BOUNCE = 16u << 10 };   /* bytes per read()/pwrite() when splice cannot be used */

/* 0 once fd (a non-blocking socket) may have data, -1 with errno if poll fails. */
static int wait_readable(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, -1) < 0 && errno != EINTR ? -1 : 0;
}

/* Spliced writes into one data file take turns on one of these (by fd) around their page-cache
 * copies: waiting here sleeps, where waiting on the inode's lock in the kernel spins (measured:
 * with two connections writing one volume, ~12% of the daemon's CPU went to that spinning). */
static pthread_mutex_t file_turns[64] = {
#define T4 PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER
    T4, T4, T4, T4, T4, T4, T4, T4, T4, T4, T4, T4, T4, T4, T4, T4
#undef T4
};

/* Move n bytes (n > 0) from the pipe to fd at *pos, in pieces ending on CRBD_WRITE_PIECE boundaries
 * (small folios, as write_all). Bytes the file refuses are read out of the pipe and dropped;
 * *err keeps the first refusal's errno, after which everything is dropped. -errno if the pipe fails. */
static int pipe_to_file_locked(const struct crbd_pipe *p, int fd, uint64_t *pos, size_t n, int *err)
{
    unsigned char bounce[BOUNCE];
    while (n > 0) {
        size_t piece = CRBD_WRITE_PIECE - (size_t)(*pos % CRBD_WRITE_PIECE);
        if (piece > n)
            piece = n;
        if (!*err) {
            loff_t at = (loff_t)*pos;
            ssize_t k = splice(p->r, NULL, fd, &at, piece, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (k > 0) {
                *pos += (uint64_t)k;
                n -= (size_t)k;
                continue;
            }
            if (k < 0 && errno == EINTR)
                continue;
        }
        /* splice refused (or an earlier error): take the bytes out of the pipe ourselves */
        if (piece > sizeof bounce)
            piece = sizeof bounce;
        ssize_t k = read(p->r, bounce, piece);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        if (!*err && write_all(fd, bounce, (uint64_t)k, *pos) < 0)
            *err = errno ? errno : EIO;
        *pos += (uint64_t)k;
        n -= (size_t)k;
    }
    return 0;
}

static int pipe_to_file(const struct crbd_pipe *p, int fd, uint64_t *pos, size_t n, int *err)
{
    pthread_mutex_t *turn = &file_turns[(unsigned)fd % (sizeof file_turns / sizeof file_turns[0])];
    pthread_mutex_lock(turn);
    int r = pipe_to_file_locked(p, fd, pos, n, err);
    pthread_mutex_unlock(turn);
    return r;
}

/* The write crbd_serve() returned CRBD_SPLICE for: its attachment bytes already in the buffer
 * (whole pages written from there, the tail through the pipe, so the file sees page-aligned
 * pieces) and the rest spliced socket -> pipe -> file; blocks until the attachment is all in.
 * The frame is then consumed (b->pos = b->end). Returns 0 with the kOK reply appended to the
 * replies (call with them sent: out_len 0), a positive errno if the file refused the data (the
 * whole attachment was still consumed: the caller answers the error), or -errno if the stream
 * broke mid-attachment (-EPIPE: the peer closed it): the connection must close. */
int crbd_splice_write(int sock, const struct crbd_pipe *p, struct crbd_batch *b)
{
    const struct crbd_bigwrite *w = &b->big;
    int fd = b->volumes[w->volume].data_fd, err = 0, r;
    const unsigned char *src = b->buf + w->at;
    uint64_t have = b->end - w->at, pos = w->offset;
    uint64_t direct = (pos + have) & ~(uint64_t)(PAGE - 1);
    direct = direct > pos ? direct - pos : 0;
    if (direct && write_all(fd, src, direct, pos) < 0)
        err = errno ? errno : EIO;
    pos += direct;
    size_t inpipe = 0;
    while (!err && inpipe < have - direct) {   /* < 1 page into an empty pipe: never blocks */
        ssize_t k = write(p->w, src + direct + inpipe, have - direct - inpipe);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        inpipe += (size_t)k;
    }
    if (err)
        pos += have - direct;
    uint64_t rest = w->size - have;   /* still in the socket */
    while (rest > 0) {
        size_t room = p->size > inpipe ? p->size - inpipe : 0;
        if (room > rest)
            room = (size_t)rest;
        ssize_t k = room ? splice(sock, NULL, p->w, NULL, room, SPLICE_F_MOVE) : 0;
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN && wait_readable(sock) == 0)
                continue;
            return -errno;
        }
        if (k == 0 && room)
            return -EPIPE;   /* the peer closed the stream mid-attachment */
        rest -= (uint64_t)k;
        inpipe += (size_t)k;
        if ((r = pipe_to_file(p, fd, &pos, inpipe, &err)) < 0)
            return r;
        inpipe = 0;
    }
    if (inpipe && (r = pipe_to_file(p, fd, &pos, inpipe, &err)) < 0)
        return r;
    b->pos = b->end;
    if (err)
        return err;
    b->out_len += nebd_reply_head(b->out + b->out_len, w->cid, 0);
    return 0;
}
