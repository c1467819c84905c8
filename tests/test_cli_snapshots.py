"""rbd snap / clone / flatten / children / copy / rename / trash / image-meta / du / ls -l against a real daemon."""
import json
import xml.etree.ElementTree as ElementTree

from cli_helpers import pool, read_image, run, write_image  # noqa: F401

MiB = 1 << 20


def js(daemon, *argv):
    return json.loads(run(daemon, "rbd", *argv, "--format", "json").stdout)


def test_snapshot_lifecycle(daemon, pool):
    run(daemon, "rbd", "create", "-s", "4", "vms/img")
    write_image("vms", "img", {0: b"one" * 100})
    run(daemon, "rbd", "snap", "create", "vms/img@s1")
    run(daemon, "rbd", "snap", "create", "--snap", "s2", "-p", "vms", "img")
    write_image("vms", "img", {0: b"two" * 100})
    snaps = js(daemon, "snap", "ls", "vms/img")
    assert [(s["name"], s["size"], s["protected"]) for s in snaps] == [("s1", 4 * MiB, "false"),
                                                                      ("s2", 4 * MiB, "false")]
    assert snaps[0]["id"] < snaps[1]["id"] and all(isinstance(s["timestamp"], str) for s in snaps)
    plain = run(daemon, "rbd", "snap", "ls", "vms/img").stdout.splitlines()
    assert plain[0].split() == ["SNAPID", "NAME", "SIZE", "PROTECTED", "TIMESTAMP"] and len(plain) == 3

    dup = run(daemon, "rbd", "snap", "create", "vms/img@s1", ok=False)
    assert dup.returncode == 17 and dup.stderr.startswith("rbd: failed to create snapshot: (17) File exists")
    no_snap = run(daemon, "rbd", "snap", "create", "vms/img", ok=False)
    assert no_snap.returncode == 22 and "snapshot name was not specified" in no_snap.stderr
    extra_snap = run(daemon, "rbd", "resize", "-s", "8", "vms/img@s1", ok=False)
    assert extra_snap.returncode == 22 and "doesn't use it" in extra_snap.stderr

    run(daemon, "rbd", "snap", "rollback", "vms/img@s1")
    assert read_image("vms", "img")[:300] == b"one" * 100
    run(daemon, "rbd", "snap", "rename", "vms/img@s2", "vms/img@second")
    run(daemon, "rbd", "snap", "protect", "vms/img@second")
    assert js(daemon, "info", "vms/img@second")["protected"] == "true"
    protected = run(daemon, "rbd", "snap", "rm", "vms/img@second", ok=False)
    assert protected.returncode == 16
    assert "rbd: snapshot 'second' is protected from removal." in protected.stderr
    again = run(daemon, "rbd", "snap", "protect", "vms/img@second", ok=False)
    assert again.returncode == 16
    has_snaps = run(daemon, "rbd", "rm", "vms/img", ok=False)
    assert has_snaps.returncode == 39 and "rbd snap purge" in has_snaps.stderr
    purge = run(daemon, "rbd", "snap", "purge", "vms/img", ok=False)      # s1 goes, 'second' is protected
    assert purge.returncode == 16
    assert [s["name"] for s in js(daemon, "snap", "ls", "vms/img")] == ["second"]
    run(daemon, "rbd", "snap", "unprotect", "vms/img@second")
    not_protected = run(daemon, "rbd", "snap", "unprotect", "vms/img@second", ok=False)
    assert not_protected.returncode == 22
    run(daemon, "rbd", "snap", "purge", "vms/img")
    assert run(daemon, "rbd", "snap", "ls", "vms/img").stdout == ""
    run(daemon, "rbd", "rm", "vms/img")


