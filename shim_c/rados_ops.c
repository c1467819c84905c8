/* librados' compound object operations (rados_write_op_* / rados_read_op_*), object omap, object
 * listing, and the single-step calls built on the same path (writesame, cmpext, object locks).
 *
 * A C op only records its steps (encoded as below) and the caller's output pointers; operate hands the
 * encoding to the core in one call (crbd_py_object_operate -> core/object_ops.py), which applies a write
 * op as one etcd transaction, and reads back each step's result. Every output pointer a step names
 * (prval, omap iterator, pmore) is set when the step is added (0 / an empty iterator) and again when the
 * op runs, whatever the outcome.
 *
 * Step encoding (capi/object_calls.py decodes it): u32 kind (enum crbd_op_step), u32 flags, u64 a, b, c,
 * u32 nbufs, then nbufs x (u32 len, bytes). Result encoding: i32 rc, then per step i32 rval, u8 more,
 * u32 count, count x (u32 klen, key, u32 vlen, value). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define CRBD_OP_MAGIC_WRITE 0x6f707772u
#define CRBD_OP_MAGIC_READ  0x6f707264u

struct crbd_omap_iter {
    size_t n, pos;
    char **keys, **vals;
    size_t *lens;
    char *store;
};

struct crbd_step_out {
    int *prval;
    struct crbd_omap_iter *iter;
    unsigned char *pmore;
};

struct crbd_rados_op {
    uint32_t magic;
    char *buf;
    size_t len, cap;
    size_t nsteps, last_flags;      /* last_flags: offset of the last step's flags field */
    struct crbd_step_out *outs;
    size_t outs_cap;
    int err;                        /* -ENOMEM while building, -EOPNOTSUPP for a class method step */
};

static struct crbd_rados_op *op_new(uint32_t magic)
{
    struct crbd_rados_op *op = calloc(1, sizeof *op);
    if (op)
        op->magic = magic;
    return op;
}

static struct crbd_rados_op *op_get(void *p, uint32_t magic)
{
    struct crbd_rados_op *op = p;
    return op && op->magic == magic ? op : NULL;
}

static void op_free(struct crbd_rados_op *op)
{
    if (!op)
        return;
    op->magic = 0;
    free(op->buf);
    free(op->outs);
    free(op);
}

static int put(struct crbd_rados_op *op, const void *data, size_t n)
{
    if (op->err)
        return op->err;
    if (op->len + n > op->cap) {
        size_t cap = op->cap ? op->cap : 256;
        while (cap < op->len + n)
            cap *= 2;
        char *b = realloc(op->buf, cap);
        if (!b)
            return op->err = -ENOMEM;
        op->buf = b;
        op->cap = cap;
    }
    if (n)
        memcpy(op->buf + op->len, data, n);
    op->len += n;
    return 0;
}

/* Add one step: its kind, numbers, buffers (bufs[i] of lens[i] bytes), and the caller's outputs. */
static void add_step(struct crbd_rados_op *op, uint32_t kind, uint64_t a, uint64_t b, uint64_t c, uint32_t nbufs,
                     const char *const *bufs, const size_t *lens, int *prval, struct crbd_omap_iter *iter,
                     unsigned char *pmore)
{
    if (prval)
        *prval = 0;
    if (pmore)
        *pmore = 0;
    if (!op)
        return;
    if (op->nsteps == op->outs_cap) {
        size_t cap = op->outs_cap ? op->outs_cap * 2 : 8;
        struct crbd_step_out *o = realloc(op->outs, cap * sizeof *o);
        if (!o) {
            op->err = -ENOMEM;
            return;
        }
        op->outs = o;
        op->outs_cap = cap;
    }
    uint32_t flags = 0;
    size_t at = op->len;
    put(op, &kind, 4);
    put(op, &flags, 4);
    put(op, &a, 8);
    put(op, &b, 8);
    put(op, &c, 8);
    put(op, &nbufs, 4);
    for (uint32_t i = 0; i < nbufs; i++) {
        uint32_t n = (uint32_t)lens[i];
        put(op, &n, 4);
        put(op, bufs[i] ? bufs[i] : "", bufs[i] ? lens[i] : 0);
    }
    if (op->err)
        return;
    op->last_flags = at + 4;
    op->outs[op->nsteps++] = (struct crbd_step_out){ prval, iter, pmore };
}

