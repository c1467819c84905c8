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
rados_write_op_t rados_create_write_op(void);
void rados_release_write_op(rados_write_op_t write_op);
void rados_write_op_zero(rados_write_op_t write_op, uint64_t offset, uint64_t len);
int rados_aio_write_op_operate(rados_write_op_t write_op, rados_ioctx_t io, rados_completion_t completion,
                               const char *oid, time_t *mtime, int flags);

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
