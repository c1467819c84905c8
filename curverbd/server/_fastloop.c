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

#define MAX_BODY (64u << 20)   /* brpc's max_body_size, as framing.MAX_BODY */
/* Large writes go to the page cache in pieces of this size: on ext4 with large folios a 4 KiB write
 * into a folio that one 1 MiB write created costs ~40 us, into a 64 KiB one ~5 us (measured here). */
#define WRITE_PIECE (64u << 10)
/* Reads of at least this size are not copied into the reply buffer: crbd_send() hands their pages
 * from the page cache to the socket with sendfile (no copy in the daemon on this kernel). */
#define SPLICE_MIN (128u << 10)
/* Writes of at least this size whose attachment is not all in the receive buffer yet take the rest
 * from the socket by splice (crbd_splice_write) instead of being received into the buffer. */
#define SPLICE_WRITE_MIN (128u << 10)
#define PAGE 4096u
#define HEAD_MAX 64             /* a reply head: 12 + meta (<= 4 + 11 + 6) + payload 2 */

static const char SERVICE[] = "nebd.client.NebdFileService";
enum { OP_READ = 1, OP_WRITE, OP_DISCARD };

static int varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*p >= end)
            return -1;
        unsigned char b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* Skip a field of wire type wt; -1 if malformed or of a type we do not expect. */
static int skip(const unsigned char **p, const unsigned char *end, unsigned wt)
{
    uint64_t v;
    switch (wt) {
    case 0:
        return varint(p, end, &v);
    case 1:
    case 5: {
        size_t n = wt == 1 ? 8 : 4;
        if ((size_t)(end - *p) < n)
            return -1;
        *p += n;
        return 0;
    }
    case 2:
        if (varint(p, end, &v) < 0 || v > (uint64_t)(end - *p))
            return -1;
        *p += v;
        return 0;
    default:
        return -1;
    }
}

static int method_of(const unsigned char *s, uint64_t n)
{
    if (n == 4 && !memcmp(s, "Read", 4))
        return OP_READ;
    if (n == 5 && !memcmp(s, "Write", 5))
        return OP_WRITE;
    if (n == 7 && !memcmp(s, "Discard", 7))
        return OP_DISCARD;
    return 0;
}

/* RpcRequestMeta: the op if it is one of ours on the file service, else 0. */
static int request_op(const unsigned char *p, const unsigned char *end)
{
    int service = 0, op = 0;
    while (p < end) {
        uint64_t key, len;
        if (varint(&p, end, &key) < 0)
            return 0;
        if ((key & 7) != 2 || (key >> 3) > 2) {
            if (skip(&p, end, (unsigned)(key & 7)) < 0)
                return 0;
            continue;
        }
        if (varint(&p, end, &len) < 0 || len > (uint64_t)(end - p))
            return 0;
        if ((key >> 3) == 1)
            service = len == sizeof SERVICE - 1 && !memcmp(p, SERVICE, len);
        else
            op = method_of(p, len);
        p += len;
    }
    return service ? op : 0;
}

struct req { int op; uint64_t cid; uint64_t att; int64_t fd; uint64_t offset, size; int have; };

