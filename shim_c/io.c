/* librbd I/O semantics over nebd, all in C (no GIL on the submitting thread):
 *  - clip like librbd's clip_io: an empty request is always valid (0), a request starting at or
 *    past the end is -EINVAL, one crossing the end is clipped to it;
 *  - completions return like librbd's: a read the bytes read, every other op 0;
 *  - an aio write copies the caller's data at submission unless the image was opened with
 *    rbd_disable_zero_copy_writes = false (the caller then keeps its buffer until completion);
 *  - Curve refuses I/O that is not 4 KiB aligned: unaligned reads read the covering blocks
 *    into a bounce buffer; unaligned writes read-modify-write their edge blocks under the
 *    image's range lock; discard/write-zeroes discard the aligned middle and zero-write the
 *    edges (also under the lock);
 *  - requests are split into chunks the daemon accepts; the first failure wins;
 *  - a flush is sent once every write submitted before it has completed;
 *  - an image with encryption loaded (crypto.c) is shifted by its data offset and always takes
 *    the bounce buffer: reads decrypt it, writes decrypt their edge blocks, copy the data in and
 *    encrypt it; discard/write-zeroes zero the plaintext of their edge blocks.
 * An op advances through its stages from crbd_op_step: at submit, when its range lock is
 * granted, and when its last outstanding sub-request completes. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DISCARD_CHUNK (64ull << 20)
#define COPY_INLINE_MAX (64u << 10)   /* a copied aio write up to this size lives in its op */

enum { ST_START, ST_LOCKED, ST_EDGES, ST_DONE };

static int is_write_kind(int kind)
{
    return kind == CRBD_OP_WRITE || kind == CRBD_OP_DISCARD || kind == CRBD_OP_ZERO;
}

/* ---- iovec helpers ---- */

struct iovec *crbd_iov_slice(const struct iovec *iov, int iovcnt, uint64_t skip, uint64_t len, int *outcnt,
                             struct iovec *room, int room_cnt)
{
    int i = 0;
    while (i < iovcnt && skip >= iov[i].iov_len) {
        skip -= iov[i].iov_len;
        i++;
    }
    int n = 0;
    uint64_t rem = len, s = skip;
    for (int j = i; rem && j < iovcnt; j++, s = 0) {
        uint64_t take = iov[j].iov_len - s < rem ? iov[j].iov_len - s : rem;
        if (take) {
            n++;
            rem -= take;
        }
    }
    if (rem)
        return NULL;   /* the caller's buffers are shorter than the range */
    struct iovec *out = n <= room_cnt ? room : malloc(sizeof *out * (size_t)(n ? n : 1));
    if (!out)
        return NULL;
    n = 0;
    rem = len;
    s = skip;
    for (int j = i; rem && j < iovcnt; j++, s = 0) {
        uint64_t take = iov[j].iov_len - s < rem ? iov[j].iov_len - s : rem;
        if (take) {
            out[n].iov_base = (char *)iov[j].iov_base + s;
            out[n].iov_len = take;
            n++;
            rem -= take;
        }
    }
    *outcnt = n;
    return out;
}

void crbd_iov_to_buf(const struct iovec *iov, int iovcnt, char *dst, uint64_t len)
{
    for (int i = 0; i < iovcnt && len; i++) {
        uint64_t n = iov[i].iov_len < len ? iov[i].iov_len : len;
        memcpy(dst, iov[i].iov_base, n);
        dst += n;
        len -= n;
    }
}

void crbd_buf_to_iov(const char *src, const struct iovec *iov, int iovcnt, uint64_t len)
{
    for (int i = 0; i < iovcnt && len; i++) {
        uint64_t n = iov[i].iov_len < len ? iov[i].iov_len : len;
        memcpy(iov[i].iov_base, src, n);
        src += n;
        len -= n;
    }
}

/* ---- sub-requests ---- */

static void op_fail(struct crbd_op *op, int err)
{
    int zero = 0;
    atomic_compare_exchange_strong(&op->err, &zero, err);
}

static void op_put(struct crbd_op *op)
{
    if (atomic_fetch_sub(&op->pending, 1) == 1)
        crbd_op_continue(op);
}