static void add_simple(struct crbd_rados_op *op, uint32_t kind, uint64_t a, uint64_t b, const char *buf,
                       size_t len)
{
    const char *bufs[1] = { buf };
    size_t lens[1] = { buf ? len : 0 };
    add_step(op, kind, a, b, 0, buf ? 1 : 0, bufs, lens, NULL, NULL, NULL);
}

static void set_last_flags(struct crbd_rados_op *op, int flags)
{
    if (op && op->nsteps && !op->err) {
        uint32_t f = (uint32_t)flags;
        memcpy(op->buf + op->last_flags, &f, 4);
    }
}

/* ---- omap iterators ---- */

static struct crbd_omap_iter *iter_new(rados_omap_iter_t *iter)
{
    struct crbd_omap_iter *it = iter ? calloc(1, sizeof *it) : NULL;
    if (iter)
        *iter = it;
    return it;
}

static void iter_clear(struct crbd_omap_iter *it)
{
    free(it->keys);
    free(it->vals);
    free(it->lens);
    free(it->store);
    memset(it, 0, sizeof *it);
}

/* Fill from count entries of the result at *p (bounds end): key\0 value\0 each in one store. */
static int iter_fill(struct crbd_omap_iter *it, const char **p, const char *end, uint32_t count)
{
    const char *q = *p;
    size_t total = 0;
    for (uint32_t i = 0; i < count; i++) {
        for (int part = 0; part < 2; part++) {
            uint32_t n;
            if (end - q < 4)
                return -EIO;
            memcpy(&n, q, 4);
            q += 4;
            if ((size_t)(end - q) < n)
                return -EIO;
            q += n;
            total += n + 1;
        }
    }
    if (!it) {
        *p = q;
        return 0;
    }
    iter_clear(it);
    it->store = malloc(total ? total : 1);
    it->keys = calloc(count ? count : 1, sizeof(char *));
    it->vals = calloc(count ? count : 1, sizeof(char *));
    it->lens = calloc(count ? count : 1, sizeof(size_t));
    if (!it->store || !it->keys || !it->vals || !it->lens) {
        iter_clear(it);
        return -ENOMEM;
    }
    char *s = it->store;
    q = *p;
    for (uint32_t i = 0; i < count; i++) {
        for (int part = 0; part < 2; part++) {
            uint32_t n;
            memcpy(&n, q, 4);
            q += 4;
            memcpy(s, q, n);
            s[n] = 0;
            if (part == 0) {
                it->keys[i] = s;
            } else {
                it->vals[i] = s;
                it->lens[i] = n;
            }
            s += n + 1;
            q += n;
        }
    }
    it->n = count;
    *p = q;
    return 0;
}

/* The next pair; at the end *key and *val NULL and *len 0 (return 0). Valid until rados_omap_get_end. */
CRBD_API int rados_omap_get_next(rados_omap_iter_t iter, char **key, char **val, size_t *len)
{
    if (key)
        *key = NULL;
    if (val)
        *val = NULL;
    if (len)
        *len = 0;
    struct crbd_omap_iter *it = iter;
    if (!it)
        return -EINVAL;
    if (it->pos >= it->n)
        return 0;
    if (key)
        *key = it->keys[it->pos];
    if (val)
        *val = it->vals[it->pos];
    if (len)
        *len = it->lens[it->pos];
    it->pos++;
    return 0;
}

CRBD_API void rados_omap_get_end(rados_omap_iter_t iter)
{
    struct crbd_omap_iter *it = iter;
    if (it) {
        iter_clear(it);
        free(it);
    }
}

/* ---- running an op ---- */

/* Reset every output to "nothing" (used when the op fails before the core answers). */
static void outs_reset(struct crbd_rados_op *op, int r)
{
    for (size_t i = 0; op && i < op->nsteps; i++) {
        if (op->outs[i].prval)
            *op->outs[i].prval = r;
        if (op->outs[i].pmore)
            *op->outs[i].pmore = 0;
        if (op->outs[i].iter)
            iter_clear(op->outs[i].iter);
    }
}

