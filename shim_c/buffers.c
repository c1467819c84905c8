/* Reused buffers for the copies of big aio writes.
 * librbd copies an aio write's data at submission. A fresh malloc of 1 MiB is a fresh mmap:
 * the kernel zeroes and faults in 256 pages, then unmaps them at free -- measured (perf, fio
 * 1 MiB writes at QD8) at twice the cost of the copy itself. Freed buffers are kept here by size
 * class, up to CACHE_MAX bytes in all, so a steady stream copies into warm memory.
 * A buffer is handed back only when its op is done: its last request was answered, so the
 * daemon has consumed any pages the socket referenced (nebd_splice.c). */
#include "internal.h"

#include <stdlib.h>

#define CLASS_MIN_SHIFT 17                  /* 128 KiB: copies up to 64 KiB live inline in their op */
#define CLASS_MAX_SHIFT 22                  /* 4 MiB, CRBD_MAX_CHUNK */
#define CLASSES (CLASS_MAX_SHIFT - CLASS_MIN_SHIFT + 1)
#define CACHE_MAX (32u << 20)               /* bytes kept: QD32 of 1 MiB writes */

struct spare { struct spare *next; };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct spare *spares[CLASSES];
static size_t cached;

/* The class of a buffer of len bytes, or -1 when it is too big to keep. */
static int class_of(size_t len)
{
    int c = 0;
    while (c < CLASSES && ((size_t)1 << (CLASS_MIN_SHIFT + c)) < len)
        c++;
    return c < CLASSES ? c : -1;
}

void *crbd_buffer_take(size_t len)
{
    int c = class_of(len);
    if (c < 0)
        return malloc(len);
    pthread_mutex_lock(&lock);
    struct spare *s = spares[c];
    if (s) {
        spares[c] = s->next;
        cached -= (size_t)1 << (CLASS_MIN_SHIFT + c);
    }
    pthread_mutex_unlock(&lock);
    return s ? (void *)s : malloc((size_t)1 << (CLASS_MIN_SHIFT + c));
}

void crbd_buffer_give(void *buf, size_t len)
{
    int c = class_of(len);
    if (!buf)
        return;
    if (c >= 0) {
        size_t size = (size_t)1 << (CLASS_MIN_SHIFT + c);
        pthread_mutex_lock(&lock);
        int keep = cached + size <= CACHE_MAX;
        if (keep) {
            struct spare *s = buf;
            s->next = spares[c];
            spares[c] = s;
            cached += size;
        }
        pthread_mutex_unlock(&lock);
        if (keep)
            return;
    }
    free(buf);
}

void crbd_buffers_fork_child(void)
{
    /* another thread may have held the lock at fork(); it does not exist in the child */
    pthread_mutex_init(&lock, NULL);
}