static struct crbd_req *req_new(struct crbd_op *op)
{
    int idle = 0;
    if (!atomic_compare_exchange_strong(&op->req_room_busy, &idle, 1))
        return calloc(1, sizeof(struct crbd_req));
    memset(&op->req_room, 0, sizeof op->req_room);
    return &op->req_room;
}

static void req_free(struct crbd_op *op, struct crbd_req *req)
{
    if (req == &op->req_room)
        atomic_store(&op->req_room_busy, 0);
    else
        free(req);
}

static void sub_done(struct crbd_req *req, int ret)
{
    struct crbd_op *op = req->arg;
    if (ret < 0)
        op_fail(op, ret);
    if (req->iov != req->iov_room)
        free(req->iov);
    req_free(op, req);
    op_put(op);
}

static void op_free(struct crbd_op *op)
{
    if (op->iov != op->iov_room)
        free(op->iov);
    if (op->copy != op->data)
        crbd_buffer_give(op->copy, op->len);
    free(op->bounce);
    free(op);
}

/* Send [start, start+len) of the volume as requests of at most one chunk; the data comes
 * from / goes to bytes [skip, skip+len) of iov (NULL for discard and flush). */
static void send_range(struct crbd_op *op, int nebd_op, uint64_t start, uint64_t len,
                       const struct iovec *iov, int iovcnt, uint64_t skip)
{
    uint64_t done = 0;
    do {
        uint64_t n = len - done;
        if (nebd_op == CRBD_NEBD_DISCARD)
            n = n < DISCARD_CHUNK ? n : DISCARD_CHUNK;
        else if (n > CRBD_STRIPE)   /* up to the next stripe boundary */
            n = CRBD_STRIPE - (start + done) % CRBD_STRIPE;
        struct crbd_req *req = req_new(op);
        if (req && iov && !(req->iov = crbd_iov_slice(iov, iovcnt, skip + done, n, &req->iovcnt,
                                                      req->iov_room, 2))) {
            req_free(op, req);
            req = NULL;
        }
        if (!req) {
            op_fail(op, -ENOMEM);
            return;
        }
        req->op = nebd_op;
        req->fd = op->img->nebd_fd;
        req->offset = start + done;
        req->size = n;
        req->done = sub_done;
        req->arg = op;
        atomic_fetch_add(&op->pending, 1);
        crbd_conn_submit(crbd_image_lane(op->img, req->offset, n), req);
        done += n;
    } while (done < len);
}

static void step_deferred(void *op);

/* Sends issued between batch_begin and batch_end complete the stage together:
 * the extra count keeps the op from stepping while sends are still being issued. */
static void batch_begin(struct crbd_op *op) { atomic_store(&op->pending, 1); }

/* Replies that all beat the submitter here leave the next stage to it: that stage goes to the
 * worker, so callbacks always run on the engine's threads, never inside the caller's submit
 * (librbd's rule, which sync-I/O-from-a-callback refusal and re-entrancy in hosts rely on). */
static void batch_end(struct crbd_op *op)
{
    if (atomic_fetch_sub(&op->pending, 1) != 1)
        return;
    if (crbd_conn_on_engine_thread())
        crbd_op_continue(op);
    else
        crbd_conn_defer(crbd_image_lane(op->img, op->off, op->len), step_deferred, op);
}

static void send_bounce(struct crbd_op *op, int nebd_op, uint64_t start, char *buf, uint64_t len)
{
    struct iovec v = { buf, len };
    send_range(op, nebd_op, start, len, &v, 1, 0);
}

/* ---- finishing ---- */

void crbd_image_idle_put(struct crbd_image *img, size_t n)
{
    if (atomic_fetch_sub(&img->inflight, n) != n)
        return;
    pthread_mutex_lock(&img->lock);
    pthread_cond_broadcast(&img->idle);
    pthread_mutex_unlock(&img->lock);
}

/* A write-type op is done: its range, its place in the write order, and the flushes that
 * waited for it are given back in one critical section. The flushes now free to go are
 * returned (chained by wnext), the ops granted a range through *granted. */
