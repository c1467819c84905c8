"""librbd's documented behaviour of the calls beyond OpenStack's, run twice by the same script:
through our rbd/rados modules, and through Debian's python3-rbd/python3-rados (Pacific's bindings)
over our C libraries. Each observation is the value or the exact exception class and errno."""
from __future__ import annotations

import zlib

import pytest

from capi_helpers import make_pool
from faces import FACES, OUTCOME, differences, observe

MiB = 1 << 20

BODY = r'''
import json, sys
import rados, rbd
''' + OUTCOME + r'''
out = {}
with rados.Rados(conffile="") as cluster, cluster.open_ioctx("conf") as ioctx:
    r = rbd.RBD()
    out["pool_init"] = outcome(r.pool_init, ioctx, False)
    out["pool_init_application"] = ioctx.application_list()
    r.create(ioctx, "img", 4 << 20, features=rbd.RBD_FEATURE_LAYERING)
    out["features_to_string"] = outcome(r.features_to_string, rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK)
    out["features_from_string"] = outcome(r.features_from_string, "layering,exclusive-lock")
    out["features_from_bad"] = outcome(r.features_from_string, "no-such-feature")
    out["pool_metadata_set"] = outcome(r.pool_metadata_set, ioctx, "k", "v")
    out["pool_metadata_get"] = outcome(r.pool_metadata_get, ioctx, "k")
    out["pool_metadata_list"] = outcome(lambda: [list(p) for p in r.pool_metadata_list(ioctx)] and "listed")
    out["pool_metadata_remove"] = outcome(r.pool_metadata_remove, ioctx, "k")
    out["pool_metadata_missing"] = outcome(r.pool_metadata_get, ioctx, "k")
    with rbd.Image(ioctx, "img") as img:
        img.write(b"x" * 4096, 0)
        img.create_snap("s1")
        try:
            stats = r.pool_stats_get(ioctx)
            out["pool_stats"] = [stats["image_count"], stats["image_provisioned_bytes"],
                                 stats["image_max_provisioned_bytes"], stats["image_snap_count"]]
        except Exception as exc:
            out["pool_stats"] = [type(exc).__name__, getattr(exc, "errno", None)]
        snap_id = img.snap_get_id("s1")
        out["snap_get_name"] = outcome(img.snap_get_name, snap_id)
        out["snap_get_id_missing"] = outcome(img.snap_get_id, "nope")
        out["snap_limit_default"] = outcome(img.get_snap_limit)
        out["set_snap_limit"] = outcome(img.set_snap_limit, 1)
        out["snap_limit_set"] = outcome(img.get_snap_limit)
        out["snap_over_limit"] = outcome(img.create_snap, "s2")
        out["remove_snap_limit"] = outcome(img.remove_snap_limit)
        out["overlap"] = outcome(img.overlap)
        out["parent_id_not_clone"] = outcome(img.parent_id)
        out["timestamp_type"] = type(img.create_timestamp()).__name__
        out["watchers"] = outcome(lambda: len(list(img.watchers_list())))
        out["lockers_none"] = outcome(img.list_lockers)
        out["lock_exclusive"] = outcome(img.lock_exclusive, "c1")
        out["lock_exclusive_again"] = outcome(img.lock_exclusive, "c1")
        out["lock_shared_busy"] = outcome(img.lock_shared, "c2", "tag")
        try:
            lockers = img.list_lockers()
            out["lockers"] = [lockers["exclusive"], lockers["tag"], [l[1] for l in lockers["lockers"]]]
        except Exception as exc:
            out["lockers"] = [type(exc).__name__, getattr(exc, "errno", None)]
        out["unlock"] = outcome(img.unlock, "c1")
        out["unlock_again"] = outcome(img.unlock, "c1")
        out["lock_acquire_no_feature"] = outcome(img.lock_acquire, rbd.RBD_LOCK_MODE_EXCLUSIVE)
        out["lock_acquire_shared"] = outcome(img.lock_acquire, rbd.RBD_LOCK_MODE_SHARED)
        out["is_owner"] = outcome(img.is_exclusive_lock_owner)
        out["encryption_format"] = outcome(img.encryption_format, rbd.RBD_ENCRYPTION_FORMAT_LUKS1, "pw")
        done = []
        img.aio_write(b"y" * 512, 8192, lambda c: done.append(c.get_return_value())).wait_for_complete_and_cb()
        img.aio_read(8192, 512, lambda c, data: done.append(data == b"y" * 512)).wait_for_complete_and_cb()
        img.aio_flush(lambda c: done.append(c.get_return_value())).wait_for_complete_and_cb()
        out["aio"] = done
        out["snap_timestamp_type"] = type(img.get_snap_timestamp(snap_id)).__name__
        out["snap_get_name_missing"] = outcome(img.snap_get_name, snap_id + 1000)
        out["remove_snap_by_id_missing"] = outcome(img.remove_snap_by_id, snap_id + 1000)
        img.metadata_set("m1", "x")
        img.metadata_set("m2", "y")
        out["metadata_list"] = [list(p) for p in img.metadata_list()]   # the advisory lock's key is hidden
        img.lock_exclusive("c3")
        client = img.list_lockers()["lockers"][0][0]
        out["locker_is_this_client"] = client == "client.%d" % cluster.get_instance_id()
        out["break_lock"] = outcome(img.break_lock, client, "c3")
        out["break_lock_again"] = outcome(img.break_lock, client, "c3")
        out["lockers_after_break"] = outcome(img.list_lockers)
        out["lock_get_owners_no_feature"] = outcome(lambda: list(img.lock_get_owners()))
        out["sparsify"] = outcome(img.sparsify, 4096)
        out["sparsify_bad_size"] = outcome(img.sparsify, 1000)
        out["deep_copy"] = outcome(img.deep_copy, ioctx, "dc")
        with rbd.Image(ioctx, "dc", read_only=True) as dc:
            out["deep_copy_result"] = [[s["name"] for s in dc.list_snaps()], dc.size(), dc.read(0, 4).decode(),
                                       [list(p) for p in dc.metadata_list()]]
        with rbd.Image(ioctx, image_id=img.id(), read_only=True) as by_id:
            out["open_by_id_size"] = by_id.size()
        out["open_by_id_missing"] = outcome(lambda: rbd.Image(ioctx, image_id="nosuchid", read_only=True))
        opened = []
        r.aio_open_image(lambda c, i: opened.append((c.get_return_value(), i)), ioctx, name="img",
                         read_only=True).wait_for_complete_and_cb()
        out["aio_open"] = [opened[0][0], opened[0][1].size()]
        opened[0][1].close()
        out["remove_snap_by_id"] = outcome(img.remove_snap_by_id, snap_id)
    r.create(ioctx, "xl", 1 << 20, features=rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK)
    with rbd.Image(ioctx, "xl") as xl:
        out["xl_owner_at_open"] = outcome(xl.is_exclusive_lock_owner)
        out["xl_owners"] = [o["mode"] for o in xl.lock_get_owners()]
        out["xl_release"] = outcome(xl.lock_release)
        out["xl_owner_released"] = outcome(xl.is_exclusive_lock_owner)
        out["xl_release_again"] = outcome(xl.lock_release)
        out["xl_acquire"] = outcome(xl.lock_acquire, rbd.RBD_LOCK_MODE_EXCLUSIVE)
        out["xl_owner_acquired"] = outcome(xl.is_exclusive_lock_owner)
        out["xl_break_shared"] = outcome(xl.lock_break, rbd.RBD_LOCK_MODE_SHARED, "someone")
    r.create(ioctx, "t1", 1 << 20)
    r.trash_move(ioctx, "t1", 0)
    trash_id = [e["id"] for e in r.trash_list(ioctx)][0]
    entry = r.trash_get(ioctx, trash_id)
    out["trash_get"] = [entry["id"] == trash_id, entry["name"]]
    out["trash_purge"] = outcome(r.trash_purge, ioctx)
    out["trash_after_purge"] = len(list(r.trash_list(ioctx)))
    out["features_to_string_bad"] = outcome(r.features_to_string, 1 << 40)
    r.pool_metadata_set(ioctx, "b", "2")
    r.pool_metadata_set(ioctx, "a", "1")
    out["pool_metadata_pairs"] = [list(p) for p in r.pool_metadata_list(ioctx)]
    out["instance_id_positive"] = cluster.get_instance_id() > 0
    out["trash_get_missing"] = outcome(r.trash_get, ioctx, "nosuchid")
    out["group"] = outcome(rbd.Group(ioctx, "g").list_images)
    out["mirror_mode_get"] = outcome(r.mirror_mode_get, ioctx)

    # what an image does not have: a group, group/mirror snapshots, an object map, a data pool of its own
    r.create(ioctx, "ns", 1 << 20, features=rbd.RBD_FEATURE_LAYERING)
    with rbd.Image(ioctx, "ns") as img:
        img.create_snap("u")
        sid = img.snap_get_id("u")
        out["image_group"] = outcome(lambda: [img.group()["pool"], img.group()["name"]] and "grouped")
        out["image_group_value"] = [img.group()["pool"], img.group()["name"]]
        out["data_pool_id"] = img.data_pool_id()
        out["snap_namespace_type"] = outcome(img.snap_get_namespace_type, sid)
        out["snap_namespace_type_missing"] = outcome(img.snap_get_namespace_type, sid + 1000)
        for kind in ("group", "trash", "mirror"):
            call = getattr(img, "snap_get_%s_namespace" % kind)
            out["snap_%s_namespace_user" % kind] = outcome(call, sid)
            out["snap_%s_namespace_missing" % kind] = outcome(call, sid + 1000)
        out["rebuild_object_map_no_feature"] = outcome(img.rebuild_object_map)
    om_features = rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK | rbd.RBD_FEATURE_OBJECT_MAP
    r.create(ioctx, "om", 1 << 20, features=om_features)
    with rbd.Image(ioctx, "om") as img:
        out["rebuild_object_map"] = outcome(img.rebuild_object_map)   # Pacific's takes no progress callback
    with rbd.Image(ioctx, "om", read_only=True) as img:
        out["rebuild_object_map_read_only"] = outcome(img.rebuild_object_map)

    # a snapshot removed while a format 2 clone reads it: the trash namespace
    cluster.conf_set("rbd_default_clone_format", "2")
    r.create(ioctx, "tp", 1 << 20, features=rbd.RBD_FEATURE_LAYERING)
    with rbd.Image(ioctx, "tp") as img:
        img.create_snap("gone")
    r.clone(ioctx, "tp", "gone", ioctx, "tc", features=rbd.RBD_FEATURE_LAYERING)
    with rbd.Image(ioctx, "tp") as img:
        img.remove_snap("gone")
        snaps = [[s["name"] != "gone", s["namespace"]] for s in img.list_snaps()]
        out["trash_snaps"] = snaps
        tid = [s["id"] for s in img.list_snaps()][0]
        out["snap_namespace_type_trash"] = outcome(img.snap_get_namespace_type, tid)
        out["snap_trash_namespace"] = outcome(lambda: img.snap_get_trash_namespace(tid)["original_name"])
        out["snap_group_namespace_trash"] = outcome(img.snap_get_group_namespace, tid)

    # the trash restore: under a new name, under its own name, and what it refuses
    r.create(ioctx, "t2", 1 << 20)
    r.trash_move(ioctx, "t2", 0)
    t2 = [e["id"] for e in r.trash_list(ioctx) if e["name"] == "t2"][0]
    out["trash_restore_missing"] = outcome(r.trash_restore, ioctx, "nosuchid", "x")
    out["trash_restore_renamed"] = outcome(r.trash_restore, ioctx, t2, "t2r")
    out["trash_restored_renamed"] = ["t2r" in r.list(ioctx), "t2" in r.list(ioctx), len(list(r.trash_list(ioctx)))]
    r.trash_move(ioctx, "t2r", 0)
    out["trash_restore_own_name"] = outcome(r.trash_restore, ioctx, t2, "")
    out["trash_restored_own_name"] = ["t2r" in r.list(ioctx), len(list(r.trash_list(ioctx)))]

    # the pool's config: the QoS options' client values (source CONFIG) and its overrides (source POOL)
    r.config_set(ioctx, "rbd_qos_iops_limit", "100")
    r.config_set(ioctx, "rbd_cache", "false")
    options = [[o["name"], o["value"], o["source"]] for o in r.config_list(ioctx)]
    out["config_pool_list"] = [len(options)] + [o for o in options if o[2] == rbd.RBD_CONFIG_SOURCE_POOL
                                                or o[0] == "rbd_qos_bps_limit"]
    r.config_remove(ioctx, "rbd_qos_iops_limit")
    r.config_remove(ioctx, "rbd_cache")
print(json.dumps(out))
'''

