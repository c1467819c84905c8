"""The rbd and ceph commands against a real daemon, run as the user runs them (subprocesses)."""
import json

from cli_helpers import pool, run  # noqa: F401


def test_pool_create_and_ls(daemon, pool):
    assert run(daemon, "ceph", "osd", "pool", "ls").stdout == "vms\n"
    assert json.loads(run(daemon, "ceph", "osd", "pool", "ls", "--format", "json").stdout) == ["vms"]
    # another user sees none of admin's pools
    assert json.loads(run(daemon, "ceph", "--id", "bob", "osd", "pool", "ls", "--format", "json").stdout) == []


def test_create_info_resize_rm(daemon, pool):
    run(daemon, "rbd", "create", "--size", "1.5G", "vms/disk")
    info = json.loads(run(daemon, "rbd", "info", "vms/disk", "--format", "json").stdout)
    assert info["size"] == 1536 << 20
    assert info["backend_size"] == 10 << 30
    assert info["objects"] == 384 and info["order"] == 22
    assert "size 1.5 GiB in 384 objects" in run(daemon, "rbd", "info", "vms/disk").stdout

    bad = run(daemon, "rbd", "resize", "--size", "1M", "vms/disk", ok=False)
    assert bad.returncode == 22 and "--allow-shrink" in bad.stderr
    run(daemon, "rbd", "resize", "--size", "1M", "--allow-shrink", "vms/disk")
    assert json.loads(run(daemon, "rbd", "info", "--format", "json", "vms/disk").stdout)["size"] == 1 << 20
    run(daemon, "rbd", "resize", "--size", "12G", "-p", "vms", "--image", "disk")
    info = json.loads(run(daemon, "rbd", "info", "vms/disk", "--format", "json").stdout)
    assert (info["size"], info["backend_size"]) == (12 << 30, 12 << 30)

    assert run(daemon, "rbd", "ls", "vms").stdout == "disk\n"
    run(daemon, "rbd", "rm", "vms/disk")
    assert run(daemon, "rbd", "ls", "vms").stdout == ""


def test_plain_size_is_megabytes(daemon, pool):
    run(daemon, "rbd", "create", "-s", "64", "-p", "vms", "small")
    assert json.loads(run(daemon, "rbd", "info", "vms/small", "--format", "json").stdout)["size"] == 64 << 20


def test_errors_are_cephs_one_line_and_errno_exit(daemon, pool):
    missing = run(daemon, "rbd", "info", "vms/nope", ok=False)
    assert missing.returncode == 2
    assert missing.stderr.startswith("rbd: error opening image nope: (2) No such file or directory")
    assert len(missing.stderr.splitlines()) == 1
    assert "vms/nope" in missing.stderr   # the second line names pool and image
    run(daemon, "rbd", "create", "--size", "1G", "vms/disk")
    exists = run(daemon, "rbd", "create", "--size", "1G", "vms/disk", ok=False)
    assert exists.returncode == 17 and "rbd: create error: (17) File exists" in exists.stderr
    other = run(daemon, "rbd", "-n", "client.bob", "info", "vms/disk", ok=False)
    assert other.returncode == 1 and "(1) Operation not permitted" in other.stderr
    other = run(daemon, "rbd", "rm", "--user", "bob", "vms/disk", ok=False)
    assert other.returncode == 1
    assert run(daemon, "rbd", "ls", "vms").stdout == "disk\n"
    bad_user = run(daemon, "rbd", "--id", "x_y", "ls", "vms", ok=False)
    assert bad_user.returncode == 22 and "x_y" in bad_user.stderr
    bad_size = run(daemon, "rbd", "create", "--size", "lots", "vms/d2", ok=False)
    assert bad_size.returncode == 22 and "invalid size 'lots'" in bad_size.stderr


def test_daemon_down_is_a_clear_error(daemon):
    daemon.stop()
    down = run(daemon, "rbd", "ls", "rbd", ok=False)
    assert down.returncode != 0
    assert daemon.socket in down.stderr