static int op_run(struct crbd_rados_op *op, rados_ioctx_t io, const char *oid, int read, int64_t mtime)
{
    struct crbd_ioctx *ctx = crbd_ioctx_get(io);
    if (!op || !ctx || !oid) {
        outs_reset(op, -EINVAL);
        return -EINVAL;
    }
    if (op->err) {
        outs_reset(op, op->err);
        return op->err;
    }
    struct crbd_blob res = { 0 };
    int r = crbd_py_object_operate(ctx->py, oid, read, op->buf ? op->buf : "", op->len, mtime, &res);
    if (r < 0) {
        outs_reset(op, r);
        free(res.data);
        return r;
    }
    const char *p = res.data, *end = res.data + res.len;
    int32_t rc = -EIO;
    if (res.len >= 4) {
        memcpy(&rc, p, 4);
        p += 4;
    }
    for (size_t i = 0; i < op->nsteps; i++) {
        int32_t rval;
        uint8_t more;
        uint32_t count;
        if (end - p < 9) {
            outs_reset(op, -EIO);
            rc = -EIO;
            break;
        }
        memcpy(&rval, p, 4);
        more = (uint8_t)p[4];
        memcpy(&count, p + 5, 4);
        p += 9;
        struct crbd_step_out *o = &op->outs[i];
        if (o->prval)
            *o->prval = rval;
        if (o->pmore)
            *o->pmore = more;
        int fr = iter_fill(o->iter, &p, end, count);
        if (fr < 0) {
            outs_reset(op, fr);
            rc = fr;
            break;
        }
    }
    free(res.data);
    return rc;
}

static int aio_done(rados_completion_t completion, int r)
{
    struct crbd_completion *c = crbd_completion_get(completion);
    if (!c)
        return -EINVAL;
    crbd_completion_fire(c, r, NULL);
    return 0;
}

/* ---- write ops ---- */

CRBD_API rados_write_op_t rados_create_write_op(void)
{
    return op_new(CRBD_OP_MAGIC_WRITE);
}

CRBD_API void rados_release_write_op(rados_write_op_t write_op)
{
    op_free(op_get(write_op, CRBD_OP_MAGIC_WRITE));
}

#define WOP(p) op_get((p), CRBD_OP_MAGIC_WRITE)

CRBD_API void rados_write_op_set_flags(rados_write_op_t write_op, int flags)
{
    set_last_flags(WOP(write_op), flags);
}

CRBD_API void rados_write_op_assert_version(rados_write_op_t write_op, uint64_t ver)
{
    add_simple(WOP(write_op), CRBD_STEP_ASSERT_VERSION, ver, 0, NULL, 0);
}

CRBD_API void rados_write_op_assert_exists(rados_write_op_t write_op)
{
    add_simple(WOP(write_op), CRBD_STEP_ASSERT_EXISTS, 0, 0, NULL, 0);
}

CRBD_API void rados_write_op_cmpext(rados_write_op_t write_op, const char *cmp_buf, size_t cmp_len, uint64_t off,
                                    int *prval)
{
    const char *bufs[1] = { cmp_buf };
    size_t lens[1] = { cmp_buf ? cmp_len : 0 };
    add_step(WOP(write_op), CRBD_STEP_CMPEXT, off, 0, 0, 1, bufs, lens, prval, NULL, NULL);
}

CRBD_API void rados_write_op_omap_cmp(rados_write_op_t write_op, const char *key, uint8_t comparison_operator,
                                      const char *val, size_t val_len, int *prval)
{
    const char *bufs[2] = { key ? key : "", val };
    size_t lens[2] = { key ? strlen(key) : 0, val ? val_len : 0 };
    add_step(WOP(write_op), CRBD_STEP_OMAP_CMP, comparison_operator, 0, 0, 2, bufs, lens, prval, NULL, NULL);
}

CRBD_API void rados_write_op_create(rados_write_op_t write_op, int exclusive, const char *category)
{
    (void)category;
    add_simple(WOP(write_op), CRBD_STEP_CREATE, exclusive ? 1 : 0, 0, NULL, 0);
}

CRBD_API void rados_write_op_write(rados_write_op_t write_op, const char *buffer, size_t len, uint64_t offset)
{
    add_simple(WOP(write_op), CRBD_STEP_WRITE, offset, 0, buffer ? buffer : "", buffer ? len : 0);
}

CRBD_API void rados_write_op_write_full(rados_write_op_t write_op, const char *buffer, size_t len)
{
    add_simple(WOP(write_op), CRBD_STEP_WRITE_FULL, 0, 0, buffer ? buffer : "", buffer ? len : 0);
}

