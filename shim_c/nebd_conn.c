/* One nebd connection (a cluster handle has CRBD_LANES of them): requests are framed and sent
 * by the submitting thread (the caller's iovecs are the attachment, no copy; big ones through a
 * pipe, nebd_splice.c); one receiver thread with every
 * signal blocked reads replies, matches them by correlation id and receives read data
 * straight into the caller's buffers. Many requests in flight; replies in any order.
 * If the connection drops (daemon restart, hot upgrade, crash), the receiver reconnects with
 * nebd's backoff and every request in flight is sent again (reads and writes at an offset
 * are idempotent; nebd fds survive a daemon restart); requests submitted meanwhile wait in the
 * table. Data I/O never fails for that: only closing the connection fails what is in flight.
 * The receiver never blocks on a send: a send can block until the daemon reads, and the daemon
 * may be blocked writing replies only the receiver reads. It sends only the send queue (below),
 * without waiting, when the socket has room for it. Continuations that send (the write after a
 * read-modify-write's edge reads, lock grants, flushes, the resend after a reconnect) run on
 * the connection's worker thread. */
#include "internal.h"
#include "nebd_wire.h"

#include <limits.h>   /* IOV_MAX */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>   /* SIOCOUTQ */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_SMALL (1u << 20)   /* meta and payload of a reply are tiny; more means a broken peer */

/* Reconnect policy. These mirror nebd's part1 client defaults (nebd-client.conf; the Python
 * client keeps the same numbers in curverbd/nebd/retry.py): */
#define RETRY_HOST_DOWN_US     10000L     /* socket absent or refused: rpcHostDownRetryIntervalUs */
#define RETRY_INTERVAL_US      100000L    /* first retry and growth step: rpcRetryIntervalUs */
#define RETRY_MAX_INTERVAL_US  64000000L  /* cap of the growing pause: rpcRetryMaxIntervalUs */
#define WAIT_LOG_INTERVAL_S    10.0       /* "still waiting" line while the daemon stays away */
/* A connection dropped sooner than this after it was made, without one reply on it, counts as a
 * failed retry (the daemon fails on something we keep resending, or drops every connection): the
 * pause grows, never a busy reconnect loop. One that answered anything reconnects at once, so a
 * busy client rides restarts quickly. */
#define SHORT_LIVED_S          1.0

/* The send queue. A small request submitted while more than QUEUE_AFTER others are out on the
 * connection is not sent by its submitter: it joins the queue, and the receiver, woken by one of
 * those replies anyway, sends the whole queue in one sendmsg before it waits again. At QD32 that is
 * one send per burst instead of one per I/O (measured with fio, 4 KiB random I/O at QD32:
 * client CPU per I/O 7.4-12 -> 5.2-5.8 us). The wait is bounded three ways: a submitter that
 * sends anyway (a big write, a lower depth) sends the queue after its own frame; the receiver
 * sends it whenever a reply arrives; and the worker sends it after QUEUE_MAX_WAIT_MS when
 * every reply is slow (a stalled daemon). QD <= QUEUE_AFTER never queues: latency is unchanged. */
#define QUEUE_AFTER 8
#define QUEUE_MAX_WAIT_MS 1
#define BATCH 32   /* frames per sendmsg */

_Atomic unsigned crbd_fork_generation;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* now + us on the monotonic clock (the connection's condition variables use it) */
static struct timespec deadline_us(long us)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += us / 1000000;
    t.tv_nsec += (us % 1000000) * 1000;
    if (t.tv_nsec >= 1000000000) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000;
    }
    return t;
}

static long retry_pause_us(unsigned attempt, int err)
{
    if (err == ENOENT || err == ECONNREFUSED)
        return RETRY_HOST_DOWN_US;
    long grown = attempt * RETRY_INTERVAL_US;
    if (grown > RETRY_MAX_INTERVAL_US)
        grown = RETRY_MAX_INTERVAL_US;
    return grown < RETRY_INTERVAL_US ? RETRY_INTERVAL_US : grown;
}

static __thread enum { CALLER, RECEIVER, WORKER } engine_thread;   /* what this thread is to us */

