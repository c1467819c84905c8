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
