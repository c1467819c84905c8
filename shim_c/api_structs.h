/* The public handle types, callback types and structs of the ABI, in plain C that both
 * gcc (through api_types.h) and cffi's cdef parser read: one definition for the build
 * and for the ABI-mode tests. No includes, guards or macros here on purpose. */

/* Opaque handles: the host only ever holds pointers. */
typedef void *rados_t;
typedef void *rados_ioctx_t;
typedef void *rados_completion_t;
typedef void *rados_write_op_t;
typedef void *rados_read_op_t;
typedef void *rbd_image_t;
typedef void *rbd_completion_t;
typedef void *rbd_encryption_options_t;

typedef void (*rados_callback_t)(rados_completion_t cb, void *arg);
typedef void (*rbd_callback_t)(rbd_completion_t cb, void *arg);
typedef int (*rbd_diff_cb_t)(uint64_t offset, size_t len, int exists, void *arg);

typedef struct {
    uint64_t size;
    uint64_t obj_size;
    uint64_t num_objs;
    int order;
    char block_name_prefix[24];   /* RBD_MAX_BLOCK_NAME_SIZE */
    int64_t parent_pool;
    char parent_name[96];         /* RBD_MAX_IMAGE_NAME_SIZE */
} rbd_image_info_t;

typedef struct { uint64_t id; uint64_t size; const char *name; } rbd_snap_info_t;
typedef struct { char *id; char *name; } rbd_image_spec_t;

struct rados_cluster_stat_t { uint64_t kb, kb_used, kb_avail, num_objects; };
struct rados_pool_stat_t {
    uint64_t num_bytes, num_kb, num_objects, num_object_clones, num_object_copies,
             num_objects_missing_on_primary, num_objects_unfound, num_objects_degraded,
             num_rd, num_rd_kb, num_wr, num_wr_kb, num_user_bytes,
             compressed_bytes_orig, compressed_bytes, compressed_bytes_alloc;
};

typedef int rbd_encryption_format_t;

/* Pacific-era calls (python3-rbd): option sets, linked specs, progress callbacks. */
typedef void *rbd_image_options_t;
typedef int (*librbd_progress_fn_t)(uint64_t offset, uint64_t total, void *ptr);
typedef int rbd_snap_namespace_type_t;
typedef struct {
    int64_t pool_id;
    char *pool_name;
    char *pool_namespace;
    char *image_id;
    char *image_name;
    bool trash;
} rbd_linked_image_spec_t;
typedef struct {
    uint64_t id;
    rbd_snap_namespace_type_t namespace_type;
    char *name;
} rbd_snap_spec_t;

/* The trash (rbd_trash_list). */
typedef int rbd_trash_image_source_t;   /* RBD_TRASH_IMAGE_SOURCE_USER = 0, ... */
typedef struct {
    char *id;
    char *name;
    rbd_trash_image_source_t source;
    int64_t deletion_time;        /* time_t in librbd.h (64-bit on the targets we build for) */
    int64_t deferment_end_time;
} rbd_trash_image_info_t;

/* Per-image config options (rbd_config_image_list). */
typedef int rbd_config_source_t;   /* RBD_CONFIG_SOURCE_CONFIG = 0, _POOL = 1, _IMAGE = 2 */
typedef struct {
    char *name;
    char *value;
    rbd_config_source_t source;
} rbd_config_option_t;