static struct crbd_op *write_unregister(struct crbd_op *op, struct crbd_op **granted)
{
    struct crbd_image *img = op->img;
    struct crbd_op *ready = NULL;
    pthread_mutex_lock(&img->lock);
    *granted = crbd_range_release_locked(op);
    *(op->wprev ? &op->wprev->wnext : &img->writes) = op->wnext;
    *(op->wnext ? &op->wnext->wprev : &img->writes_last) = op->wprev;
    if (!img->writes)
        pthread_cond_broadcast(&img->idle);   /* crbd_image_write_lock_set may wait for it */
    for (struct crbd_op **pp = &img->flushes; *pp;) {
        struct crbd_op *f = *pp;
        if (!img->writes || img->writes->seq >= f->seq) {
            *pp = f->wnext;
            f->wnext = ready;
            ready = f;
        } else {
            pp = &f->wnext;
        }
    }
    pthread_mutex_unlock(&img->lock);
    return ready;
}

static void continue_all(struct crbd_op *list, int by_grant)
{
    while (list) {
        struct crbd_op *next = by_grant ? list->grant_next : list->wnext;
        crbd_op_continue(list);
        list = next;
    }
}

static void op_finish(struct crbd_op *op, ssize_t ret)
{
    struct crbd_image *img = op->img;
    struct crbd_op *flushes = NULL, *granted = NULL;
    if (is_write_kind(op->kind))
        flushes = write_unregister(op, &granted);
    continue_all(granted, 1);
    crbd_completion_fire(op->comp, ret, op->notify ? img : NULL);
    crbd_completion_put(op->comp);
    op_free(op);
    continue_all(flushes, 0);
    crbd_image_idle_put(img, 1);
}

static void finish_unlock(struct crbd_op *op, ssize_t ok)
{
    int err = atomic_load(&op->err);
    op_finish(op, err ? err : ok);
}

/* ---- stages per kind ---- */

static void read_step(struct crbd_op *op)
{
    uint64_t bs = op->img->block_size;
    if (op->stage == ST_START) {
        op->stage = ST_DONE;
        batch_begin(op);
        if (op->off % bs == 0 && op->len % bs == 0 && !op->crypto) {
            send_range(op, CRBD_NEBD_READ, op->off, op->len, op->iov, op->iovcnt, 0);
        } else if ((op->bounce = malloc(op->lock1 - op->lock0))) {
            send_bounce(op, CRBD_NEBD_READ, op->lock0, op->bounce, op->lock1 - op->lock0);
        } else {
            op_fail(op, -ENOMEM);
        }
        batch_end(op);
        return;
    }
    int err = atomic_load(&op->err);
    if (!err && op->crypto)   /* encrypted: the whole covering range was read, decrypted here */
        err = crbd_crypto_run(op->crypto, 0, (unsigned char *)op->bounce, op->lock1 - op->lock0, op->lock0);
    if (!err && op->bounce)
        crbd_buf_to_iov(op->bounce + (op->off - op->lock0), op->iov, op->iovcnt, op->len);
    op_finish(op, err ? err : (ssize_t)op->len);
}

static int crypt_write_plain(struct crbd_op *op);

static void write_step(struct crbd_op *op)
{
    uint64_t bs = op->img->block_size, end = op->off + op->len;
    switch (op->stage) {
    case ST_LOCKED:   /* submitted holding its range (crbd_io_submit) */
        batch_begin(op);
        if (op->off % bs == 0 && op->len % bs == 0 && !op->crypto) {
            op->stage = ST_DONE;
            send_range(op, CRBD_NEBD_WRITE, op->off, op->len, op->iov, op->iovcnt, 0);
        } else if ((op->bounce = malloc(op->lock1 - op->lock0))) {
            op->stage = ST_EDGES;
            uint64_t tail = op->lock1 - bs;
            if (op->off % bs)
                send_bounce(op, CRBD_NEBD_READ, op->lock0, op->bounce, bs);
            if (end % bs && !(tail == op->lock0 && op->off % bs))
                send_bounce(op, CRBD_NEBD_READ, tail, op->bounce + (tail - op->lock0), bs);
        } else {
            op->stage = ST_DONE;
            op_fail(op, -ENOMEM);
        }
        batch_end(op);
        return;
    case ST_EDGES:
        if (atomic_load(&op->err)) {
            finish_unlock(op, 0);
            return;
        }
        if (op->crypto && crypt_write_plain(op) < 0) {
            finish_unlock(op, 0);
            return;
        }
        if (!op->crypto)
            crbd_iov_to_buf(op->iov, op->iovcnt, op->bounce + (op->off - op->lock0), op->len);
        op->stage = ST_DONE;
        batch_begin(op);
        send_bounce(op, CRBD_NEBD_WRITE, op->lock0, op->bounce, op->lock1 - op->lock0);
        batch_end(op);
        return;
    default:
        finish_unlock(op, 0);
    }
}