int crbd_conn_on_receiver(void)
{
    return engine_thread == RECEIVER;
}

int crbd_conn_on_engine_thread(void)
{
    return engine_thread != CALLER;
}

void crbd_conn_defer(struct crbd_conn *c, void (*fn)(void *), void *arg)
{
    if (c->fork_gen != crbd_fork_generation) {   /* a fork child: the worker thread is not there */
        fn(arg);
        return;
    }
    struct crbd_deferred *d = malloc(sizeof *d);
    if (!d) {   /* nothing better to do than run it here */
        crbd_log("out of memory deferring work; running it on the receiver thread");
        fn(arg);
        return;
    }
    d->next = NULL;
    d->fn = fn;
    d->arg = arg;
    pthread_mutex_lock(&c->lock);
    *c->work_tail = d;
    c->work_tail = &d->next;
    pthread_cond_signal(&c->work_cond);
    pthread_mutex_unlock(&c->lock);
}

static void send_queued_blocking(void *arg);

static void *worker(void *arg)
{
    struct crbd_conn *c = arg;
    engine_thread = WORKER;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->work && !c->worker_exit) {
            if (!c->nqueued) {
                c->worker_idle = 1;
                pthread_cond_wait(&c->work_cond, &c->lock);
                c->worker_idle = 0;
                continue;
            }
            /* requests are queued: send them if no reply brought the receiver round in time */
            struct timespec until = deadline_us(QUEUE_MAX_WAIT_MS * 1000L);
            if (pthread_cond_timedwait(&c->work_cond, &c->lock, &until) == ETIMEDOUT && c->nqueued) {
                pthread_mutex_unlock(&c->lock);
                send_queued_blocking(c);
                pthread_mutex_lock(&c->lock);
            }
        }
        struct crbd_deferred *d = c->work;
        if (!d)
            break;
        c->work = d->next;
        if (!c->work)
            c->work_tail = &c->work;
        pthread_mutex_unlock(&c->lock);
        d->fn(d->arg);
        free(d);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static struct crbd_req **bucket(struct crbd_conn *c, uint64_t cid)
{
    return &c->table[cid % CRBD_TABLE_SIZE];
}

static struct crbd_req *table_take(struct crbd_conn *c, uint64_t cid)
{
    for (struct crbd_req **pp = bucket(c, cid); *pp; pp = &(*pp)->next) {
        if ((*pp)->cid == cid) {
            struct crbd_req *r = *pp;
            *pp = r->next;
            c->inflight--;
            return r;
        }
    }
    return NULL;
}

static void table_put(struct crbd_conn *c, struct crbd_req *r)
{
    struct crbd_req **b = bucket(c, r->cid);
    r->next = *b;
    *b = r;
    c->inflight++;
}

/* The connection is closed (or cannot go on): fail everything in flight. Safe to call more than once. */
static void conn_fail(struct crbd_conn *c, int err, const char *cause)
{
    struct crbd_req *failed = NULL;
    pthread_mutex_lock(&c->send_lock);   /* no sender is using a request this fails */
    pthread_mutex_lock(&c->lock);
    int first = !c->dead;
    if (first) {
        c->dead = err;
        for (size_t i = 0; i < CRBD_TABLE_SIZE; i++) {
            while (c->table[i]) {
                struct crbd_req *r = c->table[i];
                c->table[i] = r->next;
                r->next = failed;
                failed = r;
            }
        }
        c->inflight = 0;
        c->queued = NULL;
        c->queued_tail = &c->queued;
        c->nqueued = 0;
    }
    int closing = c->closing;
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->send_lock);
    if (!first)
        return;
    if (!closing || failed)
        crbd_log("nebd connection to %s ended: %s; failing in-flight I/O with -%s",
                 c->path, cause, err == ENOTCONN ? "ENOTCONN" : "EIO");
    while (failed) {
        struct crbd_req *r = failed;
        failed = r->next;
        r->done(r, -err);
    }
}

/* ---- sending ---- */