CRBD_API void rados_write_op_writesame(rados_write_op_t write_op, const char *buffer, size_t data_len,
                                       size_t write_len, uint64_t offset)
{
    add_simple(WOP(write_op), CRBD_STEP_WRITESAME, write_len, offset, buffer ? buffer : "", buffer ? data_len : 0);
}

CRBD_API void rados_write_op_append(rados_write_op_t write_op, const char *buffer, size_t len)
{
    add_simple(WOP(write_op), CRBD_STEP_APPEND, 0, 0, buffer ? buffer : "", buffer ? len : 0);
}

CRBD_API void rados_write_op_remove(rados_write_op_t write_op)
{
    add_simple(WOP(write_op), CRBD_STEP_REMOVE, 0, 0, NULL, 0);
}

CRBD_API void rados_write_op_truncate(rados_write_op_t write_op, uint64_t offset)
{
    add_simple(WOP(write_op), CRBD_STEP_TRUNCATE, offset, 0, NULL, 0);
}

CRBD_API void rados_write_op_zero(rados_write_op_t write_op, uint64_t offset, uint64_t len)
{
    add_simple(WOP(write_op), CRBD_STEP_ZERO, offset, len, NULL, 0);
}

CRBD_API void rados_write_op_setxattr(rados_write_op_t write_op, const char *name, const char *value,
                                      size_t value_len)
{
    const char *bufs[2] = { name ? name : "", value };
    size_t lens[2] = { name ? strlen(name) : 0, value ? value_len : 0 };
    add_step(WOP(write_op), CRBD_STEP_SETXATTR, 0, 0, 0, 2, bufs, lens, NULL, NULL, NULL);
}

CRBD_API void rados_write_op_rmxattr(rados_write_op_t write_op, const char *name)
{
    add_simple(WOP(write_op), CRBD_STEP_RMXATTR, 0, 0, name ? name : "", name ? strlen(name) : 0);
}

/* keys (C strings) and values (lens[i] bytes) alternate in the step's buffers. */
CRBD_API void rados_write_op_omap_set(rados_write_op_t write_op, char const *const *keys, char const *const *vals,
                                      const size_t *lens, size_t num)
{
    struct crbd_rados_op *op = WOP(write_op);
    if (!op)
        return;
    if (num && (!keys || !vals || !lens)) {
        op->err = op->err ? op->err : -EINVAL;
        return;
    }
    const char **bufs = calloc(2 * num + 1, sizeof *bufs);
    size_t *blens = calloc(2 * num + 1, sizeof *blens);
    if (!bufs || !blens) {
        op->err = -ENOMEM;
    } else {
        for (size_t i = 0; i < num; i++) {
            bufs[2 * i] = keys[i] ? keys[i] : "";
            blens[2 * i] = keys[i] ? strlen(keys[i]) : 0;
            bufs[2 * i + 1] = vals[i];
            blens[2 * i + 1] = vals[i] ? lens[i] : 0;
        }
        add_step(op, CRBD_STEP_OMAP_SET, 0, 0, 0, (uint32_t)(2 * num), bufs, blens, NULL, NULL, NULL);
    }
    free(bufs);
    free(blens);
}

static void add_keys(struct crbd_rados_op *op, uint32_t kind, uint64_t a, char const *const *keys, size_t num,
                     int *prval, struct crbd_omap_iter *iter)
{
    if (!op)
        return;
    if (num && !keys) {
        op->err = op->err ? op->err : -EINVAL;
        return;
    }
    const char **bufs = calloc(num + 1, sizeof *bufs);
    size_t *lens = calloc(num + 1, sizeof *lens);
    if (!bufs || !lens) {
        op->err = -ENOMEM;
    } else {
        for (size_t i = 0; i < num; i++) {
            bufs[i] = keys[i] ? keys[i] : "";
            lens[i] = keys[i] ? strlen(keys[i]) : 0;
        }
        add_step(op, kind, a, 0, 0, (uint32_t)num, bufs, lens, prval, iter, NULL);
    }
    free(bufs);
    free(lens);
}

CRBD_API void rados_write_op_omap_rm_keys(rados_write_op_t write_op, char const *const *keys, size_t keys_len)
{
    add_keys(WOP(write_op), CRBD_STEP_OMAP_RM_KEYS, 0, keys, keys_len, NULL, NULL);
}