/* An encrypted write's bounce buffer: the edge blocks read are decrypted, the caller's data copied
 * in, the whole covering range encrypted. 0, or the error (recorded in op->err). */
static int crypt_write_plain(struct crbd_op *op)
{
    uint64_t bs = op->img->block_size, end = op->off + op->len, tail = op->lock1 - bs;
    unsigned char *b = (unsigned char *)op->bounce;
    int r = 0;
    if (op->off % bs)
        r = crbd_crypto_run(op->crypto, 0, b, bs, op->lock0);
    if (!r && end % bs && !(tail == op->lock0 && op->off % bs))
        r = crbd_crypto_run(op->crypto, 0, b + (tail - op->lock0), bs, tail);
    if (!r) {
        crbd_iov_to_buf(op->iov, op->iovcnt, op->bounce + (op->off - op->lock0), op->len);
        r = crbd_crypto_run(op->crypto, 1, b, op->lock1 - op->lock0, op->lock0);
    }
    if (r < 0)
        op_fail(op, r);
    return r;
}

/* Discard and write-zeroes: the aligned middle is discarded (reads as zeros), the partial
 * edge blocks are read, zeroed in part and written back. Slot 0 of the bounce buffer holds
 * the head block, slot 1 the tail block. */
static void zero_edges(struct crbd_op *op, uint64_t *head, uint64_t *tail)
{
    uint64_t bs = op->img->block_size, end = op->off + op->len;
    *head = op->off % bs ? op->lock0 : UINT64_MAX;
    *tail = end % bs ? op->lock1 - bs : UINT64_MAX;
    if (*tail == *head)
        *tail = UINT64_MAX;
}

static void zero_step(struct crbd_op *op)
{
    uint64_t bs = op->img->block_size, end = op->off + op->len;
    uint64_t head, tail, mid0 = (op->off + bs - 1) / bs * bs, mid1 = end / bs * bs;
    zero_edges(op, &head, &tail);
    switch (op->stage) {
    case ST_LOCKED:   /* submitted holding its range (crbd_io_submit) */
        batch_begin(op);
        if (head == UINT64_MAX && tail == UINT64_MAX) {
            op->stage = ST_DONE;
            send_range(op, CRBD_NEBD_DISCARD, mid0, mid1 - mid0, NULL, 0, 0);
        } else if ((op->bounce = malloc(2 * bs))) {
            op->stage = ST_EDGES;
            if (head != UINT64_MAX)
                send_bounce(op, CRBD_NEBD_READ, head, op->bounce, bs);
            if (tail != UINT64_MAX)
                send_bounce(op, CRBD_NEBD_READ, tail, op->bounce + bs, bs);
        } else {
            op->stage = ST_DONE;
            op_fail(op, -ENOMEM);
        }
        batch_end(op);
        return;
    case ST_EDGES:
        if (atomic_load(&op->err)) {
            finish_unlock(op, 0);
            return;
        }
        op->stage = ST_DONE;
        batch_begin(op);
        for (int slot = 0; slot < 2; slot++) {
            uint64_t blk = slot ? tail : head;
            if (blk == UINT64_MAX)
                continue;
            uint64_t z0 = op->off > blk ? op->off : blk, z1 = end < blk + bs ? end : blk + bs;
            unsigned char *b = (unsigned char *)op->bounce + slot * bs;
            int r = op->crypto ? crbd_crypto_run(op->crypto, 0, b, bs, blk) : 0;   /* encrypted: zero the plaintext */
            memset(b + (z0 - blk), 0, z1 - z0);
            if (!r && op->crypto)
                r = crbd_crypto_run(op->crypto, 1, b, bs, blk);
            if (r < 0) {
                op_fail(op, r);
                continue;
            }
            send_bounce(op, CRBD_NEBD_WRITE, blk, (char *)b, bs);
        }
        if (mid1 > mid0)
            send_range(op, CRBD_NEBD_DISCARD, mid0, mid1 - mid0, NULL, 0, 0);
        batch_end(op);
        return;
    default:
        finish_unlock(op, 0);
    }
}

