/* One nebd connection per cluster handle: requests are framed and sent by the submitting
 * thread (the caller's iovecs are the attachment, no copy); one receiver thread with every
 * signal blocked reads replies, matches them by correlation id and receives read data
 * straight into the caller's buffers. Many requests in flight; replies in any order.
 * If the connection drops, every request in flight fails with -ENOTCONN and a log line names
 * the cause. Requests keep everything needed to be sent again (reconnect is a later step).
 * The receiver never sends: a send can block until the daemon reads, and the daemon may be
 * blocked writing replies only the receiver reads. Continuations that send (the write after a
 * read-modify-write's edge reads, lock grants, flushes) run on the connection's worker thread. */
#include "internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_SMALL (1u << 20)   /* meta and payload of a reply are tiny; more means a broken peer */

static __thread int on_receiver;

int crbd_conn_on_receiver(void)
{
    return on_receiver;
}

void crbd_conn_defer(struct crbd_conn *c, void (*fn)(void *), void *arg)
{
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

static void *worker(void *arg)
{
    struct crbd_conn *c = arg;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->work && !c->worker_exit)
            pthread_cond_wait(&c->work_cond, &c->lock);
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

/* Mark the connection dead and fail everything in flight. Safe to call more than once. */
static void conn_fail(struct crbd_conn *c, int err, const char *cause)
{
    struct crbd_req *failed = NULL;
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
    }
    int closing = c->closing;
    pthread_mutex_unlock(&c->lock);
    if (!first)
        return;
    if (!closing || failed)
        crbd_log("nebd connection to %s lost: %s; failing in-flight I/O with -%s",
                 c->path, cause, err == ENOTCONN ? "ENOTCONN" : "EIO");
    shutdown(c->sock, SHUT_RDWR);   /* wakes the receiver */
    while (failed) {
        struct crbd_req *r = failed;
        failed = r->next;
        r->done(r, -err);
    }
}

/* ---- sending ---- */

static int send_all(int sock, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = cnt > IOV_MAX ? IOV_MAX : cnt };
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
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

void crbd_conn_submit(struct crbd_conn *c, struct crbd_req *req)
{
    uint64_t attachment = req->op == CRBD_NEBD_WRITE ? req->size : 0;
    pthread_mutex_lock(&c->lock);
    if (c->dead) {
        int err = c->dead;
        pthread_mutex_unlock(&c->lock);
        req->done(req, -err);
        return;
    }
    req->cid = ++c->next_cid;
    struct crbd_req **b = bucket(c, req->cid);
    req->next = *b;
    *b = req;   /* in the table before the frame leaves: the reply may beat send() back */
    c->inflight++;
    pthread_mutex_unlock(&c->lock);

    char head[256];
    size_t head_len = crbd_wire_request_head(head, sizeof head, req, attachment);
    int cnt = 1 + (attachment ? req->iovcnt : 0);
    struct iovec small[17], *iov = cnt <= 17 ? small : malloc(sizeof *iov * (size_t)cnt);
    if (!iov) {
        conn_fail(c, EIO, "out of memory building a request");
        return;
    }
    iov[0].iov_base = head;
    iov[0].iov_len = head_len;
    if (attachment)
        memcpy(iov + 1, req->iov, sizeof *iov * (size_t)req->iovcnt);

    pthread_mutex_lock(&c->send_lock);
    int r = send_all(c->sock, iov, cnt);
    pthread_mutex_unlock(&c->send_lock);
    if (iov != small)
        free(iov);
    if (r < 0) {
        char why[96];
        snprintf(why, sizeof why, "sending a request failed (%s)", strerror(-r));
        conn_fail(c, ENOTCONN, why);   /* fails req too: it is in the table */
    }
}

/* ---- receiving ---- */

