/* rados_mon_command: the monitor commands OpenStack sends (cinder's capacity report: "df",
 * "osd pool get-quota"), answered by the core in Ceph's JSON shapes (curverbd/core/monitor.py).
 * Output buffers are malloc'ed; the caller frees them with rados_buffer_free. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Hand a blob to the caller's out-pointers (or free it if the caller did not ask for it). */
static void give(struct crbd_blob *blob, char **buf, size_t *len)
{
    if (buf) {
        *buf = blob->data;
        blob->data = NULL;
    }
    if (len)
        *len = blob->len;
    free(blob->data);
}

CRBD_API int rados_mon_command(rados_t cluster, const char **cmd, size_t cmdlen, const char *inbuf,
                               size_t inbuflen, char **outbuf, size_t *outbuflen, char **outs, size_t *outslen)
{
    (void)inbuf;
    (void)inbuflen;   /* none of the commands answered takes input */
    struct crbd_cluster *c = crbd_cluster_get(cluster);
    if (!c || (!cmd && cmdlen))
        return -EINVAL;
    if (!c->connected)
        return -ENOTCONN;
    size_t total = 1;   /* librados takes the command as pieces of one JSON text */
    for (size_t i = 0; i < cmdlen; i++)
        total += cmd[i] ? strlen(cmd[i]) : 0;
    char *joined = malloc(total);
    if (!joined)
        return -ENOMEM;
    joined[0] = 0;
    for (size_t i = 0; i < cmdlen; i++)
        if (cmd[i])
            strcat(joined, cmd[i]);
    struct crbd_blob out = { 0 }, status = { 0 };
    int r = crbd_py_mon_command(c->py, joined, &out, &status);
    free(joined);
    give(&out, outbuf, outbuflen);
    give(&status, outs, outslen);
    return r;
}

CRBD_API void rados_buffer_free(char *buf)
{
    free(buf);
}