static void flush_step(struct crbd_op *op)
{
    struct crbd_image *img = op->img;
    switch (op->stage) {
    case ST_START:
        pthread_mutex_lock(&img->lock);
        op->stage = ST_LOCKED;
        if (img->writes && img->writes->seq < op->seq) {
            op->wnext = img->flushes;   /* released by op_finish of the last earlier write */
            img->flushes = op;
            pthread_mutex_unlock(&img->lock);
            return;
        }
        pthread_mutex_unlock(&img->lock);
        /* fall through */
    case ST_LOCKED:
        op->stage = ST_DONE;
        batch_begin(op);
        send_range(op, CRBD_NEBD_FLUSH, 0, 0, NULL, 0, 0);
        batch_end(op);
        return;
    default: {
        int err = atomic_load(&op->err);
        op_finish(op, err ? err : 0);
    }
    }
}

static void step_deferred(void *op) { crbd_op_step(op); }

/* The last stage only completes (ranges it frees are granted through here again), so it may
 * run on the receiver thread; a stage that sends goes to the connection's worker, so the
 * receiver keeps reading replies. */
void crbd_op_continue(struct crbd_op *op)
{
    if (crbd_conn_on_receiver() && op->stage != ST_DONE)
        crbd_conn_defer(crbd_image_lane(op->img, op->off, op->len), step_deferred, op);
    else
        crbd_op_step(op);
}

void crbd_op_step(struct crbd_op *op)
{
    switch (op->kind) {
    case CRBD_OP_READ: read_step(op); break;
    case CRBD_OP_WRITE: write_step(op); break;
    case CRBD_OP_FLUSH: flush_step(op); break;
    default: zero_step(op); break;
    }
}

/* ---- submission ---- */

static void complete_now(struct crbd_completion *comp, ssize_t ret, struct crbd_image *img, int notify)
{
    crbd_completion_fire(comp, ret, notify ? img : NULL);
}

int crbd_io_clip(struct crbd_image *img, uint64_t off, uint64_t *len)
{
    if (*len == 0)
        return 0;
    uint64_t size = atomic_load(&img->size);
    if (off >= size)
        return -EINVAL;
    if (*len > size - off)
        *len = size - off;
    return 0;
}

