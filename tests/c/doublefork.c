/* libvirtd's pattern: the first librados call (which starts the embedded Python) runs on one
 * thread, a fork happens on another, and the child forks again (to exec QEMU). Exit 0 if every
 * process survives; the grandchild also makes its own cluster. */
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void *rados_t;
int rados_create(rados_t *cluster, const char *id);
int rados_connect(rados_t cluster);
void rados_shutdown(rados_t cluster);

static void *first_call(void *arg)
{
    (void)arg;
    rados_t c;
    if (rados_create(&c, NULL) < 0 || rados_connect(c) < 0)
        return (void *)1;
    rados_shutdown(c);
    return NULL;
}

static int wait_ok(pid_t pid)
{
    int status;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void)
{
    pthread_t t;
    void *r;
    pthread_create(&t, NULL, first_call, NULL);
    pthread_join(t, &r);
    if (r)
        return 2;
    pid_t child = fork();
    if (child == 0) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            rados_t c;
            _exit(rados_create(&c, NULL) < 0 || rados_connect(c) < 0 ? 4 : 0);
        }
        _exit(wait_ok(grandchild) ? 0 : 3);
    }
    if (!wait_ok(child)) {
        printf("child or grandchild died\n");
        return 1;
    }
    printf("ok\n");
    return 0;
}
