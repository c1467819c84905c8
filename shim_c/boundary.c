/* C helpers called by the Python control plane (declared in cdef.h). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Copy Python bytes into a malloc'ed, NUL-terminated buffer the C caller frees. */
int crbd_blob_set(struct crbd_blob *blob, const char *data, size_t len)
{
    char *p = malloc(len + 1);
    if (!p)
        return -ENOMEM;
    memcpy(p, data, len);
    p[len] = 0;
    free(blob->data);
    blob->data = p;
    blob->len = len;
    return 0;
}
