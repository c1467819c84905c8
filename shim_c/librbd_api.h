/* Prototypes of the librbd functions implemented for real (everything else a known client
 * imports is generated as a stub from exports.txt). Plain C: cffi's cdef parses this too. */

void rbd_version(int *major, int *minor, int *extra);

/* pool level */
int rbd_create(rados_ioctx_t io, const char *name, uint64_t size, int *order);
int rbd_remove(rados_ioctx_t io, const char *name);
int rbd_list2(rados_ioctx_t io, rbd_image_spec_t *images, size_t *max_images);
void rbd_image_spec_list_cleanup(rbd_image_spec_t *images, size_t num_images);
int rbd_clone2(rados_ioctx_t p_ioctx, const char *p_name, const char *p_snapname, rados_ioctx_t c_ioctx,
               const char *c_name, uint64_t features, int *c_order, uint64_t stripe_unit, int stripe_count);
int rbd_namespace_exists(rados_ioctx_t io, const char *namespace_name, bool *exists);

/* open / close / info */
int rbd_open(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name);
int rbd_open_read_only(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name);
int rbd_close(rbd_image_t image);
int rbd_stat(rbd_image_t image, rbd_image_info_t *info, size_t infosize);
int rbd_get_size(rbd_image_t image, uint64_t *size);
int rbd_get_features(rbd_image_t image, uint64_t *features);
int rbd_get_flags(rbd_image_t image, uint64_t *flags);
int rbd_get_old_format(rbd_image_t image, uint8_t *old);
int rbd_get_stripe_unit(rbd_image_t image, uint64_t *stripe_unit);
int rbd_get_stripe_count(rbd_image_t image, uint64_t *stripe_count);
int rbd_get_parent_info(rbd_image_t image, char *parent_poolname, size_t ppoolnamelen, char *parent_name,
                        size_t pnamelen, char *parent_snapname, size_t psnapnamelen);
int rbd_resize(rbd_image_t image, uint64_t size);
int rbd_invalidate_cache(rbd_image_t image);

/* sync I/O */
ssize_t rbd_read(rbd_image_t image, uint64_t ofs, size_t len, char *buf);
ssize_t rbd_write(rbd_image_t image, uint64_t ofs, size_t len, const char *buf);
int rbd_discard(rbd_image_t image, uint64_t ofs, uint64_t len);
int rbd_write_zeroes(rbd_image_t image, uint64_t ofs, size_t len, int zero_flags, int op_flags);
int rbd_flush(rbd_image_t image);

/* async I/O and completions */
int rbd_aio_create_completion(void *cb_arg, rbd_callback_t complete_cb, rbd_completion_t *c);
void rbd_aio_release(rbd_completion_t c);
ssize_t rbd_aio_get_return_value(rbd_completion_t c);
void *rbd_aio_get_arg(rbd_completion_t c);
int rbd_aio_is_complete(rbd_completion_t c);
int rbd_aio_wait_for_complete(rbd_completion_t c);
int rbd_aio_read(rbd_image_t image, uint64_t off, size_t len, char *buf, rbd_completion_t c);
int rbd_aio_write(rbd_image_t image, uint64_t off, size_t len, const char *buf, rbd_completion_t c);
int rbd_aio_readv(rbd_image_t image, const struct iovec *iov, int iovcnt, uint64_t off, rbd_completion_t c);
int rbd_aio_writev(rbd_image_t image, const struct iovec *iov, int iovcnt, uint64_t off, rbd_completion_t c);
int rbd_aio_discard(rbd_image_t image, uint64_t off, uint64_t len, rbd_completion_t c);
int rbd_aio_write_zeroes(rbd_image_t image, uint64_t off, size_t len, rbd_completion_t c, int zero_flags,
                         int op_flags);
int rbd_aio_flush(rbd_image_t image, rbd_completion_t c);
int rbd_set_image_notification(rbd_image_t image, int fd, int type);
int rbd_poll_io_events(rbd_image_t image, rbd_completion_t *comps, int numcomp);

/* snapshots (none exist until the snapshot issue lands) */
int rbd_snap_create(rbd_image_t image, const char *snapname);
int rbd_snap_remove(rbd_image_t image, const char *snapname);
int rbd_snap_rollback(rbd_image_t image, const char *snapname);
int rbd_snap_list(rbd_image_t image, rbd_snap_info_t *snaps, int *max_snaps);
void rbd_snap_list_end(rbd_snap_info_t *snaps);
int rbd_snap_protect(rbd_image_t image, const char *snap_name);
int rbd_snap_unprotect(rbd_image_t image, const char *snap_name);
int rbd_snap_is_protected(rbd_image_t image, const char *snap_name, int *is_protected);

