/* The byte strings crossing the boundary: crbd_blob_set is called by the Python control plane
 * (declared in cdef.h); the readers below walk what it handed over (declared in internal.h). */
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

/* How many records of `fields` NUL-terminated strings each the blob holds. */
size_t crbd_blob_records(const struct crbd_blob *blob, size_t fields)
{
    size_t strings = 0;
    for (size_t i = 0; i < blob->len; i++)
        strings += blob->data[i] == 0;
    return strings / fields;
}

/* The string at *p; *p moves on to the next one. */
const char *crbd_blob_next(const char **p)
{
    const char *s = *p;
    *p += strlen(s) + 1;
    return s;
}
