/* The daemon's per-connection I/O loop, in C (built by build_fastpath.py with cffi).
 *
 * crbd_run() is called by a connection's thread (cffi releases the GIL) and stays here, receiving
 * and answering frames, until a frame needs Python or the connection ends. It answers every
 * aligned, in-bounds NebdFileService Read / Write / Discard, and a Flush with nothing received
 * behind it, on a volume the daemon's table (struct crbd_table) lists as servable: a head layer
 * without a parent. The I/O goes straight between the receive buffer, the data file and the reply
 * buffer (read data lands right behind its reply head, so one send() carries a whole batch; reads
 * of SPLICE_MIN or more go from the page cache to the socket by sendfile). Replies of one wakeup
 * go out together, just before the loop waits for the peer again. It returns at the first frame
 * it does not answer (anything else, any error, any doubt), which the Python service answers:
 * Python owns every rule and every error message.
 * A big Write it would answer whose attachment is still arriving is not received into the buffer:
 * the rest is moved from the socket through a pipe into the data file (splice: the daemon copies
 * each byte once, into the page cache).
 *
 * The table is Python's to change (fastpath.Table: a volume opened, closed, grown, given a new
 * head); the loop reads it under the table's mutex, once per frame. Each servable volume holds a
 * reference-counted duplicate of its head's descriptor, so a head closed by Python stays open while
 * the loop still reads or writes it, or sends from it. A write done here to a head that Python
 * replaced meanwhile (crbd_table_move) is handed to Python to write again, as Volume.write does. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* fallocate, splice, pipe2 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
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
#ifndef F_SETPIPE_SZ
#define F_SETPIPE_SZ 1031
#define F_GETPIPE_SZ 1032
#endif

#include "_fastloop.h"
#include "nebd_wire.h"

/* Reads of at least this size are not copied into the reply buffer: their pages go from the page
 * cache to the socket with sendfile (no copy in the daemon on this kernel). */
#define SPLICE_MIN (128u << 10)
/* Writes of at least this size whose attachment is not all in the receive buffer yet take the rest
 * from the socket by splice instead of being received into the buffer. */
#define SPLICE_WRITE_MIN (128u << 10)
#define PAGE 4096u
#define OUT_SIZE ((4u << 20) + (64u << 10))   /* replies of one wakeup: four 1 MiB reads and heads */
#define MAX_SPLICES 64                          /* big reads per wakeup */
#define PIPE_SIZE (1u << 20)                    /* asked for the splice pipe (pipe-max-size caps it) */
#define HEADER_RECV 4096u    /* received right after a spliced write: the next frame's head, little data */
#define SMALL_PENDING (64u << 10)   /* a partial frame this small moves to the front, no bigger buffer */
#define MAX_KEPT (16u << 20)        /* a buffer grown beyond this is given back once it is empty */

/* ---- the volume table ------------------------------------------------------------------------ */

/* A head layer's file as the loop uses it: closed when the table and every request using it let go. */
struct crbd_file { int fd; int refs; int moved; };

static void file_release(struct crbd_file *f)
{
    if (f && __atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        close(f->fd);
        free(f);
    }
}

struct entry {
    int nebd_fd, align_check;
    int64_t length, blocksize;
    struct crbd_file *file;   /* NULL: not servable here */
    int64_t used;
};

struct crbd_table {
    pthread_mutex_t mu;
    struct entry *e;
    int n, cap;
};

struct crbd_table *crbd_table_new(void)
{
    struct crbd_table *t = calloc(1, sizeof *t);
    if (t)
        pthread_mutex_init(&t->mu, NULL);
    return t;
}

static struct entry *find(struct crbd_table *t, int nebd_fd)
{
    for (int i = 0; i < t->n; i++)
        if (t->e[i].nebd_fd == nebd_fd)
            return &t->e[i];
    return NULL;
}

/* Drop the entry's file (under the lock); `moved`: writes in flight on it must be redone. */
static struct crbd_file *unhook(struct entry *e, int moved)
{
    struct crbd_file *f = e->file;
    e->file = NULL;
    if (f && moved)
        __atomic_store_n(&f->moved, 1, __ATOMIC_RELEASE);
    return f;
}

