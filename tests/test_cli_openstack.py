"""The exact rbd / ceph command lines nova and cinder run (nova/storage/rbd_utils.py, cinder's RBD volume and
backup drivers), parsed the way those projects parse them. The socket comes from the --conf file only."""
import hashlib
import json
import os

import pytest

from cli_helpers import env_of, piped, pool, read_image, run, write_image  # noqa: F401

MiB = 1 << 20


@pytest.fixture
def ceph_conf(daemon, tmp_path):
    """A ceph.conf naming the daemon's socket, and an environment without CURVERBD_SOCKET."""
    conf = tmp_path / "ceph.conf"
    conf.write_text(f"[global]\nmon_host = 127.0.0.1\ncurverbd_socket = {daemon.socket}\n")
    return str(conf), env_of(daemon, CURVERBD_SOCKET=None)


@pytest.fixture
def volumes(daemon, ceph_conf):
    conf, env = ceph_conf
    run(daemon, "ceph", "osd", "pool", "create", "volumes", "--id", "cinder", "--conf", conf, env=env)
    return "volumes"


def nova_args(conf):       # RBDDriver.ceph_args()
    return ["--id", "nova", "--conf", conf]


def cinder_args(conf):     # RBDDriver._ceph_args()
    return ["--id", "cinder", "--cluster", "ceph", "--conf", conf]


def parse_mon_addrs(out: str):
    """nova's get_mon_addrs / cinder's _get_mon_addrs, verbatim in logic."""
    lines = out.split("\n")
    if lines[0].startswith("dumped monmap epoch"):
        lines = lines[1:]
    monmap = json.loads("\n".join(lines))
    addrs = [mon["addr"] for mon in monmap["mons"]]
    hosts, ports = [], []
    for addr in addrs:
        host_port = addr[:addr.rindex("/")]
        host, port = host_port.rsplit(":", 1)
        hosts.append(host.strip("[]"))
        ports.append(port)
    return hosts, ports


@pytest.mark.parametrize("who", ["nova", "cinder"])
def test_mon_dump(daemon, ceph_conf, who):
    conf, env = ceph_conf
    args = nova_args(conf) if who == "nova" else cinder_args(conf)
    proc = run(daemon, "ceph", "mon", "dump", "--format=json", *args, env=env)
    assert parse_mon_addrs(proc.stdout) == (["127.0.0.1"], ["6789"])
    monmap = json.loads(proc.stdout)
    mon = monmap["mons"][0]
    assert [a["type"] for a in mon["public_addrs"]["addrvec"]] == ["v2", "v1"]
    assert mon["public_addr"] == mon["addr"] == "127.0.0.1:6789/0"
    assert monmap["fsid"] == run(daemon, "ceph", "fsid", *args, env=env).stdout.strip()
    assert "dumped monmap epoch 1" in proc.stderr


def test_nova_get_pool_info(daemon, ceph_conf):
    conf, env = ceph_conf
    run(daemon, "ceph", "osd", "pool", "create", "vms", "--id", "nova", "--conf", conf, env=env)
    run(daemon, "rbd", "create", "--size", "64", "vms/disk", "--id", "nova", "--conf", conf, env=env)
    write_image("vms", "disk", {0: os.urandom(8 * MiB)}, user="nova")
    out = run(daemon, "ceph", "df", "--format=json", *nova_args(conf), env=env).stdout
    stats = json.loads(out)
    pool_stats = next(p["stats"] for p in stats["pools"] if p["name"] == "vms")
    info = {"total": stats["stats"]["total_bytes"], "free": pool_stats["max_avail"], "used": pool_stats["bytes_used"]}
    assert all(isinstance(v, int) for v in info.values())
    assert info["total"] >= info["free"] > 0
    assert info["used"] >= 8 * MiB
    assert pool_stats["stored"] == info["used"] and pool_stats["objects"] == 1
    assert stats["stats"]["total_avail_bytes"] == info["free"]
    assert stats["stats"]["total_used_bytes"] <= info["total"]


def _sparse_file(path, size, pieces):
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, data in pieces.items():
            f.seek(offset)
            f.write(data)


