/* The boundary between the C exports and the embedded Python control plane (cffi cdef).
 * build_so.py feeds this file (after api_structs.h) to cffi, and writes it as C into
 * crbd_boundary.h (included by internal.h): the extern "Python+C" block, which cffi's module
 * unit defines (non-static, hidden), becomes plain declarations for the other units.
 * Handles are integers naming Python objects in curverbd.capi.handles. Every callback returns
 * 0 or -errno. */

/* What rbd_open learns from the core Image. */
struct crbd_open_info {
    void *c_image;                /* the core Image's C image (engine.c): the caller's rbd_image_t */
    uint64_t handle;              /* the Python Image */
    int32_t nebd_fd;              /* the volume's fd on the daemon (server-wide) */
    uint32_t block_size;          /* Curve's I/O alignment, 4096 */
    uint64_t size;                /* exact logical size */
    char block_name_prefix[24];
    int32_t copy_writes;          /* conf rbd_disable_zero_copy_writes: aio writes copy the caller's buffer */
    uint32_t close_timeout_ms;    /* conf curverbd_close_timeout (s): rbd_close / rbd_flush wait at most this (0: forever) */
};

/* The image's geometry as created (its stored state): rbd_get_features, rbd_stat, striping. */
struct crbd_image_geometry {
    uint64_t features;
    uint64_t stripe_unit;
    uint64_t stripe_count;
    int32_t order;
};

/* rbd snapshot operations routed to the core (crbd_py_snap_op). */
enum crbd_snap_op {
    CRBD_SNAP_CREATE = 1, CRBD_SNAP_REMOVE = 2, CRBD_SNAP_ROLLBACK = 3,
    CRBD_SNAP_PROTECT = 4, CRBD_SNAP_UNPROTECT = 5, CRBD_SNAP_IS_PROTECTED = 6
};

/* rados object writes (crbd_py_object_write). */
enum crbd_object_write { CRBD_OBJECT_WRITE = 0, CRBD_OBJECT_WRITE_FULL = 1, CRBD_OBJECT_APPEND = 2 };

/* Advisory lock operations (crbd_py_advisory_lock) and the exclusive-lock feature's (crbd_py_managed_lock). */
enum crbd_lock_op { CRBD_LOCK_EXCLUSIVE = 1, CRBD_LOCK_SHARED = 2, CRBD_UNLOCK = 3, CRBD_BREAK_LOCK = 4 };
enum crbd_managed_lock_op { CRBD_LOCK_ACQUIRE = 1, CRBD_LOCK_RELEASE = 2, CRBD_LOCK_BREAK = 3 };

/* What rbd_encryption_format / rbd_encryption_load learn from the core (curverbd/core/luks.py):
 * the volume key and the data area's geometry. The C engine encrypts per sector with it. */
struct crbd_crypto_info {
    uint8_t key[64];              /* the XTS key: 32 (AES128) or 64 (AES256) bytes */
    uint32_t key_len;
    uint32_t sector_size;         /* 512 (LUKS1) or 4096 (LUKS2) */
    uint64_t data_offset;         /* bytes: where the data area starts in the raw image */
    char cipher[32];              /* "aes-xts-plain64" */
};

/* Steps of a compound object op (rados_ops.c encodes them, capi/object_calls.py decodes them). */
enum crbd_op_step {
    CRBD_STEP_CREATE = 1, CRBD_STEP_WRITE = 2, CRBD_STEP_WRITE_FULL = 3, CRBD_STEP_APPEND = 4,
    CRBD_STEP_WRITESAME = 5, CRBD_STEP_REMOVE = 6, CRBD_STEP_TRUNCATE = 7, CRBD_STEP_ZERO = 8,
    CRBD_STEP_SETXATTR = 9, CRBD_STEP_RMXATTR = 10, CRBD_STEP_OMAP_SET = 11, CRBD_STEP_OMAP_RM_KEYS = 12,
    CRBD_STEP_OMAP_RM_RANGE = 13, CRBD_STEP_OMAP_CLEAR = 14, CRBD_STEP_OMAP_CMP = 15, CRBD_STEP_CMPEXT = 16,
    CRBD_STEP_ASSERT_VERSION = 17, CRBD_STEP_ASSERT_EXISTS = 18, CRBD_STEP_LOCK = 19, CRBD_STEP_UNLOCK = 20,
    CRBD_STEP_OMAP_GET_VALS = 21, CRBD_STEP_OMAP_GET_KEYS = 22, CRBD_STEP_OMAP_GET_VALS_BY_KEYS = 23
};