EXPECTED = {
    "pool_init": ["ok", None],
    "pool_init_application": ["rbd"],
    "features_to_string": ["ok", "layering,exclusive-lock"],
    "features_from_string": ["ok", 5],
    "features_from_bad": ["InvalidArgument", 22],
    "pool_metadata_get": ["ok", "v"],
    "pool_metadata_set": ["ok", None],
    "pool_metadata_list": ["ok", "listed"],
    "pool_metadata_remove": ["ok", None],
    "pool_metadata_missing": ["KeyError", None],
    "pool_stats": [1, 4 * MiB, 8 * MiB, 1],
    "snap_get_name": ["ok", "s1"],
    "snap_get_id_missing": ["ImageNotFound", 2],
    "snap_limit_default": ["ok", (1 << 64) - 1],
    "set_snap_limit": ["ok", 0],      # Pacific's binding returns rbd_snap_set_limit's 0
    "snap_limit_set": ["ok", 1],
    "remove_snap_limit": ["ok", 0],
    "snap_over_limit": ["DiskQuotaExceeded", 122],
    "overlap": ["ok", 0],
    "parent_id_not_clone": ["ImageNotFound", 2],
    "timestamp_type": "datetime",
    "watchers": ["ok", 0],
    "lockers_none": ["ok", "'list'"],
    "lock_exclusive": ["ok", None],
    "lock_exclusive_again": ["ImageExists", 17],
    "lock_shared_busy": ["ImageBusy", 16],
    "lockers": [True, "", ["c1"]],
    "unlock": ["ok", None],
    "unlock_again": ["ImageNotFound", 2],
    "lock_acquire_no_feature": ["InvalidArgument", 22],
    "lock_acquire_shared": ["OperationNotSupported", 95],
    "is_owner": ["ok", False],
    "encryption_format": ["NoSpace", 28],          # a 4 MiB image has no room for the header and data
    "aio": [0, True, 0],
    "remove_snap_by_id": ["ok", None],
    "snap_timestamp_type": "datetime",
    "snap_get_name_missing": ["ImageNotFound", 2],
    "remove_snap_by_id_missing": ["ImageNotFound", 2],
    "metadata_list": [["m1", "x"], ["m2", "y"]],
    "locker_is_this_client": True,
    "break_lock": ["ok", None],
    "break_lock_again": ["ImageNotFound", 2],
    "lockers_after_break": ["ok", "'list'"],
    "lock_get_owners_no_feature": ["InvalidArgument", 22],
    "sparsify": ["ok", None],
    "sparsify_bad_size": ["InvalidArgument", 22],
    "deep_copy": ["ok", None],
    "deep_copy_result": [["s1"], 4 * MiB, "xxxx", [["m1", "x"], ["m2", "y"]]],
    "open_by_id_size": 4 * MiB,
    "open_by_id_missing": ["ImageNotFound", 2],
    "aio_open": [0, 4 * MiB],
    "xl_owner_at_open": ["ok", True],
    "xl_owners": [0],
    "xl_release": ["ok", None],
    "xl_owner_released": ["ok", False],
    "xl_release_again": ["InvalidArgument", 22],
    "xl_acquire": ["ok", None],
    "xl_owner_acquired": ["ok", True],
    "xl_break_shared": ["OperationNotSupported", 95],
    "trash_get": [True, "t1"],
    "trash_purge": ["ok", None],
    "trash_after_purge": 0,
    "features_to_string_bad": ["InvalidArgument", 22],
    "pool_metadata_pairs": [["a", "1"], ["b", "2"]],
    "instance_id_positive": True,
    "trash_get_missing": ["ImageNotFound", 2],
    "group": ["OperationNotSupported", 95],
    "mirror_mode_get": ["OperationNotSupported", 95],
    # librbd's answers for an image in no group, a user snapshot, no object-map feature
    "image_group": ["ok", "grouped"],
    "image_group_value": [-1, ""],
    "data_pool_id": zlib.crc32(b"conf") & 0x7FFFFFFF,   # the pool's id (core/monitor.py pool_id)
    "snap_namespace_type": ["ok", 0],
    "snap_namespace_type_missing": ["ImageNotFound", 2],
    "snap_group_namespace_user": ["InvalidArgument", 22],
    "snap_group_namespace_missing": ["ImageNotFound", 2],
    "snap_trash_namespace_user": ["InvalidArgument", 22],
    "snap_trash_namespace_missing": ["ImageNotFound", 2],
    "snap_mirror_namespace_user": ["InvalidArgument", 22],
    "snap_mirror_namespace_missing": ["ImageNotFound", 2],
    "rebuild_object_map_no_feature": ["InvalidArgument", 22],
    "rebuild_object_map": ["ok", None],
    "rebuild_object_map_read_only": ["ReadOnlyImage", 30],
    "trash_snaps": [[True, 2]],
    "snap_namespace_type_trash": ["ok", 2],
    "snap_trash_namespace": ["ok", "gone"],
    "snap_group_namespace_trash": ["InvalidArgument", 22],
    "trash_restore_missing": ["ImageNotFound", 2],
    "trash_restore_renamed": ["ok", None],
    "trash_restored_renamed": [True, False, 0],
    "trash_restore_own_name": ["ok", None],
    "trash_restored_own_name": [True, 0],
    "config_pool_list": [13, ["rbd_cache", "false", 1], ["rbd_qos_bps_limit", "0", 0],
                         ["rbd_qos_iops_limit", "100", 1]],
}


@pytest.mark.parametrize("face", FACES)
def test_conformance(face, daemon, rbd_env, tmp_path):
    make_pool(daemon, "conf")
    assert not differences(observe(face, BODY, rbd_env, tmp_path), EXPECTED)
