/* Image and pool administration that OpenStack's cinder reaches through Ceph's own Python
 * bindings: feature updates, image metadata and config (QoS), the trash. Each forwards to the core. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

CRBD_API int rbd_update_features(rbd_image_t image, uint64_t features, uint8_t enabled)
{
    struct crbd_image *img = crbd_image_get(image);
    return img ? crbd_py_update_features(img->py, features, enabled != 0) : -EINVAL;
}

/* librbd's protocol: -ERANGE with *val_len = bytes needed (with the NUL) if the buffer is short.
 * The value is "" after any other error (when there is room for it). */
CRBD_API int rbd_metadata_get(rbd_image_t image, const char *key, char *value, size_t *val_len)
{
    struct crbd_image *img = crbd_image_get(image);
    if (value && val_len && *val_len)
        value[0] = 0;
    if (!img || !key || !val_len)
        return -EINVAL;
    struct crbd_blob blob = { 0 };
    int r = crbd_py_metadata_get(img->py, key, &blob);
    if (r < 0)
        return r;
    size_t need = blob.len + 1;
    if (*val_len < need || !value) {
        r = -ERANGE;
    } else {
        memcpy(value, blob.data, blob.len);
        value[blob.len] = 0;
    }
    *val_len = need;
    free(blob.data);
    return r;
}

CRBD_API int rbd_metadata_set(rbd_image_t image, const char *key, const char *value)
{
    struct crbd_image *img = crbd_image_get(image);
    return img && key && value ? crbd_py_metadata_set(img->py, key, value) : -EINVAL;
}

CRBD_API int rbd_metadata_remove(rbd_image_t image, const char *key)
{
    struct crbd_image *img = crbd_image_get(image);
    return img && key ? crbd_py_metadata_set(img->py, key, NULL) : -EINVAL;
}

int crbd_config_options(int r, struct crbd_blob *blob, rbd_config_option_t *options, int *max_options)
{
    int count = r < 0 ? 0 : (int)crbd_blob_records(blob, 3);
    if (r == 0 && (*max_options < count || (count && !options))) {
        r = -ERANGE;
    } else {
        const char *p = blob->data;
        for (int i = 0; i < count && r == 0; i++) {
            options[i].name = strdup(crbd_blob_next(&p));
            options[i].value = strdup(crbd_blob_next(&p));
            options[i].source = atoi(crbd_blob_next(&p));
            if (!options[i].name || !options[i].value) {
                rbd_config_image_list_cleanup(options, i + 1);
                r = -ENOMEM;
            }
        }
    }
    *max_options = r == 0 || r == -ERANGE ? count : 0;
    free(blob->data);
    return r;
}

CRBD_API int rbd_config_image_list(rbd_image_t image, rbd_config_option_t *options, int *max_options)
{
    struct crbd_image *img = crbd_image_get(image);
    if (options && max_options && *max_options > 0)
        memset(options, 0, (size_t)*max_options * sizeof *options);
    if (!img || !max_options) {
        if (max_options)
            *max_options = 0;
        return -EINVAL;
    }
    struct crbd_blob blob = { 0 };
    return crbd_config_options(crbd_py_config_list(img->py, &blob), &blob, options, max_options);
}

CRBD_API void rbd_config_image_list_cleanup(rbd_config_option_t *options, int max_options)
{
    for (int i = 0; options && i < max_options; i++) {
        free(options[i].name);
        free(options[i].value);
        options[i].name = options[i].value = NULL;
    }
}

/* ---- trash ---- */

CRBD_API int rbd_trash_move(rados_ioctx_t ioctx, const char *name, uint64_t delay)
{
    struct crbd_ioctx *io = crbd_ioctx_get(ioctx);
    return io && name ? crbd_py_trash_move(io->py, name, delay) : -EINVAL;
}

CRBD_API int rbd_trash_remove_with_progress(rados_ioctx_t ioctx, const char *id, bool force,
                                            librbd_progress_fn_t prog_cb, void *cbdata)
{
    struct crbd_ioctx *io = crbd_ioctx_get(ioctx);
    if (!io || !id)
        return -EINVAL;
    /* the core asks prog_cb before removing (non-zero: -ECANCELED, kept) and tells it when done */
    return crbd_py_trash_remove2(io->py, id, force, prog_cb, cbdata);
}

CRBD_API int rbd_trash_remove(rados_ioctx_t ioctx, const char *id, bool force)
{
    return rbd_trash_remove_with_progress(ioctx, id, force, NULL, NULL);
}

/* librbd's protocol: -ERANGE with *num_entries = entries needed if the array is short;
 * else the entries (strings malloc'ed, freed by rbd_trash_list_cleanup) and their count. The
 * array is zeroed first; *num_entries is 0 after other errors. */
CRBD_API int rbd_trash_list(rados_ioctx_t ioctx, rbd_trash_image_info_t *entries, size_t *num_entries)
{
    struct crbd_ioctx *io = crbd_ioctx_get(ioctx);
    if (entries && num_entries && *num_entries)
        memset(entries, 0, *num_entries * sizeof *entries);
    if (!io || !num_entries) {
        if (num_entries)
            *num_entries = 0;
        return -EINVAL;
    }
    struct crbd_blob blob = { 0 };   /* "id\0name\0source\0deletion\0deferment\0" per entry */
    int r = crbd_py_trash_list(io->py, &blob);
    size_t count = r < 0 ? 0 : crbd_blob_records(&blob, 5);
    if (r == 0 && (*num_entries < count || (count && !entries))) {
        r = -ERANGE;
    } else {
        const char *p = blob.data;
        for (size_t i = 0; i < count && r == 0; i++) {
            rbd_trash_image_info_t *e = &entries[i];
            e->id = strdup(crbd_blob_next(&p));
            e->name = strdup(crbd_blob_next(&p));
            e->source = atoi(crbd_blob_next(&p));
            e->deletion_time = strtoll(crbd_blob_next(&p), NULL, 10);
            e->deferment_end_time = strtoll(crbd_blob_next(&p), NULL, 10);
            if (!e->id || !e->name) {
                rbd_trash_list_cleanup(entries, i + 1);
                r = -ENOMEM;
            }
        }
    }
    *num_entries = r == 0 || r == -ERANGE ? count : 0;
    free(blob.data);
    return r == 0 ? (int)count : r;
}

CRBD_API void rbd_trash_list_cleanup(rbd_trash_image_info_t *entries, size_t num_entries)
{
    for (size_t i = 0; entries && i < num_entries; i++) {
        free(entries[i].id);
        free(entries[i].name);
        entries[i].id = entries[i].name = NULL;
    }
}