static int send_all(int sock, struct iovec *iov, int cnt, int flags)
{
    while (cnt > 0) {
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = cnt > IOV_MAX ? IOV_MAX : cnt };
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL | flags);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        while (cnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* head (if any) and then iov, copied into the socket by sendmsg. */
static int send_copied(int sock, const struct iovec *head, const struct iovec *iov, int iovcnt)
{
    int cnt = (head ? 1 : 0) + iovcnt;
    struct iovec small[17], *all = cnt <= 17 ? small : malloc(sizeof *all * (size_t)cnt);
    if (!all)
        return -ENOMEM;
    if (head)
        all[0] = *head;
    if (iovcnt)
        memcpy(all + (head ? 1 : 0), iov, sizeof *iov * (size_t)iovcnt);
    int r = send_all(sock, all, cnt, 0);   /* send_all consumes its array: hence the copy */
    if (all != small)
        free(all);
    return r;
}

/* Send one request frame on sock (send_lock held). A big attachment goes through the pipe (no
 * copy); if the pipe cannot take it at all (odd memory, pipe limits) it is copied as usual.
 * A failure tears the socket down: the receiver then reconnects and the request, still in the
 * table, goes out again. */
static int send_req(struct crbd_conn *c, int sock, struct crbd_req *req)
{
    uint64_t attachment = req->op == CRBD_NEBD_WRITE ? req->size : 0;
    char buf[256];
    struct iovec head = { buf, crbd_wire_request_head(buf, sizeof buf, req, attachment) };
    int r;
    if (attachment >= CRBD_SPLICE_MIN) {
        int started = 0;
        r = send_copied(sock, &head, NULL, 0);
        if (r == 0)
            r = crbd_pipe_send(&c->pipe, sock, req->iov, req->iovcnt, &started);
        if (r < 0 && r != -ENOMEM && !started && !c->splice_failed) {
            c->splice_failed = 1;
            crbd_log("zero-copy send to %s failed (%s); copying big writes", c->path, strerror(-r));
        }
        if (r < 0 && !started)
            r = send_copied(sock, NULL, req->iov, req->iovcnt);
    } else {
        r = send_copied(sock, &head, req->iov, attachment ? req->iovcnt : 0);
    }
    if (r < 0) {
        if (r == -ENOMEM)
            crbd_log("out of memory sending a request to %s; reconnecting to send it again", c->path);
        shutdown(sock, SHUT_RDWR);
    }
    return r;
}

/* ---- the send queue (see QUEUE_AFTER) ---- */

static int queueable(const struct crbd_req *req)
{
    return !(req->op == CRBD_NEBD_WRITE && req->size >= CRBD_SPLICE_MIN);
}

static size_t frame_bytes(const struct crbd_req *r)
{
    return NEBD_REQUEST_HEAD_MAX + (r->op == CRBD_NEBD_WRITE ? r->size : 0);
}

/* Whether bytes more fit in sock's send buffer now, so a MSG_DONTWAIT send is never cut short
 * (the kernel refuses a new skb only once the buffer is full; the slack covers skb overhead). */
static int fits(struct crbd_conn *c, int sock, size_t bytes)
{
    int used = 0;
    return ioctl(sock, SIOCOUTQ, &used) == 0 && (size_t)used + bytes + (64u << 10) <= c->sndbuf;
}

/* Send the queue (send_lock held), BATCH frames per sendmsg. The receiver passes MSG_DONTWAIT:
 * it must never block on the socket (the daemon may be blocked writing replies only it reads),
 * so a queue that does not fit in the socket buffer goes to the worker instead. */
static void send_queued(struct crbd_conn *c, int flags)
{
    pthread_mutex_lock(&c->lock);
    struct crbd_req *list = c->queued;
    size_t bytes = 0;
    for (struct crbd_req *r = list; r; r = r->send_next)
        bytes += frame_bytes(r);
    int sock = c->sock;
    if (list && flags & MSG_DONTWAIT && !fits(c, sock, bytes)) {
        pthread_mutex_unlock(&c->lock);
        crbd_conn_defer(c, send_queued_blocking, c);
        return;
    }
    c->queued = NULL;
    c->queued_tail = &c->queued;
    c->nqueued = 0;
    for (struct crbd_req *r = list; r; r = r->send_next)
        r->gen = c->gen;
    pthread_mutex_unlock(&c->lock);
    while (list) {
        char heads[BATCH][NEBD_REQUEST_HEAD_MAX];
        struct iovec iov[BATCH * 3];
        int n = 0, k = 0;
        for (; list && k < BATCH && n + 1 + list->iovcnt <= BATCH * 3; list = list->send_next, k++) {
            uint64_t attachment = list->op == CRBD_NEBD_WRITE ? list->size : 0;
            iov[n++] = (struct iovec){ heads[k], crbd_wire_request_head(heads[k], sizeof heads[k], list, attachment) };
            for (int i = 0; attachment && i < list->iovcnt; i++)
                iov[n++] = list->iov[i];
        }
        int r = send_all(sock, iov, n, flags);
        if (r < 0) {   /* the receiver reconnects and resend() sends every request again */
            crbd_log("sending queued requests to %s failed (%s); reconnecting to send them again",
                     c->path, strerror(-r));
            shutdown(sock, SHUT_RDWR);
            return;
        }
    }
}

static void send_queued_blocking(void *arg)
{
    struct crbd_conn *c = arg;
    pthread_mutex_lock(&c->send_lock);
    send_queued(c, 0);
    pthread_mutex_unlock(&c->send_lock);
}

/* Receiver, before it waits: send the queue unless a sender holds the socket (that sender
 * sends the queue after its own frame). */
static void send_queued_now(struct crbd_conn *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->nqueued;
    pthread_mutex_unlock(&c->lock);
    if (n && pthread_mutex_trylock(&c->send_lock) == 0) {
        send_queued(c, MSG_DONTWAIT);
        pthread_mutex_unlock(&c->send_lock);
    }
}

void crbd_conn_submit(struct crbd_conn *c, struct crbd_req *req)
{
    if (c->fork_gen != crbd_fork_generation) {   /* the parent's connection, in a fork child */
        req->done(req, -ENOTCONN);
        return;
    }
    pthread_mutex_lock(&c->send_lock);   /* before the table: nobody else may send req meanwhile */
    pthread_mutex_lock(&c->lock);
    if (c->dead) {
        int err = c->dead;
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&c->send_lock);
        req->done(req, -err);
        return;
    }
    req->cid = ++c->next_cid;
    table_put(c, req);   /* in the table before the frame leaves: the reply may beat send() back */
    int now = !c->reconnecting;
    int sock = c->sock;
    if (now && c->inflight - c->nqueued > QUEUE_AFTER + 1 && queueable(req)) {
        req->send_next = NULL;
        *c->queued_tail = req;
        c->queued_tail = &req->send_next;
        if (c->nqueued++ == 0 && c->worker_idle)
            pthread_cond_signal(&c->work_cond);   /* the worker now keeps the queue's deadline */
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&c->send_lock);
        return;
    }
    if (now)
        req->gen = c->gen;
    pthread_mutex_unlock(&c->lock);
    if (now)
        send_req(c, sock, req);
    send_queued(c, 0);
    pthread_mutex_unlock(&c->send_lock);
}

