/* Internal objects behind the opaque handles, shared by the C sources of the library. Each
 * C file of shim_c is its own compilation unit (build_so.py) and includes this file: what units
 * share is declared here (or in cdef.h) and defined once; -fvisibility=hidden keeps it internal.
 * Ownership in one sentence each:
 *  - a cluster owns its nebd connections (CRBD_LANES sockets, one receiver thread each);
 *  - an image owns its range lock, its write list (for flush ordering) and its event queue;
 *  - an op is one aio call, holding a reference on its completion until the callback ran;
 *  - a req is one nebd RPC of an op, living in the connection's correlation table. */
#ifndef CRBD_INTERNAL_H
#define CRBD_INTERNAL_H

#include "api_types.h"
#include "librados_api.h"
#include "librbd_api.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#define CRBD_HIDDEN __attribute__((visibility("hidden")))

#define CRBD_MAGIC_CLUSTER    0x63727363u  /* "crsc" */
#define CRBD_MAGIC_IOCTX      0x63726963u
#define CRBD_MAGIC_IMAGE      0x63726d69u
#define CRBD_MAGIC_COMPLETION 0x6372636fu
#define CRBD_MAGIC_DEAD       0xdeadbeefu

#define CRBD_MAX_CHUNK   (4u << 20)   /* largest nebd request we send */
/* Data connections per cluster. The daemon serves each on its own thread, so big I/O striped
 * over two of them is copied on two cores at once (measured: one connection leaves a 1 MiB
 * write stream bound by one daemon thread). Requests larger than a stripe are cut at stripe
 * boundaries; each goes to the lane of its stripe (small ones: see crbd_image_lane). */
#define CRBD_LANES       2
#define CRBD_STRIPE      (1u << 20)
#define CRBD_TABLE_SIZE  1024         /* correlation table buckets */

/* ---- logging (log.c) ---- */
void crbd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void crbd_log_fork_prepare(void);   /* fork hooks (embed.c): the log lock is held across fork() */
void crbd_log_fork_after(void);

/* ---- reused buffers for copied aio writes (buffers.c) ---- */
void *crbd_buffer_take(size_t len);            /* malloc-like: NULL when out of memory */
void crbd_buffer_give(void *buf, size_t len);  /* len: as taken; NULL is ignored */
void crbd_buffers_fork_child(void);

/* ---- embedded Python guard (embed.c) ---- */
int crbd_ensure_python(void);   /* 0, or -EIO if the interpreter or the control plane failed to start */
int crbd_cffi_start_python(void);   /* cffi's cffi_start_python(), from the module unit (build_so.py) */
extern _Atomic unsigned crbd_fork_generation;   /* bumped in every fork child: older connections are stale */

/* ---- nebd connection (nebd_conn.c, nebd_wire.c) ---- */
enum crbd_nebd_op { CRBD_NEBD_READ, CRBD_NEBD_WRITE, CRBD_NEBD_DISCARD, CRBD_NEBD_FLUSH };

struct crbd_req;
typedef void (*crbd_req_done_t)(struct crbd_req *req, int ret);

struct crbd_req {
    struct crbd_req *next;      /* correlation table chain */
    struct crbd_req *send_next; /* the connection's queue of requests the receiver sends */
    uint64_t cid;
    int op;                     /* enum crbd_nebd_op */
    int32_t fd;
    uint64_t offset, size;
    struct iovec *iov;          /* write source / read destination (descriptors owned, data not) */
    int iovcnt;
    struct iovec iov_room[2];   /* iov when it fits here (no allocation) */
    crbd_req_done_t done;       /* called once, from the receiver thread or the submitter */
    void *arg;
    uint64_t gen;               /* connection generation it was last sent on (0: not yet) */
};

/* A pipe that big write attachments pass through on their way to the socket (nebd_splice.c). */
struct crbd_pipe { int rd, wr; size_t cap; };
#define CRBD_SPLICE_MIN (64u << 10)   /* smaller attachments are cheaper to copy with sendmsg */
/* Send the iovecs on sock through the pipe. 0, or -errno; *started says whether any byte left
 * (if not, the caller may still send them another way). */
int crbd_pipe_send(struct crbd_pipe *p, int sock, const struct iovec *iov, int iovcnt, int *started);
void crbd_pipe_close(struct crbd_pipe *p);

/* Work the receiver thread must not do itself (see crbd_conn_defer). */
struct crbd_deferred { struct crbd_deferred *next; void (*fn)(void *); void *arg; };

