/* The nebd wire format in C: the one copy both C sides include (the client library's
 * shim_c/nebd_wire.c and the daemon's frame loop curverbd/server/_fastloop.c), so the two ends of
 * the data path cannot drift apart. The Python codec next to this file (framing.py, protobuf.py,
 * messages.py) is the reference; tests/test_wire_header.py checks that the constants
 * both languages state agree. Field numbers: shared/reference/nebd-protocol.md.
 *
 *   frame    = "PRPC" | be32 body_size | be32 meta_size | RpcMeta | payload | attachment
 *              (body_size counts RpcMeta, payload and attachment)
 *   RpcMeta  = 1 request{1 service_name, 2 method_name} | 2 response{1 error_code, 2 error_text}
 *            | 3 compress_type | 4 correlation_id | 5 attachment_size
 *   payload  = Read/Write/DiscardRequest{1 fd, 2 offset, 3 size} | FlushRequest{1 fd}
 *   reply    = 1 retCode (enum: -1 is a 10-byte varint) | 2 retMsg
 *
 * Everything here is static inline: each side compiles the part it uses (it ships in the wheel
 * as package data, so the daemon can build its frame loop from an installed package). */
#ifndef CURVERBD_NEBD_WIRE_H
#define CURVERBD_NEBD_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- limits ---- */
#define NEBD_HEAD_SIZE 12               /* magic + body size + meta size */
#define NEBD_MAX_BODY (64u << 20)       /* brpc's max_body_size; framing.MAX_BODY */
/* Longest request head nebd_request_head writes: 12 + RpcMeta (request 2 + 38, cid 11,
 * attachment 11) + payload (fd, offset, size: 11 each; fd is sign-extended to 10 bytes). */
#define NEBD_REQUEST_HEAD_MAX (NEBD_HEAD_SIZE + 62 + 33)
/* Longest kOK reply head nebd_reply_head writes: 12 + RpcMeta (response 4, cid 11,
 * attachment 6) + payload (retCode 0: 2). */
#define NEBD_REPLY_HEAD_MAX (NEBD_HEAD_SIZE + 21 + 2)

/* ---- names ---- */
#define NEBD_FILE_SERVICE "nebd.client.NebdFileService"   /* messages.FILE_SERVICE */
/* The file service's data methods. The client's enum crbd_nebd_op has the same order
 * (nebd_wire.c checks it at compile time). */
enum nebd_method { NEBD_READ, NEBD_WRITE, NEBD_DISCARD, NEBD_FLUSH, NEBD_NO_METHOD = -1 };

static inline const char *nebd_method_name(int m)
{
    switch (m) {
    case NEBD_READ: return "Read";
    case NEBD_WRITE: return "Write";
    case NEBD_DISCARD: return "Discard";
    case NEBD_FLUSH: return "Flush";
    default: return "?";
    }
}

/* The data method named by s[0..n), or NEBD_NO_METHOD. */
static inline int nebd_method_of(const unsigned char *s, uint64_t n)
{
    for (int m = NEBD_READ; m <= NEBD_FLUSH; m++) {
        const char *name = nebd_method_name(m);
        if (n == strlen(name) && !memcmp(s, name, (size_t)n))
            return m;
    }
    return NEBD_NO_METHOD;
}

/* ---- field numbers ---- */
enum {
    NEBD_META_REQUEST = 1, NEBD_META_RESPONSE = 2, NEBD_META_COMPRESS = 3,   /* RpcMeta */
    NEBD_META_CID = 4, NEBD_META_ATTACHMENT = 5,
    NEBD_REQ_SERVICE = 1, NEBD_REQ_METHOD = 2,                               /* RpcRequestMeta */
    NEBD_RESP_ERROR_CODE = 1, NEBD_RESP_ERROR_TEXT = 2,                      /* RpcResponseMeta */
    NEBD_IO_FD = 1, NEBD_IO_OFFSET = 2, NEBD_IO_SIZE = 3,                    /* *Request */
    NEBD_RET_CODE = 1, NEBD_RET_MSG = 2,                                     /* *Response */
};

enum { NEBD_WT_VARINT = 0, NEBD_WT_FIXED64 = 1, NEBD_WT_LEN = 2, NEBD_WT_FIXED32 = 5 };

