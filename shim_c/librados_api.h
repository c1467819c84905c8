/* Prototypes of the librados functions implemented for real (everything else a known client
 * imports is generated as a stub from exports.txt). Plain C: cffi's cdef parses this too. */

int rados_create(rados_t *cluster, const char *const id);
int rados_create2(rados_t *pcluster, const char *const clustername, const char *const name, uint64_t flags);
int rados_conf_read_file(rados_t cluster, const char *path);
int rados_conf_set(rados_t cluster, const char *option, const char *value);
int rados_conf_get(rados_t cluster, const char *option, char *buf, size_t len);
int rados_connect(rados_t cluster);
void rados_shutdown(rados_t cluster);
void rados_version(int *major, int *minor, int *extra);
int rados_cluster_stat(rados_t cluster, struct rados_cluster_stat_t *result);

int rados_ioctx_create(rados_t cluster, const char *pool_name, rados_ioctx_t *ioctx);
void rados_ioctx_destroy(rados_ioctx_t io);
void rados_ioctx_set_namespace(rados_ioctx_t io, const char *nspace);
int rados_ioctx_pool_stat(rados_ioctx_t io, struct rados_pool_stat_t *stats);

/* object API: fio's rados engine imports these; objects are not stored yet */
int rados_write(rados_ioctx_t io, const char *oid, const char *buf, size_t len, uint64_t off);
int rados_remove(rados_ioctx_t io, const char *oid);
int rados_aio_create_completion(void *cb_arg, rados_callback_t cb_complete, rados_callback_t cb_safe,
                                rados_completion_t *pc);
void rados_aio_release(rados_completion_t c);
int rados_aio_is_complete(rados_completion_t c);
int rados_aio_wait_for_complete(rados_completion_t c);
int rados_aio_get_return_value(rados_completion_t c);
int rados_aio_read(rados_ioctx_t io, const char *oid, rados_completion_t completion, char *buf,
                   size_t len, uint64_t off);
int rados_aio_write(rados_ioctx_t io, const char *oid, rados_completion_t completion, const char *buf,
                    size_t len, uint64_t off);

/* objects, stored by the catalog (rados_objects.c) */
int rados_write_full(rados_ioctx_t io, const char *oid, const char *buf, size_t len);
int rados_append(rados_ioctx_t io, const char *oid, const char *buf, size_t len);
int rados_read(rados_ioctx_t io, const char *oid, char *buf, size_t len, uint64_t off);
int rados_stat(rados_ioctx_t io, const char *oid, uint64_t *psize, time_t *pmtime);
int rados_aio_write_full(rados_ioctx_t io, const char *oid, rados_completion_t completion, const char *buf,
                         size_t len);
int rados_aio_remove(rados_ioctx_t io, const char *oid, rados_completion_t completion);
int rados_cluster_fsid(rados_t cluster, char *buf, size_t len);
int rados_mon_command(rados_t cluster, const char **cmd, size_t cmdlen, const char *inbuf, size_t inbuflen,
                      char **outbuf, size_t *outbuflen, char **outs, size_t *outslen);
void rados_buffer_free(char *buf);
int rados_pool_list(rados_t cluster, char *buf, size_t len);
int rados_pool_create(rados_t cluster, const char *pool_name);
int rados_pool_delete(rados_t cluster, const char *pool_name);
int rados_ioctx_get_pool_name(rados_ioctx_t io, char *buf, unsigned maxlen);
int rados_conf_parse_env(rados_t cluster, const char *var);

/* pool ids, applications, truncation, no-ops (rados_extras.c) */
int64_t rados_pool_lookup(rados_t cluster, const char *pool_name);
int rados_pool_reverse_lookup(rados_t cluster, int64_t id, char *buf, size_t maxlen);
int rados_pool_get_base_tier(rados_t cluster, int64_t pool, int64_t *base_tier);
int rados_ioctx_create2(rados_t cluster, int64_t pool_id, rados_ioctx_t *ioctx);
int64_t rados_ioctx_get_id(rados_ioctx_t io);
rados_t rados_ioctx_get_cluster(rados_ioctx_t io);
uint64_t rados_get_last_version(rados_ioctx_t io);
int rados_wait_for_latest_osdmap(rados_t cluster);
void rados_set_pool_full_try(rados_ioctx_t io);
void rados_unset_pool_full_try(rados_ioctx_t io);
int rados_trunc(rados_ioctx_t io, const char *oid, uint64_t size);
int rados_application_enable(rados_ioctx_t io, const char *app_name, int force);
int rados_application_list(rados_ioctx_t io, char *values, size_t *values_len);
int rados_application_metadata_get(rados_ioctx_t io, const char *app_name, const char *key, char *value,
                                   size_t *value_len);