/* Worker: after a reconnect, send every request not yet sent on the current connection. */
static void resend(void *arg)
{
    struct crbd_conn *c = arg;
    pthread_mutex_lock(&c->send_lock);
    for (;;) {
        struct crbd_req *found = NULL;
        pthread_mutex_lock(&c->lock);
        for (size_t i = 0; i < CRBD_TABLE_SIZE && !found && !c->reconnecting && !c->dead; i++)
            for (struct crbd_req *r = c->table[i]; r; r = r->next)
                if (r->gen != c->gen) {
                    found = r;
                    break;
                }
        if (found)
            found->gen = c->gen;   /* its reply cannot come before it is sent: found stays valid */
        int sock = c->sock;
        pthread_mutex_unlock(&c->lock);
        if (!found || send_req(c, sock, found) < 0)
            break;
    }
    send_queued(c, 0);
    pthread_mutex_unlock(&c->send_lock);
}

/* ---- receiving ---- */

/* One recv: the bytes received (> 0), -ECONNRESET at the stream's end, or -errno.
 * It sleeps in poll, never in recv: a unix socket wakes every thread sleeping on it whenever
 * the peer consumes something it sent (write space), so a receiver blocked in recv was woken
 * for nothing each time the daemon read a request -- on the daemon's critical path too (perf:
 * unix_write_space was a fifth of the daemon's time at QD1). poll sleeps only for input. */
