/* The data engine as the core drives it. The core's Image (Python) makes its C image here and
 * does every read and write through io.c, whichever face opened it: our Python rbd module, the
 * CLI, and the C ABI (rbd_open hands the same C image to its caller). So padding, range locks,
 * flush ordering, request cutting, resending after a daemon restart and encryption are written
 * once, in C. The core owns the image's state and pushes it here when it changes (the file
 * behind it, its size, read-only, encryption); the engine never asks for it per I/O. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- the data connections of one core Cluster (one nebd socket) ---- */

struct crbd_lanes {
    char *path;
    uint32_t busy_poll_us;      /* for its connections: conf curverbd_busy_poll_us */
    pthread_mutex_t lock;
    atomic_int refs;            /* the core Cluster's, and one per C image: the last one closes */
    struct crbd_conn *conn[CRBD_LANES];
};

int crbd_lanes_open(const char *path, uint32_t busy_poll_us, void **out)
{
    *out = NULL;
    struct crbd_lanes *l = calloc(1, sizeof *l);
    if (!l || !(l->path = strdup(path))) {
        free(l);
        return -ENOMEM;
    }
    l->busy_poll_us = busy_poll_us;
    pthread_mutex_init(&l->lock, NULL);
    atomic_init(&l->refs, 1);
    *out = l;
    return 0;
}

void crbd_lanes_close(void *lanes)
{
    struct crbd_lanes *l = lanes;
    if (!l || atomic_fetch_sub(&l->refs, 1) > 1)
        return;
    for (int i = 0; i < CRBD_LANES; i++)
        crbd_conn_close(l->conn[i]);
    pthread_mutex_destroy(&l->lock);
    free(l->path);
    free(l);
}

/* The connections, opened on first use (a client that only manages images opens none). */
static int lanes_get(struct crbd_lanes *l, struct crbd_conn *out[CRBD_LANES])
{
    int r = 0;
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < CRBD_LANES && r == 0; i++)
        if (!l->conn[i])
            r = crbd_conn_open(l->path, l->busy_poll_us, &l->conn[i]);
    memcpy(out, l->conn, sizeof l->conn);
    pthread_mutex_unlock(&l->lock);
    return r;
}

/* ---- images ---- */

int crbd_image_new(void *lanes, const struct crbd_open_info *info, int read_only, void **out)
{
    *out = NULL;
    struct crbd_image *img = calloc(1, sizeof *img);
    if (!img)
        return -ENOMEM;
    int r = lanes_get(lanes, img->lanes);
    if (r < 0) {
        free(img);
        return r;
    }
    pthread_mutex_init(&img->lock, NULL);
    pthread_cond_init(&img->idle, NULL);
    img->data = lanes;
    atomic_fetch_add(&img->data->refs, 1);
    img->py = info->handle;
    img->nebd_fd = info->nebd_fd;
    img->block_size = info->block_size ? info->block_size : 4096;
    atomic_init(&img->size, info->size);
    img->read_only = read_only;
    memcpy(img->block_name_prefix, info->block_name_prefix, sizeof img->block_name_prefix);
    img->block_name_prefix[sizeof img->block_name_prefix - 1] = 0;
    img->copy_writes = info->copy_writes;
    img->close_timeout_ms = info->close_timeout_ms;
    img->event_fd = -1;
    if (getenv("CURVERBD_TEST_DISABLE_RANGE_LOCK")) {
        img->no_range_lock = 1;
        crbd_log("CURVERBD_TEST_DISABLE_RANGE_LOCK: overlapping writes of this image may lose each other's bytes");
    }
    img->magic = CRBD_MAGIC_IMAGE;
    *out = img;
    return 0;
}

void crbd_image_free(void *image)
{
    struct crbd_image *img = image;
    if (!img)
        return;
    img->magic = CRBD_MAGIC_DEAD;
    for (size_t i = 0; i < img->nevents; i++)
        crbd_completion_put(img->events[i]);
    free(img->events);
    crbd_crypto_free(img->crypto);
    pthread_mutex_destroy(&img->lock);
    pthread_cond_destroy(&img->idle);
    crbd_lanes_close(img->data);
    free(img);
}

