/* Ceph Pacific librbd behaviour a C client can observe, checked against our libraries:
 *   conformance POOL            librbd's defaults
 *   conformance POOL zero-copy  the conf sets rbd_disable_zero_copy_writes = false: aio writes
 *                               use the caller's buffer until completion (not reused here)
 * Built with Debian's librbd-dev / librados-dev headers (tests/test_capi_conformance.py) and
 * run against our librbd.so.1 / librados.so.2. Prints one line per failed check and a summary;
 * exits 0 only if every check held. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

static int checks, failures;

#define CHECK(cond) do { checks++; if (!(cond)) { failures++; \
    printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); fflush(stdout); } } while (0)
#define CHECK_EQ(got, want) do { long long g_ = (long long)(got), w_ = (long long)(want); checks++; \
    if (g_ != w_) { failures++; printf("FAIL %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, \
    #got, g_, #want, w_); fflush(stdout); } } while (0)

#define MiB (1ull << 20)
#define SIZE (8 * MiB)

static rados_t cluster;
static int zero_copy;
static rados_ioctx_t io;

static rbd_image_t open_image(const char *name)
{
    rbd_image_t img = NULL;
    int r = rbd_open(io, name, &img, NULL);
    if (r < 0) {
        printf("FAIL rbd_open(%s) = %d\n", name, r);
        exit(2);
    }
    return img;
}

/* An aio call's completion value (after waiting). */
static ssize_t aio_result(int submitted, rbd_completion_t c)
{
    if (submitted < 0) {
        rbd_aio_release(c);
        return 1000 + submitted;   /* distinguishable from any completion value */
    }
    rbd_aio_wait_for_complete(c);
    ssize_t r = rbd_aio_get_return_value(c);
    rbd_aio_release(c);
    return r;
}

static rbd_completion_t completion(void)
{
    rbd_completion_t c = NULL;
    if (rbd_aio_create_completion(NULL, NULL, &c) < 0)
        exit(2);
    return c;
}

static int all_bytes(const char *buf, size_t len, char value)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != value)
            return 0;
    return 1;
}

/* ---- clip_io and return values ---- */
static void check_clip_and_returns(void)
{
    CHECK_EQ(rbd_create(io, "clip", SIZE, &(int){ 0 }), 0);
    rbd_image_t img = open_image("clip");
    char *buf = malloc(2 * MiB);
    memset(buf, 'w', 2 * MiB);
    rbd_completion_t c;

    /* sync: the clipped length, -EINVAL from the end on, 0 for empty requests anywhere */
    CHECK_EQ(rbd_write(img, 0, 8192, buf), 8192);
    CHECK_EQ(rbd_write(img, SIZE - 100, 8192, buf), 100);
    CHECK_EQ(rbd_write(img, SIZE, 10, buf), -EINVAL);
    CHECK_EQ(rbd_write(img, SIZE + 4096, 10, buf), -EINVAL);
    CHECK_EQ(rbd_write(img, SIZE + 4096, 0, buf), 0);
    CHECK_EQ(rbd_read(img, SIZE - 100, 8192, buf), 100);
    CHECK(all_bytes(buf, 100, 'w'));
    CHECK_EQ(rbd_read(img, SIZE, 10, buf), -EINVAL);
    CHECK_EQ(rbd_read(img, SIZE + 1, 10, buf), -EINVAL);
    CHECK_EQ(rbd_read(img, SIZE, 0, buf), 0);
    CHECK_EQ(rbd_read(img, SIZE * 2, 0, buf), 0);
    CHECK_EQ(rbd_read2(img, SIZE, 10, buf, 0), -EINVAL);
    CHECK_EQ(rbd_write2(img, SIZE - 1, 10, buf, 0), 1);
    CHECK_EQ(rbd_discard(img, 4096, 5000), 5000);
    CHECK_EQ(rbd_discard(img, SIZE - 10, 5000), 10);
    CHECK_EQ(rbd_discard(img, SIZE, 5000), -EINVAL);
    CHECK_EQ(rbd_discard(img, SIZE + 1, 0), 0);
    CHECK_EQ(rbd_write_zeroes(img, 100, 3000, 0, 0), 3000);
    CHECK_EQ(rbd_write_zeroes(img, SIZE - 3, 3000, 0, 0), 3);
    CHECK_EQ(rbd_write_zeroes(img, SIZE, 3000, 0, 0), -EINVAL);
    CHECK_EQ(rbd_write_zeroes(img, SIZE + 7, 0, 0, 0), 0);
    memset(buf, 'x', 8192);
    CHECK_EQ(rbd_read(img, 0, 8192, buf), 8192);
    CHECK(all_bytes(buf, 100, 'w'));
    CHECK(all_bytes(buf + 100, 3000, 0));
    CHECK(all_bytes(buf + 3100, 996, 'w'));
    CHECK(all_bytes(buf + 4096, 4096, 0));   /* the discard, up to the end of the read */

    /* aio: reads complete with the bytes read, everything else with 0 */
    memset(buf, 'a', 2 * MiB);
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_write(img, MiB, MiB, buf, c), c), 0);
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_write(img, 3, 5000, buf, c), c), 0);                   /* unaligned */
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_write2(img, SIZE - 4096, 8192, buf, c, 0), c), 0);      /* clipped */
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_write(img, SIZE, 10, buf, c), c), -EINVAL);
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_write(img, SIZE + 5, 0, buf, c), c), 0);
    struct iovec wv[2] = { { buf, 1000 }, { buf + 1000, 3096 } };
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_writev(img, wv, 2, 2 * MiB, c), c), 0);
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_discard(img, 5 * MiB, 10000, c), c), 0);
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_discard(img, SIZE, 10, c), c), -EINVAL);
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_write_zeroes(img, 6 * MiB, 12345, c, 0, 0), c), 0);
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_write_zeroes(img, SIZE + 1, 10, c, 0, 0), c), -EINVAL);
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_flush(img, c), c), 0);

    char *rd = malloc(2 * MiB);
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_read(img, MiB, MiB, rd, c), c), (long long)MiB);
    CHECK(all_bytes(rd, MiB, 'a'));
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_read(img, SIZE - 1000, 4096, rd, c), c), 1000);
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_read2(img, SIZE, 4096, rd, c, 0), c), -EINVAL);
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_read(img, SIZE + MiB, 0, rd, c), c), 0);
    struct iovec rv[2] = { { rd, 3000 }, { rd + 3000, 5192 } };
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_readv(img, rv, 2, SIZE - 4096, c), c), 4096);            /* clipped */
    c = completion();
    CHECK_EQ(aio_result(rbd_aio_readv(img, rv, 2, SIZE, c), c), -EINVAL);
    CHECK_EQ(rbd_flush(img), 0);
    CHECK_EQ(rbd_close(img), 0);
    free(rd);
    free(buf);
}

