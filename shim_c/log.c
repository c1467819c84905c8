/* The client log: one append-only file shared by C and the embedded Python (which writes
 * through crbd_log_write). Never stdout or stderr: those belong to QEMU / fio.
 * Path: crbd_log_set_path() (conf key log_file), else $CURVERBD_LOG, else the default. */
#include "internal.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#define CRBD_DEFAULT_LOG "/tmp/curverbd-client.log"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;

static int log_open(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static int log_fd_locked(void)
{
    if (log_fd < 0) {
        const char *path = getenv("CURVERBD_LOG");
        log_fd = log_open(path && *path ? path : CRBD_DEFAULT_LOG);
    }
    return log_fd;
}

int crbd_log_set_path(const char *path)
{
    int fd = log_open(path);
    if (fd < 0)
        return -errno;
    pthread_mutex_lock(&log_lock);
    if (log_fd >= 0)
        close(log_fd);
    log_fd = fd;
    pthread_mutex_unlock(&log_lock);
    return 0;
}

/* Held across fork() (embed.c's hooks) so a child never inherits it locked by a thread it lacks. */
void crbd_log_fork_prepare(void)
{
    pthread_mutex_lock(&log_lock);
}

void crbd_log_fork_after(void)
{
    pthread_mutex_unlock(&log_lock);
}

void crbd_log_write(const char *line, size_t len)
{
    pthread_mutex_lock(&log_lock);
    int fd = log_fd_locked();
    if (fd >= 0) {
        ssize_t n = write(fd, line, len);
        (void)n;   /* nowhere left to report a failing log */
    }
    pthread_mutex_unlock(&log_lock);
}

void crbd_log(const char *fmt, ...)
{
    char line[1024];
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02d %02d:%02d:%02d.%03d %d/%ld C: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), (int)getpid(), (long)syscall(SYS_gettid));
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    crbd_log_write(line, n);
}