/* diff / encryption */
int rbd_diff_iterate2(rbd_image_t image, const char *fromsnapname, uint64_t ofs, uint64_t len,
                      uint8_t include_parent, uint8_t whole_object, rbd_diff_cb_t cb, void *arg);
int rbd_encryption_format(rbd_image_t image, rbd_encryption_format_t format, rbd_encryption_options_t opts,
                          size_t opts_size);
int rbd_encryption_load(rbd_image_t image, rbd_encryption_format_t format, rbd_encryption_options_t opts,
                        size_t opts_size);

/* Pacific-era variants python3-rbd calls (rbd_pacific.c, rbd_options.c) */
int rbd_image_options_create(rbd_image_options_t *opts);
void rbd_image_options_destroy(rbd_image_options_t opts);
int rbd_image_options_set_string(rbd_image_options_t opts, int optname, const char *optval);
int rbd_image_options_set_uint64(rbd_image_options_t opts, int optname, uint64_t optval);
int rbd_create4(rados_ioctx_t io, const char *name, uint64_t size, rbd_image_options_t opts);
int rbd_clone3(rados_ioctx_t p_ioctx, const char *p_name, const char *p_snapname, rados_ioctx_t c_ioctx,
               const char *c_name, rbd_image_options_t c_opts);
int rbd_list(rados_ioctx_t io, char *names, size_t *size);
int rbd_remove_with_progress(rados_ioctx_t io, const char *name, librbd_progress_fn_t cb, void *cbdata);
ssize_t rbd_read2(rbd_image_t image, uint64_t ofs, size_t len, char *buf, int op_flags);
ssize_t rbd_write2(rbd_image_t image, uint64_t ofs, size_t len, const char *buf, int op_flags);
int rbd_resize2(rbd_image_t image, uint64_t size, bool allow_shrink, librbd_progress_fn_t cb, void *cbdata);
int rbd_snap_create2(rbd_image_t image, const char *snap_name, uint32_t flags, librbd_progress_fn_t cb,
                     void *cbdata);
int rbd_snap_remove2(rbd_image_t image, const char *snap_name, uint32_t flags, librbd_progress_fn_t cb,
                     void *cbdata);
int rbd_snap_get_namespace_type(rbd_image_t image, uint64_t snap_id, rbd_snap_namespace_type_t *namespace_type);
int rbd_flatten_with_progress(rbd_image_t image, librbd_progress_fn_t cb, void *cbdata);
int rbd_get_parent(rbd_image_t image, rbd_linked_image_spec_t *parent_image, rbd_snap_spec_t *parent_snap);
int rbd_list_children3(rbd_image_t image, rbd_linked_image_spec_t *images, size_t *max_images);
void rbd_linked_image_spec_cleanup(rbd_linked_image_spec_t *image);
void rbd_linked_image_spec_list_cleanup(rbd_linked_image_spec_t *images, size_t num_images);
void rbd_snap_spec_cleanup(rbd_snap_spec_t *snap);
int rbd_get_id(rbd_image_t image, char *id, size_t id_len);
int rbd_get_name(rbd_image_t image, char *name, size_t *name_len);
int rbd_get_block_name_prefix(rbd_image_t image, char *prefix, size_t prefix_len);
int rbd_get_op_features(rbd_image_t image, uint64_t *op_features);
int rbd_snap_exists(rbd_image_t image, const char *snapname, bool *exists);
int rbd_rename(rados_ioctx_t src_io_ctx, const char *srcname, const char *destname);
int rbd_snap_rename(rbd_image_t image, const char *snapname, const char *dstsnapsname);
int rbd_snap_set(rbd_image_t image, const char *snapname);
int rbd_update_features(rbd_image_t image, uint64_t features, uint8_t enabled);
int rbd_config_image_list(rbd_image_t image, rbd_config_option_t *options, int *max_options);
void rbd_config_image_list_cleanup(rbd_config_option_t *options, int max_options);
int rbd_metadata_get(rbd_image_t image, const char *key, char *value, size_t *val_len);
int rbd_metadata_set(rbd_image_t image, const char *key, const char *value);
int rbd_metadata_remove(rbd_image_t image, const char *key);
int rbd_trash_move(rados_ioctx_t io, const char *name, uint64_t delay);
int rbd_trash_list(rados_ioctx_t io, rbd_trash_image_info_t *trash_entries, size_t *num_entries);
void rbd_trash_list_cleanup(rbd_trash_image_info_t *trash_entries, size_t num_entries);
int rbd_trash_remove_with_progress(rados_ioctx_t io, const char *id, bool force, librbd_progress_fn_t prog_cb,
                                   void *cbdata);