void crbd_image_set_file(void *image, int32_t nebd_fd, uint64_t size, int read_only)
{
    struct crbd_image *img = image;
    pthread_mutex_lock(&img->lock);
    img->nebd_fd = nebd_fd;
    atomic_store(&img->size, size);
    img->read_only = read_only;
    pthread_mutex_unlock(&img->lock);
}

void crbd_image_refuse(void *image, int errnum)
{
    struct crbd_image *img = image;
    pthread_mutex_lock(&img->lock);
    img->refuse = errnum;
    pthread_mutex_unlock(&img->lock);
}

/* The core loaded a LUKS key (formatted or opened the header): every I/O is encrypted from now on. */
int crbd_image_set_crypto(void *image, const struct crbd_crypto_info *info)
{
    struct crbd_image *img = image;
    struct crbd_crypto *crypto = NULL;
    if (!info->sector_size || img->block_size % info->sector_size) {
        crbd_log("encryption: sector size %u does not divide the volume's block size %u", info->sector_size,
                 img->block_size);
        return -EINVAL;
    }
    int r = crbd_crypto_new(info->key, info->key_len, info->sector_size, info->data_offset, &crypto);
    if (r < 0)
        return r;
    pthread_mutex_lock(&img->lock);
    struct crbd_crypto *old = img->crypto;
    img->crypto = crypto;
    pthread_mutex_unlock(&img->lock);
    crbd_crypto_free(old);
    return 0;
}

void crbd_image_set_size(void *image, uint64_t size)
{
    atomic_store(&((struct crbd_image *)image)->size, size);
}

int crbd_image_wait_idle(void *image, unsigned timeout_ms)
{
    return crbd_io_wait_idle_for(image, timeout_ms);
}

/* ---- I/O for the core ---- */

/* Set when the interpreter that drives the engine exits (crbd_engine_python_exit): completions
 * still arriving then are dropped instead of calling into a Python that is being torn down. */
static atomic_int python_gone;

void crbd_engine_python_exit(void)
{
    atomic_store(&python_gone, 1);
}

/* Completions of the core's aio calls go to crbd_py_io_done with the core's token. */
static void io_done(rbd_completion_t c, void *token)
{
    if (atomic_load(&python_gone))
        return;
    struct crbd_completion *comp = crbd_completion_get(c);
    crbd_py_io_done((uint64_t)(uintptr_t)token, comp ? (int64_t)comp->ret : -EIO);
}

int crbd_image_submit(void *image, int kind, uint64_t off, uint64_t len, char *buf, uint64_t token, int copy)
{
    struct crbd_image *img = crbd_image_get(image);
    if (!img || kind < CRBD_OP_READ || kind > CRBD_OP_FLUSH)
        return -EINVAL;
    struct crbd_completion *comp = crbd_completion_new((void *)(uintptr_t)token, io_done);
    if (!comp)
        return -ENOMEM;
    struct iovec v = { buf, len };
    int has_data = kind == CRBD_OP_READ || kind == CRBD_OP_WRITE;
    int r = crbd_io_submit(img, kind, off, len, has_data ? &v : NULL, has_data ? 1 : 0, comp,
                           kind == CRBD_OP_WRITE && copy ? CRBD_IO_COPY : 0);
    crbd_completion_put(comp);   /* the op holds its own reference until the callback ran */
    return r;
}

/* A synchronous call: the bytes read, the clipped length written (discarded, zeroed), 0 for a
 * flush, or -errno (crbd_io_sync). */
int64_t crbd_image_sync(void *image, int kind, uint64_t off, uint64_t len, char *buf)
{
    if (kind < CRBD_OP_READ || kind > CRBD_OP_FLUSH)
        return -EINVAL;
    struct iovec v = { buf, len };
    int has_data = kind == CRBD_OP_READ || kind == CRBD_OP_WRITE;
    return crbd_io_sync(crbd_image_get(image), kind, off, len, has_data ? &v : NULL, has_data ? 1 : 0);
}