/* ---- aio writes own a copy of the caller's data (rbd_disable_zero_copy_writes = true) ---- */
static void check_buffer_reuse(void)
{
    CHECK_EQ(rbd_create(io, "reuse", SIZE, &(int){ 0 }), 0);
    rbd_image_t img = open_image("reuse");
    enum { N = 16, LEN = 64 * 1024 };
    char *blocker = malloc(LEN + 1000);
    memset(blocker, 'z', LEN + 1000);
    rbd_completion_t before[N], c[N];
    char *bufs[N];
    /* unaligned writes over the range first: the writes below wait for their range lock, so
     * their data is still unsent when the caller reuses the buffers */
    for (int i = 0; i < N; i++) {
        before[i] = completion();
        CHECK_EQ(rbd_aio_write(img, 100 + (uint64_t)i * LEN, LEN + 1000, blocker, before[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        bufs[i] = malloc(LEN);
        memset(bufs[i], 'A' + i, LEN);
        c[i] = completion();
        CHECK_EQ(rbd_aio_write(img, (uint64_t)i * LEN, LEN, bufs[i], c[i]), 0);
        if (!zero_copy)
            memset(bufs[i], '#', LEN);   /* reused right after submission */
    }
    if (!zero_copy)
        memset(blocker, '#', LEN + 1000);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(aio_result(0, before[i]), 0);
        CHECK_EQ(aio_result(0, c[i]), 0);
    }
    char *rd = malloc(LEN);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(rbd_read(img, (uint64_t)i * LEN, LEN, rd), LEN);
        CHECK(all_bytes(rd, LEN, 'A' + i));
        free(bufs[i]);
    }
    CHECK_EQ(rbd_read(img, (uint64_t)N * LEN, 1100, rd), 1100);
    CHECK(all_bytes(rd, 1100, 'z'));
    CHECK_EQ(rbd_close(img), 0);
    free(rd);
    free(blocker);
}

/* ---- geometry from the stored state ---- */
static void check_geometry(void)
{
    rbd_image_options_t opts;
    rbd_image_options_create(&opts);
    CHECK_EQ(rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_ORDER, 20), 0);
    CHECK_EQ(rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FEATURES, 0x3d), 0);
    CHECK_EQ(rbd_create4(io, "geo20", 10 * MiB + 1, opts), 0);
    rbd_image_options_destroy(opts);
    rbd_image_t img = open_image("geo20");
    uint64_t v = 0;
    CHECK_EQ(rbd_get_features(img, &v), 0);
    CHECK_EQ(v, 0x3d);
    rbd_image_info_t info;
    memset(&info, 0xff, sizeof info);
    CHECK_EQ(rbd_stat(img, &info, sizeof info), 0);
    CHECK_EQ(info.size, 10 * MiB + 1);
    CHECK_EQ(info.order, 20);
    CHECK_EQ(info.obj_size, MiB);
    CHECK_EQ(info.num_objs, 11);
    CHECK(strncmp(info.block_name_prefix, "rbd_data.", 9) == 0);
    CHECK_EQ(rbd_get_stripe_unit(img, &v), 0);
    CHECK_EQ(v, MiB);
    CHECK_EQ(rbd_get_stripe_count(img, &v), 0);
    CHECK_EQ(v, 1);
    char prefix[64] = { 0 };
    CHECK_EQ(rbd_get_block_name_prefix(img, prefix, sizeof prefix), 0);
    CHECK(strcmp(prefix, info.block_name_prefix) == 0);
    CHECK_EQ(rbd_close(img), 0);

    int order = 0;
    CHECK_EQ(rbd_create(io, "geo22", 9 * MiB, &order), 0);
    CHECK_EQ(order, 22);
    img = open_image("geo22");
    CHECK_EQ(rbd_get_features(img, &v), 0);
    CHECK_EQ(v, RBD_FEATURE_LAYERING);
    CHECK_EQ(rbd_stat(img, &info, sizeof info), 0);
    CHECK_EQ(info.order, 22);
    CHECK_EQ(info.obj_size, 4 * MiB);
    CHECK_EQ(info.num_objs, 3);
    char prefix22[64] = { 0 };
    CHECK_EQ(rbd_get_block_name_prefix(img, prefix22, sizeof prefix22), 0);
    CHECK(strcmp(prefix22, prefix) != 0);   /* per image */
    CHECK_EQ(rbd_get_stripe_unit(img, &v), 0);
    CHECK_EQ(v, 4 * MiB);
    CHECK_EQ(rbd_close(img), 0);
}

/* ---- rbd_list_descendants: clones, and clones of clones ---- */
static int has_image(rbd_linked_image_spec_t *specs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (specs[i].image_name && strcmp(specs[i].image_name, name) == 0 && specs[i].pool_name &&
            specs[i].image_id && specs[i].image_id[0])
            return 1;
    return 0;
}

