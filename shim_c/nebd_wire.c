/* The client's side of the nebd wire format: its request heads and the replies it reads, in
 * terms of struct crbd_req / crbd_reply. The format itself (varints, fields, heads, names,
 * limits) is curverbd/nebd/nebd_wire.h, shared with the daemon's frame loop. */
#include "internal.h"
#include "nebd_wire.h"

#include <string.h>

/* req->op goes on the wire as a nebd_method: the two enums must agree */
_Static_assert((int)CRBD_NEBD_READ == NEBD_READ && (int)CRBD_NEBD_WRITE == NEBD_WRITE &&
               (int)CRBD_NEBD_DISCARD == NEBD_DISCARD && (int)CRBD_NEBD_FLUSH == NEBD_FLUSH,
               "enum crbd_nebd_op and enum nebd_method differ");
/* the largest request we send, with its head, is a frame the daemon accepts */
_Static_assert(CRBD_MAX_CHUNK + NEBD_REQUEST_HEAD_MAX <= NEBD_MAX_BODY,
               "CRBD_MAX_CHUNK exceeds nebd's body limit");

size_t crbd_wire_request_head(char *buf, size_t cap, const struct crbd_req *req, uint64_t attachment)
{
    return nebd_request_head((unsigned char *)buf, cap, req->op, req->cid, req->fd, req->offset,
                             req->size, attachment);
}

int crbd_wire_decode_meta(const unsigned char *p, size_t n, struct crbd_reply *r)
{
    const unsigned char *end = p + n;
    struct nebd_field f;
    int rc;
    while ((rc = nebd_next_field(&p, end, &f)) > 0) {
        if (f.number == NEBD_META_CID && f.wt == NEBD_WT_VARINT)
            r->cid = f.value;
        else if (f.number == NEBD_META_ATTACHMENT && f.wt == NEBD_WT_VARINT)
            r->attachment_size = (uint32_t)f.value;
        else if (f.number == NEBD_META_RESPONSE && f.wt == NEBD_WT_LEN) {
            const unsigned char *q = f.data, *qend = f.data + f.len;
            struct nebd_field g;
            while ((rc = nebd_next_field(&q, qend, &g)) > 0)
                if (g.number == NEBD_RESP_ERROR_CODE && g.wt == NEBD_WT_VARINT)
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
    struct nebd_field f;
    int rc;
    r->ret_code = -1;   /* required: a reply without it is a failure */
    while ((rc = nebd_next_field(&p, end, &f)) > 0) {
        if (f.number == NEBD_RET_CODE && f.wt == NEBD_WT_VARINT)
            r->ret_code = (int32_t)(int64_t)f.value;
        else if (f.number == NEBD_RET_MSG && f.wt == NEBD_WT_LEN) {
            size_t m = f.len < sizeof r->ret_msg - 1 ? f.len : sizeof r->ret_msg - 1;
            memcpy(r->ret_msg, f.data, m);
            r->ret_msg[m] = 0;
        }
    }
    return rc;
}