static ssize_t recv_some(int sock, void *buf, size_t n, int flags)
{
    for (;;) {
        ssize_t r = recv(sock, buf, n, flags | MSG_DONTWAIT);
        if (r > 0)
            return r;
        if (r == 0)
            return -ECONNRESET;
        if (errno == EAGAIN) {
            struct pollfd p = { .fd = sock, .events = POLLIN };
            if (poll(&p, 1, -1) < 0 && errno != EINTR)
                return -errno;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
}

static int recv_all(int sock, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = recv_some(sock, p, n, MSG_WAITALL);
        if (r < 0)
            return (int)r;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Busy polling: a receiver with at most one request out (a guest or fio at queue depth 1) polls
 * its socket for up to busy_poll_us before it sleeps, so the next request's reply finds it awake:
 * waking a sleeping thread on an idle CPU costs 5-10 us on a VM, a fifth of a 4 KiB read's round
 * trip to a local daemon. Polling pays only while replies come that fast: after SPIN_GIVE_UP polls
 * in a row with nothing (an idle guest, a daemon across the network) it polls only every
 * SPIN_PROBE-th wait, until one catches something again. Deeper queues never poll: their replies
 * come in bursts anyway. */
#define SPIN_GIVE_UP 4
#define SPIN_PROBE 64

/* Bytes received into buf while polling (0: none; the caller sleeps as usual). */
static size_t busy_poll(struct crbd_conn *c, int sock, unsigned char *buf, size_t room)
{
    if (!c->busy_poll_us || __atomic_load_n(&c->inflight, __ATOMIC_RELAXED) > 1)
        return 0;
    if (c->poll_misses >= SPIN_GIVE_UP && ++c->poll_misses % SPIN_PROBE)
        return 0;
    double until = now_s() + c->busy_poll_us / 1e6;
    do {
        ssize_t r = recv(sock, buf, room, MSG_DONTWAIT);
        if (r > 0) {
            c->poll_misses = 0;
            return (size_t)r;
        }
        if (r == 0 || (errno != EAGAIN && errno != EINTR))
            return 0;   /* the stream's end or an error: the sleeping path reports it */
    } while (now_s() < until);
    if (c->poll_misses < SPIN_GIVE_UP)
        c->poll_misses++;
    return 0;
}

/* The receiver reads the socket in gulps of up to READ_AHEAD bytes beyond what it needs, so a
 * burst of small replies costs one recv instead of four per reply; a big Read's data beyond
 * what came with its head is received straight into the caller's buffers. */
#define READ_AHEAD (64u << 10)
#define INBUF_CAP (NEBD_HEAD_SIZE + 2 * MAX_SMALL + READ_AHEAD)

struct inbuf {
    unsigned char *p;
    size_t start, end;   /* the unread bytes are p[start, end) */
};

/* At least n (<= 2 * MAX_SMALL + head) unread bytes in b. */
static int fill(struct crbd_conn *c, int sock, struct inbuf *b, size_t n)
{
    if (b->end - b->start >= n)
        return 0;
    if (INBUF_CAP - b->start < n + READ_AHEAD) {
        memmove(b->p, b->p + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }
    crbd_completion_signal_flush();   /* before waiting: the pollers learn of this burst's completions */
    send_queued_now(c);
    if (b->end - b->start < n)
        b->end += busy_poll(c, sock, b->p + b->end, INBUF_CAP - b->end);
    while (b->end - b->start < n) {
        size_t missing = n - (b->end - b->start);
        size_t want = missing > READ_AHEAD ? missing : READ_AHEAD;
        ssize_t r = recv_some(sock, b->p + b->end, want, 0);
        if (r < 0)
            return (int)r;
        b->end += (size_t)r;
    }
    return 0;
}

/* The next n bytes of the stream into dst (NULL: dropped): the buffered part copied, the rest
 * received in place. */
static int take(int sock, struct inbuf *b, char *dst, size_t n)
{
    size_t have = b->end - b->start, k = have < n ? have : n;
    if (dst)
        memcpy(dst, b->p + b->start, k);
    b->start += k;
    if (b->start == b->end)
        b->start = b->end = 0;
    n -= k;
    if (n)
        crbd_completion_signal_flush();
    if (dst)
        return n ? recv_all(sock, dst + k, n) : 0;
    char scratch[16384];
    while (n > 0) {
        size_t part = n < sizeof scratch ? n : sizeof scratch;
        int r = recv_all(sock, scratch, part);
        if (r < 0)
            return r;
        n -= part;
    }
    return 0;
}

static int take_iov(int sock, struct inbuf *b, const struct iovec *iov, int cnt)
{
    for (int i = 0; i < cnt; i++) {
        int r = take(sock, b, iov[i].iov_base, iov[i].iov_len);
        if (r < 0)
            return r;
    }
    return 0;
}

static int reply_errno(const struct crbd_reply *rep)
{
    if (rep->error_code != 0)
        return EIO;
    if (rep->ret_code != 0)
        return strstr(rep->ret_msg, "NOT_ALIGNED") || strstr(rep->ret_msg, "not aligned") ? EINVAL : EIO;
    return 0;
}

/* Read replies from sock until it breaks; the cause goes to cause. */
static void receive_replies(struct crbd_conn *c, int sock, struct inbuf *in, char *cause, size_t cap)
{
    in->start = in->end = 0;   /* a new socket: nothing of the old one's stream is kept */
    for (;;) {
        int r = fill(c, sock, in, NEBD_HEAD_SIZE);
        if (r < 0) {
            snprintf(cause, cap, r == -ECONNRESET ? "the daemon closed the connection"
                                                  : "receive failed (%s)", strerror(-r));
            return;
        }
        uint32_t body, meta;
        if (nebd_frame_head(in->p + in->start, &body, &meta) < 0 || meta > MAX_SMALL) {
            snprintf(cause, cap, "protocol error (bad frame header)");
            return;
        }
        struct crbd_reply rep = { 0 };
        if ((r = fill(c, sock, in, NEBD_HEAD_SIZE + meta)) < 0 ||
            crbd_wire_decode_meta(in->p + in->start + NEBD_HEAD_SIZE, meta, &rep) < 0 ||
            rep.attachment_size > body - meta || body - meta - rep.attachment_size > MAX_SMALL) {
            snprintf(cause, cap, r < 0 ? "receive failed" : "protocol error (bad RpcMeta)");
            return;
        }
        uint32_t payload = body - meta - rep.attachment_size;
        if ((r = fill(c, sock, in, NEBD_HEAD_SIZE + meta + payload)) < 0 ||
            (rep.error_code == 0 &&
             crbd_wire_decode_payload(in->p + in->start + NEBD_HEAD_SIZE + meta, payload, &rep) < 0)) {
            snprintf(cause, cap, r < 0 ? "receive failed" : "protocol error (bad reply)");
            return;
        }
        take(sock, in, NULL, NEBD_HEAD_SIZE + meta + payload);   /* all buffered: cannot fail */
        pthread_mutex_lock(&c->lock);
        struct crbd_req *req = table_take(c, rep.cid);
        pthread_mutex_unlock(&c->lock);
        c->answered = 1;
        int ret = -reply_errno(&rep);
        if (ret < 0 && req)
            crbd_log("nebd %s fd=%d offset=%llu size=%llu failed: brpc error %d, retCode %d '%s'",
                     nebd_method_name(req->op), req->fd,
                     (unsigned long long)req->offset, (unsigned long long)req->size,
                     rep.error_code, rep.ret_code, rep.ret_msg);
        if (req && ret == 0 && req->op == CRBD_NEBD_READ) {
            if (rep.attachment_size == req->size)
                r = take_iov(sock, in, req->iov, req->iovcnt);
            else {
                crbd_log("nebd Read of %llu bytes answered with %u bytes", (unsigned long long)req->size,
                         rep.attachment_size);
                ret = -EIO;
                r = take(sock, in, NULL, rep.attachment_size);
            }
        } else {
            if (!req)
                crbd_log("nebd reply for unknown correlation id %llu ignored", (unsigned long long)rep.cid);
            r = take(sock, in, NULL, rep.attachment_size);
        }
        if (r < 0) {
            if (req) {   /* its reply was cut off: back in the table, sent again after the reconnect */
                pthread_mutex_lock(&c->lock);
                table_put(c, req);
                pthread_mutex_unlock(&c->lock);
            }
            snprintf(cause, cap, "receive failed (%s)", strerror(-r));
            return;
        }
        if (req)
            req->done(req, ret);
    }
}

/* The send buffer the kernel gave sock (SO_SNDBUF reads back the doubled size it counts in). */
static size_t send_buffer(int sock)
{
    int size = 0;
    socklen_t len = sizeof size;
    return getsockopt(sock, SOL_SOCKET, SO_SNDBUF, &size, &len) == 0 && size > 0 ? (size_t)size : 0;
}

static int connect_socket(const char *path, int *err)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof addr.sun_path) {
        *err = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr.sun_path, path);
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        *err = errno;
        return -1;
    }
    /* A big write (QEMU sends up to 2 MiB at once) then leaves in a few wakeups instead of ~10 with
     * the default 208 KiB; the kernel caps the request at net.core.wmem_max, so failure is harmless. */
    int sndbuf = 4 << 20;
    (void)setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) {
        *err = errno;
        close(sock);
        return -1;
    }
    return sock;
}

