/* Types, structs and constants of the librbd / librados C ABI that we export.
 * Our own declarations, written from the facts in shared/reference/librbd-clients.md
 * (sizes and offsets measured on x86_64); static asserts below keep them honest. */
#ifndef CRBD_API_TYPES_H
#define CRBD_API_TYPES_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#define CRBD_API __attribute__((visibility("default")))

#include "api_structs.h"

_Static_assert(sizeof(rbd_image_info_t) == 160, "rbd_image_info_t is 160 bytes");
_Static_assert(offsetof(rbd_image_info_t, order) == 24, "order at 24");
_Static_assert(offsetof(rbd_image_info_t, block_name_prefix) == 28, "prefix at 28");
_Static_assert(offsetof(rbd_image_info_t, parent_pool) == 56, "parent_pool at 56");
_Static_assert(offsetof(rbd_image_info_t, parent_name) == 64, "parent_name at 64");
_Static_assert(sizeof(rbd_snap_info_t) == 24, "rbd_snap_info_t is 24 bytes");
_Static_assert(sizeof(rbd_image_spec_t) == 16, "rbd_image_spec_t is 16 bytes");
_Static_assert(sizeof(rbd_linked_image_spec_t) == 48, "rbd_linked_image_spec_t is 48 bytes");
_Static_assert(sizeof(rbd_snap_spec_t) == 24, "rbd_snap_spec_t is 24 bytes");
_Static_assert(sizeof(struct rados_cluster_stat_t) == 32, "rados_cluster_stat_t is 32 bytes");
_Static_assert(sizeof(struct rados_pool_stat_t) == 128, "rados_pool_stat_t is 128 bytes");

#define RBD_FEATURE_LAYERING        (1ULL << 0)
#define RBD_FEATURE_STRIPINGV2      (1ULL << 1)
#define RBD_FEATURE_FAST_DIFF       (1ULL << 4)
#define RBD_FLAG_FAST_DIFF_INVALID  (1ULL << 1)

#define RBD_DEFAULT_ORDER 22                       /* 4 MiB objects */
#define RBD_OBJECT_SIZE   (1ULL << RBD_DEFAULT_ORDER)

#define EVENT_TYPE_PIPE    1
#define EVENT_TYPE_EVENTFD 2

/* rbd_image_options_set_* keys (librbd.h RBD_IMAGE_OPTION_*) */
#define RBD_IMAGE_OPTION_FORMAT       0
#define RBD_IMAGE_OPTION_FEATURES     1
#define RBD_IMAGE_OPTION_ORDER        2
#define RBD_IMAGE_OPTION_STRIPE_UNIT  3
#define RBD_IMAGE_OPTION_STRIPE_COUNT 4
#define RBD_IMAGE_OPTION_CLONE_FORMAT 12
#define CRBD_IMAGE_OPTIONS_MAX        32

#define RBD_SNAP_NAMESPACE_TYPE_USER 0

#define RBD_WRITE_ZEROES_FLAG_THICK_PROVISION (1U << 0)

#define LIBRBD_VER_MAJOR 1
#define LIBRBD_VER_MINOR 16
#define LIBRBD_VER_EXTRA 0
#define LIBRADOS_VER_MAJOR 3
#define LIBRADOS_VER_MINOR 0
#define LIBRADOS_VER_EXTRA 0

#endif