/* A malloc'ed byte string handed from Python to C (C frees it). */
struct crbd_blob { char *data; size_t len; };

extern "Python+C" {
    int crbd_py_cluster_create(const char *user, uint64_t *handle);
    int crbd_py_conf_read_file(uint64_t cluster, const char *path);
    int crbd_py_conf_set(uint64_t cluster, const char *key, const char *value);
    int crbd_py_conf_get(uint64_t cluster, const char *key, struct crbd_blob *value);
    int crbd_py_connect(uint64_t cluster);
    int crbd_py_cluster_shutdown(uint64_t cluster);
    int crbd_py_cluster_stat(uint64_t cluster, struct rados_cluster_stat_t *stat);
    int crbd_py_ioctx_create(uint64_t cluster, const char *pool, uint64_t *handle);
    int crbd_py_ioctx_destroy(uint64_t ioctx);
    int crbd_py_pool_stat(uint64_t ioctx, struct rados_pool_stat_t *stat);
    int crbd_py_image_create(uint64_t ioctx, const char *name, uint64_t size, int order, uint64_t features);
    int crbd_py_image_remove(uint64_t ioctx, const char *name);
    int crbd_py_image_list(uint64_t ioctx, struct crbd_blob *specs);
    int crbd_py_image_clone(uint64_t p_ioctx, const char *p_name, const char *p_snap, uint64_t c_ioctx,
                            const char *c_name, uint64_t features, int order,
                            int clone_format);   /* 0: conf rbd_default_clone_format */
    int crbd_py_image_open(uint64_t ioctx, const char *name, const char *snap, int read_only,
                           struct crbd_open_info *info);
    int crbd_py_image_lock_writes(uint64_t image);   /* take the image's write lock (writer_lock.py), waiting for it */
    int crbd_py_io_done(uint64_t token, int64_t ret);   /* a core aio call (crbd_image_submit) completed */
    int crbd_py_image_close(uint64_t image);
    int crbd_py_image_geometry(uint64_t image, struct crbd_image_geometry *geometry);
    int crbd_py_image_resize(uint64_t image, uint64_t size);
    int crbd_py_image_size(uint64_t image, uint64_t *size);
    int crbd_py_snap_list(uint64_t image, struct crbd_blob *snaps);
    int crbd_py_snap_op(uint64_t image, int op, const char *name, int *result);
    int crbd_py_parent_info(uint64_t image, struct crbd_blob *spec);
    int crbd_py_diff_iterate(uint64_t image, const char *fromsnap, uint64_t ofs, uint64_t len,
                             int include_parent, int whole_object, rbd_diff_cb_t cb, void *arg);
    int crbd_py_image_names(uint64_t image, struct crbd_blob *names);
    int crbd_py_image_flatten(uint64_t image, librbd_progress_fn_t cb, void *arg);
    int crbd_py_children(uint64_t image, int descendants, struct crbd_blob *specs);   /* descendants: clones of clones too */
    int crbd_py_image_rename(uint64_t ioctx, const char *src, const char *dst);
    int crbd_py_snap_rename(uint64_t image, const char *src, const char *dst);
    int crbd_py_snap_set(uint64_t image, const char *name);   /* NULL: the image */
    int crbd_py_image_copy(uint64_t image, uint64_t dest_ioctx, const char *dest_name);
    int crbd_py_cluster_fsid(uint64_t cluster, struct crbd_blob *fsid);
    int crbd_py_pool_list(uint64_t cluster, struct crbd_blob *names);
    int crbd_py_pool_create(uint64_t cluster, const char *name);
    int crbd_py_pool_delete(uint64_t cluster, const char *name);
    int crbd_py_object_write(uint64_t ioctx, const char *oid, const char *buf, size_t len, uint64_t off,
                             int mode);
    int crbd_py_object_read(uint64_t ioctx, const char *oid, char *buf, size_t len, uint64_t off);
    int crbd_py_object_stat(uint64_t ioctx, const char *oid, uint64_t *size, int64_t *mtime);
    int crbd_py_object_remove(uint64_t ioctx, const char *oid);
    int crbd_py_mon_command(uint64_t cluster, const char *cmd, struct crbd_blob *outbuf, struct crbd_blob *outs);
    int crbd_py_update_features(uint64_t image, uint64_t features, int enabled);
    int crbd_py_metadata_set(uint64_t image, const char *key, const char *value);   /* value NULL: remove */
    int crbd_py_metadata_get(uint64_t image, const char *key, struct crbd_blob *value);
    int crbd_py_config_list(uint64_t image, struct crbd_blob *options);
    int crbd_py_trash_move(uint64_t ioctx, const char *name, uint64_t delay);
    int crbd_py_trash_list(uint64_t ioctx, struct crbd_blob *entries);
    /* the removals with librbd's progress callback (NULL: none); non-zero from it cancels (-ECANCELED) */
    int crbd_py_image_remove2(uint64_t ioctx, const char *name, librbd_progress_fn_t cb, void *arg);
    int crbd_py_trash_remove2(uint64_t ioctx, const char *id, int force, librbd_progress_fn_t cb, void *arg);
    int crbd_py_snap_remove2(uint64_t image, const char *name, uint32_t flags);
    /* librbd's client-side encryption (capi/crypto_calls.py): format writes a LUKS header and loads it;
     * the core hands the key to the engine (crbd_image_set_crypto) */
    int crbd_py_encryption_format(uint64_t image, int format, int alg, const char *passphrase, size_t passphrase_len);
    int crbd_py_encryption_load(uint64_t image, int format, const char *passphrase, size_t passphrase_len);
    /* Pacific's extras (capi/pacific_calls.py): the snapshot named `name`, or with id snap_id if name is NULL */
    int crbd_py_snap_find(uint64_t image, const char *name, uint64_t snap_id, uint64_t *id, double *timestamp,
                          struct crbd_blob *found_name);
    int crbd_py_snap_limit(uint64_t image, uint64_t *limit);
    int crbd_py_snap_set_limit(uint64_t image, uint64_t limit);
    int crbd_py_image_timestamps(uint64_t image, double *times);   /* create, access, modify (s) */
    int crbd_py_overlap(uint64_t image, uint64_t *overlap);
    int crbd_py_metadata_list(uint64_t image, const char *start, uint64_t max, struct crbd_blob *pairs);
    int crbd_py_sparsify(uint64_t image, uint64_t sparse_size, librbd_progress_fn_t cb, void *arg);
    int crbd_py_deep_copy(uint64_t image, uint64_t dest_ioctx, const char *dest_name, uint64_t features, int order,
                          librbd_progress_fn_t cb, void *arg);   /* features, order 0: the source's */
    int crbd_py_advisory_lock(uint64_t image, int op, const char *cookie, const char *tag_or_client);
    int crbd_py_lockers(uint64_t image, int *exclusive, struct crbd_blob *lockers);
    int crbd_py_managed_lock(uint64_t image, int op, const char *owner);
    int crbd_py_lock_owners(uint64_t image, struct crbd_blob *owners);
    int crbd_py_is_lock_owner(uint64_t image, int *is_owner);
    int crbd_py_image_name_of_id(uint64_t ioctx, const char *id, struct crbd_blob *name);
    int crbd_py_pool_init(uint64_t ioctx, int force);
    int crbd_py_pool_metadata_get(uint64_t ioctx, const char *key, struct crbd_blob *value);
    int crbd_py_pool_metadata_set(uint64_t ioctx, const char *key, const char *value);   /* value NULL: remove */
    int crbd_py_pool_metadata_list(uint64_t ioctx, const char *start, uint64_t max, struct crbd_blob *pairs);
    int crbd_py_pool_stats(uint64_t ioctx, uint64_t *stats);   /* 8 figures, RBD_POOL_STAT_OPTION_* order */
    int crbd_py_trash_purge(uint64_t ioctx, int64_t expire_ts);
    int crbd_py_features_to_string(uint64_t features, struct crbd_blob *names);
    int crbd_py_features_from_string(const char *names, uint64_t *features);
    int crbd_py_instance_id(uint64_t cluster, uint64_t *id);
    /* librados pool ids, applications, truncation (capi/rados_calls.py, core/rados_pools.py; rados_extras.c) */
    int crbd_py_pool_lookup(uint64_t cluster, const char *name, int64_t *id);
    int crbd_py_pool_reverse_lookup(uint64_t cluster, int64_t id, struct crbd_blob *name);
    int crbd_py_pool_base_tier(uint64_t cluster, int64_t id, int64_t *base_tier);
    int crbd_py_ioctx_pool_id(uint64_t ioctx, int64_t *id);
    int crbd_py_application_enable(uint64_t ioctx, const char *app, int force);
    int crbd_py_application_list(uint64_t ioctx, struct crbd_blob *names);   /* NUL-terminated names */
    int crbd_py_application_metadata_get(uint64_t ioctx, const char *app, const char *key, struct crbd_blob *value);
    int crbd_py_application_metadata_set(uint64_t ioctx, const char *app, const char *key,
                                         const char *value);   /* value NULL: remove */
    int crbd_py_application_metadata_list(uint64_t ioctx, const char *app, struct crbd_blob *pairs);   /* key\0value\0 each */
    int crbd_py_object_truncate(uint64_t ioctx, const char *oid, uint64_t size);
    /* object xattrs (core/object_xattrs.py): remove 1 removes the xattr (buf unused) */
    int crbd_py_object_xattr_get(uint64_t ioctx, const char *oid, const char *name, struct crbd_blob *value);
    int crbd_py_object_xattr_set(uint64_t ioctx, const char *oid, const char *name, const char *buf, size_t len,
                                 int remove);
    int crbd_py_object_xattrs(uint64_t ioctx, const char *oid, struct crbd_blob *attrs);   /* name\0 len\0 bytes, each */
    /* what an image does not have (core/image_extras.py), pool config, trash restore: rbd_extras.c,
     * rbd_pool_extras.c. snap_namespace: namespace -1 asks the type only; else EINVAL unless the
     * snapshot is in that RBD_SNAP_NAMESPACE_TYPE_* (a trash one gives its original name). */
    int crbd_py_snap_namespace(uint64_t image, uint64_t snap_id, int namespace_type, int *type,
                               struct crbd_blob *original_name);
    int crbd_py_group(uint64_t image, int64_t *pool, struct crbd_blob *name);
    int crbd_py_rebuild_object_map(uint64_t image, librbd_progress_fn_t cb, void *arg);
    int crbd_py_data_pool_id(uint64_t image, int64_t *pool_id);
    int crbd_py_config_pool_list(uint64_t ioctx, struct crbd_blob *options);   /* "name\0value\0source\0" each */
    /* name "": the name it had before the trash */
    int crbd_py_trash_restore(uint64_t ioctx, const char *id, const char *name);
    /* compound object ops (core/object_ops.py; rados_ops.c): steps and results encoded as rados_ops.c says;
     * read 1 for a read op; mtime -1: now. object_list: "ns\0key\0" each, sorted */
    int crbd_py_object_operate(uint64_t ioctx, const char *oid, int read, const char *steps, size_t len,
                               int64_t mtime, struct crbd_blob *results);
    int crbd_py_object_list(uint64_t ioctx, struct crbd_blob *entries);
}

