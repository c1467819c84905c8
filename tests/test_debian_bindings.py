"""Debian's own python3-rados / python3-rbd (Ceph's compiled Cython bindings) over our C
libraries, run by Debian's /usr/bin/python3 (not the interpreter running pytest).

The client script runs isolated (-I -s: no PYTHONPATH, no user site), so ``import rados, rbd``
finds Debian's dist-packages modules; LD_LIBRARY_PATH makes the dynamic loader pick our
librados.so.2 / librbd.so.1 over Debian's real ones in /usr/lib. Inside, the library's
embedded control plane runs in Debian's interpreter (a Python host) and imports the curverbd
of this tree by location. The script prints one JSON document of observations; the test
asserts exact bytes, sizes and exception classes."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from capi_helpers import ROOT, log_text, make_pool, run

DEBIAN_PYTHON = "/usr/bin/python3"
MiB = 1 << 20

# The start of every client script: Debian's modules and a helper naming what a call raises.
PRELUDE = r'''
import json, os, sys
import rados, rbd


def raises(fn, *args, **kwargs):
    """The class name of what fn raises (None if it returns)."""
    try:
        fn(*args, **kwargs)
    except Exception as exc:
        return type(exc).__name__
    return None
'''

CLIENT = PRELUDE + r'''
out = {"rados_module": rados.__file__, "rbd_module": rbd.__file__}

pattern = bytes(range(256)) * 16 * 64                  # 256 KiB, position-dependent
with rados.Rados(conffile="") as cluster:               # rados_create2 + rados_conf_read_file(NULL)
    out["fsid"] = cluster.get_fsid()
    out["pools"] = cluster.list_pools()
    out["missing_pool"] = raises(cluster.open_ioctx, "nopool")
    with cluster.open_ioctx("deb") as ioctx:
        out["pool_name"] = ioctx.get_pool_name()
        r = rbd.RBD()
        r.create(ioctx, "parent", 8 << 20)
        out["create_again"] = raises(r.create, ioctx, "parent", 8 << 20)
        out["open_missing"] = raises(rbd.Image, ioctx, "nosuch")
        with rbd.Image(ioctx, "parent") as img:
            img.write(pattern, 1 << 20)
            img.write(b"tail", (8 << 20) - 4)
            out["read"] = img.read(1 << 20, len(pattern)) == pattern
            out["read_tail"] = img.read((8 << 20) - 4, 100).decode()   # clipped at the end
            done = []
            img.aio_write(b"aio!" * 1024, 2 << 20, lambda comp: done.append(comp.get_return_value())).wait_for_complete_and_cb()
            img.aio_read(2 << 20, 8, lambda comp, data: done.append(data)).wait_for_complete_and_cb()
            out["aio"] = [done[0] >= 0, done[1].decode(), img.read(2 << 20, 4096) == b"aio!" * 1024]
            st = img.stat()
            out["stat"] = [st["size"], st["obj_size"], st["num_objs"], st["order"]]
            out["size"] = img.size()
            img.create_snap("base")
            out["unprotected_clone"] = raises(r.clone, ioctx, "parent", "base", ioctx, "nope")
            img.protect_snap("base")
            out["is_protected"] = img.is_protected_snap("base")
            snaps = list(img.list_snaps())
            out["snaps"] = [(s["name"], s["size"], s["namespace"]) for s in snaps]
            img.write(b"after-snap", 1 << 20)               # the clone must not see this
        r.clone(ioctx, "parent", "base", ioctx, "child")
        out["list"] = sorted(r.list(ioctx))
        with rbd.Image(ioctx, "child") as child:
            out["parent_info"] = list(child.parent_info())
            out["child_reads_snapshot"] = child.read(1 << 20, len(pattern)) == pattern
            with rbd.Image(ioctx, "parent") as parent:
                out["parent_id_matches"] = child.parent_id() == parent.id()
                out["children"] = [list(c) for c in parent.list_children()]
                out["unprotect_busy"] = raises(parent.unprotect_snap, "base")
            out["remove_parent_busy"] = raises(r.remove, ioctx, "parent")
            progress = []
            child.flatten(on_progress=lambda done, total: progress.append((done, total)) or 0)
            out["flatten_progress_ends"] = progress[-1][0] == progress[-1][1] if progress else None
            out["after_flatten_parent"] = raises(child.parent_info)
            child.resize(16 << 20)
            out["resized"] = child.size()
            out["resized_tail"] = child.read((16 << 20) - 8, 8) == bytes(8)
            out["child_after_flatten"] = child.read(1 << 20, len(pattern)) == pattern
        with rbd.Image(ioctx, "parent") as img:
            out["parent_children_after"] = [list(c) for c in img.list_children()]
            out["has_snapshots"] = raises(r.remove, ioctx, "parent")
            img.unprotect_snap("base")
            img.remove_snap("base")
            out["snaps_after"] = list(img.list_snaps())
            img.create_snap("s1")
            img.rename_snap("s1", "s2")
            out["renamed_snap"] = [s["name"] for s in img.list_snaps()]
            img.remove_snap("s2")
            img.copy(ioctx, "copy")
        with rbd.Image(ioctx, "copy") as copy:
            out["copy_reads"] = copy.read(1 << 20, 10) == b"after-snap"
        r.rename(ioctx, "copy", "copy2")
        out["renamed"] = sorted(r.list(ioctx))
        r.remove(ioctx, "copy2")
        r.remove(ioctx, "parent")
        r.remove(ioctx, "child")
        out["list_after"] = r.list(ioctx)
        out["remove_missing"] = raises(r.remove, ioctx, "parent")
        # rados objects through the C object calls
        ioctx.write_full("obj", b"hello world")
        ioctx.write("obj", b"W", 6)
        out["obj_read"] = ioctx.read("obj").decode()
        out["obj_stat_size"] = ioctx.stat("obj")[0]
        out["pool_objects"] = ioctx.get_stats()["num_objects"]
        ioctx.remove_object("obj")
        out["obj_missing"] = raises(ioctx.read, "obj")

curverbd = sys.modules.get("curverbd")
out["curverbd_from"] = getattr(curverbd, "__file__", None)
out["librados"] = sorted({line.split()[-1] for line in open("/proc/self/maps") if "librados.so" in line})
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def debian_bindings():
    """Skip unless Debian's python3 has Ceph's compiled bindings (apt: python3-rbd python3-rados)."""
    if not os.path.exists(DEBIAN_PYTHON):
        pytest.skip(f"{DEBIAN_PYTHON} is missing")
    # importing is enough to check: nothing loads librados until the first call
    probe = subprocess.run([DEBIAN_PYTHON, "-I", "-s", "-c", "import rados, rbd"], capture_output=True, text=True,
                           env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    if probe.returncode != 0:
        pytest.skip("Debian's python3-rados/python3-rbd are not installed (scripts/install-deps.sh installs them)")


def test_ceph_bindings_lifecycle(debian_bindings, daemon, rbd_env, capi_libs, client_log, tmp_path):  # noqa: F811
    make_pool(daemon, "deb")
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    env = dict(rbd_env)
    env.pop("PYTHONPATH", None)   # -I ignores it anyway; the library must find curverbd itself
    proc = run([DEBIAN_PYTHON, "-I", "-s", str(script)], env=env, cwd=str(tmp_path))
    out = json.loads(proc.stdout.splitlines()[-1])

    # Debian's modules, our libraries, our curverbd
    assert out["rados_module"].startswith("/usr/lib/python3/dist-packages/rados.")
    assert out["rbd_module"].startswith("/usr/lib/python3/dist-packages/rbd.")
    assert out["librados"] == [os.path.join(capi_libs, "librados.so.2")]
    assert out["curverbd_from"] == os.path.join(ROOT, "curverbd", "__init__.py")

    assert len(out["fsid"]) == 36 and out["fsid"].count("-") == 4
    assert "deb" in out["pools"]
    assert out["pool_name"] == "deb"
    assert out["aio"] == [True, "aio!aio!", True]
    assert out["missing_pool"] == "ObjectNotFound"
    assert out["create_again"] == "ImageExists"
    assert out["open_missing"] == "ImageNotFound"
    assert out["read"] is True
    assert out["read_tail"] == "tail"
    assert out["stat"] == [8 * MiB, 4 * MiB, 2, 22]
    assert out["size"] == 8 * MiB
    assert out["unprotected_clone"] == "InvalidArgument"
    assert out["is_protected"] is True
    assert out["snaps"] == [["base", 8 * MiB, 0]]
    assert out["list"] == ["child", "parent"]
    assert out["parent_info"] == ["deb", "parent", "base"]
    assert out["parent_id_matches"] is True
    assert out["child_reads_snapshot"] is True
    assert out["children"] == [["deb", "child"]]
    assert out["unprotect_busy"] == "ImageBusy"
    assert out["remove_parent_busy"] in ("ImageBusy", "ImageHasSnapshots")
    assert out["flatten_progress_ends"] is True
    assert out["after_flatten_parent"] == "ImageNotFound"
    assert out["resized"] == 16 * MiB
    assert out["resized_tail"] is True
    assert out["child_after_flatten"] is True
    assert out["parent_children_after"] == []
    assert out["has_snapshots"] == "ImageHasSnapshots"
    assert out["snaps_after"] == []
    assert out["renamed_snap"] == ["s2"]
    assert out["copy_reads"] is True
    assert out["renamed"] == ["child", "copy2", "parent"]
    assert out["list_after"] == []
    assert out["remove_missing"] == "ImageNotFound"
    assert out["obj_read"] == "hello World"
    assert out["obj_stat_size"] == 11
    assert out["pool_objects"] == 1
    assert out["obj_missing"] == "ObjectNotFound"
    assert "not implemented" not in log_text(client_log)


ADMIN_CLIENT = PRELUDE + r'''
out = {}

with rados.Rados(conffile="") as cluster:
    # cinder's capacity report and quota (rados_mon_command + rados_buffer_free)
    ret, outbuf, outs = cluster.mon_command('{"prefix":"df", "format":"json"}', b"")
    df = json.loads(outbuf)
    out["df"] = [ret, sorted(df["stats"]), [p["name"] for p in df["pools"]]]
    ret, outbuf, outs = cluster.mon_command('{"prefix":"osd pool get-quota", "pool": "adm", "format":"json"}', b"")
    out["quota"] = [ret, json.loads(outbuf)["quota_max_bytes"]]
    out["unknown_command"] = list(cluster.mon_command('{"prefix":"no such thing"}', b"")[:1])
    with cluster.open_ioctx("adm") as ioctx:
        r = rbd.RBD()
        r.create(ioctx, "vol", 4 << 20, features=rbd.RBD_FEATURE_LAYERING)
        with rbd.Image(ioctx, "vol") as img:
            # cinder's replication/multiattach toggles (the C rbd_get_features reports layering only)
            out["update_features"] = [raises(img.update_features, rbd.RBD_FEATURE_EXCLUSIVE_LOCK, True),
                                      raises(img.update_features, rbd.RBD_FEATURE_EXCLUSIVE_LOCK, False)]
            img.write(b"before", 0)
            img.create_snap("s")
            img.write(b"after!", 0)
            img.set_snap("s")                                  # rbd_snap_set: reads see the snapshot
            out["set_snap"] = [img.read(0, 6).decode(), raises(img.write, b"x", 0), img.size()]
            img.set_snap(None)
            out["unset_snap"] = [img.read(0, 6).decode(), raises(img.write, b"A", 0)]
            img.remove_snap("s")
            img.metadata_set("conf_rbd_qos_iops_limit", "100")
            out["metadata"] = img.metadata_get("conf_rbd_qos_iops_limit")
            config = {c["name"]: (c["value"], c["source"]) for c in img.config_list()}   # cinder's QoS view
            out["config"] = [len(config), config["rbd_qos_iops_limit"], config["rbd_qos_bps_limit"]]
            img.metadata_remove("conf_rbd_qos_iops_limit")
            out["metadata_removed"] = raises(img.metadata_get, "conf_rbd_qos_iops_limit")
            out["metadata_remove_missing"] = raises(img.metadata_remove, "conf_rbd_qos_iops_limit")
        r.trash_move(ioctx, "vol", 0)
        entries = list(r.trash_list(ioctx))
        out["trash"] = [(e["name"], e["source"], type(e["deletion_time"]).__name__) for e in entries]
        out["list_after_move"] = r.list(ioctx)
        r.trash_remove(ioctx, entries[0]["id"])
        out["trash_after_remove"] = list(r.trash_list(ioctx))
        out["trash_move_missing"] = raises(r.trash_move, ioctx, "nosuch", 0)
print(json.dumps(out))
'''


def test_ceph_bindings_cinder_admin_calls(debian_bindings, daemon, rbd_env, client_log, tmp_path):
    """What cinder calls beyond the image lifecycle: mon_command (df, get-quota), update_features,
    metadata set/remove, trash move/list/remove, through Debian's bindings and our C exports."""
    make_pool(daemon, "adm")
    script = tmp_path / "admin.py"
    script.write_text(ADMIN_CLIENT)
    env = dict(rbd_env)
    env.pop("PYTHONPATH", None)
    proc = run([DEBIAN_PYTHON, "-I", "-s", str(script)], env=env, cwd=str(tmp_path))
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["df"][0] == 0 and "total_bytes" in out["df"][1] and "adm" in out["df"][2]
    assert out["quota"] == [0, 0]
    assert out["unknown_command"] == [-22]
    assert out["update_features"] == [None, None]
    assert out["set_snap"] == ["before", "ReadOnlyImage", 4 * MiB]
    assert out["unset_snap"] == ["after!", None]
    assert out["metadata"] == "100"
    assert out["config"] == [12, ["100", 2], ["0", 0]]   # the override (IMAGE) and a client value (CONFIG)
    assert out["metadata_removed"] == "KeyError"
    assert out["metadata_remove_missing"] == "KeyError"
    assert out["trash"] == [["vol", "USER", "datetime"]]
    assert out["list_after_move"] == []
    assert out["trash_after_remove"] == []
    assert out["trash_move_missing"] == "ImageNotFound"
    assert "not implemented" not in log_text(client_log)
