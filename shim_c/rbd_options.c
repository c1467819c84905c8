/* rbd_image_options_t and the calls that take one (rbd_create4, rbd_clone3): python3-rbd
 * passes format, features, order, stripe unit/count and data pool this way. We keep the
 * numeric options; features, order and clone format reach the core, the rest is accepted and ignored
 * (one object size, no striping, no separate data pool). */
#include "internal.h"

#include <stdlib.h>

struct crbd_image_options {
    uint64_t value[CRBD_IMAGE_OPTIONS_MAX];
    uint64_t set;                /* bit per option that was given */
};

CRBD_API int rbd_image_options_create(rbd_image_options_t *opts)
{
    if (!opts)
        return -EINVAL;
    *opts = calloc(1, sizeof(struct crbd_image_options));
    return *opts ? 0 : -ENOMEM;
}

CRBD_API void rbd_image_options_destroy(rbd_image_options_t opts)
{
    free(opts);
}

CRBD_API int rbd_image_options_set_uint64(rbd_image_options_t opts, int optname, uint64_t optval)
{
    struct crbd_image_options *o = opts;
    if (!o || optname < 0 || optname >= CRBD_IMAGE_OPTIONS_MAX)
        return -EINVAL;
    o->value[optname] = optval;
    o->set |= 1ULL << optname;
    return 0;
}

CRBD_API int rbd_image_options_set_string(rbd_image_options_t opts, int optname, const char *optval)
{
    (void)optval;   /* data pool, journal pool: no such thing here */
    return opts && optname >= 0 && optname < CRBD_IMAGE_OPTIONS_MAX ? 0 : -EINVAL;
}

uint64_t crbd_image_option(rbd_image_options_t opts, int optname)
{
    struct crbd_image_options *o = opts;
    return o && (o->set & (1ULL << optname)) ? o->value[optname] : 0;
}

CRBD_API int rbd_create4(rados_ioctx_t ioctx, const char *name, uint64_t size, rbd_image_options_t opts)
{
    struct crbd_ioctx *io = crbd_ioctx_get(ioctx);
    if (!io || !name)
        return -EINVAL;
    if (crbd_image_option(opts, RBD_IMAGE_OPTION_FORMAT) == 1)
        return -EINVAL;   /* format 1 images have been gone since Mimic */
    return crbd_py_image_create(io->py, name, size, (int)crbd_image_option(opts, RBD_IMAGE_OPTION_ORDER),
                                crbd_image_option(opts, RBD_IMAGE_OPTION_FEATURES));
}

CRBD_API int rbd_clone3(rados_ioctx_t p_ioctx, const char *p_name, const char *p_snapname, rados_ioctx_t c_ioctx,
                        const char *c_name, rbd_image_options_t c_opts)
{
    struct crbd_ioctx *pio = crbd_ioctx_get(p_ioctx), *cio = crbd_ioctx_get(c_ioctx);
    if (!pio || !cio || !p_name || !p_snapname || !c_name)
        return -EINVAL;
    return crbd_py_image_clone(pio->py, p_name, p_snapname, cio->py, c_name,
                               crbd_image_option(c_opts, RBD_IMAGE_OPTION_FEATURES),
                               (int)crbd_image_option(c_opts, RBD_IMAGE_OPTION_ORDER),
                               (int)crbd_image_option(c_opts, RBD_IMAGE_OPTION_CLONE_FORMAT));
}