int crbd_io_submit(struct crbd_image *img, int kind, uint64_t off, uint64_t len, const struct iovec *iov,
                   int iovcnt, struct crbd_completion *comp, int flags)
{
    int notify = flags & CRBD_IO_NOTIFY;
    if (!img || !comp)
        return -EINVAL;
    if (img->refuse && kind != CRBD_OP_FLUSH) {
        complete_now(comp, -img->refuse, img, notify);
        return 0;
    }
    if (is_write_kind(kind) && img->read_only) {
        complete_now(comp, -EROFS, img, notify);
        return 0;
    }
    if (kind != CRBD_OP_FLUSH) {
        if (crbd_io_clip(img, off, &len) < 0) {
            complete_now(comp, -EINVAL, img, notify);
            return 0;
        }
        if (len == 0) {
            complete_now(comp, 0, img, notify);
            return 0;
        }
    }
    int copy = kind == CRBD_OP_WRITE && (flags & CRBD_IO_COPY);
    size_t room = copy && len <= COPY_INLINE_MAX ? len : 0;
    struct crbd_op *op = malloc(sizeof *op + room);
    if (!op)
        return -ENOMEM;
    memset(op, 0, sizeof *op);
    if (iov && !(op->iov = crbd_iov_slice(iov, iovcnt, 0, len, &op->iovcnt, op->iov_room, 2))) {
        op_free(op);
        return -EINVAL;
    }
    if (copy) {
        /* librbd's default: the data is the caller's as it was at submission */
        char *to = room ? op->data : crbd_buffer_take(len);
        if (!to) {
            op_free(op);
            return -ENOMEM;
        }
        crbd_iov_to_buf(op->iov, op->iovcnt, to, len);
        if (op->iov != op->iov_room)
            free(op->iov);
        op->copy = to;
        op->iov_room[0] = (struct iovec){ to, len };
        op->iov = op->iov_room;
        op->iovcnt = 1;
    }
    uint64_t bs = img->block_size;
    if (img->crypto && kind != CRBD_OP_FLUSH) {
        /* encrypted (crypto.c): the data area follows the LUKS header; whole blocks are still
         * discarded (all-zero raw sectors read as zeros), the rest goes through the bounce buffer */
        op->crypto = img->crypto;
        off += crbd_crypto_data_offset(img->crypto);
    }
    op->img = img;
    op->comp = comp;
    op->notify = notify;
    op->kind = kind;
    op->stage = ST_START;
    op->off = off;
    op->len = len;
    op->lock0 = off / bs * bs;
    op->lock1 = (off + len + bs - 1) / bs * bs;
    crbd_completion_ref(comp);

    int go = 1;
    if (is_write_kind(kind)) {
        pthread_mutex_lock(&img->lock);
        /* a mutation registers only while this handle holds the image's write lock: the core then
         * waits for it (crbd_image_write_lock_set) before handing the lock to another client */
        while (!img->write_locked) {
            pthread_mutex_unlock(&img->lock);
            int r = crbd_py_image_lock_writes(img->py);
            if (r < 0) {
                op_free(op);
                complete_now(comp, r, img, notify);
                crbd_completion_put(comp);
                return 0;
            }
            pthread_mutex_lock(&img->lock);
        }
        op->seq = img->write_seq++;
        op->wprev = img->writes_last;
        *(op->wprev ? &op->wprev->wnext : &img->writes) = op;
        img->writes_last = op;
        op->stage = ST_LOCKED;
        go = crbd_range_try_locked(op);   /* else the release that grants it continues it */
        atomic_fetch_add(&img->inflight, 1);
        pthread_mutex_unlock(&img->lock);
    } else if (kind == CRBD_OP_FLUSH) {
        pthread_mutex_lock(&img->lock);
        op->seq = img->write_seq;
        atomic_fetch_add(&img->inflight, 1);
        pthread_mutex_unlock(&img->lock);
    } else {
        atomic_fetch_add(&img->inflight, 1);
    }
    if (go)
        crbd_op_step(op);
    return 0;
}

void crbd_image_write_lock_set(void *c_image, int held)
{
    struct crbd_image *img = c_image;
    pthread_mutex_lock(&img->lock);
    img->write_locked = held;
    while (!held && img->writes)
        pthread_cond_wait(&img->idle, &img->lock);
    pthread_mutex_unlock(&img->lock);
}

void crbd_io_wait_idle(struct crbd_image *img)
{
    pthread_mutex_lock(&img->lock);
    while (img->inflight)
        pthread_cond_wait(&img->idle, &img->lock);
    pthread_mutex_unlock(&img->lock);
}

/* img->idle uses the default (realtime) clock: a deadline on it. */
static struct timespec deadline_after(unsigned timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int crbd_io_wait_idle_for(struct crbd_image *img, unsigned timeout_ms)
{
    if (!timeout_ms) {
        crbd_io_wait_idle(img);
        return 0;
    }
    struct timespec until = deadline_after(timeout_ms);
    int r = 0;
    pthread_mutex_lock(&img->lock);
    while (img->inflight && r != ETIMEDOUT)
        r = pthread_cond_timedwait(&img->idle, &img->lock, &until);
    r = img->inflight ? -ETIMEDOUT : 0;
    pthread_mutex_unlock(&img->lock);
    return r;
}

ssize_t crbd_completion_wait_for(struct crbd_completion *c, unsigned timeout_ms)
{
    if (!timeout_ms)
        return crbd_completion_wait(c);
    struct timespec until = deadline_after(timeout_ms);
    int r = 0;
    pthread_mutex_lock(&c->lock);
    while (!c->complete && r != ETIMEDOUT)
        r = pthread_cond_timedwait(&c->cond, &c->lock, &until);
    ssize_t ret = c->complete ? c->ret : -ETIMEDOUT;
    pthread_mutex_unlock(&c->lock);
    return ret;
}