/* ---- encoding ---- */
static inline unsigned char *nebd_put_varint(unsigned char *p, uint64_t v)
{
    while (v > 0x7f) {
        *p++ = (unsigned char)((v & 0x7f) | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

static inline unsigned char *nebd_put_key(unsigned char *p, unsigned field, unsigned wt)
{
    return nebd_put_varint(p, (uint64_t)field << 3 | wt);
}

static inline unsigned char *nebd_put_uint(unsigned char *p, unsigned field, uint64_t v)
{
    return nebd_put_varint(nebd_put_key(p, field, NEBD_WT_VARINT), v);
}

static inline unsigned char *nebd_put_bytes(unsigned char *p, unsigned field, const void *s, size_t n)
{
    p = nebd_put_varint(nebd_put_key(p, field, NEBD_WT_LEN), n);
    memcpy(p, s, n);
    return p + n;
}

static inline void nebd_put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

static inline void nebd_put_frame_head(unsigned char *p, uint32_t body, uint32_t meta)
{
    memcpy(p, "PRPC", 4);
    nebd_put_be32(p + 4, body);
    nebd_put_be32(p + 8, meta);
}

/* The head of a data request (frame head, RpcMeta, payload; the attachment of `attachment`
 * bytes follows it on the wire) into buf; its length, or 0 if cap < NEBD_REQUEST_HEAD_MAX.
 * Flush carries only the fd. */
static inline size_t nebd_request_head(unsigned char *buf, size_t cap, int method, uint64_t cid,
                                       int32_t fd, uint64_t offset, uint64_t size, uint64_t attachment)
{
    if (cap < NEBD_REQUEST_HEAD_MAX)
        return 0;
    static const char service[] = NEBD_FILE_SERVICE;
    const char *name = nebd_method_name(method);
    size_t name_len = strlen(name);
    unsigned char *meta = buf + NEBD_HEAD_SIZE, *p = meta;
    /* RpcRequestMeta is < 128 bytes: its length is one varint byte */
    p = nebd_put_key(p, NEBD_META_REQUEST, NEBD_WT_LEN);
    *p++ = (unsigned char)(2 + sizeof service - 1 + 2 + name_len);
    p = nebd_put_bytes(p, NEBD_REQ_SERVICE, service, sizeof service - 1);
    p = nebd_put_bytes(p, NEBD_REQ_METHOD, name, name_len);
    p = nebd_put_uint(p, NEBD_META_CID, cid);
    if (attachment)
        p = nebd_put_uint(p, NEBD_META_ATTACHMENT, attachment);
    uint32_t meta_len = (uint32_t)(p - meta);
    p = nebd_put_uint(p, NEBD_IO_FD, (uint64_t)(int64_t)fd);   /* int32: negative sign-extends */
    if (method != NEBD_FLUSH) {
        p = nebd_put_uint(p, NEBD_IO_OFFSET, offset);
        p = nebd_put_uint(p, NEBD_IO_SIZE, size);
    }
    size_t head = (size_t)(p - buf);
    nebd_put_frame_head(buf, (uint32_t)(head - NEBD_HEAD_SIZE + attachment), meta_len);
    return head;
}

/* The head of a kOK reply (RpcMeta{response{error_code 0}, correlation_id, attachment_size},
 * payload {retCode 0}; `attachment` bytes of data follow it) into out, which has room for
 * NEBD_REPLY_HEAD_MAX; its length. */
static inline size_t nebd_reply_head(unsigned char *out, uint64_t cid, uint32_t attachment)
{
    unsigned char *meta = out + NEBD_HEAD_SIZE, *p = meta;
    p = nebd_put_key(p, NEBD_META_RESPONSE, NEBD_WT_LEN);
    *p++ = 2;
    p = nebd_put_uint(p, NEBD_RESP_ERROR_CODE, 0);
    p = nebd_put_uint(p, NEBD_META_CID, cid);
    if (attachment)
        p = nebd_put_uint(p, NEBD_META_ATTACHMENT, attachment);
    uint32_t meta_len = (uint32_t)(p - meta);
    p = nebd_put_uint(p, NEBD_RET_CODE, 0);
    nebd_put_frame_head(out, meta_len + 2 + attachment, meta_len);
    return (size_t)(p - out);
}

/* ---- decoding ---- */
static inline uint32_t nebd_get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A frame head's body and meta sizes: 0, or -1 if it is not one (bad magic, meta > body).
 * The body limit is the caller's: the daemon refuses NEBD_MAX_BODY, the client its own. */
static inline int nebd_frame_head(const unsigned char *h, uint32_t *body, uint32_t *meta)
{
    *body = nebd_get_be32(h + 4);
    *meta = nebd_get_be32(h + 8);
    return memcmp(h, "PRPC", 4) || *meta > *body ? -1 : 0;
}

/* A varint at *p (advanced past it): 0, or -1 if truncated or longer than 10 bytes. */
static inline int nebd_get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
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

/* One field of a message: a varint's value, or a length-delimited field's bytes (data, len;
 * value is the length too). Fixed-size fields are skipped over (number and wt only). */
struct nebd_field { unsigned number, wt; uint64_t value; const unsigned char *data; size_t len; };

/* The next field of the message in [*p, end): 1 = got one, 0 = end, -1 = malformed (truncated,
 * field number 0 or a group / unknown wire type, which the Python codec refuses too). */
static inline int nebd_next_field(const unsigned char **p, const unsigned char *end, struct nebd_field *f)
{
    if (*p >= end)
        return 0;
    uint64_t key;
    if (nebd_get_varint(p, end, &key) < 0 || (key >> 3) == 0)
        return -1;
    f->number = (unsigned)(key >> 3);
    f->wt = (unsigned)(key & 7);
    switch (f->wt) {
    case NEBD_WT_VARINT:
        return nebd_get_varint(p, end, &f->value) < 0 ? -1 : 1;
    case NEBD_WT_FIXED64:
    case NEBD_WT_FIXED32: {
        size_t n = f->wt == NEBD_WT_FIXED64 ? 8 : 4;
        if ((size_t)(end - *p) < n)
            return -1;
        *p += n;
        return 1;
    }
    case NEBD_WT_LEN:
        if (nebd_get_varint(p, end, &f->value) < 0 || f->value > (uint64_t)(end - *p))
            return -1;
        f->data = *p;
        f->len = (size_t)f->value;
        *p += f->len;
        return 1;
    default:
        return -1;
    }
}

#endif