CRBD_API void rados_write_op_omap_rm_range2(rados_write_op_t write_op, const char *key_begin, size_t key_begin_len,
                                           const char *key_end, size_t key_end_len)
{
    const char *bufs[2] = { key_begin, key_end };
    size_t lens[2] = { key_begin ? key_begin_len : 0, key_end ? key_end_len : 0 };
    add_step(WOP(write_op), CRBD_STEP_OMAP_RM_RANGE, 0, 0, 0, 2, bufs, lens, NULL, NULL, NULL);
}

CRBD_API void rados_write_op_omap_clear(rados_write_op_t write_op)
{
    add_simple(WOP(write_op), CRBD_STEP_OMAP_CLEAR, 0, 0, NULL, 0);
}

/* No object classes here (Curve runs no OSD code): the step's result and the whole op are -EOPNOTSUPP. */
CRBD_API void rados_write_op_exec(rados_write_op_t write_op, const char *cls, const char *method,
                                  const char *in_buf, size_t in_len, int *prval)
{
    (void)cls; (void)method; (void)in_buf; (void)in_len;
    struct crbd_rados_op *op = WOP(write_op);
    if (prval)
        *prval = -EOPNOTSUPP;
    if (op && !op->err)
        op->err = -EOPNOTSUPP;
}

/* mtime: the object's new mtime if given (else now); flags (LIBRADOS_OPERATION_*) change nothing here. */
CRBD_API int rados_write_op_operate(rados_write_op_t write_op, rados_ioctx_t io, const char *oid, time_t *mtime,
                                    int flags)
{
    (void)flags;
    return op_run(WOP(write_op), io, oid, 0, mtime ? (int64_t)*mtime : -1);
}

CRBD_API int rados_aio_write_op_operate(rados_write_op_t write_op, rados_ioctx_t io, rados_completion_t completion,
                                        const char *oid, time_t *mtime, int flags)
{
    if (!crbd_completion_get(completion))
        return -EINVAL;
    return aio_done(completion, rados_write_op_operate(write_op, io, oid, mtime, flags));
}

/* ---- read ops ---- */

#define ROP(p) op_get((p), CRBD_OP_MAGIC_READ)

CRBD_API rados_read_op_t rados_create_read_op(void)
{
    return op_new(CRBD_OP_MAGIC_READ);
}

CRBD_API void rados_release_read_op(rados_read_op_t read_op)
{
    op_free(ROP(read_op));
}

CRBD_API void rados_read_op_set_flags(rados_read_op_t read_op, int flags)
{
    set_last_flags(ROP(read_op), flags);
}

CRBD_API void rados_read_op_cmpext(rados_read_op_t read_op, const char *cmp_buf, size_t cmp_len, uint64_t off,
                                   int *prval)
{
    const char *bufs[1] = { cmp_buf };
    size_t lens[1] = { cmp_buf ? cmp_len : 0 };
    add_step(ROP(read_op), CRBD_STEP_CMPEXT, off, 0, 0, 1, bufs, lens, prval, NULL, NULL);
}

CRBD_API void rados_read_op_omap_get_vals2(rados_read_op_t read_op, const char *start_after,
                                           const char *filter_prefix, uint64_t max_return,
                                           rados_omap_iter_t *iter, unsigned char *pmore, int *prval)
{
    struct crbd_rados_op *op = ROP(read_op);
    struct crbd_omap_iter *it = iter_new(iter);
    const char *bufs[2] = { start_after ? start_after : "", filter_prefix ? filter_prefix : "" };
    size_t lens[2] = { strlen(bufs[0]), strlen(bufs[1]) };
    if (op && iter && !it)
        op->err = -ENOMEM;
    add_step(op, CRBD_STEP_OMAP_GET_VALS, max_return, 0, 0, 2, bufs, lens, prval, it, pmore);
}

CRBD_API void rados_read_op_omap_get_keys2(rados_read_op_t read_op, const char *start_after, uint64_t max_return,
                                           rados_omap_iter_t *iter, unsigned char *pmore, int *prval)
{
    struct crbd_rados_op *op = ROP(read_op);
    struct crbd_omap_iter *it = iter_new(iter);
    const char *bufs[1] = { start_after ? start_after : "" };
    size_t lens[1] = { strlen(bufs[0]) };
    if (op && iter && !it)
        op->err = -ENOMEM;
    add_step(op, CRBD_STEP_OMAP_GET_KEYS, max_return, 0, 0, 1, bufs, lens, prval, it, pmore);
}