static void check_descendants(const char *pool)
{
    int order = 0;
    CHECK_EQ(rbd_create(io, "par", SIZE, &order), 0);
    rbd_image_t par = open_image("par");
    CHECK_EQ(rbd_snap_create(par, "s"), 0);
    CHECK_EQ(rbd_snap_protect(par, "s"), 0);
    order = 0;
    CHECK_EQ(rbd_clone2(io, "par", "s", io, "kid", RBD_FEATURE_LAYERING, &order, 0, 0), 0);
    rbd_image_t kid = open_image("kid");
    CHECK_EQ(rbd_snap_create(kid, "t"), 0);
    CHECK_EQ(rbd_snap_protect(kid, "t"), 0);
    order = 0;
    CHECK_EQ(rbd_clone2(io, "kid", "t", io, "grandkid", RBD_FEATURE_LAYERING, &order, 0, 0), 0);

    rbd_linked_image_spec_t specs[8];
    memset(specs, 0xab, sizeof specs);
    size_t n = 0;
    CHECK_EQ(rbd_list_descendants(par, specs, &n), -ERANGE);
    CHECK_EQ(n, 2);
    n = 8;
    CHECK_EQ(rbd_list_descendants(par, specs, &n), 0);
    CHECK_EQ(n, 2);
    CHECK(n == 2 && strcmp(specs[0].image_name, "kid") == 0 && strcmp(specs[1].image_name, "grandkid") == 0);
    CHECK(n == 2 && strcmp(specs[0].pool_name, pool) == 0 && strcmp(specs[0].pool_namespace, "") == 0);
    CHECK(has_image(specs, n, "kid") && has_image(specs, n, "grandkid"));
    rbd_linked_image_spec_list_cleanup(specs, n);

    n = 8;
    CHECK_EQ(rbd_list_children3(par, specs, &n), 0);
    CHECK_EQ(n, 1);
    CHECK(has_image(specs, n, "kid"));
    rbd_linked_image_spec_list_cleanup(specs, n);

    n = 8;
    CHECK_EQ(rbd_list_descendants(kid, specs, &n), 0);
    CHECK_EQ(n, 1);
    CHECK(has_image(specs, n, "grandkid"));
    rbd_linked_image_spec_list_cleanup(specs, n);

    rbd_image_t gk = open_image("grandkid");
    n = 8;
    CHECK_EQ(rbd_list_descendants(gk, specs, &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(rbd_close(gk), 0);
    CHECK_EQ(rbd_close(kid), 0);
    CHECK_EQ(rbd_close(par), 0);
}

/* ---- unsupported calls: -EOPNOTSUPP, outputs empty ---- */
static void check_unsupported(void)
{
    rbd_image_t img = open_image("clip");
    char names[256];
    size_t size = sizeof names;
    memset(names, 'q', sizeof names);
    CHECK_EQ(rbd_group_list(io, names, &size), -EOPNOTSUPP);
    CHECK_EQ(size, 0);
    size = sizeof names;
    CHECK_EQ(rbd_namespace_list(io, names, &size), -EOPNOTSUPP);
    CHECK_EQ(size, 0);

    rbd_group_image_info_t gimages[4];
    size_t count = 4;
    CHECK_EQ(rbd_group_image_list(io, "g", gimages, sizeof gimages[0], &count), -EOPNOTSUPP);
    CHECK_EQ(count, 0);
    rbd_group_snap_info_t gsnaps[4];
    count = 4;
    CHECK_EQ(rbd_group_snap_list(io, "g", gsnaps, sizeof gsnaps[0], &count), -EOPNOTSUPP);
    CHECK_EQ(count, 0);
    /* an image in no group: librbd answers 0, pool -1, name "" (rbd_group_info_cleanup frees it) */
    rbd_group_info_t ginfo;
    memset(&ginfo, 0xff, sizeof ginfo);
    CHECK_EQ(rbd_get_group(img, &ginfo, sizeof ginfo), 0);
    CHECK(ginfo.pool == -1 && ginfo.name && ginfo.name[0] == 0);
    CHECK_EQ(rbd_group_info_cleanup(&ginfo, sizeof ginfo), 0);
    memset(&ginfo, 0xff, sizeof ginfo);
    CHECK_EQ(rbd_get_group(img, &ginfo, sizeof ginfo - 1), -ERANGE);

    rbd_mirror_image_info_t minfo;
    memset(&minfo, 0xff, sizeof minfo);
    CHECK_EQ(rbd_mirror_image_get_info(img, &minfo, sizeof minfo), -EOPNOTSUPP);
    CHECK(minfo.global_id == NULL && minfo.state == 0 && minfo.primary == 0);
    rbd_mirror_image_global_status_t gstatus;
    memset(&gstatus, 0xff, sizeof gstatus);
    CHECK_EQ(rbd_mirror_image_get_global_status(img, &gstatus, sizeof gstatus), -EOPNOTSUPP);
    CHECK(gstatus.name == NULL && gstatus.site_statuses == NULL && gstatus.site_statuses_count == 0);
    rbd_mirror_mode_t mode = (rbd_mirror_mode_t)7;
    CHECK_EQ(rbd_mirror_mode_get(io, &mode), -EOPNOTSUPP);
    CHECK_EQ(mode, RBD_MIRROR_MODE_DISABLED);
    char *ids[4];
    rbd_mirror_image_global_status_t statuses[4];
    count = 4;
    CHECK_EQ(rbd_mirror_image_global_status_list(io, "", 4, ids, statuses, &count), -EOPNOTSUPP);
    CHECK_EQ(count, 0);
    rbd_mirror_peer_site_t peers[2];
    int npeers = 2;
    CHECK_EQ(rbd_mirror_peer_site_list(io, peers, &npeers), -EOPNOTSUPP);
    CHECK_EQ(npeers, 0);

    rbd_image_migration_status_t mstatus;
    memset(&mstatus, 0xff, sizeof mstatus);
    CHECK_EQ(rbd_migration_status(io, "clip", &mstatus, sizeof mstatus), -EOPNOTSUPP);
    CHECK(mstatus.source_image_name == NULL && mstatus.dest_image_name == NULL && mstatus.state_description == NULL);

    /* the lock and listing calls below are implemented; an image without exclusive-lock: */
    char *owners[4];
    size_t nowners = 4;
    rbd_lock_mode_t lmode = (rbd_lock_mode_t)7;
    CHECK_EQ(rbd_lock_get_owners(img, &lmode, owners, &nowners), -EINVAL);
    CHECK_EQ(nowners, 0);
    CHECK_EQ(lmode, RBD_LOCK_MODE_EXCLUSIVE);
    rbd_image_watcher_t watchers[4];
    count = 4;
    CHECK_EQ(rbd_watchers_list(img, watchers, &count), 0);
    CHECK_EQ(count, 0);
    int exclusive = 5;
    char tag[32], clients[32], cookies[32], addrs[32];
    size_t tag_len = 32, clients_len = 32, cookies_len = 32, addrs_len = 32;
    CHECK_EQ(rbd_list_lockers(img, &exclusive, tag, &tag_len, clients, &clients_len, cookies, &cookies_len, addrs,
                              &addrs_len), 0);
    CHECK(exclusive == 0 && tag_len == 1 && clients_len == 0 && cookies_len == 0 && addrs_len == 0 && !tag[0]);
    char keys[32], vals[32];
    size_t keys_len = 32, vals_len = 32;
    CHECK_EQ(rbd_metadata_list(img, "", 0, keys, &keys_len, vals, &vals_len), 0);
    CHECK(keys_len == 0 && vals_len == 0);

    char *outbuf = (char *)1, *outs = (char *)1;
    size_t outbuf_len = 9, outs_len = 9;
    const char *cmd[] = { "{\"prefix\": \"status\"}" };
    CHECK_EQ(rados_mgr_command(cluster, cmd, 1, "", 0, &outbuf, &outbuf_len, &outs, &outs_len), -EOPNOTSUPP);
    CHECK(outbuf == NULL && outbuf_len == 0 && outs == NULL && outs_len == 0);
    CHECK_EQ(rbd_close(img), 0);
}

/* Pacific's extras: librbd's size protocols (-ERANGE with the size needed) and the outputs of errors. */
static void check_extras(void)
{
    CHECK_EQ(rbd_create(io, "extras", 4 * MiB, &(int){ 22 }), 0);
    rbd_image_t img = open_image("extras");
    uint64_t id = 7;
    CHECK_EQ(rbd_snap_get_id(img, "nope", &id), -ENOENT);
    CHECK_EQ(id, 0);
    char name[16] = "junk";
    size_t name_len = sizeof name;
    CHECK_EQ(rbd_snap_get_name(img, 12345, name, &name_len), -ENOENT);
    CHECK(name_len == 0 && name[0] == 0);
    CHECK_EQ(rbd_snap_create(img, "e1"), 0);
    CHECK_EQ(rbd_snap_get_id(img, "e1", &id), 0);
    name_len = 1;
    CHECK_EQ(rbd_snap_get_name(img, id, name, &name_len), -ERANGE);
    CHECK_EQ(name_len, 3);
    name_len = sizeof name;
    CHECK_EQ(rbd_snap_get_name(img, id, name, &name_len), 0);
    CHECK(name_len == 3 && strcmp(name, "e1") == 0);
    struct timespec ts = { 1, 1 };
    CHECK_EQ(rbd_snap_get_timestamp(img, id, &ts), 0);
    CHECK(ts.tv_sec > 1600000000);
    CHECK_EQ(rbd_snap_get_timestamp(img, id + 1000, &ts), -ENOENT);
    CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0);
    CHECK_EQ(rbd_get_create_timestamp(img, &ts), 0);
    CHECK(ts.tv_sec > 1600000000);
    uint64_t limit = 0;
    CHECK_EQ(rbd_snap_get_limit(img, &limit), 0);
    CHECK(limit == UINT64_MAX);
    CHECK_EQ(rbd_snap_set_limit(img, 0), -ERANGE);   /* below the snapshots there are */
    CHECK_EQ(rbd_snap_set_limit(img, 1), 0);
    CHECK_EQ(rbd_snap_get_limit(img, &limit), 0);
    CHECK_EQ(limit, 1);
    CHECK_EQ(rbd_snap_create(img, "e2"), -EDQUOT);
    CHECK_EQ(rbd_snap_set_limit(img, UINT64_MAX), 0);
    CHECK_EQ(rbd_snap_remove_by_id(img, id + 1000), -ENOENT);
    CHECK_EQ(rbd_snap_remove_by_id(img, id), 0);
    uint64_t overlap = 9;
    CHECK_EQ(rbd_get_overlap(img, &overlap), 0);
    CHECK_EQ(overlap, 0);

    char feats[64];
    size_t feats_len = 4;
    CHECK_EQ(rbd_features_to_string(RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK, feats, &feats_len), -ERANGE);
    CHECK_EQ(feats_len, sizeof "layering,exclusive-lock");
    feats_len = sizeof feats;
    CHECK_EQ(rbd_features_to_string(RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK, feats, &feats_len), 0);
    CHECK(strcmp(feats, "layering,exclusive-lock") == 0);
    uint64_t features = 9;
    CHECK_EQ(rbd_features_from_string("layering,bogus", &features), -EINVAL);
    CHECK_EQ(features, 0);

    /* advisory locks */
    CHECK_EQ(rbd_lock_exclusive(img, "ck"), 0);
    CHECK_EQ(rbd_lock_exclusive(img, "ck"), -EEXIST);
    CHECK_EQ(rbd_lock_shared(img, "other", "t"), -EBUSY);
    int exclusive = 5;
    char tag[8], clients[64], cookies[8], addrs[64];
    size_t tag_len = 0, clients_len = 0, cookies_len = 0, addrs_len = 0;
    CHECK_EQ(rbd_list_lockers(img, &exclusive, tag, &tag_len, clients, &clients_len, cookies, &cookies_len, addrs,
                              &addrs_len), -ERANGE);
    char client[64];
    snprintf(client, sizeof client, "client.%llu", (unsigned long long)rados_get_instance_id(cluster));
    CHECK(tag_len == 1 && clients_len == strlen(client) + 1 && cookies_len == 3 && addrs_len > 1);
    tag_len = sizeof tag, clients_len = sizeof clients, cookies_len = sizeof cookies, addrs_len = sizeof addrs;
    CHECK_EQ(rbd_list_lockers(img, &exclusive, tag, &tag_len, clients, &clients_len, cookies, &cookies_len, addrs,
                              &addrs_len), 1);
    CHECK(exclusive == 1 && strcmp(clients, client) == 0 && strcmp(cookies, "ck") == 0 && tag[0] == 0);
    CHECK_EQ(rbd_break_lock(img, "client.1", "ck"), -ENOENT);
    CHECK_EQ(rbd_unlock(img, "ck"), 0);
    CHECK_EQ(rbd_unlock(img, "ck"), -ENOENT);
    CHECK_EQ(rbd_lock_acquire(img, RBD_LOCK_MODE_SHARED), -EOPNOTSUPP);
    CHECK_EQ(rbd_lock_acquire(img, RBD_LOCK_MODE_EXCLUSIVE), -EINVAL);   /* no exclusive-lock feature */
    int owner = 5;
    CHECK_EQ(rbd_is_exclusive_lock_owner(img, &owner), 0);
    CHECK_EQ(owner, 0);

    /* image metadata listing: paging after `start`, at most `max` */
    CHECK_EQ(rbd_metadata_set(img, "k1", "v1"), 0);
    CHECK_EQ(rbd_metadata_set(img, "k2", "value2"), 0);
    char keys[16], vals[16];
    size_t keys_len = 2, vals_len = 2;
    CHECK_EQ(rbd_metadata_list(img, "", 0, keys, &keys_len, vals, &vals_len), -ERANGE);
    CHECK(keys_len == 6 && vals_len == 10);
    keys_len = vals_len = 16;
    CHECK_EQ(rbd_metadata_list(img, "k1", 1, keys, &keys_len, vals, &vals_len), 0);
    CHECK(keys_len == 3 && vals_len == 7 && strcmp(keys, "k2") == 0 && strcmp(vals, "value2") == 0);
    CHECK_EQ(rbd_sparsify(img, 1000), -EINVAL);
    CHECK_EQ(rbd_sparsify(img, 4096), 0);

    /* opening by id */
    char image_id[64];
    CHECK_EQ(rbd_get_id(img, image_id, sizeof image_id), 0);
    rbd_image_t by_id = (rbd_image_t)1;
    CHECK_EQ(rbd_open_by_id_read_only(io, "no-such-id", &by_id, NULL), -ENOENT);
    CHECK(by_id == NULL);
    CHECK_EQ(rbd_open_by_id_read_only(io, image_id, &by_id, NULL), 0);
    uint64_t size = 0;
    CHECK_EQ(rbd_get_size(by_id, &size), 0);
    CHECK_EQ(size, 4 * MiB);
    CHECK_EQ(rbd_close(by_id), 0);
    CHECK_EQ(rbd_close(img), 0);

    /* pool metadata, statistics, trash */
    char value[8] = "junk";
    size_t value_len = sizeof value;
    CHECK_EQ(rbd_pool_metadata_get(io, "pk", value, &value_len), -ENOENT);
    CHECK(value_len == 0 && value[0] == 0);
    CHECK_EQ(rbd_pool_metadata_set(io, "pk", "pv"), 0);
    value_len = 1;
    CHECK_EQ(rbd_pool_metadata_get(io, "pk", value, &value_len), -ERANGE);
    CHECK_EQ(value_len, 3);
    value_len = sizeof value;
    CHECK_EQ(rbd_pool_metadata_get(io, "pk", value, &value_len), 0);
    CHECK(strcmp(value, "pv") == 0);
    keys_len = vals_len = 16;
    CHECK_EQ(rbd_pool_metadata_list(io, "", 0, keys, &keys_len, vals, &vals_len), 0);
    CHECK(keys_len == 3 && vals_len == 3 && strcmp(keys, "pk") == 0 && strcmp(vals, "pv") == 0);
    CHECK_EQ(rbd_pool_metadata_remove(io, "pk"), 0);
    CHECK_EQ(rbd_pool_metadata_remove(io, "pk"), -ENOENT);
    /* statistics of a pool of its own: one 4 MiB image with one snapshot */
    rados_ioctx_t sio;
    CHECK_EQ(rados_pool_create(cluster, "extras-stats"), 0);
    CHECK_EQ(rados_ioctx_create(cluster, "extras-stats", &sio), 0);
    CHECK_EQ(rbd_create(sio, "s", 4 * MiB, &(int){ 22 }), 0);
    rbd_image_t simg = NULL;
    CHECK_EQ(rbd_open(sio, "s", &simg, NULL), 0);
    CHECK_EQ(rbd_snap_create(simg, "one"), 0);
    CHECK_EQ(rbd_close(simg), 0);
    rbd_pool_stats_t stats;
    rbd_pool_stats_create(&stats);
    uint64_t images = 9, provisioned = 9, max_provisioned = 9, snaps = 9, trashed = 9;
    CHECK_EQ(rbd_pool_stats_option_add_uint64(stats, RBD_POOL_STAT_OPTION_IMAGES, &images), 0);
    CHECK_EQ(rbd_pool_stats_option_add_uint64(stats, RBD_POOL_STAT_OPTION_IMAGE_PROVISIONED_BYTES, &provisioned), 0);
    CHECK_EQ(rbd_pool_stats_option_add_uint64(stats, RBD_POOL_STAT_OPTION_IMAGE_MAX_PROVISIONED_BYTES,
                                              &max_provisioned), 0);
    CHECK_EQ(rbd_pool_stats_option_add_uint64(stats, RBD_POOL_STAT_OPTION_IMAGE_SNAPSHOTS, &snaps), 0);
    CHECK_EQ(rbd_pool_stats_option_add_uint64(stats, RBD_POOL_STAT_OPTION_TRASH_IMAGES, &trashed), 0);
    CHECK_EQ(rbd_pool_stats_get(sio, stats), 0);
    CHECK(images == 1 && provisioned == 4 * MiB && max_provisioned == 8 * MiB && snaps == 1 && trashed == 0);
    rbd_pool_stats_destroy(stats);
    rados_ioctx_destroy(sio);
    rbd_trash_image_info_t info;
    memset(&info, 0xff, sizeof info);
    CHECK_EQ(rbd_trash_get(io, "no-such-id", &info), -ENOENT);
    CHECK(info.id == NULL && info.name == NULL);
    CHECK_EQ(rbd_trash_move(io, "extras", 0), 0);
    CHECK_EQ(rbd_trash_get(io, image_id, &info), 0);
    CHECK(strcmp(info.id, image_id) == 0 && strcmp(info.name, "extras") == 0);
    rbd_trash_get_cleanup(&info);
    CHECK_EQ(rbd_trash_purge(io, 0, -1), 0);
    CHECK_EQ(rbd_trash_get(io, image_id, &info), -ENOENT);
}

/* Progress callbacks: how often and with what they were called. */
struct progress { int calls; uint64_t done, total; };
static int count_progress(uint64_t done, uint64_t total, void *arg)
{
    struct progress *p = arg;
    p->calls++;
    p->done = done;
    p->total = total;
    return 0;
}

static int has_option(const rbd_config_option_t *options, int n, const char *name, const char *value, int source)
{
    for (int i = 0; i < n; i++)
        if (strcmp(options[i].name, name) == 0)
            return strcmp(options[i].value, value) == 0 && (int)options[i].source == source;
    return 0;
}

/* Issue 14's follow-ups: the calls our Python module had and the C ABI lacked, the snapshot namespaces
 * and the group as librbd answers them here, and the outputs of the older calls on their error paths
 * (QEMU still calls the deprecated rbd_list and rbd_get_parent_info). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
/* rbd_admin.c's calls: outputs on their error paths, librbd's -ERANGE protocol */
static void check_admin_outputs(void)
{
    CHECK_EQ(rbd_create(io, "adm", 4 * MiB, &(int){ 22 }), 0);
    rbd_image_t img = open_image("adm");
    char value[8] = "junk";
    size_t value_len = sizeof value;
    CHECK_EQ(rbd_metadata_get(img, "missing", value, &value_len), -ENOENT);
    CHECK(value[0] == 0 && value_len == sizeof value);
    CHECK_EQ(rbd_metadata_set(img, "k", "a longer value"), 0);
    value_len = sizeof value;
    CHECK_EQ(rbd_metadata_get(img, "k", value, &value_len), -ERANGE);
    CHECK_EQ(value_len, 15);
    rbd_config_option_t options[1];
    int max_options = 1;
    memset(options, 0xff, sizeof options);
    CHECK_EQ(rbd_config_image_list(NULL, options, &max_options), -EINVAL);
    CHECK(max_options == 0 && options[0].name == NULL && options[0].value == NULL);
    max_options = 0;
    CHECK_EQ(rbd_config_image_list(img, NULL, &max_options), -ERANGE);
    CHECK(max_options > 1);
    CHECK_EQ(rbd_close(img), 0);
    CHECK_EQ(rbd_trash_move(io, "adm", 0), 0);
    rbd_trash_image_info_t entries[1];
    size_t num_entries = 0;
    CHECK_EQ(rbd_trash_list(io, entries, &num_entries), -ERANGE);
    CHECK_EQ(num_entries, 1);
    memset(entries, 0xff, sizeof entries);
    num_entries = 1;
    CHECK_EQ(rbd_trash_list(NULL, entries, &num_entries), -EINVAL);
    CHECK(num_entries == 0 && entries[0].id == NULL && entries[0].name == NULL);
    num_entries = 1;
    CHECK_EQ(rbd_trash_list(io, entries, &num_entries), 1);
    CHECK(num_entries == 1 && strcmp(entries[0].name, "adm") == 0);
    CHECK_EQ(rbd_trash_remove(io, entries[0].id, 1), 0);
    rbd_trash_list_cleanup(entries, num_entries);
}

static void check_followups(void)
{
    CHECK_EQ(rbd_create(io, "fu", 4 * MiB, &(int){ 22 }), 0);
    rbd_image_t img = open_image("fu");
    CHECK_EQ(rbd_snap_create(img, "u"), 0);
    uint64_t sid = 0;
    CHECK_EQ(rbd_snap_get_id(img, "u", &sid), 0);

    /* snapshot namespaces of a user snapshot: -EINVAL; of none: -ENOENT; outputs zeroed */
    rbd_snap_namespace_type_t type = (rbd_snap_namespace_type_t)7;
    CHECK_EQ(rbd_snap_get_namespace_type(img, sid, &type), 0);
    CHECK_EQ(type, RBD_SNAP_NAMESPACE_TYPE_USER);
    type = (rbd_snap_namespace_type_t)7;
    CHECK_EQ(rbd_snap_get_namespace_type(img, sid + 1000, &type), -ENOENT);
    CHECK_EQ(type, RBD_SNAP_NAMESPACE_TYPE_USER);
    rbd_snap_group_namespace_t gns;
    memset(&gns, 0xff, sizeof gns);
    CHECK_EQ(rbd_snap_get_group_namespace(img, sid, &gns, sizeof gns), -EINVAL);
    CHECK(gns.group_pool == 0 && gns.group_name == NULL && gns.group_snap_name == NULL);
    CHECK_EQ(rbd_snap_get_group_namespace(img, sid + 1000, &gns, sizeof gns), -ENOENT);
    CHECK_EQ(rbd_snap_get_group_namespace(img, sid, &gns, sizeof gns + 1), -ERANGE);
    CHECK_EQ(rbd_snap_group_namespace_cleanup(&gns, sizeof gns), 0);
    rbd_snap_mirror_namespace_t mns;
    memset(&mns, 0xff, sizeof mns);
    CHECK_EQ(rbd_snap_get_mirror_namespace(img, sid, &mns, sizeof mns), -EINVAL);
    CHECK(mns.mirror_peer_uuids == NULL && mns.primary_mirror_uuid == NULL && mns.mirror_peer_uuids_count == 0);
    CHECK_EQ(rbd_snap_get_mirror_namespace(img, sid + 1000, &mns, sizeof mns), -ENOENT);
    CHECK_EQ(rbd_snap_mirror_namespace_cleanup(&mns, sizeof mns), 0);
    char original[16] = "junk";
    CHECK_EQ(rbd_snap_get_trash_namespace(img, sid, original, sizeof original), -EINVAL);
    CHECK(original[0] == 0);
    CHECK_EQ(rbd_snap_get_trash_namespace(img, sid + 1000, original, sizeof original), -ENOENT);

    /* the data pool: the image's own, the same id for every image of the pool */
    int64_t pool = rbd_get_data_pool_id(img);
    CHECK(pool > 0);
    CHECK_EQ(rbd_get_data_pool_id(NULL), -EINVAL);

    /* the object map: nothing kept, nothing to rebuild; librbd's refusals */
    struct progress progress = { 0, 0, 0 };
    CHECK_EQ(rbd_rebuild_object_map(img, count_progress, &progress), -EINVAL);   /* no object-map feature */
    CHECK_EQ(progress.calls, 0);
    rbd_image_options_t opts;
    rbd_image_options_create(&opts);
    CHECK_EQ(rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FEATURES,
                                          RBD_FEATURE_LAYERING | RBD_FEATURE_EXCLUSIVE_LOCK |
                                          RBD_FEATURE_OBJECT_MAP), 0);
    CHECK_EQ(rbd_create4(io, "fu-om", 4 * MiB, opts), 0);
    rbd_image_options_destroy(opts);
    rbd_image_t om = open_image("fu-om");
    CHECK_EQ(rbd_get_data_pool_id(om), pool);
    CHECK_EQ(rbd_rebuild_object_map(om, count_progress, &progress), 0);
    CHECK(progress.calls == 1 && progress.done == 1 && progress.total == 1);
    CHECK_EQ(rbd_rebuild_object_map(om, NULL, NULL), 0);
    CHECK_EQ(rbd_close(om), 0);
    CHECK_EQ(rbd_open_read_only(io, "fu-om", &om, NULL), 0);
    CHECK_EQ(rbd_rebuild_object_map(om, count_progress, &progress), -EROFS);
    CHECK_EQ(progress.calls, 1);
    CHECK_EQ(rbd_close(om), 0);

    /* a snapshot removed while a format 2 clone reads it: the trash namespace, with its old name */
    rbd_image_options_create(&opts);
    CHECK_EQ(rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_CLONE_FORMAT, 2), 0);
    CHECK_EQ(rbd_clone3(io, "fu", "u", io, "fu-clone", opts), 0);
    rbd_image_options_destroy(opts);
    CHECK_EQ(rbd_snap_remove(img, "u"), 0);
    rbd_snap_info_t snaps[4];
    int max_snaps = 4;
    CHECK_EQ(rbd_snap_list(img, snaps, &max_snaps), 1);
    uint64_t tid = snaps[0].id;
    CHECK(strcmp(snaps[0].name, "u") != 0);   /* named by a UUID */
    rbd_snap_list_end(snaps);
    CHECK_EQ(rbd_snap_get_namespace_type(img, tid, &type), 0);
    CHECK_EQ(type, RBD_SNAP_NAMESPACE_TYPE_TRASH);
    memset(original, 'x', sizeof original);
    CHECK_EQ(rbd_snap_get_trash_namespace(img, tid, original, 1), -ERANGE);
    CHECK(original[0] == 0);
    CHECK_EQ(rbd_snap_get_trash_namespace(img, tid, original, sizeof original), 0);
    CHECK(strcmp(original, "u") == 0);
    CHECK_EQ(rbd_snap_get_group_namespace(img, tid, &gns, sizeof gns), -EINVAL);

    /* the older calls' outputs on their error paths (librbd's -ERANGE protocol: the length needed) */
    char id[64];
    CHECK_EQ(rbd_get_id(img, id, sizeof id), 0);
    char small[4] = "abc";
    CHECK_EQ(rbd_get_id(img, small, 1), -ERANGE);
    CHECK(small[0] == 0);
    char name[16] = "junk";
    size_t name_len = 2;
    CHECK_EQ(rbd_get_name(img, name, &name_len), -ERANGE);
    CHECK(name_len == 3 && name[0] == 0);
    name_len = sizeof name;
    CHECK_EQ(rbd_get_name(img, name, &name_len), 0);
    CHECK(name_len == 3 && strcmp(name, "fu") == 0);
    name_len = sizeof name;
    memcpy(name, "junk", 5);
    CHECK_EQ(rbd_get_name(NULL, name, &name_len), -EINVAL);
    CHECK(name_len == 0 && name[0] == 0);
    memcpy(small, "abc", 4);
    CHECK_EQ(rbd_get_block_name_prefix(img, small, sizeof small), -ERANGE);
    CHECK(small[0] == 0);
    uint64_t op_features = 9;
    CHECK_EQ(rbd_get_op_features(NULL, &op_features), -EINVAL);
    CHECK_EQ(op_features, 0);
    rbd_linked_image_spec_t parent;
    rbd_snap_spec_t parent_snap;
    memset(&parent, 0xab, sizeof parent);
    memset(&parent_snap, 0xab, sizeof parent_snap);
    CHECK_EQ(rbd_get_parent(img, &parent, &parent_snap), -ENOENT);   /* not a clone */
    CHECK(parent.pool_name == NULL && parent.image_name == NULL && parent.image_id == NULL &&
          parent_snap.name == NULL && parent_snap.id == 0);
    rbd_linked_image_spec_cleanup(&parent);
    rbd_snap_spec_cleanup(&parent_snap);
    rbd_image_t clone = open_image("fu-clone");
    char ppool[64] = "junk", pname[2] = "j", psnap[64] = "junk";
    CHECK_EQ(rbd_get_parent_info(clone, NULL, 0, pname, sizeof pname, psnap, sizeof psnap), -ERANGE);
    CHECK(pname[0] == 0 && psnap[0] == 0);   /* as librbd: filled up to the first too short */
    CHECK_EQ(rbd_get_parent_info(clone, ppool, sizeof ppool, NULL, 0, NULL, 0), 0);   /* NULL: not asked for */
    CHECK(strcmp(ppool, "conf") == 0);
    CHECK_EQ(rbd_get_parent_info(clone, NULL, 0, NULL, 0, psnap, sizeof psnap), 0);
    CHECK(psnap[0] != 0);
    CHECK_EQ(rbd_close(clone), 0);
    rbd_snap_info_t bad[2];
    memset(bad, 0xab, sizeof bad);
    max_snaps = 2;
    CHECK_EQ(rbd_snap_list(NULL, bad, &max_snaps), -EINVAL);
    CHECK(max_snaps == 0 && bad[0].name == NULL && bad[1].name == NULL);
    int is_protected = 7;
    CHECK_EQ(rbd_snap_is_protected(img, "nope", &is_protected), -ENOENT);
    CHECK_EQ(is_protected, 0);
    rbd_image_spec_t specs[2];
    memset(specs, 0xab, sizeof specs);
    size_t nspecs = 2;
    CHECK_EQ(rbd_list2(NULL, specs, &nspecs), -EINVAL);
    CHECK(nspecs == 0 && specs[0].id == NULL && specs[1].name == NULL);
    char names[4] = "abc";
    size_t names_len = sizeof names;
    CHECK_EQ(rbd_list(io, names, &names_len), -ERANGE);
    CHECK(names_len > sizeof names && names[0] == 0);
    bool exists = true;
    CHECK_EQ(rbd_namespace_exists(NULL, "", &exists), -EINVAL);
    CHECK(!exists);
    rbd_image_info_t info;
    memset(&info, 0xab, sizeof info);
    CHECK_EQ(rbd_stat(NULL, &info, sizeof info), -EINVAL);
    CHECK(info.size == 0 && info.parent_pool == -1);
    CHECK_EQ(rbd_close(img), 0);

    /* the trash restore: the core's (under a new name, or its own with "") */
    CHECK_EQ(rbd_create(io, "fu-t", MiB, &(int){ 22 }), 0);
    rbd_image_t t = open_image("fu-t");
    char tid_s[64];
    CHECK_EQ(rbd_get_id(t, tid_s, sizeof tid_s), 0);
    CHECK_EQ(rbd_close(t), 0);
    CHECK_EQ(rbd_trash_move(io, "fu-t", 0), 0);
    CHECK_EQ(rbd_trash_restore(io, "no-such-id", "x"), -ENOENT);
    CHECK_EQ(rbd_trash_restore(io, tid_s, "fu-t2"), 0);
    CHECK_EQ(rbd_open(io, "fu-t2", &t, NULL), 0);
    CHECK_EQ(rbd_close(t), 0);
    CHECK_EQ(rbd_trash_move(io, "fu-t2", 0), 0);
    CHECK_EQ(rbd_trash_restore(io, tid_s, ""), 0);
    CHECK_EQ(rbd_open(io, "fu-t2", &t, NULL), 0);
    CHECK_EQ(rbd_close(t), 0);
    CHECK_EQ(rbd_trash_restore(NULL, tid_s, ""), -EINVAL);

    /* the pool's config: librbd's -ERANGE protocol, the QoS options and the pool's overrides */
    CHECK_EQ(rbd_pool_metadata_set(io, "conf_rbd_qos_iops_limit", "100"), 0);
    CHECK_EQ(rbd_pool_metadata_set(io, "conf_rbd_cache", "false"), 0);
    int noptions = 0;
    CHECK_EQ(rbd_config_pool_list(io, NULL, &noptions), -ERANGE);
    CHECK_EQ(noptions, 13);
    rbd_config_option_t options[16];
    noptions = 16;
    CHECK_EQ(rbd_config_pool_list(io, options, &noptions), 0);
    CHECK_EQ(noptions, 13);
    CHECK(has_option(options, noptions, "rbd_qos_iops_limit", "100", RBD_CONFIG_SOURCE_POOL));
    CHECK(has_option(options, noptions, "rbd_cache", "false", RBD_CONFIG_SOURCE_POOL));
    CHECK(has_option(options, noptions, "rbd_qos_bps_limit", "0", RBD_CONFIG_SOURCE_CONFIG));
    rbd_config_pool_list_cleanup(options, noptions);
    memset(options, 0xab, sizeof options);
    noptions = 16;
    CHECK_EQ(rbd_config_pool_list(NULL, options, &noptions), -EINVAL);
    CHECK(noptions == 0 && options[0].name == NULL && options[15].value == NULL);
    CHECK_EQ(rbd_pool_metadata_remove(io, "conf_rbd_qos_iops_limit"), 0);
    CHECK_EQ(rbd_pool_metadata_remove(io, "conf_rbd_cache"), 0);
}
#pragma GCC diagnostic pop

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "zero-copy") != 0)) {
        fprintf(stderr, "usage: %s POOL [zero-copy]\n", argv[0]);
        return 2;
    }
    zero_copy = argc == 3;
    int r = rados_create(&cluster, NULL);
    if (r == 0)
        r = rados_conf_read_file(cluster, NULL);
    if (r == 0)
        r = rados_connect(cluster);
    if (r == 0)
        r = rados_ioctx_create(cluster, argv[1], &io);
    if (r < 0) {
        printf("FAIL connecting: %d\n", r);
        return 2;
    }
    check_clip_and_returns();
    check_buffer_reuse();
    if (!zero_copy) {
        check_geometry();
        check_descendants(argv[1]);
        check_unsupported();
        check_extras();
        check_followups();
        check_admin_outputs();
    }
    rados_ioctx_destroy(io);
    rados_shutdown(cluster);
    printf("%d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
