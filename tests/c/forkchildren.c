/* Fork test client for tests/test_fork_capi.py: the parent opens an image through librbd and
 * forks children; each child makes its own cluster handle, opens the image, writes and reads back
 * its own range, and closes. Mode "busy": a parent thread keeps doing I/O while the forks happen.
 * Mode "stale": each child first uses the parent's image, which must fail with a negative errno
 * and never hang. Exit status 0 when every child exited 0. Prototypes are declared here (facts of
 * the librados/librbd ABI), no headers needed. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void *rados_t;
typedef void *rados_ioctx_t;
typedef void *rbd_image_t;
int rados_create(rados_t *cluster, const char *id);
int rados_connect(rados_t cluster);
void rados_shutdown(rados_t cluster);
int rados_ioctx_create(rados_t cluster, const char *pool, rados_ioctx_t *io);
void rados_ioctx_destroy(rados_ioctx_t io);
int rbd_open(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap);
int rbd_close(rbd_image_t image);
ssize_t rbd_read(rbd_image_t image, uint64_t off, size_t len, char *buf);
ssize_t rbd_write(rbd_image_t image, uint64_t off, size_t len, const char *buf);

#define AREA 65536
#define LEN 10000   /* unaligned length at an unaligned offset */

static const char *pool, *name;
static volatile int stop;

static int open_image(rados_t *c, rados_ioctx_t *io, rbd_image_t *img)
{
    int r;
    if ((r = rados_create(c, "admin")) < 0 || (r = rados_connect(*c)) < 0 ||
        (r = rados_ioctx_create(*c, pool, io)) < 0 || (r = rbd_open(*io, name, img, NULL)) < 0)
        return r;
    return 0;
}

static void fill(char *buf, int id)
{
    for (int i = 0; i < LEN; i++)
        buf[i] = (char)(id * 31 + i * 7 + 1);
}

static int child(int id, rbd_image_t parent_img, int stale)
{
    alarm(60);   /* a deadlock ends as SIGALRM, seen by the parent */
    char buf[LEN], back[LEN];
    if (stale) {
        ssize_t w = rbd_write(parent_img, 0, 4, "x");
        if (w >= 0) {
            fprintf(stderr, "child %d: the parent's image was usable (%zd)\n", id, w);
            return 10;
        }
        rbd_close(parent_img);
    }
    rados_t c;
    rados_ioctx_t io;
    rbd_image_t img;
    int r = open_image(&c, &io, &img);
    if (r < 0) {
        fprintf(stderr, "child %d: open failed: %d\n", id, r);
        return 11;
    }
    fill(buf, id);
    uint64_t off = (uint64_t)(id + 1) * AREA + 777;
    if (rbd_write(img, off, LEN, buf) != LEN || rbd_read(img, off, LEN, back) != LEN ||
        memcmp(buf, back, LEN) != 0) {
        fprintf(stderr, "child %d: write/read back failed\n", id);
        return 12;
    }
    if ((r = rbd_close(img)) < 0) {
        fprintf(stderr, "child %d: close failed: %d\n", id, r);
        return 13;
    }
    rados_ioctx_destroy(io);
    rados_shutdown(c);
    return 0;
}

static void *busy(void *arg)
{
    rbd_image_t img = arg;
    char buf[8192];
    memset(buf, 0x5a, sizeof buf);
    while (!stop)
        if (rbd_write(img, 100, sizeof buf, buf) != sizeof buf || rbd_read(img, 100, sizeof buf, buf) != sizeof buf)
            fprintf(stderr, "parent: busy I/O failed\n");
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s pool image children busy|stale\n", argv[0]);
        return 2;
    }
    pool = argv[1];
    name = argv[2];
    int n = atoi(argv[3]), stale = strcmp(argv[4], "stale") == 0;
    rados_t c;
    rados_ioctx_t io;
    rbd_image_t img;
    int r = open_image(&c, &io, &img);
    if (r < 0) {
        fprintf(stderr, "parent: open failed: %d\n", r);
        return 3;
    }
    pthread_t t;
    if (!stale)
        pthread_create(&t, NULL, busy, img);
    pid_t pids[64];
    for (int i = 0; i < n && i < 64; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            _exit(child(i, img, stale));
    }
    int failed = 0;
    for (int i = 0; i < n && i < 64; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "child %d: %s %d\n", i, WIFSIGNALED(status) ? "killed by signal" : "exit",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            failed++;
        }
    }
    stop = 1;
    if (!stale)
        pthread_join(t, NULL);
    /* the parent's image still works, and sees what every child wrote */
    char buf[LEN], back[LEN];
    for (int i = 0; i < n && !failed; i++) {
        fill(buf, i);
        if (rbd_read(img, (uint64_t)(i + 1) * AREA + 777, LEN, back) != LEN || memcmp(buf, back, LEN) != 0) {
            fprintf(stderr, "parent: child %d's data not there\n", i);
            failed++;
        }
    }
    if (rbd_close(img) < 0)
        failed++;
    rados_ioctx_destroy(io);
    rados_shutdown(c);
    printf("%d children, %d failed\n", n, failed);
    return failed ? 1 : 0;
}