/* RpcMeta of a request: 0 if it is ours, -1 to leave it to Python. */
static int parse_meta(const unsigned char *p, const unsigned char *end, struct req *r)
{
    r->op = 0;
    r->cid = r->att = 0;
    while (p < end) {
        uint64_t key, v;
        if (varint(&p, end, &key) < 0)
            return -1;
        unsigned field = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
        if (field == 1 && wt == 2) {
            if (varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
                return -1;
            r->op = request_op(p, p + v);
            p += v;
        } else if (wt == 0 && field >= 3 && field <= 5) {
            if (varint(&p, end, &v) < 0)
                return -1;
            if (field == 3 && v)        /* compressed: Python refuses it */
                return -1;
            if (field == 4)
                r->cid = v;
            else if (field == 5)
                r->att = v & 0xffffffffu;
        } else if (field == 2 || skip(&p, end, wt) < 0) {   /* a response meta, or garbage */
            return -1;
        }
    }
    return r->op ? 0 : -1;
}

/* {1 fd, 2 offset, 3 size}: 0 if all three are there, else -1. */
static int parse_payload(const unsigned char *p, const unsigned char *end, struct req *r)
{
    r->have = 0;
    while (p < end) {
        uint64_t key, v;
        if (varint(&p, end, &key) < 0)
            return -1;
        unsigned field = (unsigned)(key >> 3);
        if ((key & 7) != 0 || field < 1 || field > 3) {
            if (skip(&p, end, (unsigned)(key & 7)) < 0)
                return -1;
            continue;
        }
        if (varint(&p, end, &v) < 0)
            return -1;
        if (field == 1)
            r->fd = (int32_t)(uint32_t)v;
        else if (field == 2)
            r->offset = v;
        else
            r->size = v;
        r->have |= 1 << field;
    }
    return r->have == 0xe ? 0 : -1;
}

static unsigned char *put_varint(unsigned char *p, uint64_t v)
{
    while (v > 0x7f) {
        *p++ = (unsigned char)((v & 0x7f) | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

/* A kOK reply head: RpcMeta{response{error_code 0}, correlation_id, attachment_size} + {retCode 0}. */
static size_t reply_head(unsigned char *out, uint64_t cid, uint32_t att)
{
    unsigned char *m = out + 12, *p = m;
    *p++ = 0x12; *p++ = 0x02; *p++ = 0x08; *p++ = 0x00;
    *p++ = 0x20;
    p = put_varint(p, cid);
    if (att) {
        *p++ = 0x28;
        p = put_varint(p, att);
    }
    uint32_t meta = (uint32_t)(p - m);
    *p++ = 0x08; *p++ = 0x00;
    memcpy(out, "PRPC", 4);
    put_be32(out + 4, meta + 2 + att);
    put_be32(out + 8, meta);
    return (size_t)(p - out);
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

static int write_all(int fd, const unsigned char *src, uint64_t size, uint64_t offset)
{
    uint64_t done = 0;
    while (done < size) {
        uint64_t piece = size - done < WRITE_PIECE ? size - done : WRITE_PIECE;
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

struct crbd_volume { int nebd_fd; int data_fd; int64_t length; int64_t blocksize; int align_check; };

struct crbd_splice { size_t at; int fd; uint64_t offset, size; };   /* read data sent from fd at out[at] */

/* The big write crbd_serve() left for crbd_splice_write(): its volume (index in volumes), its
 * correlation id, where it goes, and where its attachment starts in the receive buffer. */
struct crbd_bigwrite { int volume; uint64_t cid, offset, size; size_t at; };

struct crbd_batch {
    unsigned char *buf;       /* receive buffer; frames in [pos, end) */
    size_t pos, end;
    unsigned char *out;       /* reply bytes are appended at out_len, up to out_cap */
    size_t out_len, out_cap;
    struct crbd_volume *volumes;
    int nvolumes;
    int changes;              /* writes and discards done (the caller redoes them if a head moved) */
    size_t *changed;          /* frame positions of those, up to max_changes */
    int max_changes;
    struct crbd_splice *splices;
    int nsplices, max_splices;
    struct crbd_bigwrite big;
};

enum { CRBD_MORE = 0, CRBD_PYTHON = 1, CRBD_OUT_FULL = 2, CRBD_SPLICE = 3 };

/* Answer frames from b->pos on; b->pos ends at the first frame not answered. Returns CRBD_MORE
 * (the rest is an incomplete frame: receive more), CRBD_PYTHON (the frame at pos is Python's),
 * CRBD_OUT_FULL (send the replies, then call again) or CRBD_SPLICE (the frame at pos is a big
 * write this loop answers whose attachment is still arriving: b->big describes it; send the
 * replies, then call crbd_splice_write). */
int crbd_serve(struct crbd_batch *b)
{
    for (;;) {
        size_t avail = b->end - b->pos;
        if (avail < 12)
            return CRBD_MORE;
        const unsigned char *h = b->buf + b->pos;
        uint32_t body = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
        uint32_t meta = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
        if (memcmp(h, "PRPC", 4) || body > MAX_BODY || meta > body)
            return CRBD_PYTHON;   /* Python names the protocol error */
        int whole = avail - 12 >= body;
        /* an incomplete frame is only looked at for a big write: anything else waits for its end */
        int refuse = whole ? CRBD_PYTHON : CRBD_MORE;
        if (!whole && avail - 12 < meta)
            return CRBD_MORE;
        const unsigned char *m = h + 12, *fend = m + body;
        struct req r = { 0 };
        if (parse_meta(m, m + meta, &r) < 0 || r.att > (uint64_t)(body - meta))
            return refuse;
        const unsigned char *att = fend - r.att;
        if (!whole && (r.op != OP_WRITE || r.att < SPLICE_WRITE_MIN || avail - 12 < body - r.att))
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
        if (r.op == OP_READ && r.size >= SPLICE_MIN) {
            if (b->out_cap - b->out_len < HEAD_MAX || b->nsplices >= b->max_splices)
                return CRBD_OUT_FULL;
            b->out_len += reply_head(b->out + b->out_len, r.cid, (uint32_t)r.size);
            struct crbd_splice *sp = &b->splices[b->nsplices++];
            sp->at = b->out_len;
            sp->fd = v->data_fd;
            sp->offset = r.offset;
            sp->size = r.size;
        } else if (r.op == OP_READ) {
            if (b->out_cap - b->out_len < HEAD_MAX + r.size)
                return b->out_len ? CRBD_OUT_FULL : CRBD_PYTHON;
            unsigned char *o = b->out + b->out_len;
            size_t n = reply_head(o, r.cid, (uint32_t)r.size);
            if (read_all(v->data_fd, o + n, r.size, r.offset) < 0)
                return CRBD_PYTHON;
            b->out_len += n + r.size;
        } else {
            if (b->out_cap - b->out_len < HEAD_MAX)
                return CRBD_OUT_FULL;
            if (b->changes >= b->max_changes)
                return CRBD_OUT_FULL;
            if (r.op == OP_WRITE) {
                if (r.att != r.size || write_all(v->data_fd, att, r.size, r.offset) < 0)
                    return CRBD_PYTHON;
            } else if (r.size && fallocate(v->data_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                           (off_t)r.offset, (off_t)r.size) < 0) {
                return CRBD_PYTHON;
            }
            b->changed[b->changes++] = b->pos;
            b->out_len += reply_head(b->out + b->out_len, r.cid, 0);
        }
        b->pos += 12 + body;
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

/* The pipe a connection splices big writes through (its read end non-blocking: a bookkeeping
 * mistake fails the connection instead of hanging it), and its capacity in bytes. */
struct crbd_pipe { int r, w; size_t size; };

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

/* Move n bytes (n > 0) from the pipe to fd at *pos, in pieces ending on WRITE_PIECE boundaries
 * (small folios, as write_all). Bytes the file refuses are read out of the pipe and dropped;
 * *err keeps the first refusal's errno, after which everything is dropped. -errno if the pipe fails. */
static int pipe_to_file_locked(const struct crbd_pipe *p, int fd, uint64_t *pos, size_t n, int *err)
{
    unsigned char bounce[BOUNCE];
    while (n > 0) {
        size_t piece = WRITE_PIECE - (size_t)(*pos % WRITE_PIECE);
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
    b->out_len += reply_head(b->out + b->out_len, w->cid, 0);
    return 0;
}