def test_clone_flatten_children(daemon, pool):
    run(daemon, "ceph", "osd", "pool", "create", "other")
    run(daemon, "rbd", "create", "-s", "16", "vms/golden")
    write_image("vms", "golden", {0: b"base" * 1024, 8 * MiB: b"more" * 1024})
    run(daemon, "rbd", "snap", "create", "vms/golden@base")
    unprotected = run(daemon, "rbd", "clone", "vms/golden@base", "vms/c0", ok=False)
    assert unprotected.returncode == 22
    run(daemon, "rbd", "snap", "protect", "vms/golden@base")
    run(daemon, "rbd", "clone", "vms/golden@base", "vms/c1")
    run(daemon, "rbd", "clone", "--snap", "base", "vms/golden", "--dest-pool", "other", "--dest", "c2")
    assert run(daemon, "rbd", "children", "vms/golden@base").stdout.splitlines() == ["other/c2", "vms/c1"]
    assert js(daemon, "children", "vms/golden@base") == [
        {"pool": "other", "pool_namespace": "", "image": "c2"}, {"pool": "vms", "pool_namespace": "", "image": "c1"}]
    info = js(daemon, "info", "vms/c1")
    assert info["parent"]["pool"] == "vms" and info["parent"]["image"] == "golden"
    assert info["parent"]["snapshot"] == "base" and "clone-child" in info["op_features"]
    assert "clone-parent" in js(daemon, "info", "vms/golden")["op_features"]
    assert "parent: vms/golden@base" in run(daemon, "rbd", "info", "vms/c1").stdout
    listing = js(daemon, "ls", "-l", "vms")
    c1 = next(e for e in listing if e["image"] == "c1")
    assert c1["parent"]["image"] == "golden"
    assert {"image": "golden", "snapshot": "base", "protected": "true"}.items() <= next(
        e for e in listing if e.get("snapshot") == "base").items()

    write_image("vms", "c1", {4096: b"mine" * 1024})
    unprotect = run(daemon, "rbd", "snap", "unprotect", "vms/golden@base", ok=False)
    assert unprotect.returncode == 16
    run(daemon, "rbd", "flatten", "vms/c1")
    run(daemon, "rbd", "flatten", "other/c2")
    assert "parent" not in js(daemon, "info", "vms/c1")
    assert run(daemon, "rbd", "children", "vms/golden@base").stdout == ""
    expected = bytearray(read_image("vms", "golden", "base"))
    expected[4096:8192] = b"mine" * 1024
    assert read_image("vms", "c1") == bytes(expected)
    no_parent = run(daemon, "rbd", "flatten", "vms/golden", ok=False)
    assert no_parent.returncode == 22 and no_parent.stderr.startswith("rbd: flatten error: (22)")
    run(daemon, "rbd", "snap", "unprotect", "vms/golden@base")


def test_copy_rename_ls(daemon, pool):
    run(daemon, "rbd", "create", "-s", "3", "vms/a")
    write_image("vms", "a", {MiB: b"data" * 10})
    run(daemon, "rbd", "snap", "create", "vms/a@s")
    write_image("vms", "a", {MiB: b"DATA" * 10})
    run(daemon, "rbd", "cp", "vms/a", "vms/b")
    run(daemon, "rbd", "copy", "vms/a@s", "vms/c")
    assert read_image("vms", "b") == read_image("vms", "a")
    assert read_image("vms", "c") == read_image("vms", "a", "s")
    assert js(daemon, "snap", "ls", "vms/b") == []
    run(daemon, "rbd", "mv", "vms/b", "vms/b2")
    run(daemon, "rbd", "rename", "-p", "vms", "c", "c2")
    assert run(daemon, "rbd", "ls", "vms").stdout.split() == ["a", "b2", "c2"]
    across = run(daemon, "rbd", "mv", "vms/a", "other/a", ok=False)
    assert across.returncode == 22 and "across pools" in across.stderr
    rows = run(daemon, "rbd", "ls", "-l", "vms").stdout.splitlines()
    assert rows[0].split() == ["NAME", "SIZE", "PARENT", "FMT", "PROT", "LOCK"]
    assert [r.split()[0] for r in rows[1:]] == ["a", "a@s", "b2", "c2"]
    assert ElementTree.fromstring(run(daemon, "rbd", "ls", "vms", "--format", "xml").stdout).findall("name")[0].text \
        == "a"
    assert json.loads(run(daemon, "rbd", "ls", "vms", "--format", "json", "--pretty-format").stdout) == [
        "a", "b2", "c2"]


def test_trash(daemon, pool):
    run(daemon, "rbd", "create", "-s", "1", "vms/old")
    run(daemon, "rbd", "create", "-s", "1", "vms/later")
    run(daemon, "rbd", "trash", "mv", "vms/old")
    run(daemon, "rbd", "trash", "mv", "vms/later", "--delay", "3600")
    assert run(daemon, "rbd", "ls", "vms").stdout == ""
    entries = js(daemon, "trash", "ls", "vms")
    assert sorted(e["name"] for e in entries) == ["later", "old"]
    ids = {e["name"]: e["id"] for e in entries}
    assert run(daemon, "rbd", "trash", "ls", "-p", "vms").stdout.splitlines() == [
        f"{ids['old']} old", f"{ids['later']} later"]
    long = js(daemon, "trash", "ls", "-l", "vms")
    assert {e["name"]: e["status"].split()[0] for e in long} == {"old": "expired", "later": "protected"}
    early = run(daemon, "rbd", "trash", "rm", f"vms/{ids['later']}", ok=False)
    assert early.returncode == 1 and "please use --force" in early.stderr
    run(daemon, "rbd", "trash", "restore", f"vms/{ids['later']}")
    assert run(daemon, "rbd", "ls", "vms").stdout == "later\n"
    run(daemon, "rbd", "trash", "rm", "-p", "vms", "--image-id", ids["old"])
    assert js(daemon, "trash", "ls", "vms") == []
    missing = run(daemon, "rbd", "trash", "rm", "vms/nope", ok=False)
    assert missing.returncode == 2


