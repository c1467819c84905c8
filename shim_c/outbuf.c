/* The caller's output buffers of librbd's calls (names, ids, specs): librbd's -ERANGE protocol,
 * and the empty answer every output gets on an error. */
#include "internal.h"

#include <string.h>

/* librbd's -ERANGE protocol: a caller's buffer of *len bytes gets s (with its NUL); -ERANGE with
 * *len = bytes needed if it does not fit (then an empty string, if there is room for one). */
int crbd_put_string(char *buf, size_t *len, const char *s)
{
    size_t need = strlen(s) + 1, have = *len;
    *len = need;
    if (!buf || have < need) {
        if (buf && have)
            buf[0] = 0;
        return -ERANGE;
    }
    memcpy(buf, s, need);
    return 0;
}

/* The empty answer of a (buf, *len) output: "" if there is room, length 0. */
void crbd_empty_string(char *buf, size_t *len)
{
    if (buf && len && *len)
        buf[0] = 0;
    if (len)
        *len = 0;
}

/* A caller's buffer of a fixed len bytes (no length output): s if it fits, else "" (if there is room)
 * and -ERANGE. */
int crbd_put_fixed(char *buf, size_t len, const char *s)
{
    size_t need = strlen(s) + 1;
    if (!buf || need > len) {
        if (buf && len)
            buf[0] = 0;
        return -ERANGE;
    }
    memcpy(buf, s, need);
    return 0;
}

void crbd_empty_fixed(char *buf, size_t len)
{
    if (buf && len)
        buf[0] = 0;
}