static int recv_all(int sock, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = recv(sock, p, n, MSG_WAITALL);
        if (r == 0)
            return -ECONNRESET;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int recv_iov(int sock, const struct iovec *src, int cnt)
{
    for (int i = 0; i < cnt; i++) {
        int r = recv_all(sock, src[i].iov_base, src[i].iov_len);
        if (r < 0)
            return r;
    }
    return 0;
}

static int drain(int sock, size_t n)
{
    char scratch[16384];
    while (n > 0) {
        size_t k = n < sizeof scratch ? n : sizeof scratch;
        int r = recv_all(sock, scratch, k);
        if (r < 0)
            return r;
        n -= k;
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

static void *receiver(void *arg)
{
    struct crbd_conn *c = arg;
    on_receiver = 1;
    unsigned char *small = malloc(MAX_SMALL);
    char cause[128] = "out of memory";
    int err = ENOTCONN;
    for (;;) {
        unsigned char hdr[12];
        int r = recv_all(c->sock, hdr, sizeof hdr);
        if (r < 0) {
            snprintf(cause, sizeof cause, r == -ECONNRESET ? "the daemon closed the connection"
                                                           : "receive failed (%s)", strerror(-r));
            break;
        }
        uint32_t body = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 | (uint32_t)hdr[6] << 8 | hdr[7];
        uint32_t meta = (uint32_t)hdr[8] << 24 | (uint32_t)hdr[9] << 16 | (uint32_t)hdr[10] << 8 | hdr[11];
        if (memcmp(hdr, "PRPC", 4) != 0 || meta > body || meta > MAX_SMALL || !small) {
            snprintf(cause, sizeof cause, "protocol error (bad frame header)");
            break;
        }
        struct crbd_reply rep = { 0 };
        if ((r = recv_all(c->sock, small, meta)) < 0 || crbd_wire_decode_meta(small, meta, &rep) < 0 ||
            rep.attachment_size > body - meta || body - meta - rep.attachment_size > MAX_SMALL) {
            snprintf(cause, sizeof cause, r < 0 ? "receive failed" : "protocol error (bad RpcMeta)");
            break;
        }
        uint32_t payload = body - meta - rep.attachment_size;
        if ((r = recv_all(c->sock, small, payload)) < 0 ||
            (rep.error_code == 0 && crbd_wire_decode_payload(small, payload, &rep) < 0)) {
            snprintf(cause, sizeof cause, r < 0 ? "receive failed" : "protocol error (bad reply)");
            break;
        }
        pthread_mutex_lock(&c->lock);
        struct crbd_req *req = table_take(c, rep.cid);
        pthread_mutex_unlock(&c->lock);
        int ret = -reply_errno(&rep);
        if (ret < 0 && req)
            crbd_log("nebd %s fd=%d offset=%llu size=%llu failed: brpc error %d, retCode %d '%s'",
                     req->op == CRBD_NEBD_READ ? "Read" : req->op == CRBD_NEBD_WRITE ? "Write"
                     : req->op == CRBD_NEBD_DISCARD ? "Discard" : "Flush", req->fd,
                     (unsigned long long)req->offset, (unsigned long long)req->size,
                     rep.error_code, rep.ret_code, rep.ret_msg);
        if (req && ret == 0 && req->op == CRBD_NEBD_READ) {
            if (rep.attachment_size == req->size)
                r = recv_iov(c->sock, req->iov, req->iovcnt);
            else {
                crbd_log("nebd Read of %llu bytes answered with %u bytes", (unsigned long long)req->size,
                         rep.attachment_size);
                ret = -EIO;
                r = drain(c->sock, rep.attachment_size);
            }
        } else {
            if (!req)
                crbd_log("nebd reply for unknown correlation id %llu ignored", (unsigned long long)rep.cid);
            r = drain(c->sock, rep.attachment_size);
        }
        if (r < 0) {
            if (req)
                req->done(req, -ENOTCONN);
            snprintf(cause, sizeof cause, "receive failed (%s)", strerror(-r));
            break;
        }
        if (req)
            req->done(req, ret);
    }
    free(small);
    conn_fail(c, err, cause);
    return NULL;
}

/* ---- lifecycle ---- */

int crbd_conn_open(const char *path, struct crbd_conn **out)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof addr.sun_path)
        return -ENAMETOOLONG;
    strcpy(addr.sun_path, path);
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return -errno;
    if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int err = errno;
        close(sock);
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
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->send_lock, NULL);
    pthread_cond_init(&c->work_cond, NULL);
    c->work_tail = &c->work;

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
    pthread_mutex_lock(&c->lock);
    c->closing = 1;
    pthread_mutex_unlock(&c->lock);
    shutdown(c->sock, SHUT_RDWR);
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
    close(c->sock);
    pthread_cond_destroy(&c->work_cond);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->send_lock);
    free(c->path);
    free(c);
}