int rbd_copy3(rbd_image_t src, rados_ioctx_t dest_io_ctx, const char *destname, rbd_image_options_t dest_opts);
int rbd_aio_read2(rbd_image_t image, uint64_t off, size_t len, char *buf, rbd_completion_t c, int op_flags);
int rbd_aio_write2(rbd_image_t image, uint64_t off, size_t len, const char *buf, rbd_completion_t c, int op_flags);

/* Pacific's image extras (rbd_extras.c) and pool extras (rbd_pool_extras.c) */
typedef int rbd_lock_mode_t;        /* RBD_LOCK_MODE_EXCLUSIVE = 0, RBD_LOCK_MODE_SHARED = 1 */
typedef void *rbd_pool_stats_t;
typedef struct {
    char *addr;
    int64_t id;
    uint64_t cookie;
} rbd_image_watcher_t;
struct timespec;
int rbd_snap_get_id(rbd_image_t image, const char *snapname, uint64_t *snap_id);
int rbd_snap_get_name(rbd_image_t image, uint64_t snap_id, char *snapname, size_t *name_len);
int rbd_snap_get_timestamp(rbd_image_t image, uint64_t snap_id, struct timespec *timestamp);
int rbd_snap_remove_by_id(rbd_image_t image, uint64_t snap_id);
int rbd_snap_set_by_id(rbd_image_t image, uint64_t snap_id);
int rbd_snap_get_limit(rbd_image_t image, uint64_t *limit);
int rbd_snap_set_limit(rbd_image_t image, uint64_t limit);
int rbd_get_create_timestamp(rbd_image_t image, struct timespec *timestamp);
int rbd_get_access_timestamp(rbd_image_t image, struct timespec *timestamp);
int rbd_get_modify_timestamp(rbd_image_t image, struct timespec *timestamp);
int rbd_get_overlap(rbd_image_t image, uint64_t *overlap);
int rbd_metadata_list(rbd_image_t image, const char *start, uint64_t max, char *keys, size_t *key_len,
                      char *values, size_t *vals_len);
int rbd_sparsify(rbd_image_t image, size_t sparse_size);
int rbd_sparsify_with_progress(rbd_image_t image, size_t sparse_size, librbd_progress_fn_t cb, void *cbdata);
int rbd_deep_copy(rbd_image_t src, rados_ioctx_t dest_io_ctx, const char *destname, rbd_image_options_t dest_opts);
int rbd_deep_copy_with_progress(rbd_image_t image, rados_ioctx_t dest_io_ctx, const char *destname,
                                rbd_image_options_t dest_opts, librbd_progress_fn_t cb, void *cbdata);
int rbd_lock_exclusive(rbd_image_t image, const char *cookie);
int rbd_lock_shared(rbd_image_t image, const char *cookie, const char *tag);
int rbd_unlock(rbd_image_t image, const char *cookie);
int rbd_break_lock(rbd_image_t image, const char *client, const char *cookie);
ssize_t rbd_list_lockers(rbd_image_t image, int *exclusive, char *tag, size_t *tag_len, char *clients,
                         size_t *clients_len, char *cookies, size_t *cookies_len, char *addrs, size_t *addrs_len);
int rbd_lock_acquire(rbd_image_t image, rbd_lock_mode_t lock_mode);
int rbd_lock_release(rbd_image_t image);
int rbd_lock_break(rbd_image_t image, rbd_lock_mode_t lock_mode, const char *lock_owner);
int rbd_is_exclusive_lock_owner(rbd_image_t image, int *is_owner);
int rbd_lock_get_owners(rbd_image_t image, rbd_lock_mode_t *lock_mode, char **lock_owners, size_t *max_lock_owners);
void rbd_lock_get_owners_cleanup(char **lock_owners, size_t lock_owner_count);
int rbd_watchers_list(rbd_image_t image, rbd_image_watcher_t *watchers, size_t *max_watchers);
void rbd_watchers_list_cleanup(rbd_image_watcher_t *watchers, size_t num_watchers);
int rbd_open_by_id(rados_ioctx_t io, const char *id, rbd_image_t *image, const char *snap_name);
int rbd_open_by_id_read_only(rados_ioctx_t io, const char *id, rbd_image_t *image, const char *snap_name);
int rbd_aio_open(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name, rbd_completion_t c);
int rbd_aio_open_read_only(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name,
                           rbd_completion_t c);