def test_nova_import_and_export(daemon, ceph_conf, tmp_path):
    conf, env = ceph_conf
    run(daemon, "ceph", "osd", "pool", "create", "vms", "--id", "nova", "--conf", conf, env=env)
    base = str(tmp_path / "base.raw")
    _sparse_file(base, 24 * MiB, {0: b"boot" * 1024, 9 * MiB + 512: os.urandom(MiB)})
    # RBDDriver.import_image
    run(daemon, "rbd", "import", "--pool", "vms", base, "instance_disk", "--image-format=2", *nova_args(conf),
        env=env)
    original = open(base, "rb").read()
    assert read_image("vms", "instance_disk", user="nova") == original
    # RBDDriver.create_snap, then a write the snapshot must not see; RBDDriver.export_image
    run(daemon, "rbd", "snap", "create", "vms/instance_disk@snap", "--id", "nova", "--conf", conf, env=env)
    write_image("vms", "instance_disk", {0: b"\xff" * 4096}, user="nova")
    out = str(tmp_path / "exported.raw")
    run(daemon, "rbd", "export", "--pool", "vms", "--image", "instance_disk", "--path", out, "--snap", "snap",
        *nova_args(conf), env=env)
    assert open(out, "rb").read() == original


def test_cinder_import_export_status(daemon, ceph_conf, volumes, tmp_path):
    conf, env = ceph_conf
    tmp = str(tmp_path / "image.raw")
    _sparse_file(tmp, 16 * MiB, {MiB: os.urandom(3 * MiB), 15 * MiB: b"tail" * 1024})
    # RBDDriver.copy_image_to_volume (order is passed as an int, execute() stringifies it)
    run(daemon, "rbd", "import", "--pool", volumes, "--order", str(22), tmp, "volume-1", "--new-format",
        *cinder_args(conf), env=env)
    # RBDDriver._create_encrypted_volume
    run(daemon, "rbd", "import", "--dest-pool", volumes, "--order", str(22), tmp, "volume-2", *cinder_args(conf),
        env=env)
    for name in ("volume-1", "volume-2"):
        assert read_image(volumes, name, user="cinder") == open(tmp, "rb").read()
        info = json.loads(run(daemon, "rbd", "info", f"{volumes}/{name}", "--format", "json", *cinder_args(conf),
                              env=env).stdout)
        assert (info["size"], info["order"]) == (16 * MiB, 22)
    # RBDDriver.copy_volume_to_image
    out = str(tmp_path / "volume-1-image")
    run(daemon, "rbd", "export", "--pool", volumes, "volume-1", out, *cinder_args(conf), env=env)
    assert open(out, "rb").read() == open(tmp, "rb").read()
    # RBDDriver._get_image_status, as get_manageable_volumes reads it
    out = run(daemon, "rbd", "status", "--pool", volumes, "--format=json", "volume-1", *cinder_args(conf),
              env=env).stdout
    assert len(json.loads(out)["watchers"]) == 0
    missing = run(daemon, "rbd", "status", "--pool", volumes, "--format=json", "nope", *cinder_args(conf),
                  env=env, ok=False)
    assert missing.returncode == 2 and "rbd: error opening image nope: (2) No such file or directory" in missing.stderr


def _backup_args(user, conf, pool):   # CephBackupDriver._ceph_args(user, conf, pool)
    return ["--id", user, "--conf", conf, "--pool", pool]


def _diff_transfer(daemon, env, conf, src, dest, src_snap=None, from_snap=None):
    """CephBackupDriver._rbd_diff_transfer: export-diff | import-diff; src/dest are (user, pool, image)."""
    (src_user, src_pool, src_name), (dest_user, dest_pool, dest_name) = src, dest
    cmd1 = ["rbd", "export-diff"] + _backup_args(src_user, conf, src_pool)
    if from_snap is not None:
        cmd1 += ["--from-snap", from_snap]
    cmd1 += [f"{src_pool}/{src_name}@{src_snap}" if src_snap else f"{src_pool}/{src_name}", "-"]
    cmd2 = ["rbd", "import-diff"] + _backup_args(dest_user, conf, dest_pool) + ["-", f"{dest_pool}/{dest_name}"]
    rc1, rc2, err1, err2 = piped(cmd1, cmd2, env, env)
    assert (rc1, rc2) == (0, 0), (err1, err2)