struct crbd_conn {
    int sock;                   /* -1 while reconnecting; changed by the receiver under both locks */
    char *path;
    pthread_mutex_t send_lock;  /* one frame at a time on the socket; taken before lock */
    struct crbd_pipe pipe;      /* for big attachments; used under send_lock */
    int splice_failed;          /* logged once: big writes fell back to a copy */
    pthread_mutex_t lock;       /* table, state */
    int reconnecting;           /* the daemon is away: requests wait in the table, sent on reconnect */
    uint64_t gen;               /* connection generation: 1, then +1 per reconnect */
    /* the receiver thread's own (no lock): */
    double connected_at;        /* when the current socket was made (monotonic s) */
    unsigned quick_drops;       /* connections dropped unanswered right after being made, in a row */
    int answered;               /* a reply came on the current socket */
    unsigned busy_poll_us;      /* conf curverbd_busy_poll_us (0: never) */
    unsigned poll_misses;       /* busy polls in a row that caught nothing (nebd_conn.c) */
    pthread_cond_t wake;        /* ends a reconnect pause when the connection is closed */
    unsigned fork_gen;          /* crbd_fork_generation at open: in a fork child the threads are gone */
    struct crbd_req *table[CRBD_TABLE_SIZE];
    size_t inflight;            /* in the table: sent, queued or waiting for a reconnect */
    struct crbd_req *queued, **queued_tail;   /* small requests the receiver sends (nebd_conn.c) */
    size_t nqueued;
    size_t sndbuf;              /* the socket's send buffer (what SIOCOUTQ counts against) */
    int worker_idle;            /* the worker waits without a deadline: wake it when the queue starts */
    uint64_t next_cid;
    int dead;                   /* errno once the connection failed */
    int closing;                /* shutdown requested by us: no "dropped" log line */
    pthread_t receiver;
    pthread_t worker;           /* runs deferred work: sends the receiver must never block on */
    pthread_cond_t work_cond;
    struct crbd_deferred *work, **work_tail;
    int worker_exit;
};

int crbd_conn_open(const char *path, unsigned busy_poll_us, struct crbd_conn **out);
void crbd_conn_close(struct crbd_conn *conn);
void crbd_conn_submit(struct crbd_conn *conn, struct crbd_req *req);
int crbd_conn_on_receiver(void);   /* 1 on a connection's receiver thread */
int crbd_conn_on_engine_thread(void);   /* 1 on a receiver or worker: where completions run */
void crbd_completion_signal_flush(void);   /* the event fd writes this receiver owes (completion.c) */
void crbd_conn_defer(struct crbd_conn *conn, void (*fn)(void *), void *arg);

/* wire helpers (nebd_wire.c) */
struct crbd_reply {
    uint64_t cid;
    int32_t error_code;         /* brpc level */
    uint32_t attachment_size;
    int32_t ret_code;           /* nebd level (kOK 0, kNoOK -1) */
    char ret_msg[128];
};
size_t crbd_wire_request_head(char *buf, size_t cap, const struct crbd_req *req, uint64_t attachment);
int crbd_wire_decode_meta(const unsigned char *p, size_t n, struct crbd_reply *r);
int crbd_wire_decode_payload(const unsigned char *p, size_t n, struct crbd_reply *r);

/* ---- handles ---- */
struct crbd_cluster {
    uint32_t magic;
    uint64_t py;                /* Python Cluster handle */
    int connected;
};

struct crbd_ioctx {
    uint32_t magic;
    uint64_t py;
    struct crbd_cluster *cluster;
    char *pool_name;            /* for rados_ioctx_get_pool_name */
};

struct crbd_op;

struct crbd_image {
    uint32_t magic;
    uint64_t py;                /* the core Image's handle (its callbacks) */
    struct crbd_lanes *data;    /* the core Cluster's data connections (engine.c), a reference held */
    struct crbd_conn *lanes[CRBD_LANES];   /* data's */
    int32_t nebd_fd;
    uint32_t block_size;
    _Atomic uint64_t size;
    int read_only;              /* writes refused: opened so, or set to a snapshot */
    int refuse;                 /* errno every I/O fails with (0: none): the snapshot read was removed */
    int no_range_lock;          /* $CURVERBD_TEST_DISABLE_RANGE_LOCK: the tests show what the lock prevents */
    char block_name_prefix[24];
    int copy_writes;            /* aio writes copy the caller's buffer at submission (librbd's default) */
    unsigned close_timeout_ms;  /* bound of rbd_close's / rbd_flush's waits (0: none) */

