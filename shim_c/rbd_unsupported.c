/* Calls curverbd does not support (image groups, mirroring, live migration, namespaces, ...) with their real prototypes: each puts every output into the empty state
 * the matching cleanup function accepts (counts 0, pointers NULL, strings "", structs zeroed)
 * and returns -EOPNOTSUPP. A caller that frees its outputs after a failure (python3-rbd's
 * iterators and finally blocks do) then frees nothing. Names without outputs stay generated
 * stubs (build_so.py). Struct and enum outputs are written as bytes: their layout does not matter. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void unsupported(const char *name)
{
    crbd_log("%s is not implemented by curverbd (returns -EOPNOTSUPP, outputs empty)", name);
}

#define UNSUPPORTED() do { unsupported(__func__); return -EOPNOTSUPP; } while (0)

static void zero_count(size_t *n) { if (n) *n = 0; }
static void zero_int(int *n) { if (n) *n = 0; }
static void zero_u64(uint64_t *n) { if (n) *n = 0; }
static void zero_ptr(void **p) { if (p) *p = NULL; }
static void zero_struct(void *p, size_t size) { if (p && size) memset(p, 0, size); }
/* A caller's string buffer of *len bytes: "" and a length of 0. */
static void empty_buf(char *buf, size_t *len)
{
    if (buf && len && *len)
        buf[0] = 0;
    zero_count(len);
}
static void empty_fixed(char *buf, size_t len) { if (buf && len) buf[0] = 0; }

/* ---- image groups ---- */

CRBD_API int rbd_group_list(rados_ioctx_t p, char *names, size_t *size)
{
    (void)p;
    empty_buf(names, size);
    UNSUPPORTED();
}

CRBD_API int rbd_group_image_list(rados_ioctx_t group_p, const char *group_name, void *images,
                                  size_t group_image_info_size, size_t *num_entries)
{
    (void)group_p; (void)group_name; (void)images; (void)group_image_info_size;
    zero_count(num_entries);
    UNSUPPORTED();
}

CRBD_API int rbd_group_snap_list(rados_ioctx_t group_p, const char *group_name, void *snaps,
                                 size_t group_snap_info_size, size_t *num_entries)
{
    (void)group_p; (void)group_name; (void)snaps; (void)group_snap_info_size;
    zero_count(num_entries);
    UNSUPPORTED();
}

/* rbd_get_group and the snapshot namespaces answer as librbd for an image in no group: rbd_extras.c */

/* ---- mirroring ---- */