def test_ceph_commands(daemon, pool):
    assert run(daemon, "ceph", "version").stdout == "ceph version 16.2.15 (curverbd 0.1.0) pacific (stable)\n"
    assert run(daemon, "ceph", "-v").stdout == run(daemon, "ceph", "--version").stdout
    assert json.loads(run(daemon, "ceph", "version", "--format", "json").stdout) == {
        "version": "ceph version 16.2.15 (curverbd 0.1.0) pacific (stable)"}
    fsid = run(daemon, "ceph", "fsid").stdout.strip()
    status = json.loads(run(daemon, "ceph", "-s", "--format", "json-pretty").stdout)
    assert status["fsid"] == fsid and status["health"]["status"] == "HEALTH_OK"
    assert status["pgmap"]["num_pools"] == 1
    assert "health: HEALTH_OK" in run(daemon, "ceph", "status").stdout
    df = run(daemon, "ceph", "df").stdout
    assert "--- RAW STORAGE ---" in df and "\nvms " in df
    detail = json.loads(run(daemon, "ceph", "osd", "pool", "ls", "detail", "--format=json").stdout)
    assert [(p["pool_name"], p["size"]) for p in detail] == [("vms", 1)]
    quota = json.loads(run(daemon, "ceph", "osd", "pool", "get-quota", "vms", "-f", "json").stdout)
    assert quota == {"pool_name": "vms", "pool_id": detail[0]["pool_id"], "quota_max_objects": 0,
                     "quota_max_bytes": 0}
    assert "max bytes  : N/A" in run(daemon, "ceph", "osd", "pool", "get-quota", "vms").stdout
    missing = run(daemon, "ceph", "osd", "pool", "get-quota", "nope", ok=False)
    assert missing.returncode == 2 and missing.stderr == "Error ENOENT: unrecognized pool 'nope'\n"
    assert "enabled application 'rbd'" in run(daemon, "ceph", "osd", "pool", "application", "enable", "vms",
                                              "rbd").stderr
    assert "already exists" in run(daemon, "ceph", "osd", "pool", "create", "vms", "32").stderr

    unsure = run(daemon, "ceph", "osd", "pool", "rm", "vms", ok=False)
    assert unsure.returncode == 1 and unsure.stderr.startswith("Error EPERM: WARNING: this will *PERMANENTLY DESTROY*")
    unsure = run(daemon, "ceph", "osd", "pool", "rm", "vms", "vms", ok=False)
    assert unsure.returncode == 1
    assert run(daemon, "ceph", "osd", "pool", "ls").stdout == "vms\n"
    assert "removed" in run(daemon, "ceph", "osd", "pool", "rm", "vms", "vms",
                            "--yes-i-really-really-mean-it").stderr
    assert run(daemon, "ceph", "osd", "pool", "ls").stdout == ""
    assert "does not exist" in run(daemon, "ceph", "osd", "pool", "delete", "vms", "vms",
                                   "--yes-i-really-really-mean-it").stderr


def test_usage_errors(daemon, pool):
    unknown = run(daemon, "rbd", "info", "vms/x", "--bogus", ok=False)
    assert unknown.returncode == 22 and unknown.stderr.startswith("rbd: unrecognized arguments: --bogus")
    no_image = run(daemon, "rbd", "info", ok=False)
    assert no_image.returncode == 22 and "image name was not specified" in no_image.stderr
    no_pool = run(daemon, "rbd", "ls", "nopool", ok=False)
    assert no_pool.returncode == 2 and no_pool.stderr.startswith("rbd: error opening pool 'nopool': (2)")
    assert run(daemon, "rbd", "create", "vms/x", ok=False).returncode == 22   # no --size


def test_options_before_the_command(daemon, pool):
    run(daemon, "rbd", "-p", "vms", "create", "--size", "1", "tmpimage")
    run(daemon, "rbd", "-p", "vms", "snap", "create", "tmpimage", "--snap", "s")
    assert run(daemon, "rbd", "-p", "vms", "snap", "purge", "tmpimage").stderr == ""
    assert run(daemon, "rbd", "--pool", "vms", "--image", "tmpimage", "--format", "json", "info").stdout.startswith(
        '{"name":"tmpimage"')
    assert run(daemon, "rbd", "-p", "vms", "ls", "-l").stdout.splitlines()[1].split()[0] == "tmpimage"
    run(daemon, "rbd", "-p", "vms", "rm", "tmpimage")
