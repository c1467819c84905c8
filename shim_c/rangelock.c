/* The per-image block-range lock. Every write, discard and write-zeroes holds its
 * block-aligned range from before its edge reads until its last write completed, so a
 * read-modify-write never resurrects old bytes of a concurrent overlapping write.
 * Waiters are granted in FIFO order among overlapping ranges (no starvation, and two
 * overlapping writes land in submission order). A grant made on the receiver thread is
 * carried out on the connection's worker (crbd_op_continue). The callers hold img->lock: a
 * write registers and takes its range in one critical section, and gives both back in one. */
#include "internal.h"

static int overlaps(const struct crbd_op *a, uint64_t lo, uint64_t hi)
{
    return a->lock0 < hi && lo < a->lock1;
}

static int conflicts(const struct crbd_op *list, const struct crbd_op *stop, uint64_t lo, uint64_t hi)
{
    for (const struct crbd_op *o = list; o && o != stop; o = o->lock_next)
        if (overlaps(o, lo, hi))
            return 1;
    return 0;
}

int crbd_range_try_locked(struct crbd_op *op)
{
    struct crbd_image *img = op->img;
    int granted = img->no_range_lock || (!conflicts(img->held, NULL, op->lock0, op->lock1) &&
                                         !conflicts(img->waiting, NULL, op->lock0, op->lock1));
    op->lock_next = NULL;
    if (granted) {
        op->lock_next = img->held;
        img->held = op;
    } else {
        struct crbd_op **pp = &img->waiting;
        while (*pp)
            pp = &(*pp)->lock_next;
        *pp = op;
    }
    return granted;
}

struct crbd_op *crbd_range_release_locked(struct crbd_op *op)
{
    struct crbd_image *img = op->img;
    struct crbd_op *ready = NULL, **rtail = &ready;
    for (struct crbd_op **pp = &img->held; *pp; pp = &(*pp)->lock_next) {
        if (*pp == op) {
            *pp = op->lock_next;
            break;
        }
    }
    /* grant in queue order: a waiter must not overlap a held range (including ones granted
       in this pass) nor an earlier waiter that keeps waiting */
    for (struct crbd_op **pp = &img->waiting; *pp;) {
        struct crbd_op *w = *pp;
        if (!conflicts(img->held, NULL, w->lock0, w->lock1) &&
            !conflicts(img->waiting, w, w->lock0, w->lock1)) {
            *pp = w->lock_next;
            w->lock_next = img->held;
            img->held = w;
            w->grant_next = NULL;
            *rtail = w;
            rtail = &w->grant_next;
        } else {
            pp = &w->lock_next;
        }
    }
    return ready;
}