int rados_application_metadata_set(rados_ioctx_t io, const char *app_name, const char *key, const char *value);
int rados_application_metadata_remove(rados_ioctx_t io, const char *app_name, const char *key);
int rados_application_metadata_list(rados_ioctx_t io, const char *app_name, char *keys, size_t *key_len,
                                    char *values, size_t *vals_len);
int rados_getxattr(rados_ioctx_t io, const char *o, const char *name, char *buf, size_t len);
int rados_setxattr(rados_ioctx_t io, const char *o, const char *name, const char *buf, size_t len);
int rados_rmxattr(rados_ioctx_t io, const char *o, const char *name);
int rados_getxattrs(rados_ioctx_t io, const char *oid, void **iter);
int rados_getxattrs_next(void *iter, const char **name, const char **val, size_t *len);
void rados_getxattrs_end(void *iter);
int rados_aio_setxattr(rados_ioctx_t io, const char *o, rados_completion_t completion, const char *name,
                       const char *buf, size_t len);
int rados_aio_rmxattr(rados_ioctx_t io, const char *o, rados_completion_t completion, const char *name);
int rados_aio_create_completion2(void *cb_arg, rados_callback_t cb_complete, rados_completion_t *pc);

/* compound ops, omap, listing, writesame / cmpext, object locks, and what is refused (rados_ops.c) */
typedef void *rados_list_ctx_t;
typedef void *rados_omap_iter_t;
typedef uint64_t rados_snap_t;
struct timeval;
int rados_nobjects_list_open(rados_ioctx_t io, rados_list_ctx_t *ctx);
int rados_nobjects_list_next(rados_list_ctx_t ctx, const char **entry, const char **key, const char **nspace);
void rados_nobjects_list_close(rados_list_ctx_t ctx);
rados_write_op_t rados_create_write_op(void);
void rados_release_write_op(rados_write_op_t write_op);
void rados_write_op_set_flags(rados_write_op_t write_op, int flags);
void rados_write_op_assert_version(rados_write_op_t write_op, uint64_t ver);
void rados_write_op_assert_exists(rados_write_op_t write_op);
void rados_write_op_cmpext(rados_write_op_t write_op, const char *cmp_buf, size_t cmp_len, uint64_t off, int *prval);
void rados_write_op_omap_cmp(rados_write_op_t write_op, const char *key, uint8_t comparison_operator,
                             const char *val, size_t val_len, int *prval);
void rados_write_op_create(rados_write_op_t write_op, int exclusive, const char *category);
void rados_write_op_write(rados_write_op_t write_op, const char *buffer, size_t len, uint64_t offset);
void rados_write_op_write_full(rados_write_op_t write_op, const char *buffer, size_t len);
void rados_write_op_writesame(rados_write_op_t write_op, const char *buffer, size_t data_len, size_t write_len,
                              uint64_t offset);
void rados_write_op_append(rados_write_op_t write_op, const char *buffer, size_t len);
void rados_write_op_remove(rados_write_op_t write_op);
void rados_write_op_truncate(rados_write_op_t write_op, uint64_t offset);
void rados_write_op_zero(rados_write_op_t write_op, uint64_t offset, uint64_t len);
void rados_write_op_setxattr(rados_write_op_t write_op, const char *name, const char *value, size_t value_len);
void rados_write_op_rmxattr(rados_write_op_t write_op, const char *name);
void rados_write_op_omap_set(rados_write_op_t write_op, char const *const *keys, char const *const *vals,
                             const size_t *lens, size_t num);
void rados_write_op_omap_rm_keys(rados_write_op_t write_op, char const *const *keys, size_t keys_len);
void rados_write_op_omap_rm_range2(rados_write_op_t write_op, const char *key_begin, size_t key_begin_len,
                                   const char *key_end, size_t key_end_len);
void rados_write_op_omap_clear(rados_write_op_t write_op);
void rados_write_op_exec(rados_write_op_t write_op, const char *cls, const char *method, const char *in_buf,
                         size_t in_len, int *prval);