/* Sleep us microseconds unless the connection is closed meanwhile; 1 if it was. */
static int pause_unless_closing(struct crbd_conn *c, long us)
{
    struct timespec until = deadline_us(us);
    pthread_mutex_lock(&c->lock);
    while (!c->closing && pthread_cond_timedwait(&c->wake, &c->lock, &until) == 0)
        ;
    int closing = c->closing;
    pthread_mutex_unlock(&c->lock);
    return closing;
}

/* The connection broke: wait for the daemon with nebd's backoff and switch to a new socket;
 * the worker then resends what is in flight. 0 if the connection is being closed instead. */
static int reconnect(struct crbd_conn *c, const char *cause)
{
    shutdown(c->sock, SHUT_RDWR);          /* a sender blocked on the old socket returns now */
    pthread_mutex_lock(&c->send_lock);
    pthread_mutex_lock(&c->lock);
    c->reconnecting = 1;
    c->queued = NULL;   /* never sent (gen 0): resend() sends them with the rest */
    c->queued_tail = &c->queued;
    c->nqueued = 0;
    close(c->sock);
    c->sock = -1;
    int closing = c->closing;
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->send_lock);
    if (closing)
        return 0;
    double started = now_s(), logged = started;
    c->quick_drops = !c->answered && started - c->connected_at < SHORT_LIVED_S ? c->quick_drops + 1 : 0;
    if (c->quick_drops && pause_unless_closing(c, retry_pause_us(c->quick_drops, 0)))
        return 0;
    unsigned attempt = 0;
    int sock, err = 0;
    while ((sock = connect_socket(c->path, &err)) < 0) {
        attempt++;
        if (now_s() - logged >= WAIT_LOG_INTERVAL_S) {
            logged = now_s();
            pthread_mutex_lock(&c->lock);
            size_t waiting = c->inflight;
            pthread_mutex_unlock(&c->lock);
            crbd_log("still waiting for the daemon at %s after %.0f s (%s; last attempt: %s); "
                     "%zu requests held", c->path, logged - started, cause, strerror(err), waiting);
        }
        if (pause_unless_closing(c, retry_pause_us(attempt, err)))
            return 0;
    }
    pthread_mutex_lock(&c->send_lock);
    pthread_mutex_lock(&c->lock);
    closing = c->closing;
    size_t waiting = c->inflight;
    if (!closing) {
        c->sock = sock;
        c->sndbuf = send_buffer(sock);
        c->connected_at = now_s();
        c->answered = 0;
        c->gen++;
        c->reconnecting = 0;
    }
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&c->send_lock);
    if (closing) {
        close(sock);
        return 0;
    }
    crbd_log("nebd connection to %s lost (%s); reconnected after a %.3f s pause (%u retries), "
             "resending %zu requests", c->path, cause, now_s() - started, attempt, waiting);
    if (waiting)
        crbd_conn_defer(c, resend, c);
    return 1;
}