CRBD_API void rados_read_op_omap_get_vals_by_keys(rados_read_op_t read_op, char const *const *keys,
                                                  size_t keys_len, rados_omap_iter_t *iter, int *prval)
{
    struct crbd_rados_op *op = ROP(read_op);
    struct crbd_omap_iter *it = iter_new(iter);
    if (prval)
        *prval = 0;
    if (op && iter && !it)
        op->err = -ENOMEM;
    add_keys(op, CRBD_STEP_OMAP_GET_VALS_BY_KEYS, 0, keys, keys_len, prval, it);
}

CRBD_API int rados_read_op_operate(rados_read_op_t read_op, rados_ioctx_t io, const char *oid, int flags)
{
    (void)flags;
    return op_run(ROP(read_op), io, oid, 1, -1);
}

CRBD_API int rados_aio_read_op_operate(rados_read_op_t read_op, rados_ioctx_t io, rados_completion_t completion,
                                       const char *oid, int flags)
{
    if (!crbd_completion_get(completion))
        return -EINVAL;
    return aio_done(completion, rados_read_op_operate(read_op, io, oid, flags));
}

/* ---- single-step calls on the same path ---- */

static int single(rados_ioctx_t io, const char *oid, int read, uint32_t kind, uint64_t a, uint64_t b, uint64_t c,
                  uint32_t nbufs, const char *const *bufs, const size_t *lens)
{
    struct crbd_rados_op op = { .magic = read ? CRBD_OP_MAGIC_READ : CRBD_OP_MAGIC_WRITE };
    add_step(&op, kind, a, b, c, nbufs, bufs, lens, NULL, NULL, NULL);
    int r = op_run(&op, io, oid, read, -1);
    free(op.buf);
    free(op.outs);
    return r;
}

/* write_len a multiple of data_len (else -EINVAL), data_len > 0 */
CRBD_API int rados_writesame(rados_ioctx_t io, const char *oid, const char *buf, size_t data_len, size_t write_len,
                             uint64_t off)
{
    if (!buf || !data_len)
        return -EINVAL;
    const char *bufs[1] = { buf };
    size_t lens[1] = { data_len };
    return single(io, oid, 0, CRBD_STEP_WRITESAME, write_len, off, 0, 1, bufs, lens);
}

/* 0 if equal, -MAX_ERRNO - i at the first differing byte i, -ENOENT without the object. */
CRBD_API int rados_cmpext(rados_ioctx_t io, const char *o, const char *cmp_buf, size_t cmp_len, uint64_t off)
{
    if (cmp_len && !cmp_buf)
        return -EINVAL;
    const char *bufs[1] = { cmp_buf ? cmp_buf : "" };
    size_t lens[1] = { cmp_len };
    return single(io, o, 1, CRBD_STEP_CMPEXT, off, 0, 0, 1, bufs, lens);
}

CRBD_API int rados_aio_append(rados_ioctx_t io, const char *oid, rados_completion_t completion, const char *buf,
                              size_t len)
{
    if (!crbd_completion_get(completion))
        return -EINVAL;
    return aio_done(completion, rados_append(io, oid, buf, len));
}

CRBD_API int rados_aio_writesame(rados_ioctx_t io, const char *oid, rados_completion_t completion, const char *buf,
                                 size_t data_len, size_t write_len, uint64_t off)
{
    if (!crbd_completion_get(completion))
        return -EINVAL;
    return aio_done(completion, rados_writesame(io, oid, buf, data_len, write_len, off));
}

CRBD_API int rados_aio_cmpext(rados_ioctx_t io, const char *o, rados_completion_t completion, const char *cmp_buf,
                              size_t cmp_len, uint64_t off)
{
    if (!crbd_completion_get(completion))
        return -EINVAL;
    return aio_done(completion, rados_cmpext(io, o, cmp_buf, cmp_len, off));
}

/* Object aio completes before its call returns here, so nothing is ever outstanding. */
CRBD_API int rados_aio_flush(rados_ioctx_t io)
{
    return crbd_ioctx_get(io) ? 0 : -EINVAL;
}