def test_cinder_backup_full_incremental_restore(daemon, ceph_conf, volumes):
    conf, env = ceph_conf
    run(daemon, "ceph", "osd", "pool", "create", "backups", "--id", "backup", "--conf", conf, env=env)
    run(daemon, "rbd", "create", "--size", "32", f"{volumes}/volume-9", *cinder_args(conf), env=env)
    write_image(volumes, "volume-9", {0: os.urandom(MiB), 20 * MiB: os.urandom(2 * MiB)}, user="cinder")
    src, base = ("cinder", volumes, "volume-9"), ("backup", "backups", "volume-9.backup.base")

    # full backup: an empty base image of the same size, a source snapshot, a diff from nothing
    run(daemon, "rbd", "create", "--size", "32", "backups/volume-9.backup.base", "--id", "backup", "--conf", conf,
        env=env)
    run(daemon, "rbd", "snap", "create", f"{volumes}/volume-9@backup.1.snap.1", *cinder_args(conf), env=env)
    _diff_transfer(daemon, env, conf, src, base, src_snap="backup.1.snap.1")
    # incremental backup: more writes (and a discard), a second snapshot, the diff between the two
    write_image(volumes, "volume-9", {5 * MiB: os.urandom(MiB), 0: b"\0" * MiB}, user="cinder")
    run(daemon, "rbd", "resize", "--size", "40", f"{volumes}/volume-9", *cinder_args(conf), env=env)
    write_image(volumes, "volume-9", {36 * MiB: os.urandom(MiB)}, user="cinder")
    run(daemon, "rbd", "snap", "create", f"{volumes}/volume-9@backup.2.snap.2", *cinder_args(conf), env=env)
    _diff_transfer(daemon, env, conf, src, base, src_snap="backup.2.snap.2", from_snap="backup.1.snap.1")

    snaps = json.loads(run(daemon, "rbd", "snap", "ls", "backups/volume-9.backup.base", "--format", "json",
                           "--id", "backup", "--conf", conf, env=env).stdout)
    assert [s["name"] for s in snaps] == ["backup.1.snap.1", "backup.2.snap.2"]   # import-diff made them
    for snap in ("backup.1.snap.1", "backup.2.snap.2"):
        assert read_image("backups", base[2], snap, user="backup") == read_image(volumes, "volume-9", snap,
                                                                                user="cinder")
    # restore into a new volume from the base's second snapshot
    run(daemon, "rbd", "create", "--size", "32", f"{volumes}/volume-restored", *cinder_args(conf), env=env)
    _diff_transfer(daemon, env, conf, base, ("cinder", volumes, "volume-restored"), src_snap="backup.2.snap.2")
    restored = read_image(volumes, "volume-restored", user="cinder")
    assert len(restored) == 40 * MiB   # import-diff sets the size the stream carries
    assert hashlib.sha256(restored).digest() == hashlib.sha256(
        read_image(volumes, "volume-9", "backup.2.snap.2", user="cinder")).digest()
    # an incremental whose start snapshot the destination lacks is refused, as Ceph refuses it
    run(daemon, "rbd", "create", "--size", "32", f"{volumes}/volume-empty", *cinder_args(conf), env=env)
    cmd1 = ["rbd", "export-diff", *_backup_args("cinder", conf, volumes), "--from-snap", "backup.1.snap.1",
            f"{volumes}/volume-9@backup.2.snap.2", "-"]
    cmd2 = ["rbd", "import-diff", *_backup_args("cinder", conf, volumes), "-", f"{volumes}/volume-empty"]
    rc1, rc2, _, err2 = piped(cmd1, cmd2, env, env)
    assert rc2 == 2 and "start snapshot 'backup.1.snap.1' does not exist" in err2


def test_os_brick_kernel_mapping_explains_itself(daemon, ceph_conf):
    conf, env = ceph_conf
    for argv in (["showmapped", "--format=json"], ["map", "volumes/volume-1", "--id", "cinder"],
                 ["unmap", "/dev/rbd0"], ["device", "map", "volumes/volume-1"], ["device", "list"]):
        proc = run(daemon, "rbd", *argv, "--conf", conf, env=env, ok=False)
        assert proc.returncode == 95, argv
        assert proc.stdout == ""
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and "not available" in lines[0]
        assert "qemu-storage-daemon" in lines[0] and "qemu-nbd" in lines[0]
    proc = run(daemon, "rbd", "map", "volumes/volume-1", env=env, ok=False)
    assert "rbd:volumes/volume-1" in proc.stderr
