/* The daemon's C frame loop as Python sees it: the one declaration of its structs, return codes
 * and entry points. _fastloop.c includes it; build_fastpath.py hands it to cffi as the cdef
 * (without the preprocessor lines), so the C code and the Python side cannot disagree on a
 * layout. cffi's cdef parser takes plain declarations only: no macros or inline code here. */
#ifndef CURVERBD_FASTLOOP_H
#define CURVERBD_FASTLOOP_H
#include <stddef.h>
#include <stdint.h>

/* The volumes the loop may serve, by nebd fd: one table per daemon (OpenFiles), shared by its
 * connections. Python is its only writer: it tells the table when a volume opens, closes, grows
 * or changes its head layer (fastpath.Table); the loop only reads it, under the table's lock. */
struct crbd_table;
/* A connection's private part (reply buffer, sendfile list, splice pipe, send lock). */
struct crbd_conn_state;

/* The big write the loop spliced from the socket whose volume changed its head meanwhile
 * (CRBD_SPLICE_REDO), or that the file refused (CRBD_SPLICE_FAILED): its nebd fd, correlation id,
 * where it went, and (REDO) a descriptor of the old head's file to read the data back from,
 * valid until crbd_big_release(). */
struct crbd_bigwrite { int nebd_fd; int old_fd; uint64_t cid, offset, size; };

/* One connection. buf is Python's receive buffer (a bytearray), frames in [pos, end); Python
 * swaps it for another on CRBD_REBUFFER and moves pos past the frames it answers itself. */
struct crbd_conn {
    unsigned char *buf;
    size_t cap, pos, end;
    size_t need;          /* CRBD_REBUFFER: the buffer size wanted (0: a default one) */
    int sock;
    int err;              /* CRBD_CLOSED: 0 the peer closed, else errno; CRBD_*_FAILED: the errno */
    int py_pending;       /* set by Python when it queued replies: the loop returns CRBD_IDLE
                             instead of waiting for the peer, so they go out first */
    uint64_t served;      /* frames answered by the loop */
    uint64_t spliced;     /* of those, big writes spliced from the socket */
    struct crbd_bigwrite big;
    struct crbd_table *table;
    struct crbd_conn_state *state;
};

/* What crbd_run() returns. PYTHON: the frame at pos is Python's (whole, or its head is bad: Python
 * names the protocol error). REBUFFER: give the loop a buffer of `need` bytes (0: the default
 * size) holding [pos, end) at its start. IDLE: everything received is answered; send the replies
 * (crbd_flush, then Python's own) and call again. CLOSED: the peer closed (err 0) or the socket
 * failed (err). SPLICE_FAILED: a spliced write the file refused (big, err): Python answers it.
 * SPLICE_REDO: a spliced write whose volume changed its head meanwhile: Python writes it again
 * through the volume, answers it, then calls crbd_big_release(). FLUSH_FAILED: the Flush at pos
 * failed (err): Python answers it and moves pos past it. */
enum { CRBD_PYTHON = 1, CRBD_REBUFFER = 2, CRBD_IDLE = 3, CRBD_CLOSED = 4, CRBD_SPLICE_FAILED = 5,
       CRBD_SPLICE_REDO = 6, CRBD_FLUSH_FAILED = 7 };

/* Large writes go to the page cache in pieces of this size (volume.WRITE_PIECE): see _fastloop.c. */
enum { CRBD_WRITE_PIECE = 65536 };

struct crbd_table *crbd_table_new(void);
/* The volume behind nebd fd `nebd_fd` is served from data_fd (a descriptor of its head layer's
 * file, duplicated: the table owns its copy) or, with data_fd -1, not at all; length, block size
 * and whether requests must be aligned to it. 0 or -errno. */
int crbd_table_set(struct crbd_table *t, int nebd_fd, int data_fd, int64_t length, int64_t blocksize,
                   int align_check);
/* The volume's head is about to change: stop serving it, and make writes the loop is doing to the
 * old head right now go again through Python (as Volume.write redoes a write whose head moved). */
void crbd_table_move(struct crbd_table *t, int nebd_fd);
void crbd_table_remove(struct crbd_table *t, int nebd_fd);
/* Requests the loop answered on nebd_fd (heartbeats: a volume in use is not idle); -1 if unknown. */
int64_t crbd_table_used(struct crbd_table *t, int nebd_fd);
/* Volumes in the table, servable ones in *servable (tests and logs). */
int crbd_table_count(struct crbd_table *t, int *servable);

/* 0, or -errno (no memory, no pipe). */
int crbd_conn_init(struct crbd_conn *c, struct crbd_table *t, int sock);
void crbd_conn_free(struct crbd_conn *c);
/* Receive and answer frames until one needs Python (see the codes above). Runs without the GIL. */
int crbd_run(struct crbd_conn *c);
/* Send the loop's queued replies (takes the send lock); 0 or -errno. */
int crbd_flush(struct crbd_conn *c);
/* The send lock, which Python's own sends on this socket take too (replies may come from other
 * threads: Flush on the flusher pool). */
void crbd_send_lock(struct crbd_conn *c);
void crbd_send_unlock(struct crbd_conn *c);
void crbd_big_release(struct crbd_conn *c);

#endif