int crbd_table_set(struct crbd_table *t, int nebd_fd, int data_fd, int64_t length, int64_t blocksize,
                   int align_check)
{
    struct crbd_file *f = NULL;
    if (data_fd >= 0) {
        f = malloc(sizeof *f);
        if (!f)
            return -ENOMEM;
        f->fd = fcntl(data_fd, F_DUPFD_CLOEXEC, 0);
        if (f->fd < 0) {
            int err = errno;
            free(f);
            return -err;
        }
        f->refs = 1;
        f->moved = 0;
    }
    struct crbd_file *old = NULL;
    int rc = 0;
    pthread_mutex_lock(&t->mu);
    struct entry *e = find(t, nebd_fd);
    if (!e) {
        if (t->n == t->cap) {
            int cap = t->cap ? 2 * t->cap : 16;
            struct entry *grown = realloc(t->e, (size_t)cap * sizeof *grown);
            if (!grown) {
                rc = -ENOMEM;
                goto out;
            }
            t->e = grown;
            t->cap = cap;
        }
        e = &t->e[t->n++];
        memset(e, 0, sizeof *e);
        e->nebd_fd = nebd_fd;
    }
    /* the same file again (a volume grown): keep the loop's reference, it did not move */
    old = unhook(e, 0);
    e->file = f;
    f = NULL;
    e->length = length;
    e->blocksize = blocksize > 0 ? blocksize : 1;
    e->align_check = align_check;
out:
    pthread_mutex_unlock(&t->mu);
    file_release(old);
    file_release(f);
    return rc;
}

void crbd_table_move(struct crbd_table *t, int nebd_fd)
{
    pthread_mutex_lock(&t->mu);
    struct entry *e = find(t, nebd_fd);
    struct crbd_file *old = e ? unhook(e, 1) : NULL;
    pthread_mutex_unlock(&t->mu);
    file_release(old);
}

void crbd_table_remove(struct crbd_table *t, int nebd_fd)
{
    pthread_mutex_lock(&t->mu);
    struct entry *e = find(t, nebd_fd);
    struct crbd_file *old = NULL;
    if (e) {
        old = unhook(e, 0);
        *e = t->e[--t->n];
    }
    pthread_mutex_unlock(&t->mu);
    file_release(old);
}

int64_t crbd_table_used(struct crbd_table *t, int nebd_fd)
{
    pthread_mutex_lock(&t->mu);
    struct entry *e = find(t, nebd_fd);
    int64_t used = e ? e->used : -1;
    pthread_mutex_unlock(&t->mu);
    return used;
}

int crbd_table_count(struct crbd_table *t, int *servable)
{
    pthread_mutex_lock(&t->mu);
    int n = t->n, s = 0;
    for (int i = 0; i < n; i++)
        s += t->e[i].file != NULL;
    pthread_mutex_unlock(&t->mu);
    *servable = s;
    return n;
}

/* What a request may use of its volume: a reference to its file and its size and rules. */
struct vol { struct crbd_file *file; int64_t length, blocksize; int align_check; };

static int lookup(struct crbd_table *t, int nebd_fd, struct vol *v)
{
    int found = 0;
    pthread_mutex_lock(&t->mu);
    struct entry *e = find(t, nebd_fd);
    if (e && e->file) {
        v->file = e->file;
        __atomic_add_fetch(&e->file->refs, 1, __ATOMIC_RELAXED);
        v->length = e->length;
        v->blocksize = e->blocksize;
        v->align_check = e->align_check;
        e->used++;
        found = 1;
    }
    pthread_mutex_unlock(&t->mu);
    return found;
}

/* ---- parsing --------------------------------------------------------------------------------- */

/* The requests this loop answers: the rest (every other method) is Python's. */
static int served_method(int m)
{
    return m == NEBD_READ || m == NEBD_WRITE || m == NEBD_DISCARD || m == NEBD_FLUSH;
}

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

