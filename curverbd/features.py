"""librbd's image feature bits and the names Ceph shows for them: one table for every face."""

LAYERING = 1 << 0
STRIPINGV2 = 1 << 1
EXCLUSIVE_LOCK = 1 << 2
OBJECT_MAP = 1 << 3
FAST_DIFF = 1 << 4
DEEP_FLATTEN = 1 << 5
JOURNALING = 1 << 6
DATA_POOL = 1 << 7
OPERATIONS = 1 << 8
MIGRATING = 1 << 9
NON_PRIMARY = 1 << 10
DIRTY_CACHE = 1 << 11

# operation features (what an image takes part in)
OP_CLONE_PARENT = 1 << 0
OP_CLONE_CHILD = 1 << 1
OP_GROUP = 1 << 2
OP_SNAP_TRASH = 1 << 3

# (bit, name) as `rbd info` and `rbd create --image-feature` spell them
FEATURE_NAMES = ((LAYERING, "layering"), (STRIPINGV2, "striping"), (EXCLUSIVE_LOCK, "exclusive-lock"),
                 (OBJECT_MAP, "object-map"), (FAST_DIFF, "fast-diff"), (DEEP_FLATTEN, "deep-flatten"),
                 (JOURNALING, "journaling"), (DATA_POOL, "data-pool"), (OPERATIONS, "operations"),
                 (MIGRATING, "migrating"), (NON_PRIMARY, "non-primary"))
OP_FEATURE_NAMES = ((OP_CLONE_PARENT, "clone-parent"), (OP_CLONE_CHILD, "clone-child"), (OP_GROUP, "group"),
                    (OP_SNAP_TRASH, "snap-trash"))