/* The completion's callback runs before it is marked complete (completion.c), so this is the same wait. */
CRBD_API int rados_aio_wait_for_complete_and_cb(rados_completion_t c)
{
    return rados_aio_wait_for_complete(c);
}

/* ---- object locks (cls_lock's rules, core/object_ops.py) ---- */

static int object_lock(rados_ioctx_t io, const char *oid, const char *name, const char *cookie, const char *tag,
                       const char *desc, struct timeval *duration, uint8_t flags, int exclusive)
{
    if (!name || !cookie)
        return -EINVAL;
    const char *bufs[4] = { name, cookie, tag ? tag : "", desc ? desc : "" };
    size_t lens[4] = { strlen(bufs[0]), strlen(bufs[1]), strlen(bufs[2]), strlen(bufs[3]) };
    /* Pacific's Python binding leaves tv_usec unset: only a sane one counts */
    uint64_t us = 0;
    if (duration && duration->tv_sec >= 0)
        us = (uint64_t)duration->tv_sec * 1000000u +
             (duration->tv_usec > 0 && duration->tv_usec < 1000000 ? (uint64_t)duration->tv_usec : 0);
    return single(io, oid, 0, CRBD_STEP_LOCK, exclusive, us, flags, 4, bufs, lens);
}

CRBD_API int rados_lock_exclusive(rados_ioctx_t io, const char *oid, const char *name, const char *cookie,
                                  const char *desc, struct timeval *duration, uint8_t flags)
{
    return object_lock(io, oid, name, cookie, "", desc, duration, flags, 1);
}

CRBD_API int rados_lock_shared(rados_ioctx_t io, const char *o, const char *name, const char *cookie,
                               const char *tag, const char *desc, struct timeval *duration, uint8_t flags)
{
    return object_lock(io, o, name, cookie, tag, desc, duration, flags, 0);
}

CRBD_API int rados_unlock(rados_ioctx_t io, const char *o, const char *name, const char *cookie)
{
    if (!name || !cookie)
        return -EINVAL;
    const char *bufs[2] = { name, cookie };
    size_t lens[2] = { strlen(name), strlen(cookie) };
    return single(io, o, 0, CRBD_STEP_UNLOCK, 0, 0, 0, 2, bufs, lens);
}

/* ---- object listing (the ioctx's namespace: the default one in the C face) ---- */

struct crbd_list_ctx {
    struct crbd_blob entries;       /* "ns\0key\0" each, sorted, as the listing began */
    size_t pos;
};

CRBD_API int rados_nobjects_list_open(rados_ioctx_t io, rados_list_ctx_t *ctx)
{
    if (ctx)
        *ctx = NULL;
    struct crbd_ioctx *ioctx = crbd_ioctx_get(io);
    if (!ioctx || !ctx)
        return -EINVAL;
    struct crbd_list_ctx *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    int r = crbd_py_object_list(ioctx->py, &l->entries);
    if (r < 0) {
        free(l->entries.data);
        free(l);
        return r;
    }
    *ctx = l;
    return 0;
}

/* The next object: *entry its name, *key its locator (NULL: none here), *nspace its namespace; -ENOENT
 * (all three NULL) after the last. The strings stay valid until rados_nobjects_list_close. */
CRBD_API int rados_nobjects_list_next(rados_list_ctx_t ctx, const char **entry, const char **key,
                                      const char **nspace)
{
    if (entry)
        *entry = NULL;
    if (key)
        *key = NULL;
    if (nspace)
        *nspace = NULL;
    struct crbd_list_ctx *l = ctx;
    if (!l)
        return -EINVAL;
    const char *end = l->entries.data + l->entries.len;
    const char *p = l->entries.data ? l->entries.data + l->pos : NULL;
    if (!p || p >= end)
        return -ENOENT;
    const char *ns = p;
    p += strlen(p) + 1;
    if (p >= end)
        return -EIO;
    const char *name = p;
    p += strlen(p) + 1;
    l->pos = (size_t)(p - l->entries.data);
    if (entry)
        *entry = name;
    if (nspace)
        *nspace = ns;
    return 0;
}

CRBD_API void rados_nobjects_list_close(rados_list_ctx_t ctx)
{
    struct crbd_list_ctx *l = ctx;
    if (l) {
        free(l->entries.data);
        free(l);
    }
}