def test_image_meta(daemon, pool):
    run(daemon, "rbd", "create", "-s", "1", "vms/m")
    run(daemon, "rbd", "image-meta", "set", "vms/m", "conf_rbd_qos_iops_limit", "100")
    run(daemon, "rbd", "image-meta", "set", "vms/m", "owner", "team a")
    assert run(daemon, "rbd", "image-meta", "get", "vms/m", "owner").stdout == "team a\n"
    assert js(daemon, "image-meta", "list", "vms/m") == {"conf_rbd_qos_iops_limit": "100", "owner": "team a"}
    plain = run(daemon, "rbd", "image-meta", "ls", "vms/m").stdout
    assert plain.startswith("There are 2 metadata on this image:\n")
    run(daemon, "rbd", "image-meta", "remove", "vms/m", "owner")
    missing = run(daemon, "rbd", "image-meta", "get", "vms/m", "owner", ok=False)
    assert missing.returncode == 2
    assert missing.stderr.startswith("rbd: failed to get metadata owner of image: (2) No such file or directory")


def test_du(daemon, pool):
    run(daemon, "rbd", "create", "-s", "64", "vms/a")
    run(daemon, "rbd", "create", "-s", "16", "vms/b")
    write_image("vms", "a", {0: b"x" * (2 * MiB)})
    run(daemon, "rbd", "snap", "create", "vms/a@s")
    write_image("vms", "a", {8 * MiB: b"y" * MiB})
    usage = js(daemon, "du", "-p", "vms")
    rows = {(r["name"], r.get("snapshot")): r for r in usage["images"]}
    assert set(rows) == {("a", "s"), ("a", None), ("b", None)}
    assert rows[("a", "s")]["provisioned_size"] == 64 * MiB
    assert rows[("a", None)]["provisioned_size"] == 64 * MiB and rows[("b", None)]["provisioned_size"] == 16 * MiB
    assert rows[("b", None)]["used_size"] == 0
    assert rows[("a", "s")]["used_size"] >= 2 * MiB and rows[("a", None)]["used_size"] >= MiB
    assert usage["total_provisioned_size"] == 80 * MiB
    assert usage["total_used_size"] == sum(r["used_size"] for r in usage["images"])
    plain = run(daemon, "rbd", "du", "-p", "vms").stdout.splitlines()
    assert plain[0].split() == ["NAME", "PROVISIONED", "USED"] and plain[-1].startswith("<TOTAL>")
    one = js(daemon, "du", "vms/b")
    assert [r["name"] for r in one["images"]] == ["b"] and one["total_provisioned_size"] == 16 * MiB


def test_snap_ls_all_shows_the_trash_namespace(daemon, pool):
    """A snapshot removed while a format-2 clone reads it leaves `snap ls`, and `snap ls --all` shows it
    in the trash namespace under its original name, as Ceph's rbd does."""
    from curverbd.core import Cluster
    run(daemon, "rbd", "create", "-s", "4", "vms/parent")
    run(daemon, "rbd", "snap", "create", "vms/parent@base")
    with Cluster() as c:
        c.connect()
        io = c.open_ioctx("vms")
        io.clone("parent", "base", io, "child", clone_format=2)
    run(daemon, "rbd", "snap", "rm", "vms/parent@base")
    assert js(daemon, "snap", "ls", "vms/parent") == []
    every = js(daemon, "snap", "ls", "--all", "vms/parent")
    assert [(s["namespace"], s["size"]) for s in every] == [({"type": "trash", "original_name": "base"}, 4 * MiB)]
    plain = run(daemon, "rbd", "snap", "ls", "-a", "vms/parent").stdout.splitlines()
    assert plain[0].split()[-1] == "NAMESPACE" and plain[1].endswith("trash (base)")
    run(daemon, "rbd", "rm", "vms/child")
    assert js(daemon, "snap", "ls", "--all", "vms/parent") == []