/* {1 fd, 2 offset, 3 size} (Flush: {1 fd}): 0 if all are there, else -1. */
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
    if (rc != 0)
        return -1;
    if (r->op == NEBD_FLUSH)   /* FlushRequest has only the fd (an offset or size would be unknown fields) */
        return r->have == 0x2 ? 0 : -1;
    return r->have == 0xe ? 0 : -1;
}

/* ---- file and socket I/O --------------------------------------------------------------------- */

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
static int pipe_to_file_locked(int pipe_r, int fd, uint64_t *pos, size_t n, int *err)
{
    unsigned char bounce[BOUNCE];
    while (n > 0) {
        size_t piece = CRBD_WRITE_PIECE - (size_t)(*pos % CRBD_WRITE_PIECE);
        if (piece > n)
            piece = n;
        if (!*err) {
            loff_t at = (loff_t)*pos;
            ssize_t k = splice(pipe_r, NULL, fd, &at, piece, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
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
        ssize_t k = read(pipe_r, bounce, piece);
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

static int pipe_to_file(int pipe_r, int fd, uint64_t *pos, size_t n, int *err)
{
    pthread_mutex_t *turn = &file_turns[(unsigned)fd % (sizeof file_turns / sizeof file_turns[0])];
    pthread_mutex_lock(turn);
    int r = pipe_to_file_locked(pipe_r, fd, pos, n, err);
    pthread_mutex_unlock(turn);
    return r;
}


/* ---- a connection ---------------------------------------------------------------------------- */

/* A big read's data, sent from file by sendfile at out[at] of the replies. */
struct sendfrom { size_t at; struct crbd_file *file; uint64_t offset, size; };

struct crbd_conn_state {
    pthread_mutex_t send_mu;
    unsigned char *out;        /* reply bytes of this wakeup */
    size_t out_len;
    struct sendfrom splices[MAX_SPLICES];
    int nsplices;
    int pipe_r, pipe_w;        /* the splice pipe (read end non-blocking: a bookkeeping mistake
                                  fails the connection instead of hanging it) */
    size_t pipe_size;
    int expect_big;            /* the last frame was spliced: the next may be too */
    struct crbd_file *big_file;   /* CRBD_SPLICE_REDO: the old head, until crbd_big_release */
};

int crbd_conn_init(struct crbd_conn *c, struct crbd_table *t, int sock)
{
    struct crbd_conn_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->out = malloc(OUT_SIZE);
    if (!s->out) {
        free(s);
        return -ENOMEM;
    }
    pthread_mutex_init(&s->send_mu, NULL);
    s->pipe_r = s->pipe_w = -1;
    c->state = s;
    c->table = t;
    c->sock = sock;
    return 0;
}

static void drop_replies(struct crbd_conn_state *s)
{
    for (int i = 0; i < s->nsplices; i++)
        file_release(s->splices[i].file);
    s->nsplices = 0;
    s->out_len = 0;
}

void crbd_big_release(struct crbd_conn *c)
{
    file_release(c->state->big_file);
    c->state->big_file = NULL;
    c->big.old_fd = -1;
}

void crbd_conn_free(struct crbd_conn *c)
{
    struct crbd_conn_state *s = c->state;
    if (!s)
        return;
    drop_replies(s);
    crbd_big_release(c);
    if (s->pipe_r >= 0) {
        close(s->pipe_r);
        close(s->pipe_w);
    }
    pthread_mutex_destroy(&s->send_mu);
    free(s->out);
    free(s);
    c->state = NULL;
}

void crbd_send_lock(struct crbd_conn *c) { pthread_mutex_lock(&c->state->send_mu); }
void crbd_send_unlock(struct crbd_conn *c) { pthread_mutex_unlock(&c->state->send_mu); }

/* Send the replies built so far (reply bytes, with the data of the big reads from their files in
 * between) and forget them. 0, or -errno: the stream is then cut mid-frame. */
int crbd_flush(struct crbd_conn *c)
{
    struct crbd_conn_state *s = c->state;
    if (!s->out_len)
        return 0;
    size_t pos = 0;
    int r = 0;
    pthread_mutex_lock(&s->send_mu);
    for (int i = 0; i < s->nsplices && r == 0; i++) {
        struct sendfrom *sp = &s->splices[i];
        r = send_all(c->sock, s->out + pos, sp->at - pos);
        if (r == 0)
            r = sendfile_all(c->sock, sp->file->fd, sp->offset, sp->size);
        pos = sp->at;
    }
    if (r == 0)
        r = send_all(c->sock, s->out + pos, s->out_len - pos);
    pthread_mutex_unlock(&s->send_mu);
    drop_replies(s);
    return r;
}

enum { MORE = 0, OUT_FULL = 100, SPLICE = 101 };   /* serve()'s own codes, besides crbd_run()'s */

/* Answer the whole frames from c->pos on. MORE: the rest is an incomplete frame; OUT_FULL: send
 * the replies, then call again; SPLICE: the frame at pos is a big write this loop answers whose
 * attachment is still arriving (c->big; its volume *big, its attachment at buf[*big_at]); CRBD_PYTHON / CRBD_FLUSH_FAILED as crbd_run(). */
static int serve(struct crbd_conn *c, struct crbd_conn_state *s, struct vol *big, size_t *big_at)
{
    for (;;) {
        size_t avail = c->end - c->pos;
        if (avail < NEBD_HEAD_SIZE)
            return MORE;
        const unsigned char *h = c->buf + c->pos;
        uint32_t body, meta;
        if (nebd_frame_head(h, &body, &meta) < 0 || body > NEBD_MAX_BODY)
            return CRBD_PYTHON;   /* Python names the protocol error */
        int whole = avail - NEBD_HEAD_SIZE >= body;
        /* an incomplete frame is only looked at for a big write: anything else waits for its end */
        int refuse = whole ? CRBD_PYTHON : MORE;
        if (!whole && avail - NEBD_HEAD_SIZE < meta)
            return MORE;
        const unsigned char *m = h + NEBD_HEAD_SIZE, *fend = m + body;
        struct req r = { 0 };
        if (parse_meta(m, m + meta, &r) < 0 || r.att > (uint64_t)(body - meta))
            return refuse;
        const unsigned char *att = fend - r.att;
        if (!whole && (r.op != NEBD_WRITE || r.att < SPLICE_WRITE_MIN ||
                       avail - NEBD_HEAD_SIZE < body - r.att))
            return MORE;
        if (parse_payload(m + meta, att, &r) < 0)
            return refuse;
        if (r.op == NEBD_FLUSH) {
            /* inline only with nothing received behind it: under load Python's flusher pool lets
             * the requests behind a Flush go on while it runs */
            if (!whole || avail - NEBD_HEAD_SIZE != body || r.att)
                return refuse;
        } else if (r.op != NEBD_WRITE && r.att) {
            return refuse;
        }
        /* room for the reply first: a request is looked up (and counted) only when it is answered */
        if (c->state->out_len + NEBD_REPLY_HEAD_MAX > OUT_SIZE)
            return whole ? OUT_FULL : MORE;
        if (r.op == NEBD_READ) {
            if (r.size > NEBD_MAX_BODY - NEBD_REPLY_HEAD_MAX)   /* no reply frame holds it: Python's */
                return refuse;
            if (r.size >= SPLICE_MIN ? s->nsplices >= MAX_SPLICES
                                     : OUT_SIZE - s->out_len < NEBD_REPLY_HEAD_MAX + r.size)
                return s->out_len ? OUT_FULL : CRBD_PYTHON;
        }
        struct vol v;
        if (!lookup(c->table, (int)r.fd, &v))
            return refuse;
        if (r.op != NEBD_FLUSH &&
            (r.offset > (uint64_t)v.length || r.size > (uint64_t)v.length - r.offset ||
             (v.align_check && ((r.offset | r.size) & (uint64_t)(v.blocksize - 1))))) {
            file_release(v.file);
            return refuse;
        }
        if (!whole) {
            if (r.att != r.size) {
                file_release(v.file);
                return MORE;   /* Python refuses it once it is all there */
            }
            c->big.nebd_fd = (int)r.fd;
            c->big.cid = r.cid;
            c->big.offset = r.offset;
            c->big.size = r.size;
            *big_at = (size_t)(att - c->buf);
            *big = v;
            return SPLICE;
        }
        int fd = v.file->fd;
        if (r.op == NEBD_READ && r.size >= SPLICE_MIN) {
            s->out_len += nebd_reply_head(s->out + s->out_len, r.cid, (uint32_t)r.size);
            struct sendfrom *sp = &s->splices[s->nsplices++];
            sp->at = s->out_len;
            sp->file = v.file;   /* the reference goes with it */
            sp->offset = r.offset;
            sp->size = r.size;
            v.file = NULL;
        } else if (r.op == NEBD_READ) {
            unsigned char *o = s->out + s->out_len;
            size_t n = nebd_reply_head(o, r.cid, (uint32_t)r.size);
            if (read_all(fd, o + n, r.size, r.offset) < 0) {
                file_release(v.file);
                return CRBD_PYTHON;
            }
            s->out_len += n + r.size;
        } else if (r.op == NEBD_FLUSH) {
            int rc;
            while ((rc = fsync(fd)) < 0 && errno == EINTR)
                ;
            if (rc < 0) {   /* not retried by Python: a second fsync may not report the lost data */
                c->err = errno;
                file_release(v.file);
                return CRBD_FLUSH_FAILED;
            }
            s->out_len += nebd_reply_head(s->out + s->out_len, r.cid, 0);
        } else {
            if (r.op == NEBD_WRITE) {
                if (r.att != r.size || write_all(fd, att, r.size, r.offset) < 0) {
                    file_release(v.file);
                    return CRBD_PYTHON;
                }
            } else if (r.size && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                           (off_t)r.offset, (off_t)r.size) < 0) {
                file_release(v.file);
                return CRBD_PYTHON;
            }
            if (__atomic_load_n(&v.file->moved, __ATOMIC_ACQUIRE)) {
                /* the volume's head changed while we wrote it: Python writes it again (to the new
                 * head, under the volume's lock) and answers it */
                file_release(v.file);
                return CRBD_PYTHON;
            }
            s->out_len += nebd_reply_head(s->out + s->out_len, r.cid, 0);
        }
        file_release(v.file);
        c->served++;
        c->pos += NEBD_HEAD_SIZE + body;
    }
}

static int open_pipe(struct crbd_conn_state *s)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    fcntl(p[1], F_SETPIPE_SZ, (int)PIPE_SIZE);   /* above pipe-max-size: the default works, in smaller steps */
    int size = fcntl(p[1], F_GETPIPE_SZ);
    s->pipe_r = p[0];
    s->pipe_w = p[1];
    s->pipe_size = size > 0 ? (size_t)size : 65536;
    return 0;
}

/* The write serve() returned SPLICE for: its attachment bytes already in the buffer (whole pages
 * written from there, the tail through the pipe, so the file sees page-aligned pieces) and the
 * rest spliced socket -> pipe -> file; blocks until the attachment is all in. The frame is then
 * consumed (c->pos = c->end). 0 with the kOK reply queued, a positive errno if the file refused
 * the data (the whole attachment was still consumed: Python answers the error), or -errno if the
 * stream broke mid-attachment (-EPIPE: the peer closed it): the connection must close. */
static int splice_write(struct crbd_conn *c, struct crbd_conn_state *s, int fd, size_t at)
{
    int err = 0, r;
    const unsigned char *src = c->buf + at;
    uint64_t have = c->end - at, pos = c->big.offset;
    uint64_t direct = (pos + have) & ~(uint64_t)(PAGE - 1);
    direct = direct > pos ? direct - pos : 0;
    if (direct && write_all(fd, src, direct, pos) < 0)
        err = errno ? errno : EIO;
    pos += direct;
    size_t inpipe = 0;
    while (!err && inpipe < have - direct) {   /* < 1 page into an empty pipe: never blocks */
        ssize_t k = write(s->pipe_w, src + direct + inpipe, have - direct - inpipe);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        inpipe += (size_t)k;
    }
    if (err)
        pos += have - direct;
    uint64_t rest = c->big.size - have;   /* still in the socket */
    while (rest > 0) {
        size_t room = s->pipe_size > inpipe ? s->pipe_size - inpipe : 0;
        if (room > rest)
            room = (size_t)rest;
        ssize_t k = room ? splice(c->sock, NULL, s->pipe_w, NULL, room, SPLICE_F_MOVE) : 0;
        if (k < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN && wait_readable(c->sock) == 0)
                continue;
            return -errno;
        }
        if (k == 0 && room)
            return -EPIPE;   /* the peer closed the stream mid-attachment */
        rest -= (uint64_t)k;
        inpipe += (size_t)k;
        if ((r = pipe_to_file(s->pipe_r, fd, &pos, inpipe, &err)) < 0)
            return r;
        inpipe = 0;
    }
    if (inpipe && (r = pipe_to_file(s->pipe_r, fd, &pos, inpipe, &err)) < 0)
        return r;
    c->pos = c->end;
    return err;
}

/* Make room to receive: 0, or CRBD_REBUFFER (c->need set). */
static int make_room(struct crbd_conn *c)
{
    if (c->pos == c->end) {
        c->pos = c->end = 0;
        if (c->cap > MAX_KEPT) {   /* give a huge buffer back once its frame is done */
            c->need = 0;
            return CRBD_REBUFFER;
        }
        return 0;
    }
    if (c->end < c->cap)
        return 0;
    size_t pending = c->end - c->pos, need = NEBD_HEAD_SIZE;
    if (pending >= NEBD_HEAD_SIZE) {
        uint32_t body, meta;
        nebd_frame_head(c->buf + c->pos, &body, &meta);   /* a bad head went to Python already */
        need += body;
    }
    /* a short partial frame may be a big write the loop splices: its head is enough */
    if (need > c->cap && pending >= SMALL_PENDING) {
        c->need = need;
        return CRBD_REBUFFER;
    }
    memmove(c->buf, c->buf + c->pos, pending);
    c->pos = 0;
    c->end = pending;
    return 0;
}

int crbd_run(struct crbd_conn *c)
{
    struct crbd_conn_state *s = c->state;
    int rc;
    for (;;) {
        struct vol big;
        size_t at = 0;
        rc = serve(c, s, &big, &at);
        if (rc == OUT_FULL) {
            if ((rc = crbd_flush(c)) < 0)
                goto broken;
            continue;
        }
        if (rc == SPLICE) {
            if ((rc = crbd_flush(c)) == 0 && s->pipe_r < 0)
                rc = open_pipe(s);
            if (rc == 0)
                rc = splice_write(c, s, big.file->fd, at);
            if (rc < 0) {
                file_release(big.file);
                goto broken;
            }
            s->expect_big = 1;
            if (rc > 0) {
                file_release(big.file);
                c->err = rc;
                return CRBD_SPLICE_FAILED;
            }
            if (__atomic_load_n(&big.file->moved, __ATOMIC_ACQUIRE)) {
                s->big_file = big.file;   /* Python reads the data back from it */
                c->big.old_fd = big.file->fd;
                return CRBD_SPLICE_REDO;
            }
            file_release(big.file);
            c->served++;
            c->spliced++;
            s->out_len += nebd_reply_head(s->out + s->out_len, c->big.cid, 0);
            continue;
        }
        if (rc != MORE)
            return rc;
        /* everything received is answered: the replies go out, then wait for the peer */
        if (c->py_pending)
            return CRBD_IDLE;
        if ((rc = crbd_flush(c)) < 0)
            goto broken;
        if ((rc = make_room(c)) != 0)
            return rc;
        size_t want = c->cap - c->end;
        if (s->expect_big && c->pos == c->end) {
            s->expect_big = 0;
            if (want > HEADER_RECV)
                want = HEADER_RECV;
        }
        /* sleep in poll, not in recv: a unix socket wakes every sleeper on it each time the
         * client consumes one of our replies (write space); poll sleeps only for input */
        ssize_t n = recv(c->sock, c->buf + c->end, want, MSG_DONTWAIT);
        if (n < 0 && errno == EAGAIN && wait_readable(c->sock) == 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            c->err = n < 0 ? errno : 0;
            return CRBD_CLOSED;
        }
        c->end += (size_t)n;
    }
broken:
    c->err = -rc;
    return CRBD_CLOSED;
}