/* ---- deliberately unsupported: Curve has no equivalent ---- */

/* Pool snapshots: a pool is a Curve directory, which Curve cannot snapshot. */
CRBD_API int rados_ioctx_snap_create(rados_ioctx_t io, const char *snapname)
{
    (void)io; (void)snapname;
    return -EOPNOTSUPP;
}

/* Pool snapshots: none exist (see rados_ioctx_snap_create). */
CRBD_API int rados_ioctx_snap_remove(rados_ioctx_t io, const char *snapname)
{
    (void)io; (void)snapname;
    return -EOPNOTSUPP;
}

/* Pool snapshots: none exist (see rados_ioctx_snap_create). */
CRBD_API int rados_ioctx_snap_rollback(rados_ioctx_t io, const char *oid, const char *snapname)
{
    (void)io; (void)oid; (void)snapname;
    return -EOPNOTSUPP;
}

/* Pool snapshots: reads are always of the head (there is no snapshot to read at). */
CRBD_API void rados_ioctx_snap_set_read(rados_ioctx_t io, rados_snap_t snap)
{
    (void)io; (void)snap;
}

/* Pool snapshots: none exist; the caller's array is left with no entries (the first zeroed). */
CRBD_API int rados_ioctx_snap_list(rados_ioctx_t io, rados_snap_t *snaps, int maxlen)
{
    (void)io;
    if (snaps && maxlen > 0)
        snaps[0] = 0;
    return -EOPNOTSUPP;
}

/* Self-managed snapshots: RADOS object clones, which objects kept in etcd do not have. */
CRBD_API int rados_ioctx_selfmanaged_snap_remove(rados_ioctx_t io, rados_snap_t snapid)
{
    (void)io; (void)snapid;
    return -EOPNOTSUPP;
}

/* Self-managed snapshots: see rados_ioctx_selfmanaged_snap_remove. */
CRBD_API int rados_ioctx_selfmanaged_snap_rollback(rados_ioctx_t io, const char *oid, rados_snap_t snapid)
{
    (void)io; (void)oid; (void)snapid;
    return -EOPNOTSUPP;
}

/* Self-managed snapshots: see rados_ioctx_selfmanaged_snap_remove. */
CRBD_API int rados_ioctx_selfmanaged_snap_set_write_ctx(rados_ioctx_t io, rados_snap_t seq, rados_snap_t *snaps,
                                                        int num_snaps)
{
    (void)io; (void)seq; (void)snaps; (void)num_snaps;
    return -EOPNOTSUPP;
}

/* Object classes: Curve runs no OSD code to call; the output buffer is left empty. */
CRBD_API int rados_exec(rados_ioctx_t io, const char *oid, const char *cls, const char *method, const char *in_buf,
                        size_t in_len, char *buf, size_t out_len)
{
    (void)io; (void)oid; (void)cls; (void)method; (void)in_buf; (void)in_len;
    if (buf && out_len)
        buf[0] = 0;
    return -EOPNOTSUPP;
}

/* Object classes: see rados_exec. The call is refused (the completion is not used). */
CRBD_API int rados_aio_exec(rados_ioctx_t io, const char *o, rados_completion_t completion, const char *cls,
                            const char *method, const char *in_buf, size_t in_len, char *buf, size_t out_len)
{
    (void)completion;
    return rados_exec(io, o, cls, method, in_buf, in_len, buf, out_len);
}

/* tmap: the long-deprecated OSD "trivial map" format (omap replaced it); not kept here. */
CRBD_API int rados_tmap_update(rados_ioctx_t io, const char *o, const char *cmdbuf, size_t cmdbuflen)
{
    (void)io; (void)o; (void)cmdbuf; (void)cmdbuflen;
    return -EOPNOTSUPP;
}

/* tmap: see rados_tmap_update. */
CRBD_API int rados_tmap_put(rados_ioctx_t io, const char *o, const char *buf, size_t buflen)
{
    (void)io; (void)o; (void)buf; (void)buflen;
    return -EOPNOTSUPP;
}

/* tmap: see rados_tmap_update; the output buffer is left empty. */
CRBD_API int rados_tmap_get(rados_ioctx_t io, const char *o, char *buf, size_t buflen)
{
    (void)io; (void)o;
    if (buf && buflen)
        buf[0] = 0;
    return -EOPNOTSUPP;
}