static void *receiver(void *arg)
{
    struct crbd_conn *c = arg;
    engine_thread = RECEIVER;
    struct inbuf in = { malloc(INBUF_CAP), 0, 0 };   /* address space: only what is used is touched */
    char cause[128] = "out of memory";
    if (in.p) {
        do {
            receive_replies(c, c->sock, &in, cause, sizeof cause);
            crbd_completion_signal_flush();
        } while (reconnect(c, cause));
    }
    free(in.p);
    conn_fail(c, ENOTCONN, cause);
    return NULL;
}

/* ---- lifecycle ---- */

int crbd_conn_open(const char *path, unsigned busy_poll_us, struct crbd_conn **out)
{
    int err = 0, sock = connect_socket(path, &err);
    if (sock < 0) {
        if (err != ENAMETOOLONG)
            crbd_log("connecting the data path to %s failed: %s", path, strerror(err));
        return -err;
    }
    struct crbd_conn *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        close(sock);
        return -ENOMEM;
    }
    c->sock = sock;
    c->busy_poll_us = busy_poll_us;
    c->sndbuf = send_buffer(sock);
    c->connected_at = now_s();
    c->pipe.rd = c->pipe.wr = -1;
    c->gen = 1;
    c->fork_gen = crbd_fork_generation;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->send_lock, NULL);
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&c->work_cond, &monotonic);
    pthread_cond_init(&c->wake, &monotonic);
    pthread_condattr_destroy(&monotonic);
    c->work_tail = &c->work;
    c->queued_tail = &c->queued;

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);   /* the threads inherit: host signals stay with the host */
    int r = pthread_create(&c->worker, NULL, worker, c);
    if (r == 0 && (r = pthread_create(&c->receiver, NULL, receiver, c)) != 0) {
        pthread_mutex_lock(&c->lock);
        c->worker_exit = 1;
        pthread_cond_signal(&c->work_cond);
        pthread_mutex_unlock(&c->lock);
        pthread_join(c->worker, NULL);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        close(sock);
        free(c->path);
        free(c);
        return -r;
    }
    *out = c;
    return 0;
}