    /* Ops not yet finished. Atomic, so reads never take the lock; whoever brings it to 0
     * broadcasts idle under the lock (crbd_image_idle_put), so a waiter cannot miss it. */
    atomic_size_t inflight;
    pthread_mutex_t lock;       /* everything below */
    pthread_cond_t idle;        /* inflight reached 0, or writes emptied */
    int write_locked;           /* this handle holds the image's write lock (across clients): set by the core */
    struct crbd_op *held;       /* ops holding a range */
    struct crbd_op *waiting;    /* FIFO of ops waiting for a range */
    struct crbd_op *writes, *writes_last;   /* unfinished write-type ops, submission order */
    struct crbd_op *flushes;    /* flushes waiting for earlier writes */
    uint64_t write_seq;
    int event_fd, event_type;
    struct crbd_completion **events;
    size_t nevents, events_cap;
    size_t unsignaled;          /* queued events whose fd write the receiver still owes (each holds inflight) */
    struct crbd_crypto *crypto;   /* loaded encryption (crypto.c); NULL: unencrypted, zero-copy path */
};

/* ---- completions (completion.c) ---- */
struct crbd_completion {
    uint32_t magic;
    atomic_int refs;
    void *arg;
    rbd_callback_t cb;
    ssize_t ret;
    int complete;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

struct crbd_completion *crbd_completion_new(void *arg, rbd_callback_t cb);
struct crbd_completion *crbd_completion_get(void *handle);   /* NULL if not a completion */
void crbd_completion_ref(struct crbd_completion *c);
void crbd_completion_put(struct crbd_completion *c);
void crbd_completion_fire(struct crbd_completion *c, ssize_t ret, struct crbd_image *notify);
ssize_t crbd_completion_wait(struct crbd_completion *c);
/* Like crbd_completion_wait, giving up after timeout_ms (0: never): the result, or -ETIMEDOUT. */
ssize_t crbd_completion_wait_for(struct crbd_completion *c, unsigned timeout_ms);

/* ---- image I/O (io.c, rangelock.c) ---- */
enum crbd_op_kind { CRBD_OP_READ, CRBD_OP_WRITE, CRBD_OP_DISCARD, CRBD_OP_ZERO, CRBD_OP_FLUSH };

struct crbd_op {
    struct crbd_image *img;
    struct crbd_completion *comp;
    int notify;                 /* queue the completion for rbd_poll_io_events */
    int kind;
    int stage;
    uint64_t off, len;          /* the clipped byte range */
    uint64_t lock0, lock1;      /* block-aligned range held while writing */
    struct iovec *iov;          /* copy of the caller's iovec array */
    int iovcnt;
    char *bounce;
    char *copy;                 /* the caller's data, copied at submission (aio writes) */
    atomic_int pending;         /* sub-requests outstanding (+1 while submitting) */
    atomic_int err;             /* first negative errno of a sub-request */
    uint64_t seq;               /* write order, for flush */
    struct crbd_op *lock_next;  /* held / waiting list */
    struct crbd_op *grant_next; /* ops granted by one release, stepped after unlocking */
    struct crbd_op *wnext, *wprev;   /* writes list (flushes: wnext only) */
    const struct crbd_crypto *crypto;   /* the image's encryption at submission (NULL: none) */
    /* The common op (one request, one or two buffers, a small copied write) is one allocation:
     * the descriptors, its first request and the copied bytes live here. */
    struct iovec iov_room[2];
    struct crbd_req req_room;
    atomic_int req_room_busy;
    char data[];                /* the copy of a small aio write */
};

struct crbd_image *crbd_image_get(void *handle);   /* NULL if not an open image */
/* flags of crbd_io_submit */
#define CRBD_IO_NOTIFY 1        /* queue the completion for rbd_poll_io_events */
#define CRBD_IO_COPY   2        /* copy the caller's data now (a write the caller may reuse its buffer after) */
int crbd_io_submit(struct crbd_image *img, int kind, uint64_t off, uint64_t len, const struct iovec *iov,
                   int iovcnt, struct crbd_completion *comp, int flags);
/* librbd's clip_io: 0 with *len clipped to the image end, or -EINVAL for a non-empty request
 * starting at or past the end (an empty request is always valid). */
int crbd_io_clip(struct crbd_image *img, uint64_t off, uint64_t *len);
void crbd_io_wait_idle(struct crbd_image *img);
/* A synchronous call (rbd_io.c), as librbd returns it: the bytes read, the clipped length written
 * (discarded, zeroed), 0 for a flush, or -errno; a flush waits at most the close timeout. */
ssize_t crbd_io_sync(struct crbd_image *img, int kind, uint64_t off, uint64_t len, const struct iovec *iov,
                     int iovcnt);
/* Like crbd_io_wait_idle, giving up after timeout_ms (0: never): 0, or -ETIMEDOUT. */
int crbd_io_wait_idle_for(struct crbd_image *img, unsigned timeout_ms);

/* The range lock (rangelock.c), img->lock held by the caller. try: 1 if op now holds its range,
 * else 0 and op waits (crbd_op_continue runs it once granted). release: the waiters it granted,
 * chained by grant_next, for the caller to continue once it dropped img->lock. */
int crbd_range_try_locked(struct crbd_op *op);
struct crbd_op *crbd_range_release_locked(struct crbd_op *op);
void crbd_image_idle_put(struct crbd_image *img, size_t n);   /* inflight -= n, broadcast at 0 */
void crbd_op_step(struct crbd_op *op);
void crbd_op_continue(struct crbd_op *op);        /* crbd_op_step, deferred if it could block the receiver */

/* ---- client-side encryption (crypto.c): aes-xts-plain64 per sector, keys from the core ---- */
struct crbd_crypto;
int crbd_crypto_new(const unsigned char *key, uint32_t key_len, uint32_t sector_size, uint64_t data_offset,
                    struct crbd_crypto **out);
void crbd_crypto_free(struct crbd_crypto *c);
uint64_t crbd_crypto_data_offset(const struct crbd_crypto *c);
/* In place over whole sectors at raw image offset raw_off; decrypting leaves all-zero sectors zero. */
int crbd_crypto_run(const struct crbd_crypto *c, int encrypt, unsigned char *buf, uint64_t len, uint64_t raw_off);

/* iovec helpers (io.c) */
/* Descriptors of bytes [skip, skip+len) of iov: in room (room_cnt entries) if they fit, else
 * allocated; NULL if iov is shorter or out of memory. */
struct iovec *crbd_iov_slice(const struct iovec *iov, int iovcnt, uint64_t skip, uint64_t len, int *outcnt,
                             struct iovec *room, int room_cnt);
void crbd_iov_to_buf(const struct iovec *iov, int iovcnt, char *dst, uint64_t len);
void crbd_buf_to_iov(const char *src, const struct iovec *iov, int iovcnt, uint64_t len);

/* reading a blob of NUL-terminated strings from Python (boundary.c; struct crbd_blob: cdef.h) */
struct crbd_blob;
size_t crbd_blob_records(const struct crbd_blob *blob, size_t fields);
const char *crbd_blob_next(const char **p);

/* Fill a librbd config option array from a "name\0value\0source\0" blob (freed here) after the
 * callback that made it returned r: librbd's -ERANGE protocol, *max_options 0 after other errors
 * (rbd_admin.c; rbd_config_image_list and rbd_config_pool_list). */
int crbd_config_options(int r, struct crbd_blob *blob, rbd_config_option_t *options, int *max_options);

/* librbd's key/value list reply (rbd_extras.c; rbd_metadata_list, rbd_pool_metadata_list). */
int crbd_pairs_reply(int r, struct crbd_blob *blob, char *keys, size_t *key_len, char *values, size_t *vals_len);

/* librbd's output buffers (outbuf.c). put_string: s (with its NUL) into a caller's buffer of *len
 * bytes, or -ERANGE with *len = bytes needed (and "" if there is room); put_fixed: the same into a
 * buffer of a fixed len (no length output); empty_*: the empty answer of an output on an error. */
int crbd_put_string(char *buf, size_t *len, const char *s);
void crbd_empty_string(char *buf, size_t *len);
int crbd_put_fixed(char *buf, size_t len, const char *s);
void crbd_empty_fixed(char *buf, size_t len);

/* An rbd_image_options_t's numeric option, 0 if not given (rbd_options.c). */
uint64_t crbd_image_option(rbd_image_options_t opts, int optname);

/* handle lookups (rados.c) */
struct crbd_cluster *crbd_cluster_get(void *handle);
struct crbd_ioctx *crbd_ioctx_get(void *handle);

/* The connection a request of size bytes at offset goes on. Big ones go by stripe, so a stream
 * of them is copied by two daemon threads at once. Small ones all share the first lane: one
 * receiver and one daemon thread then see them in bursts, with one wakeup per burst instead of
 * one per lane (measured, 4 KiB random reads at QD32: 130k -> 185k IOPS, client CPU per I/O
 * 8.6 -> 7.0 us). */
static inline struct crbd_conn *crbd_image_lane(const struct crbd_image *img, uint64_t offset, uint64_t size)
{
    return img->lanes[size < CRBD_SPLICE_MIN ? 0 : (offset / CRBD_STRIPE) % CRBD_LANES];
}

/* The boundary: cdef.h as C (its structs, the extern "Python+C" callbacks, the C helpers Python
 * calls), generated by build_so.py into the build directory. */
#include "crbd_boundary.h"

#endif