CRBD_API int rbd_mirror_mode_get(rados_ioctx_t io_ctx, int *mirror_mode)
{
    (void)io_ctx;
    zero_int(mirror_mode);   /* RBD_MIRROR_MODE_DISABLED */
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_uuid_get(rados_ioctx_t io_ctx, char *uuid, size_t *max_len)
{
    (void)io_ctx;
    empty_buf(uuid, max_len);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_site_name_get(rados_t cluster, char *name, size_t *max_len)
{
    (void)cluster;
    empty_buf(name, max_len);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_peer_bootstrap_create(rados_ioctx_t io_ctx, char *token, size_t *max_len)
{
    (void)io_ctx;
    empty_buf(token, max_len);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_peer_site_add(rados_ioctx_t io_ctx, char *uuid, size_t uuid_max_length, int direction,
                                      const char *site_name, const char *client_name)
{
    (void)io_ctx; (void)direction; (void)site_name; (void)client_name;
    empty_fixed(uuid, uuid_max_length);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_peer_site_list(rados_ioctx_t io_ctx, void *peers, int *max_peers)
{
    (void)io_ctx; (void)peers;
    zero_int(max_peers);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_peer_site_get_attributes(rados_ioctx_t p, const char *uuid, char *keys, size_t *max_key_len,
                                                 char *values, size_t *max_value_len, size_t *key_value_count)
{
    (void)p; (void)uuid;
    empty_buf(keys, max_key_len);
    empty_buf(values, max_value_len);
    zero_count(key_value_count);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_image_status_summary(rados_ioctx_t io_ctx, int *states, int *counts, size_t *maxlen)
{
    (void)io_ctx; (void)states; (void)counts;
    zero_count(maxlen);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_image_global_status_list(rados_ioctx_t io_ctx, const char *start_id, size_t max,
                                                 char **image_ids, void *images, size_t *len)
{
    (void)io_ctx; (void)start_id; (void)max; (void)image_ids; (void)images;
    zero_count(len);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_image_info_list(rados_ioctx_t io_ctx, int *mode_filter, const char *start_id, size_t max,
                                        char **image_ids, int *mode_entries, void *info_entries,
                                        size_t *num_entries)
{
    (void)io_ctx; (void)mode_filter; (void)start_id; (void)max; (void)image_ids; (void)mode_entries;
    (void)info_entries;
    zero_count(num_entries);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_image_instance_id_list(rados_ioctx_t io_ctx, const char *start_id, size_t max,
                                               char **image_ids, char **instance_ids, size_t *len)
{
    (void)io_ctx; (void)start_id; (void)max; (void)image_ids; (void)instance_ids;
    zero_count(len);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_image_get_info(rbd_image_t image, void *mirror_image_info, size_t info_size)
{
    (void)image;
    zero_struct(mirror_image_info, info_size);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_image_get_mode(rbd_image_t image, int *mode)
{
    (void)image;
    zero_int(mode);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_image_get_global_status(rbd_image_t image, void *status, size_t status_size)
{
    (void)image;
    zero_struct(status, status_size);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_image_get_instance_id(rbd_image_t image, char *instance_id, size_t *id_max_length)
{
    (void)image;
    empty_buf(instance_id, id_max_length);
    UNSUPPORTED();
}

CRBD_API int rbd_mirror_image_create_snapshot2(rbd_image_t image, uint32_t flags, uint64_t *snap_id)
{
    (void)image; (void)flags;
    zero_u64(snap_id);
    UNSUPPORTED();
}

/* The aio variants fail at submission: the completion is never fired. */
CRBD_API int rbd_aio_mirror_image_get_info(rbd_image_t image, void *info, size_t info_size, rbd_completion_t c)
{
    (void)image; (void)c;
    zero_struct(info, info_size);
    UNSUPPORTED();
}

CRBD_API int rbd_aio_mirror_image_get_mode(rbd_image_t image, int *mode, rbd_completion_t c)
{
    (void)image; (void)c;
    zero_int(mode);
    UNSUPPORTED();
}

CRBD_API int rbd_aio_mirror_image_create_snapshot(rbd_image_t image, uint32_t flags, uint64_t *snap_id,
                                                  rbd_completion_t c)
{
    (void)image; (void)flags; (void)c;
    zero_u64(snap_id);
    UNSUPPORTED();
}

/* ---- live migration ---- */

CRBD_API int rbd_migration_status(rados_ioctx_t ioctx, const char *image_name, void *status, size_t status_size)
{
    (void)ioctx; (void)image_name;
    zero_struct(status, status_size);
    UNSUPPORTED();
}

CRBD_API int rbd_get_migration_source_spec(rbd_image_t image, char *source_spec, size_t *max_len)
{
    (void)image;
    empty_buf(source_spec, max_len);
    UNSUPPORTED();
}

/* ---- namespaces (only the default one exists) ---- */

CRBD_API int rbd_namespace_list(rados_ioctx_t io, char *namespace_names, size_t *size)
{
    (void)io;
    empty_buf(namespace_names, size);
    UNSUPPORTED();
}

/* pool config (rbd_config_pool_list): rbd_pool_extras.c */

/* ---- librados: commands answer with nothing (python3-rados reads and frees outbuf / outs
 * whatever the return value) ---- */

static void empty_reply(char **outbuf, size_t *outbuflen, char **outs, size_t *outslen)
{
    zero_ptr((void **)outbuf);
    zero_count(outbuflen);
    zero_ptr((void **)outs);
    zero_count(outslen);
}

CRBD_API int rados_mgr_command(rados_t cluster, const char **cmd, size_t cmdlen, const char *inbuf, size_t inbuflen,
                               char **outbuf, size_t *outbuflen, char **outs, size_t *outslen)
{
    (void)cluster; (void)cmd; (void)cmdlen; (void)inbuf; (void)inbuflen;
    empty_reply(outbuf, outbuflen, outs, outslen);
    UNSUPPORTED();
}

CRBD_API int rados_mgr_command_target(rados_t cluster, const char *name, const char **cmd, size_t cmdlen,
                                      const char *inbuf, size_t inbuflen, char **outbuf, size_t *outbuflen,
                                      char **outs, size_t *outslen)
{
    (void)cluster; (void)name; (void)cmd; (void)cmdlen; (void)inbuf; (void)inbuflen;
    empty_reply(outbuf, outbuflen, outs, outslen);
    UNSUPPORTED();
}

CRBD_API int rados_mon_command_target(rados_t cluster, const char *name, const char **cmd, size_t cmdlen,
                                      const char *inbuf, size_t inbuflen, char **outbuf, size_t *outbuflen,
                                      char **outs, size_t *outslen)
{
    (void)cluster; (void)name; (void)cmd; (void)cmdlen; (void)inbuf; (void)inbuflen;
    empty_reply(outbuf, outbuflen, outs, outslen);
    UNSUPPORTED();
}

CRBD_API int rados_osd_command(rados_t cluster, int osdid, const char **cmd, size_t cmdlen, const char *inbuf,
                               size_t inbuflen, char **outbuf, size_t *outbuflen, char **outs, size_t *outslen)
{
    (void)cluster; (void)osdid; (void)cmd; (void)cmdlen; (void)inbuf; (void)inbuflen;
    empty_reply(outbuf, outbuflen, outs, outslen);
    UNSUPPORTED();
}

CRBD_API int rados_pg_command(rados_t cluster, const char *pgstr, const char **cmd, size_t cmdlen,
                              const char *inbuf, size_t inbuflen, char **outbuf, size_t *outbuflen, char **outs,
                              size_t *outslen)
{
    (void)cluster; (void)pgstr; (void)cmd; (void)cmdlen; (void)inbuf; (void)inbuflen;
    empty_reply(outbuf, outbuflen, outs, outslen);
    UNSUPPORTED();
}

CRBD_API int rados_notify2(rados_ioctx_t io, const char *o, const char *buf, int buf_len, uint64_t timeout_ms,
                           char **reply_buffer, size_t *reply_buffer_len)
{
    (void)io; (void)o; (void)buf; (void)buf_len; (void)timeout_ms;
    zero_ptr((void **)reply_buffer);
    zero_count(reply_buffer_len);
    UNSUPPORTED();
}

CRBD_API int rados_ioctx_snap_lookup(rados_ioctx_t io, const char *name, uint64_t *id)
{
    (void)io; (void)name;
    zero_u64(id);
    UNSUPPORTED();
}

CRBD_API int rados_ioctx_snap_get_stamp(rados_ioctx_t io, uint64_t id, time_t *t)
{
    (void)io; (void)id;
    if (t)
        *t = 0;
    UNSUPPORTED();
}

CRBD_API int rados_ioctx_snap_get_name(rados_ioctx_t io, uint64_t id, char *name, int maxlen)
{
    (void)io; (void)id;
    if (name && maxlen > 0)
        name[0] = 0;
    UNSUPPORTED();
}

CRBD_API int rados_ioctx_selfmanaged_snap_create(rados_ioctx_t io, uint64_t *snapid)
{
    (void)io;
    zero_u64(snapid);
    UNSUPPORTED();
}

