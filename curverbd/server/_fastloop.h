/* The daemon's C frame loop as Python sees it: the one declaration of its structs, return codes
 * and entry points. _fastloop.c includes it; build_fastpath.py hands it to cffi as the cdef
 * (without the preprocessor lines), so the C code and the Python side cannot disagree on a
 * layout. cffi's cdef parser takes plain declarations only: no macros or inline code here. */
#ifndef CURVERBD_FASTLOOP_H
#define CURVERBD_FASTLOOP_H
#include <stddef.h>
#include <stdint.h>

/* A volume the loop may serve: its nebd fd, its data file (-1: not servable here), its size,
 * and the block size requests must be aligned to when align_check is set. */
struct crbd_volume { int nebd_fd; int data_fd; int64_t length; int64_t blocksize; int align_check; };

/* A big read's data, sent from fd by sendfile at out[at] of the replies. */
struct crbd_splice { size_t at; int fd; uint64_t offset, size; };

/* The big write crbd_serve() left for crbd_splice_write(): its volume (index in volumes), its
 * correlation id, where it goes, and where its attachment starts in the receive buffer. */
struct crbd_bigwrite { int volume; uint64_t cid, offset, size; size_t at; };

/* The pipe a connection splices big writes through (its read end non-blocking: a bookkeeping
 * mistake fails the connection instead of hanging it), and its capacity in bytes. */
struct crbd_pipe { int r, w; size_t size; };

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

/* What crbd_serve() returns (fastpath.py's MORE, PYTHON, OUT_FULL, SPLICE). */
enum { CRBD_MORE = 0, CRBD_PYTHON = 1, CRBD_OUT_FULL = 2, CRBD_SPLICE = 3 };

/* Large writes go to the page cache in pieces of this size (volume.WRITE_PIECE): see _fastloop.c. */
enum { CRBD_WRITE_PIECE = 65536 };

int crbd_serve(struct crbd_batch *b);
int crbd_send(int sock, struct crbd_batch *b);
int crbd_splice_write(int sock, const struct crbd_pipe *p, struct crbd_batch *b);

#endif
