/* The few bytes of baidu_std framing and proto2 the data path needs (the Python codec in
 * curverbd/nebd/ is the reference; field numbers from shared/reference/nebd-protocol.md):
 *   frame    = "PRPC" | be32 body_size | be32 meta_size | RpcMeta | payload | attachment
 *   RpcMeta  = 1 request{1 service_name, 2 method_name} | 4 correlation_id | 5 attachment_size
 *            | 2 response{1 error_code, 2 error_text}
 *   payload  = Read/Write/DiscardRequest{1 fd, 2 offset, 3 size} | FlushRequest{1 fd}
 *   reply    = 1 retCode (enum, -1 is a 10-byte varint) | 2 retMsg */
#include "internal.h"

#include <string.h>

#define WT_VARINT 0
#define WT_FIXED64 1
#define WT_LEN 2
#define WT_FIXED32 5

static const char SERVICE[] = "nebd.client.NebdFileService";
static const char *const METHOD[] = {
    [CRBD_NEBD_READ] = "Read", [CRBD_NEBD_WRITE] = "Write",
    [CRBD_NEBD_DISCARD] = "Discard", [CRBD_NEBD_FLUSH] = "Flush",
};

static char *put_varint(char *p, uint64_t v)
{
    while (v > 0x7f) {
        *p++ = (char)((v & 0x7f) | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

static char *put_key(char *p, unsigned field, unsigned wt) { return put_varint(p, (field << 3) | wt); }

static char *put_uint(char *p, unsigned field, uint64_t v)
{
    return put_varint(put_key(p, field, WT_VARINT), v);
}

static char *put_bytes(char *p, unsigned field, const char *s, size_t n)
{
    p = put_varint(put_key(p, field, WT_LEN), n);
    memcpy(p, s, n);
    return p + n;
}

static void put_be32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24); p[1] = (char)(v >> 16); p[2] = (char)(v >> 8); p[3] = (char)v;
}

size_t crbd_wire_request_head(char *buf, size_t cap, const struct crbd_req *req, uint64_t attachment)
{
    char inner[96], *q = inner;
    const char *method = METHOD[req->op];
    q = put_bytes(q, 1, SERVICE, sizeof SERVICE - 1);
    q = put_bytes(q, 2, method, strlen(method));

    char meta[160], *m = meta;
    m = put_bytes(m, 1, inner, (size_t)(q - inner));
    m = put_uint(m, 4, req->cid);
    if (attachment)
        m = put_uint(m, 5, attachment);

    char payload[48], *pl = payload;
    pl = put_uint(pl, 1, (uint64_t)(int64_t)req->fd);   /* int32: negative would sign-extend */
    if (req->op != CRBD_NEBD_FLUSH) {
        pl = put_uint(pl, 2, req->offset);
        pl = put_uint(pl, 3, req->size);
    }

    size_t meta_len = (size_t)(m - meta), payload_len = (size_t)(pl - payload);
    size_t head = 12 + meta_len + payload_len;
    if (head > cap)
        return 0;
    memcpy(buf, "PRPC", 4);
    put_be32(buf + 4, (uint32_t)(meta_len + payload_len + attachment));
    put_be32(buf + 8, (uint32_t)meta_len);
    memcpy(buf + 12, meta, meta_len);
    memcpy(buf + 12 + meta_len, payload, payload_len);
    return head;
}

/* ---- decoding ---- */

struct field { unsigned number, wt; uint64_t value; const unsigned char *data; size_t len; };

static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*p >= end)
            return -1;
        unsigned char b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* Next field of a message; 1 = got one, 0 = end, -1 = malformed. */
static int next_field(const unsigned char **p, const unsigned char *end, struct field *f)
{
    if (*p >= end)
        return 0;
    uint64_t key;
    if (get_varint(p, end, &key) < 0)
        return -1;
    f->number = (unsigned)(key >> 3);
    f->wt = (unsigned)(key & 7);
    switch (f->wt) {
    case WT_VARINT:
        return get_varint(p, end, &f->value) < 0 ? -1 : 1;
    case WT_FIXED64:
    case WT_FIXED32: {
        size_t n = f->wt == WT_FIXED64 ? 8 : 4;
        if ((size_t)(end - *p) < n)
            return -1;
        *p += n;
        return 1;
    }
    case WT_LEN:
        if (get_varint(p, end, &f->value) < 0 || f->value > (uint64_t)(end - *p))
            return -1;
        f->data = *p;
        f->len = (size_t)f->value;
        *p += f->len;
        return 1;
    default:
        return -1;
    }
}

int crbd_wire_decode_meta(const unsigned char *p, size_t n, struct crbd_reply *r)
{
    const unsigned char *end = p + n;
    struct field f;
    int rc;
    while ((rc = next_field(&p, end, &f)) > 0) {
        if (f.number == 4 && f.wt == WT_VARINT)
            r->cid = f.value;
        else if (f.number == 5 && f.wt == WT_VARINT)
            r->attachment_size = (uint32_t)f.value;
        else if (f.number == 2 && f.wt == WT_LEN) {
            const unsigned char *q = f.data, *qend = f.data + f.len;
            struct field g;
            while ((rc = next_field(&q, qend, &g)) > 0)
                if (g.number == 1 && g.wt == WT_VARINT)
                    r->error_code = (int32_t)(int64_t)g.value;
            if (rc < 0)
                return -1;
        }
    }
    return rc;
}

int crbd_wire_decode_payload(const unsigned char *p, size_t n, struct crbd_reply *r)
{
    const unsigned char *end = p + n;
    struct field f;
    int rc;
    r->ret_code = -1;   /* required: a reply without it is a failure */
    while ((rc = next_field(&p, end, &f)) > 0) {
        if (f.number == 1 && f.wt == WT_VARINT)
            r->ret_code = (int32_t)(int64_t)f.value;
        else if (f.number == 2 && f.wt == WT_LEN) {
            size_t m = f.len < sizeof r->ret_msg - 1 ? f.len : sizeof r->ret_msg - 1;
            memcpy(r->ret_msg, f.data, m);
            r->ret_msg[m] = 0;
        }
    }
    return rc;
}
