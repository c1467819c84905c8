"""librados' documented behaviour of the pool-id, application, truncation and no-op calls, run twice by
the same script: through our rados module, and through Debian's python3-rados (Pacific's binding) over
our C library. Each observation is the value or the exact exception class and errno. A third run
calls the C library through ctypes for what the binding does not show (buffer sizes, -ERANGE,
rados_ioctx_get_cluster)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from capi_helpers import ROOT, make_pool, run

DEBIAN_PYTHON = "/usr/bin/python3"

BODY = r'''
import json
import rados

def outcome(fn, *a, **k):
    try:
        value = fn(*a, **k)
    except Exception as exc:
        return [type(exc).__name__, getattr(exc, "errno", None)]
    return ["ok", value if isinstance(value, (int, str, bool, type(None))) else repr(type(value).__name__)]

out = {}
with rados.Rados(conffile="") as cluster:
    pid = cluster.pool_lookup("conf")
    out["pool_lookup_positive"] = isinstance(pid, int) and pid > 0
    out["pool_lookup_missing"] = outcome(cluster.pool_lookup, "nosuchpool")
    out["pool_reverse_lookup"] = outcome(cluster.pool_reverse_lookup, pid)
    out["pool_reverse_lookup_missing"] = outcome(cluster.pool_reverse_lookup, 0)
    out["base_tier_is_pool"] = cluster.get_pool_base_tier(pid) == pid
    out["base_tier_missing"] = outcome(cluster.get_pool_base_tier, 0)
    out["wait_for_latest_osdmap"] = outcome(cluster.wait_for_latest_osdmap)
    out["ping_monitor"] = outcome(lambda: "HEALTH_OK" in cluster.ping_monitor("a"))
    out["get_addrs"] = outcome(lambda: cluster.get_addrs() == f"127.0.0.1:0/{cluster.get_instance_id()}")
    out["create_pool_with_crush_rule"] = outcome(cluster.create_pool, "ruled", 1)
    out["pool_exists_after"] = cluster.pool_exists("ruled")
    out["service_register"] = outcome(cluster.service_daemon_register, "svc", "d1", {"k": "v"})
    out["service_update"] = outcome(cluster.service_daemon_update, {"s": "ok"})
    out["open_ioctx2_missing"] = outcome(cluster.open_ioctx2, 0)
    with cluster.open_ioctx2(pid) as by_id:
        out["open_ioctx2_name"] = by_id.get_pool_name()
    with cluster.open_ioctx("conf") as ioctx:
        out["get_pool_id"] = ioctx.get_pool_id() == pid
        out["get_last_version"] = outcome(ioctx.get_last_version)
        out["alignment"] = outcome(ioctx.alignment)
        ioctx.write_full("st", b"12345")
        stat = []
        comp = ioctx.aio_stat("st", lambda c, size, mtime: stat.append(size))
        comp.wait_for_complete_and_cb()
        out["aio_stat"] = [comp.get_return_value(), stat]
        ioctx.remove_object("st")
        out["full_try"] = [outcome(ioctx.set_osdmap_full_try), outcome(ioctx.unset_osdmap_full_try)]
        ioctx.write_full("t", b"hello world")
        out["trunc"] = outcome(ioctx.trunc, "t", 5)
        out["trunc_read"] = ioctx.read("t").decode()
        out["trunc_grow"] = outcome(ioctx.trunc, "t", 8)
        out["trunc_grow_read"] = ioctx.read("t").decode()
        out["trunc_missing"] = outcome(ioctx.trunc, "nosuchobject", 1)
        ioctx.remove_object("t")
        out["apps_none"] = ioctx.application_list()
        out["app_enable"] = outcome(ioctx.application_enable, "rbd")
        out["app_enable_again"] = outcome(ioctx.application_enable, "rbd")
        out["app_enable_second"] = outcome(ioctx.application_enable, "rgw")
        out["app_enable_second_forced"] = outcome(ioctx.application_enable, "rgw", True)
        out["apps"] = ioctx.application_list()
        out["app_set"] = outcome(ioctx.application_metadata_set, "rbd", "k", "v")
        out["app_set_not_enabled"] = outcome(ioctx.application_metadata_set, "cephfs", "k", "v")
        out["app_set_long_value"] = outcome(ioctx.application_metadata_set, "rbd", "long", "x" * 129)
        out["app_set_max_value"] = outcome(ioctx.application_metadata_set, "rbd", "max", "y" * 128)
        out["app_get"] = outcome(ioctx.application_metadata_get, "rbd", "k")
        out["app_get_max"] = ioctx.application_metadata_get("rbd", "max") == "y" * 128
        out["app_get_missing_key"] = outcome(ioctx.application_metadata_get, "rbd", "nokey")
        out["app_get_not_enabled"] = outcome(ioctx.application_metadata_get, "cephfs", "k")
        for i in range(10):
            ioctx.application_metadata_set("rgw", "key-%02d-%s" % (i, "z" * 12), "value-%02d" % i)
        out["app_list_rgw"] = [list(p) for p in ioctx.application_metadata_list("rgw")]
        out["app_list_not_enabled"] = outcome(ioctx.application_metadata_list, "cephfs")
        out["app_remove"] = outcome(ioctx.application_metadata_remove, "rbd", "k")
        out["app_remove_again"] = outcome(ioctx.application_metadata_remove, "rbd", "k")
        out["app_remove_not_enabled"] = outcome(ioctx.application_metadata_remove, "cephfs", "k")
        out["app_list_rbd"] = [list(p) for p in ioctx.application_metadata_list("rbd")]
        out["app_list_empty"] = [list(p) for p in ioctx.application_metadata_list("rgw")][:0]
        out["xattr_set_creates"] = outcome(ioctx.set_xattr, "x", "a", b"1\0two")
        out["xattr_created_size"] = ioctx.stat("x")[0]
        out["xattr_get"] = list(ioctx.get_xattr("x", "a"))
        ioctx.set_xattr("x", "big", b"v" * 5000)
        out["xattr_get_big"] = ioctx.get_xattr("x", "big") == b"v" * 5000
        out["xattr_get_missing"] = outcome(ioctx.get_xattr, "x", "nope")
        out["xattr_get_no_object"] = outcome(ioctx.get_xattr, "noobj", "a")
        out["xattrs"] = [[k, len(v)] for k, v in ioctx.get_xattrs("x")]
        ioctx.write_full("x", b"data")
        out["xattr_after_write_full"] = list(ioctx.get_xattr("x", "a"))
        out["xattr_rm"] = outcome(ioctx.rm_xattr, "x", "a")
        out["xattr_rm_again"] = outcome(ioctx.rm_xattr, "x", "a")
        out["xattr_rm_no_object"] = outcome(ioctx.rm_xattr, "noobj", "a")
        out["xattrs_no_object"] = outcome(lambda: list(ioctx.get_xattrs("noobj")))
        out["xattr_name_too_long"] = outcome(ioctx.set_xattr, "x", "n" * 101, b"")
        obj = rados.Object(ioctx, "x")
        out["object_xattr"] = [obj.set_xattr("o", b"1"), obj.get_xattr("o").decode(), [k for k, _ in obj.get_xattrs()]]
        comp = ioctx.aio_setxattr("x", "z", b"zz")
        comp.wait_for_complete()
        out["aio_setxattr"] = [comp.get_return_value(), ioctx.get_xattr("x", "z").decode()]
        comp = ioctx.aio_rmxattr("x", "z")
        comp.wait_for_complete()
        out["aio_rmxattr"] = [comp.get_return_value(), outcome(ioctx.get_xattr, "x", "z")]
        ioctx.remove_object("x")
        ioctx.write_full("x", b"")
        out["xattrs_gone_with_object"] = [k for k, _ in ioctx.get_xattrs("x")]
        ioctx.remove_object("x")
print(json.dumps(out))
'''

EXPECTED = {
    "ping_monitor": ["ok", True],
    "get_addrs": ["ok", True],
    "create_pool_with_crush_rule": ["ok", None],
    "pool_exists_after": True,
    "service_register": ["ok", None],
    "service_update": ["ok", None],
    "alignment": ["ok", None],
    "aio_stat": [0, [5]],
    "pool_lookup_positive": True,
    "pool_lookup_missing": ["ok", None],
    "pool_reverse_lookup": ["ok", "conf"],
    "pool_reverse_lookup_missing": ["ok", None],
    "base_tier_is_pool": True,
    "base_tier_missing": ["ObjectNotFound", 2],
    "wait_for_latest_osdmap": ["ok", 0],
    "open_ioctx2_missing": ["ObjectNotFound", 2],
    "open_ioctx2_name": "conf",
    "get_pool_id": True,
    "get_last_version": ["ok", 0],
    "full_try": [["ok", None], ["ok", None]],
    "trunc": ["ok", 0],
    "trunc_read": "hello",
    "trunc_grow": ["ok", 0],
    "trunc_grow_read": "hello\0\0\0",
    "trunc_missing": ["ObjectNotFound", 2],
    "apps_none": [],
    "app_enable": ["ok", None],
    "app_enable_again": ["ok", None],
    "app_enable_second": ["PermissionError", 1],
    "app_enable_second_forced": ["ok", None],
    "apps": ["rbd", "rgw"],
    "app_set": ["ok", None],
    "app_set_not_enabled": ["ObjectNotFound", 2],
    "app_set_long_value": ["InvalidArgumentError", 22],
    "app_set_max_value": ["ok", None],
    "app_get": ["ok", "v"],
    "app_get_max": True,
    "app_get_missing_key": ["KeyError", None],    # Pacific's binding turns -ENOENT into KeyError here
    "app_get_not_enabled": ["KeyError", None],
    "app_list_rgw": [["key-%02d-%s" % (i, "z" * 12), "value-%02d" % i] for i in range(10)],
    "app_list_not_enabled": ["ObjectNotFound", 2],
    "app_remove": ["ok", None],
    "app_remove_again": ["ok", None],      # Ceph's monitor: removing a missing key is idempotent
    "app_remove_not_enabled": ["ObjectNotFound", 2],
    "app_list_rbd": [["max", "y" * 128]],
    "app_list_empty": [],
    "xattr_set_creates": ["ok", True],
    "xattr_created_size": 0,
    "xattr_get": [49, 0, 116, 119, 111],
    "xattr_get_big": True,
    "xattr_get_missing": ["NoData", 61],
    "xattr_get_no_object": ["ObjectNotFound", 2],
    "xattrs": [["a", 5], ["big", 5000]],
    "xattr_after_write_full": [49, 0, 116, 119, 111],
    "xattr_rm": ["ok", True],
    "xattr_rm_again": ["ok", True],     # RADOS: removing a missing xattr of an existing object is fine
    "xattr_rm_no_object": ["ObjectNotFound", 2],
    "xattrs_no_object": ["ObjectNotFound", 2],
    "xattr_name_too_long": ["OSError", 36],
    "object_xattr": [True, "1", ["big", "o"]],
    "aio_setxattr": [0, "zz"],
    "aio_rmxattr": [0, ["NoData", 61]],
    "xattrs_gone_with_object": [],
}

# The C calls' buffer protocols, through ctypes on our librados.so.2 (LD_LIBRARY_PATH).
C_BODY = r'''
import ctypes, json
L = ctypes.CDLL("librados.so.2")
L.rados_pool_lookup.restype = ctypes.c_int64
L.rados_ioctx_get_id.restype = ctypes.c_int64
L.rados_ioctx_get_cluster.restype = ctypes.c_void_p
L.rados_ioctx_get_cluster.argtypes = [ctypes.c_void_p]
L.rados_get_last_version.restype = ctypes.c_uint64
L.rados_get_last_version.argtypes = [ctypes.c_void_p]
for name in ("rados_connect", "rados_ioctx_get_id", "rados_wait_for_latest_osdmap", "rados_set_pool_full_try",
             "rados_unset_pool_full_try", "rados_ioctx_destroy", "rados_shutdown", "rados_conf_read_file"):
    getattr(L, name).argtypes = [ctypes.c_void_p] + ([ctypes.c_char_p] if name == "rados_conf_read_file" else [])
L.rados_pool_lookup.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
L.rados_pool_reverse_lookup.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_char_p, ctypes.c_size_t]
L.rados_pool_get_base_tier.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64)]
L.rados_ioctx_create.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
L.rados_ioctx_create2.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_void_p)]
L.rados_application_enable.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
L.rados_application_list.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t)]
L.rados_application_metadata_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p]
L.rados_application_metadata_get.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                             ctypes.POINTER(ctypes.c_size_t)]
L.rados_application_metadata_list.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p,
                                              ctypes.POINTER(ctypes.c_size_t), ctypes.c_char_p,
                                              ctypes.POINTER(ctypes.c_size_t)]
out = {}
cluster = ctypes.c_void_p()
assert L.rados_create(ctypes.byref(cluster), None) == 0
L.rados_conf_read_file(cluster, None)
out["lookup_unconnected"] = L.rados_pool_lookup(cluster, b"conf")
out["wait_unconnected"] = L.rados_wait_for_latest_osdmap(cluster)
assert L.rados_connect(cluster) == 0
pid = L.rados_pool_lookup(cluster, b"conf")
out["lookup_missing"] = L.rados_pool_lookup(cluster, b"nosuchpool")
buf = ctypes.create_string_buffer(b"X" * 8, 8)
out["reverse_fits"] = [L.rados_pool_reverse_lookup(cluster, pid, buf, 5), buf.value.decode()]
buf = ctypes.create_string_buffer(b"X" * 8, 8)
out["reverse_short"] = [L.rados_pool_reverse_lookup(cluster, pid, buf, 4), buf.raw[:1].decode()]
out["reverse_missing"] = L.rados_pool_reverse_lookup(cluster, 0, buf, 8)
tier = ctypes.c_int64(-5)
out["base_tier"] = [L.rados_pool_get_base_tier(cluster, pid, ctypes.byref(tier)), tier.value == pid]
tier = ctypes.c_int64(-5)
out["base_tier_missing"] = [L.rados_pool_get_base_tier(cluster, 0, ctypes.byref(tier)), tier.value]
out["wait"] = L.rados_wait_for_latest_osdmap(cluster)
io = ctypes.c_void_p(1)
out["create2_missing"] = [L.rados_ioctx_create2(cluster, 0, ctypes.byref(io)), io.value]
assert L.rados_ioctx_create2(cluster, pid, ctypes.byref(io)) == 0
out["get_id"] = L.rados_ioctx_get_id(io) == pid
out["get_cluster"] = L.rados_ioctx_get_cluster(io) == cluster.value
out["last_version"] = L.rados_get_last_version(io)
L.rados_set_pool_full_try(io)
L.rados_unset_pool_full_try(io)
n = ctypes.c_size_t(0)
out["apps_empty"] = [L.rados_application_list(io, None, ctypes.byref(n)), n.value]
out["enable"] = L.rados_application_enable(io, b"rbd", 0)
out["enable_other"] = L.rados_application_enable(io, b"rgw", 0)
out["enable_forced"] = L.rados_application_enable(io, b"rgw", 1)
n = ctypes.c_size_t(3)
small = ctypes.create_string_buffer(3)
out["apps_short"] = [L.rados_application_list(io, small, ctypes.byref(n)), n.value]
big = ctypes.create_string_buffer(16)
n = ctypes.c_size_t(16)
out["apps"] = [L.rados_application_list(io, big, ctypes.byref(n)), n.value, big.raw[:n.value].decode()]
out["set"] = L.rados_application_metadata_set(io, b"rbd", b"key", b"value")
n = ctypes.c_size_t(3)
out["get_short"] = [L.rados_application_metadata_get(io, b"rbd", b"key", small, ctypes.byref(n)), n.value]
n = ctypes.c_size_t(16)
out["get"] = [L.rados_application_metadata_get(io, b"rbd", b"key", big, ctypes.byref(n)), n.value, big.value.decode()]
n = ctypes.c_size_t(16)
out["get_missing"] = [L.rados_application_metadata_get(io, b"rbd", b"nokey", big, ctypes.byref(n)), n.value]
kn, vn = ctypes.c_size_t(16), ctypes.c_size_t(2)
keys, vals = ctypes.create_string_buffer(16), ctypes.create_string_buffer(16)
out["list_short"] = [L.rados_application_metadata_list(io, b"rbd", keys, ctypes.byref(kn), vals, ctypes.byref(vn)),
                     kn.value, vn.value]
vn = ctypes.c_size_t(16)
out["list"] = [L.rados_application_metadata_list(io, b"rbd", keys, ctypes.byref(kn), vals, ctypes.byref(vn)),
               kn.value, vn.value, keys.raw[:kn.value].decode(), vals.raw[:vn.value].decode()]
kn, vn = ctypes.c_size_t(16), ctypes.c_size_t(16)
out["list_not_enabled"] = [L.rados_application_metadata_list(io, b"nope", keys, ctypes.byref(kn), vals,
                                                             ctypes.byref(vn)), kn.value, vn.value]
L.rados_setxattr.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
L.rados_getxattr.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]
L.rados_getxattrs.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
L.rados_getxattrs_next.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_void_p),
                                   ctypes.POINTER(ctypes.c_size_t)]
L.rados_getxattrs_end.argtypes = [ctypes.c_void_p]
L.rados_remove.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
out["setxattr"] = L.rados_setxattr(io, b"cx", b"a", b"x\0z", 3)
out["getxattr_short"] = L.rados_getxattr(io, b"cx", b"a", small, 2)
out["getxattr"] = [L.rados_getxattr(io, b"cx", b"a", big, 16), big.raw[:3].decode()]
out["getxattr_missing"] = L.rados_getxattr(io, b"cx", b"b", big, 16)
it = ctypes.c_void_p(1)
out["getxattrs_no_object"] = [L.rados_getxattrs(io, b"noobj", ctypes.byref(it)), it.value]
assert L.rados_getxattrs(io, b"cx", ctypes.byref(it)) == 0
seen = []
for _ in range(3):
    name, val, n = ctypes.c_char_p(b"?"), ctypes.c_void_p(1), ctypes.c_size_t(9)
    r = L.rados_getxattrs_next(it, ctypes.byref(name), ctypes.byref(val), ctypes.byref(n))
    seen.append([r, name.value and name.value.decode(), ctypes.string_at(val, n.value).decode() if val.value else None,
                 n.value])
L.rados_getxattrs_end(it)
out["getxattrs"] = seen
out["remove_cx"] = L.rados_remove(io, b"cx")
L.rados_ioctx_destroy(io)
L.rados_shutdown(cluster)
print(json.dumps(out))
'''

C_EXPECTED = {
    "lookup_unconnected": -107,
    "wait_unconnected": -107,
    "lookup_missing": -2,
    "reverse_fits": [4, "conf"],
    "reverse_short": [-34, "\0"],   # the buffer left empty
    "reverse_missing": -2,
    "base_tier": [0, True],
    "base_tier_missing": [-2, 0],
    "wait": 0,
    "create2_missing": [-2, None],
    "get_id": True,
    "get_cluster": True,
    "last_version": 0,
    "apps_empty": [0, 0],
    "enable": 0,
    "enable_other": -1,
    "enable_forced": 0,
    "apps_short": [-34, 8],
    "apps": [0, 8, "rbd\0rgw\0"],
    "set": 0,
    "get_short": [-34, 6],
    "get": [0, 6, "value"],
    "get_missing": [-2, 0],
    "list_short": [-34, 4, 6],
    "list": [0, 4, 6, "key\0", "value\0"],
    "list_not_enabled": [-2, 0, 0],
    "setxattr": 0,
    "getxattr_short": -34,
    "getxattr": [3, "x\0z"],
    "getxattr_missing": -61,
    "getxattrs_no_object": [-2, None],
    "getxattrs": [[0, "a", "x\0z", 3], [0, None, None, 0], [0, None, None, 0]],
    "remove_cx": 0,
}


def observe(flavour, daemon, rbd_env, tmp_path):
    make_pool(daemon, "conf")
    script = tmp_path / "body.py"
    script.write_text(C_BODY if flavour == "c" else BODY)
    env = dict(rbd_env)
    if flavour == "ours":
        env.pop("LD_LIBRARY_PATH", None)
        env["PYTHONPATH"] = os.path.join(ROOT, "curverbd", "compat") + os.pathsep + ROOT
        cmd = [sys.executable, str(script)]
    else:
        if not os.path.exists(DEBIAN_PYTHON):
            pytest.skip(f"{DEBIAN_PYTHON} is missing")
        env.pop("PYTHONPATH", None)
        cmd = [DEBIAN_PYTHON, "-I", "-s", str(script)]
    proc = run(cmd, env=env, check=False, cwd=str(tmp_path))
    if proc.returncode != 0:
        raise AssertionError(f"{flavour}: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize("flavour", ["ours", "debian"])
def test_rados_conformance(flavour, daemon, rbd_env, tmp_path):
    out = observe(flavour, daemon, rbd_env, tmp_path)
    differences = {key: (out.get(key), want) for key, want in EXPECTED.items() if out.get(key) != want}
    assert not differences


def test_rados_c_buffers(daemon, rbd_env, tmp_path):
    out = observe("c", daemon, rbd_env, tmp_path)
    differences = {key: (out.get(key), want) for key, want in C_EXPECTED.items() if out.get(key) != want}
    assert not differences