int rados_write_op_operate(rados_write_op_t write_op, rados_ioctx_t io, const char *oid, time_t *mtime, int flags);
int rados_aio_write_op_operate(rados_write_op_t write_op, rados_ioctx_t io, rados_completion_t completion,
                               const char *oid, time_t *mtime, int flags);
rados_read_op_t rados_create_read_op(void);
void rados_release_read_op(rados_read_op_t read_op);
void rados_read_op_set_flags(rados_read_op_t read_op, int flags);
void rados_read_op_cmpext(rados_read_op_t read_op, const char *cmp_buf, size_t cmp_len, uint64_t off, int *prval);
void rados_read_op_omap_get_vals2(rados_read_op_t read_op, const char *start_after, const char *filter_prefix,
                                  uint64_t max_return, rados_omap_iter_t *iter, unsigned char *pmore, int *prval);
void rados_read_op_omap_get_keys2(rados_read_op_t read_op, const char *start_after, uint64_t max_return,
                                  rados_omap_iter_t *iter, unsigned char *pmore, int *prval);
void rados_read_op_omap_get_vals_by_keys(rados_read_op_t read_op, char const *const *keys, size_t keys_len,
                                         rados_omap_iter_t *iter, int *prval);
int rados_read_op_operate(rados_read_op_t read_op, rados_ioctx_t io, const char *oid, int flags);
int rados_aio_read_op_operate(rados_read_op_t read_op, rados_ioctx_t io, rados_completion_t completion,
                              const char *oid, int flags);
int rados_omap_get_next(rados_omap_iter_t iter, char **key, char **val, size_t *len);
void rados_omap_get_end(rados_omap_iter_t iter);
int rados_writesame(rados_ioctx_t io, const char *oid, const char *buf, size_t data_len, size_t write_len,
                    uint64_t off);
int rados_cmpext(rados_ioctx_t io, const char *o, const char *cmp_buf, size_t cmp_len, uint64_t off);
int rados_aio_append(rados_ioctx_t io, const char *oid, rados_completion_t completion, const char *buf, size_t len);
int rados_aio_writesame(rados_ioctx_t io, const char *oid, rados_completion_t completion, const char *buf,
                        size_t data_len, size_t write_len, uint64_t off);
int rados_aio_cmpext(rados_ioctx_t io, const char *o, rados_completion_t completion, const char *cmp_buf,
                     size_t cmp_len, uint64_t off);
int rados_aio_flush(rados_ioctx_t io);
int rados_aio_wait_for_complete_and_cb(rados_completion_t c);
int rados_lock_exclusive(rados_ioctx_t io, const char *oid, const char *name, const char *cookie, const char *desc,
                         struct timeval *duration, uint8_t flags);
int rados_lock_shared(rados_ioctx_t io, const char *o, const char *name, const char *cookie, const char *tag,
                      const char *desc, struct timeval *duration, uint8_t flags);
int rados_unlock(rados_ioctx_t io, const char *o, const char *name, const char *cookie);
int rados_ioctx_snap_create(rados_ioctx_t io, const char *snapname);
int rados_ioctx_snap_remove(rados_ioctx_t io, const char *snapname);
int rados_ioctx_snap_rollback(rados_ioctx_t io, const char *oid, const char *snapname);
void rados_ioctx_snap_set_read(rados_ioctx_t io, rados_snap_t snap);
int rados_ioctx_snap_list(rados_ioctx_t io, rados_snap_t *snaps, int maxlen);
int rados_ioctx_selfmanaged_snap_remove(rados_ioctx_t io, rados_snap_t snapid);
int rados_ioctx_selfmanaged_snap_rollback(rados_ioctx_t io, const char *oid, rados_snap_t snapid);
int rados_ioctx_selfmanaged_snap_set_write_ctx(rados_ioctx_t io, rados_snap_t seq, rados_snap_t *snaps,
                                               int num_snaps);
int rados_exec(rados_ioctx_t io, const char *oid, const char *cls, const char *method, const char *in_buf,
               size_t in_len, char *buf, size_t out_len);
int rados_aio_exec(rados_ioctx_t io, const char *o, rados_completion_t completion, const char *cls,
                   const char *method, const char *in_buf, size_t in_len, char *buf, size_t out_len);
int rados_tmap_update(rados_ioctx_t io, const char *o, const char *cmdbuf, size_t cmdbuflen);
int rados_tmap_put(rados_ioctx_t io, const char *o, const char *buf, size_t buflen);
int rados_tmap_get(rados_ioctx_t io, const char *o, char *buf, size_t buflen);