/* C helpers the Python side calls. */
int crbd_blob_set(struct crbd_blob *blob, const char *data, size_t len);
/* The data engine as the core drives it (engine.c): a core Cluster's data connections, and per core
 * Image its C image (the rbd_image_t of the C ABI too), its state pushed by the core, and its I/O
 * (kind: enum crbd_op_kind READ 0, WRITE 1, DISCARD 2, ZERO 3, FLUSH 4). */
int crbd_lanes_open(const char *socket_path, uint32_t busy_poll_us, void **lanes);
void crbd_lanes_close(void *lanes);
int crbd_image_new(void *lanes, const struct crbd_open_info *info, int read_only, void **c_image);
void crbd_image_free(void *c_image);
void crbd_image_set_file(void *c_image, int32_t nebd_fd, uint64_t size, int read_only);
void crbd_image_set_size(void *c_image, uint64_t size);
void crbd_image_refuse(void *c_image, int errnum);   /* every I/O fails with -errnum (0: none) */
int crbd_image_set_crypto(void *c_image, const struct crbd_crypto_info *info);
int crbd_image_wait_idle(void *c_image, unsigned timeout_ms);
int crbd_image_submit(void *c_image, int kind, uint64_t off, uint64_t len, char *buf, uint64_t token, int copy);
int64_t crbd_image_sync(void *c_image, int kind, uint64_t off, uint64_t len, char *buf);
void crbd_engine_python_exit(void);   /* the interpreter exits: aio completions no longer call into it */
/* The write lock came (held 1) or goes (held 0: returns once the image's writes in flight are done). */
void crbd_image_write_lock_set(void *c_image, int held);
void crbd_log_write(const char *line, size_t len);
int crbd_log_set_path(const char *path);
int crbd_embedded(void);   /* 1 if the library started the interpreter (the host is not Python) */
const char *crbd_library_path(void);   /* the file this library was loaded from */
