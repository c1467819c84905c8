/* Completions: refcounted so the host may call rbd_aio_release inside its own callback
 * (QEMU does). Order on completion: callback, then mark complete and wake waiters, then (if
 * the image asked for notification) queue for rbd_poll_io_events + write the event fd.
 * fio asserts its callback ran before it reaps the completion; a reaped completion is
 * also already complete. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct crbd_completion *crbd_completion_new(void *arg, rbd_callback_t cb)
{
    struct crbd_completion *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->magic = CRBD_MAGIC_COMPLETION;
    atomic_init(&c->refs, 1);
    c->arg = arg;
    c->cb = cb;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    return c;
}

struct crbd_completion *crbd_completion_get(void *handle)
{
    struct crbd_completion *c = handle;
    return c && c->magic == CRBD_MAGIC_COMPLETION ? c : NULL;
}

void crbd_completion_ref(struct crbd_completion *c)
{
    atomic_fetch_add(&c->refs, 1);
}

void crbd_completion_put(struct crbd_completion *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) {
        c->magic = CRBD_MAGIC_DEAD;
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
        free(c);
    }
}

/* Adds n to the image's event fd: librbd's count of completions to reap (fio reads its
 * EFD_SEMAPHORE eventfd once per event), in one write. */
static void signal_fd(int fd, int type, size_t n)
{
    ssize_t r = 0;
    if (type == EVENT_TYPE_EVENTFD) {
        uint64_t count = n;
        r = write(fd, &count, sizeof count);
    } else {   /* a pipe: one byte per completion */
        char ones[64];
        memset(ones, 'i', sizeof ones);
        while (n > 0) {
            r = write(fd, ones, n < sizeof ones ? n : sizeof ones);
            if (r < 0)
                break;
            n -= (size_t)r;
        }
    }
    if (r < 0)
        crbd_log("writing the completion event fd %d failed (errno %d)", fd, errno);
}

/* On a receiver thread the fd writes of one burst of replies are summed per image and written
 * when the receiver is about to wait for more (crbd_completion_signal_flush): one syscall and
 * one wake-up of the poller per burst, not per completion. An owed write keeps the image busy
 * (inflight), so it cannot be closed under it. */
#define OWED_MAX 16
static __thread struct crbd_image *owed[OWED_MAX];
static __thread int nowed;

void crbd_completion_signal_flush(void)
{
    for (int i = 0; i < nowed; i++) {
        struct crbd_image *img = owed[i];
        pthread_mutex_lock(&img->lock);
        size_t n = img->unsignaled;
        int fd = img->event_fd, type = img->event_type;
        img->unsignaled = 0;
        pthread_mutex_unlock(&img->lock);
        if (fd >= 0)
            signal_fd(fd, type, n);
        crbd_image_idle_put(img, n);
    }
    nowed = 0;
}

static void notify_image(struct crbd_image *img, struct crbd_completion *c)
{
    int defer = crbd_conn_on_receiver();
    if (defer && nowed == OWED_MAX)
        crbd_completion_signal_flush();
    pthread_mutex_lock(&img->lock);
    int fd = img->event_fd, type = img->event_type;
    if (fd >= 0) {
        if (img->nevents == img->events_cap) {
            size_t cap = img->events_cap ? img->events_cap * 2 : 64;
            void *p = realloc(img->events, cap * sizeof *img->events);
            if (!p) {
                pthread_mutex_unlock(&img->lock);
                crbd_log("out of memory queueing a completion event; its poller will not see it");
                return;
            }
            img->events = p;
            img->events_cap = cap;
        }
        crbd_completion_ref(c);   /* the queue's reference, dropped by rbd_poll_io_events */
        img->events[img->nevents++] = c;
        if (defer) {
            if (img->unsignaled++ == 0)
                owed[nowed++] = img;
            atomic_fetch_add(&img->inflight, 1);
        }
    }
    pthread_mutex_unlock(&img->lock);
    if (fd >= 0 && !defer)
        signal_fd(fd, type, 1);
}

void crbd_completion_fire(struct crbd_completion *c, ssize_t ret, struct crbd_image *notify)
{
    crbd_completion_ref(c);   /* survive a release inside the callback */
    c->ret = ret;
    if (c->cb)
        c->cb(c, c->arg);
    pthread_mutex_lock(&c->lock);
    c->complete = 1;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    if (notify)
        notify_image(notify, c);
    crbd_completion_put(c);
}

ssize_t crbd_completion_wait(struct crbd_completion *c)
{
    pthread_mutex_lock(&c->lock);
    while (!c->complete)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
    return c->ret;
}

/* ---- exports ---- */

CRBD_API int rbd_aio_create_completion(void *cb_arg, rbd_callback_t complete_cb, rbd_completion_t *c)
{
    if (!c)
        return -EINVAL;
    struct crbd_completion *comp = crbd_completion_new(cb_arg, complete_cb);
    if (!comp)
        return -ENOMEM;
    *c = comp;
    return 0;
}

CRBD_API void rbd_aio_release(rbd_completion_t c)
{
    struct crbd_completion *comp = crbd_completion_get(c);
    if (comp)
        crbd_completion_put(comp);
}

CRBD_API ssize_t rbd_aio_get_return_value(rbd_completion_t c)
{
    struct crbd_completion *comp = crbd_completion_get(c);
    return comp ? comp->ret : -EINVAL;
}

CRBD_API void *rbd_aio_get_arg(rbd_completion_t c)
{
    struct crbd_completion *comp = crbd_completion_get(c);
    return comp ? comp->arg : NULL;
}

CRBD_API int rbd_aio_is_complete(rbd_completion_t c)
{
    struct crbd_completion *comp = crbd_completion_get(c);
    if (!comp)
        return -EINVAL;
    pthread_mutex_lock(&comp->lock);
    int done = comp->complete;
    pthread_mutex_unlock(&comp->lock);
    return done;
}

CRBD_API int rbd_aio_wait_for_complete(rbd_completion_t c)
{
    struct crbd_completion *comp = crbd_completion_get(c);
    if (!comp)
        return -EINVAL;
    crbd_completion_wait(comp);
    return 0;
}

/* rados completions share the object: same callback shape, cb_safe is never needed
 * because nothing is acknowledged before it is safe. */
CRBD_API int rados_aio_create_completion(void *cb_arg, rados_callback_t cb_complete, rados_callback_t cb_safe,
                                         rados_completion_t *pc)
{
    (void)cb_safe;
    return rbd_aio_create_completion(cb_arg, (rbd_callback_t)cb_complete, pc);
}

CRBD_API void rados_aio_release(rados_completion_t c) { rbd_aio_release(c); }
CRBD_API int rados_aio_is_complete(rados_completion_t c) { return rbd_aio_is_complete(c); }
CRBD_API int rados_aio_wait_for_complete(rados_completion_t c) { return rbd_aio_wait_for_complete(c); }
CRBD_API int rados_aio_get_return_value(rados_completion_t c) { return (int)rbd_aio_get_return_value(c); }