void crbd_conn_close(struct crbd_conn *c)
{
    if (!c)
        return;
    if (c->fork_gen != crbd_fork_generation) {
        /* a fork child closing the parent's connection: its threads do not exist here and its
         * locks may be held by them; the socket still serves the parent. Forget it all. */
        if (c->sock >= 0)
            close(c->sock);
        crbd_pipe_close(&c->pipe);
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->closing = 1;
    if (c->sock >= 0)
        shutdown(c->sock, SHUT_RDWR);
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->lock);
    if (pthread_equal(pthread_self(), c->receiver) || pthread_equal(pthread_self(), c->worker)) {
        /* closed from a completion callback: let the threads end on their own, leak the struct */
        pthread_detach(c->receiver);
        pthread_detach(c->worker);
        pthread_mutex_lock(&c->lock);
        c->worker_exit = 1;
        pthread_cond_signal(&c->work_cond);
        pthread_mutex_unlock(&c->lock);
        return;
    }
    pthread_join(c->receiver, NULL);
    pthread_mutex_lock(&c->lock);
    c->worker_exit = 1;   /* after what is queued: failing requests still complete */
    pthread_cond_signal(&c->work_cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->worker, NULL);
    if (c->sock >= 0)
        close(c->sock);
    crbd_pipe_close(&c->pipe);
    pthread_cond_destroy(&c->work_cond);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->send_lock);
    free(c->path);
    free(c);
}