int rbd_aio_open_by_id(rados_ioctx_t io, const char *id, rbd_image_t *image, const char *snap_name,
                       rbd_completion_t c);
int rbd_aio_open_by_id_read_only(rados_ioctx_t io, const char *id, rbd_image_t *image, const char *snap_name,
                                 rbd_completion_t c);
int rbd_aio_close(rbd_image_t image, rbd_completion_t c);
int rbd_pool_init(rados_ioctx_t io, bool force);
int rbd_pool_metadata_get(rados_ioctx_t io_ctx, const char *key, char *value, size_t *val_len);
int rbd_pool_metadata_set(rados_ioctx_t io_ctx, const char *key, const char *value);
int rbd_pool_metadata_remove(rados_ioctx_t io_ctx, const char *key);
int rbd_pool_metadata_list(rados_ioctx_t io_ctx, const char *start, uint64_t max, char *keys, size_t *key_len,
                           char *values, size_t *vals_len);
void rbd_pool_stats_create(rbd_pool_stats_t *stats);
int rbd_pool_stats_option_add_uint64(rbd_pool_stats_t stats, int stat_option, uint64_t *stat_val);
int rbd_pool_stats_get(rados_ioctx_t io_ctx, rbd_pool_stats_t stats);
int rbd_features_to_string(uint64_t features, char *str_features, size_t *size);
int rbd_features_from_string(const char *str_features, uint64_t *features);
int rbd_trash_get(rados_ioctx_t io, const char *id, rbd_trash_image_info_t *info);
void rbd_trash_get_cleanup(rbd_trash_image_info_t *info);
int rbd_trash_purge(rados_ioctx_t io, time_t expire_ts, float threshold);
int rbd_trash_purge_with_progress(rados_ioctx_t io, time_t expire_ts, float threshold, librbd_progress_fn_t cb,
                                  void *cbdata);
int rbd_trash_restore(rados_ioctx_t io, const char *id, const char *name);
int rbd_config_pool_list(rados_ioctx_t io_ctx, rbd_config_option_t *options, int *max_options);
void rbd_config_pool_list_cleanup(rbd_config_option_t *options, int max_options);

/* what an image does not have here (rbd_extras.c): a group, group or mirror snapshots, an object map,
 * a separate data pool (librbd.h's layouts) */
typedef struct {
    char *name;
    int64_t pool;
} rbd_group_info_t;
typedef struct {
    int64_t group_pool;
    char *group_name;
    char *group_snap_name;
} rbd_snap_group_namespace_t;
typedef int rbd_snap_mirror_state_t;   /* RBD_SNAP_MIRROR_STATE_* */
typedef struct {
    rbd_snap_mirror_state_t state;
    size_t mirror_peer_uuids_count;
    char *mirror_peer_uuids;
    bool complete;
    char *primary_mirror_uuid;
    uint64_t primary_snap_id;
    uint64_t last_copied_object_number;
} rbd_snap_mirror_namespace_t;
int64_t rbd_get_data_pool_id(rbd_image_t image);
int rbd_get_group(rbd_image_t image, rbd_group_info_t *group_info, size_t group_info_size);
int rbd_group_info_cleanup(rbd_group_info_t *group_info, size_t group_info_size);
int rbd_rebuild_object_map(rbd_image_t image, librbd_progress_fn_t cb, void *cbdata);
int rbd_snap_get_group_namespace(rbd_image_t image, uint64_t snap_id, rbd_snap_group_namespace_t *group_snap,
                                 size_t group_snap_size);
int rbd_snap_group_namespace_cleanup(rbd_snap_group_namespace_t *group_snap, size_t group_snap_size);
int rbd_snap_get_trash_namespace(rbd_image_t image, uint64_t snap_id, char *original_name, size_t max_length);
int rbd_snap_get_mirror_namespace(rbd_image_t image, uint64_t snap_id, rbd_snap_mirror_namespace_t *mirror_snap,
                                  size_t mirror_snap_size);
int rbd_snap_mirror_namespace_cleanup(rbd_snap_mirror_namespace_t *mirror_snap, size_t mirror_snap_size);
