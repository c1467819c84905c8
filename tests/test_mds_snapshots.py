"""curverbd-server's snapshot and clone RPCs of Curve's MDS, on the raw wire, for both Curve releases.

release1.5 (the default, --curve-release 1.5): snapshots named <volpath>@<snapname>,
protect, clone, flatten, children (shared/reference/curve-control-plane.md section 4,
"Local snapshots in R15"); mainline (--curve-release 2): one snapshot per file and
ENOMETHOD for the release1.5-only RPCs ("Snapshots in M"). Requests are built by the
tests' own encoder (mds_wire.py). Also: what the MDS makes is what nebd opens and the
RBD catalog sees (one store), and a daemon killed mid-flatten comes back whole.
"""
import itertools
import signal
import time

import pytest

import mds_wire as W
from daemon import new_daemon, remove
from mds_wire import Mds, Who
from rawwire import Wire, fd_req, nebd_name

GiB, MiB = 1 << 30, 1 << 20
SIZES = ("--min-volume-size", "1G", "--segment-size", "512M", "--max-volume-size", "4G")
PASSWORD = "s3cret"
ROOT = Who("root", PASSWORD)
ALICE, BOB = Who("alice"), Who("bob")
FILE_SERVICE = "nebd.client.NebdFileService"
_counter = itertools.count()
OLD, NEW = b"o" * 8192, b"n" * 4096


def _daemon(*extra: str):
    d = new_daemon(*SIZES, "--root-password", PASSWORD, *extra).start()
    return d


@pytest.fixture(scope="module")
def daemon():
    d = _daemon()
    yield d
    remove(d)


@pytest.fixture
def mds(daemon):
    conn = Mds(daemon.mds_socket)
    yield conn
    conn.close()


@pytest.fixture
def pool(mds):
    """A fresh directory /s<n> owned by alice, with a 1 GiB volume v in it."""
    name = f"s{next(_counter)}"
    assert mds.mkdir(f"/{name}", ALICE) == W.kOK
    assert mds.create(f"/{name}/v", ALICE, length=GiB) == W.kOK
    return name


def nebd_open(d, pool: str, image: str) -> tuple[Wire, int]:
    wire = Wire(d.socket)
    return wire, wire.open_fd(nebd_name(pool, image, "alice"))


def nebd_close(wire: Wire, fd: int) -> None:
    assert wire.call(FILE_SERVICE, "CloseFile", fd_req(fd)).ret_code == 0
    wire.close()


def write_through_nebd(d, pool: str, image: str, offset: int, data: bytes) -> None:
    wire, fd = nebd_open(d, pool, image)
    assert wire.write(fd, offset, data).ret_code == 0
    nebd_close(wire, fd)


def read_through_nebd(d, pool: str, image: str, offset: int, size: int) -> bytes:
    wire, fd = nebd_open(d, pool, image)
    data = wire.read(fd, offset, size).attachment
    nebd_close(wire, fd)
    return data


def protected_clone(mds, pool: str, name: str = "c", snap: str = "s") -> str:
    """/pool/v@snap made, protected and cloned as /pool/name; the clone's path."""
    assert mds.snap_create(f"/{pool}/v@{snap}", ALICE)[0] == W.kOK
    assert mds.protect(f"/{pool}/v@{snap}", ALICE) == W.kOK
    assert mds.clone(f"/{pool}/{name}", f"/{pool}/v@{snap}", ALICE)[0] == W.kOK
    return f"/{pool}/{name}"


def wait_flattened(mds, path: str, who: Who = ALICE, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, info = mds.info(path, who)
        assert status == W.kOK
        if info["fileType"] == W.PAGEFILE:
            return info
        time.sleep(0.05)
    raise AssertionError(f"{path} was not flattened within {timeout}s")


# --- CreateSnapShot, ListSnapShot, CheckSnapShotStatus (release1.5) -----------------------------
def test_create_many_named_snapshots(mds, pool):
    vol = f"/{pool}/v"
    status, info = mds.snap_create(f"{vol}@s1", ALICE)
    assert status == W.kOK
    _, v = mds.info(vol, ALICE)
    assert (info["fileName"], info["fileType"], info["seqNum"], info["parentId"], info["length"]) == \
           ("s1", W.SNAPSHOT_PAGEFILE, 1, v["id"], GiB)
    assert mds.snap_create(f"{vol}@s1", ALICE)[0] == W.kSnapshotExist
    assert mds.snap_create(f"{vol}@s2", ALICE)[0] == W.kOK
    _, v = mds.info(vol, ALICE)
    assert v["seqNum"] == 3 and v["snaps"] == [1, 2]
    status, snaps = mds.snap_list(vol, ALICE)                    # no seq: all of them
    assert status == W.kOK
    assert [(s["fileName"], s["seqNum"], s["length"], s["isProtected"]) for s in snaps] == \
           [("s1", 1, GiB, 0), ("s2", 2, GiB, 0)]
    assert all(s["ctime"] > 0 for s in snaps)
    assert [s["fileName"] for s in mds.snap_list(vol, ALICE, (2,))[1]] == ["s2"]
    assert mds.snap_status(vol, ALICE, 1) == (W.kOK, W.kFileCreated, 0)
    assert mds.snap_status(vol, ALICE, 9)[0] == W.kSnapshotFileNotExists


def test_create_refusals(mds, pool):
    vol = f"/{pool}/v"
    assert mds.snap_create(f"{vol}@", ALICE)[0] == W.kParaError             # no snapshot name
    assert mds.snap_create("v@s", ALICE)[0] == W.kParaError                  # not a path
    assert mds.snap_create(f"/{pool}/nope@s", ALICE)[0] == W.kFileNotExists
    assert mds.snap_create(f"{vol}@s", BOB)[0] == W.kOwnerAuthFail
    assert mds.snap_create(f"/{pool}@s", ALICE)[0] == W.kNotSupported         # a directory
    # split at the last '@': the volume of "/p/v@a@b" is "/p/v@a"
    assert mds.snap_create(f"{vol}@a@b", ALICE)[0] == W.kFileNotExists
    assert mds.snap_list(f"/{pool}/nope", ALICE)[0] == W.kFileNotExists
    assert mds.snap_list(vol, BOB)[0] == W.kOwnerAuthFail
    assert mds.snap_create(f"{vol}@s", ROOT)[0] == W.kOK                     # root may snapshot it


# --- DeleteSnapShot ---------------------------------------------------------------------------------
def test_delete_snapshots(mds, pool):
    vol = f"/{pool}/v"
    for name in ("a", "b", "c"):
        assert mds.snap_create(f"{vol}@{name}", ALICE)[0] == W.kOK
    assert mds.delete(vol, ALICE) == W.kFileUnderSnapShot
    assert mds.snap_delete(f"{vol}@a", ALICE) == W.kOK                       # by name
    assert mds.snap_delete(f"{vol}@a", ALICE) == W.kSnapshotFileNotExists
    assert mds.snap_delete(vol, ALICE, seq=2) == W.kOK                       # by seq (b)
    assert mds.snap_delete(vol, ALICE, seq=2) == W.kSnapshotFileNotExists
    assert mds.snap_delete(vol, ALICE) == W.kParaError                       # neither
    assert mds.snap_delete(f"{vol}@c", BOB) == W.kOwnerAuthFail
    assert mds.protect(f"{vol}@c", ALICE) == W.kOK
    assert mds.snap_delete(f"{vol}@c", ALICE) == W.kSnapshotFileProtected
    assert mds.snap_delete(vol, ALICE, seq=3) == W.kSnapshotFileProtected
    assert mds.protect(f"{vol}@c", ALICE, on=False) == W.kOK
    assert mds.snap_delete(f"{vol}@c", ALICE) == W.kOK
    assert mds.snap_status(vol, ALICE, 3)[0] == W.kSnapshotFileNotExists
    assert mds.snap_list(vol, ALICE) == (W.kOK, [])
    assert mds.delete(vol, ALICE) == W.kOK


# --- ProtectSnapShot / UnprotectSnapShot --------------------------------------------------------
def test_protect_unprotect(mds, pool):
    vol = f"/{pool}/v"
    assert mds.snap_create(f"{vol}@s", ALICE)[0] == W.kOK
    assert mds.protect(vol, ALICE) == W.kParaError                          # no '@'
    assert mds.protect(None, ALICE) == W.kParaError
    assert mds.protect(f"{vol}@s", BOB) == W.kOwnerAuthFail                  # not bob's volume
    assert mds.protect(f"{vol}@s", ROOT) == W.kOwnerAuthFail                 # not root's snapshot, even so
    assert mds.protect(f"{vol}@nope", ALICE) == W.kSnapshotFileNotExists
    assert mds.protect(f"{vol}@s", ALICE, on=False) == W.kOK                 # already unprotected
    assert mds.protect(f"{vol}@s", ALICE) == W.kOK
    assert mds.protect(f"{vol}@s", ALICE) == W.kOK                           # already protected
    assert mds.snap_list(vol, ALICE)[1][0]["isProtected"] == 1
    assert mds.clone(f"/{pool}/c", f"{vol}@s", ALICE)[0] == W.kOK
    assert mds.protect(f"{vol}@s", ALICE, on=False) == W.kFileOccupied        # it has a clone
    assert mds.protect(f"{vol}@s", ROOT, on=False) == W.kOwnerAuthFail


# --- Clone and Children ---------------------------------------------------------------------------
def test_clone_rules_and_children(mds, pool):
    vol = f"/{pool}/v"
    assert mds.snap_create(f"{vol}@s", ALICE)[0] == W.kOK
    assert mds.snap_create(f"{vol}@t", ALICE)[0] == W.kOK
    assert mds.clone(f"/{pool}/c", vol, ALICE)[0] == W.kParaError            # no '@'
    assert mds.clone(f"/{pool}/c", f"{vol}@s", ALICE)[0] == W.kSnapshotFileNotProtected
    assert mds.protect(f"{vol}@s", ALICE) == W.kOK
    assert mds.protect(f"{vol}@t", ALICE) == W.kOK
    assert mds.clone(vol, f"{vol}@s", ALICE)[0] == W.kFileExists
    assert mds.clone(f"/{pool}/c", f"{vol}@nope", ALICE)[0] == W.kSnapshotFileNotExists
    assert mds.clone(f"/{pool}/c", f"{vol}@s", ALICE, poolset="other")[0] == W.kNotSupported
    assert mds.clone(f"/{pool}-none/c", f"{vol}@s", ROOT)[0] == W.kFileNotExists
    assert mds.clone(f"/{pool}/c", f"{vol}@s", BOB)[0] == W.kOwnerAuthFail   # the destination is checked
    status, info = mds.clone(f"/{pool}/c", f"{vol}@s", ALICE)
    assert status == W.kOK
    assert (info["fileType"], info["length"], info["cloneSource"], info["cloneSn"], info["owner"],
            info.get("readonly", 0)) == (W.CLONE_PAGEFILE, GiB, f"{vol}@s", 1, "alice", 0)
    # nothing is checked on the source: bob clones alice's snapshot into his own directory
    assert mds.mkdir(f"/{pool}-bob", BOB) == W.kOK
    assert mds.clone(f"/{pool}-bob/d", f"{vol}@t", BOB)[0] == W.kOK
    assert mds.children(ALICE, snap=f"{vol}@s") == (W.kOK, [f"/{pool}/c"])
    assert mds.children(ALICE, snap=f"{vol}@t") == (W.kOK, [f"/{pool}-bob/d"])
    assert mds.children(ALICE, path=vol) == (W.kOK, [f"/{pool}/c", f"/{pool}-bob/d"])
    assert mds.children(ALICE, snap=vol)[0] == W.kParaError
    assert mds.children(ALICE)[0] == W.kParaError
    assert mds.children(BOB, snap=f"{vol}@s")[0] == W.kOwnerAuthFail
    assert mds.snap_list(vol, ALICE)[1][0]["children"] == [f"/{pool}/c"]
    # release1.5: a clone is not renamed, extended or given away
    assert mds.rename(f"/{pool}/c", f"/{pool}/c2", ALICE) == W.kNotSupported
    assert mds.extend(f"/{pool}/c", ALICE, 2 * GiB) == W.kNotSupported
    assert mds.chown(f"/{pool}/c", "bob", ROOT) == W.kNotSupported
    # a clone has snapshots of its own
    assert mds.snap_create(f"/{pool}/c@own", ALICE)[0] == W.kOK


# --- data: what nebd sees -------------------------------------------------------------------------
def test_a_snapshot_keeps_its_data_and_does_not_open_through_nebd(mds, daemon, pool):
    """Like Curve (reference section 6), nebd opens no snapshot: `v@s` is an ordinary, missing name. The
    snapshot's data is read through a clone of it."""
    write_through_nebd(daemon, pool, "v", 0, OLD)
    assert mds.snap_create(f"/{pool}/v@s", ALICE)[0] == W.kOK
    write_through_nebd(daemon, pool, "v", 0, NEW)
    with Wire(daemon.socket) as wire:
        assert wire.open_file(nebd_name(pool, "v@s", "alice")).ret_code != 0
    assert mds.protect(f"/{pool}/v@s", ALICE) == W.kOK
    assert mds.clone(f"/{pool}/ro", f"/{pool}/v@s", ALICE, readonly=True)[0] == W.kOK
    assert read_through_nebd(daemon, pool, "ro", 0, len(OLD)) == OLD
    assert read_through_nebd(daemon, pool, "v", 0, len(OLD)) == NEW + OLD[4096:]


def test_clone_reads_through_and_keeps_its_writes(mds, daemon, pool):
    write_through_nebd(daemon, pool, "v", 0, OLD)
    clone = protected_clone(mds, pool)
    write_through_nebd(daemon, pool, "v", 0, b"x" * 4096)                   # the volume moves on
    assert read_through_nebd(daemon, pool, "c", 0, len(OLD)) == OLD
    write_through_nebd(daemon, pool, "c", 4096, NEW)
    assert read_through_nebd(daemon, pool, "c", 0, len(OLD)) == OLD[:4096] + NEW
    assert read_through_nebd(daemon, pool, "v", 0, len(OLD)) == b"x" * 4096 + OLD[4096:]
    assert mds.info(clone, ALICE)[1]["fileType"] == W.CLONE_PAGEFILE


def test_read_only_clone_refuses_writes(mds, daemon, pool):
    write_through_nebd(daemon, pool, "v", 0, OLD)
    assert mds.snap_create(f"/{pool}/v@s", ALICE)[0] == W.kOK
    assert mds.protect(f"/{pool}/v@s", ALICE) == W.kOK
    status, info = mds.clone(f"/{pool}/ro", f"/{pool}/v@s", ALICE, readonly=True)
    assert status == W.kOK and info["readonly"] == 1
    wire, fd = nebd_open(daemon, pool, "ro")
    assert wire.read(fd, 0, len(OLD)).attachment == OLD
    reply = wire.write(fd, 0, NEW)
    assert reply.ret_code != 0 and "read-only" in reply.ret_msg
    nebd_close(wire, fd)


# --- Flatten and QueryFlattenStatus ---------------------------------------------------------------
def test_flatten_then_the_snapshot_can_go(mds, daemon, pool):
    write_through_nebd(daemon, pool, "v", 0, OLD)
    clone = protected_clone(mds, pool)
    write_through_nebd(daemon, pool, "c", 4096, NEW)
    assert mds.flatten(clone, BOB) == W.kOwnerAuthFail
    assert mds.flatten(clone, ROOT) == W.kOwnerAuthFail                      # the owner's, even for root
    assert mds.flatten_status(clone, ROOT)[0] == W.kOwnerAuthFail
    assert mds.flatten(f"/{pool}/v", ALICE) == W.kOK                         # a page file: nothing to do
    assert mds.flatten_status(f"/{pool}/v", ALICE) == (W.kOK, W.kFileCreated, 100)
    assert mds.flatten(f"/{pool}", ALICE) == W.kFileTypeInvalid              # a directory
    assert mds.flatten_status(clone, ALICE) == (W.kOK, W.kFileCreated, 0)
    assert mds.flatten(clone, ALICE) == W.kOK
    info = wait_flattened(mds, clone)
    assert "cloneSource" not in info and info["fileStatus"] == W.kFileCreated
    assert mds.flatten_status(clone, ALICE) == (W.kOK, W.kFileCreated, 100)
    assert mds.children(ALICE, snap=f"/{pool}/v@s") == (W.kOK, [])
    assert mds.protect(f"/{pool}/v@s", ALICE, on=False) == W.kOK
    assert mds.snap_delete(f"/{pool}/v@s", ALICE) == W.kOK
    assert read_through_nebd(daemon, pool, "c", 0, len(OLD)) == OLD[:4096] + NEW
    # a flattened clone is a page file again: it can be extended and renamed
    assert mds.extend(clone, ALICE, 2 * GiB) == W.kOK
    assert mds.rename(clone, f"/{pool}/c2", ALICE) == W.kOK


# --- one store: the daemon's snapshot data service sees the MDS's snapshots ------------------------
def test_snapshot_data_service_sees_the_mds_snapshots(mds, daemon, pool):
    vol = f"/{pool}/v"
    assert mds.snap_create(f"{vol}@s", ALICE)[0] == W.kOK
    assert mds.protect(f"{vol}@s", ALICE) == W.kOK
    assert mds.clone(f"/{pool}/c", f"{vol}@s", ALICE)[0] == W.kOK
    with Wire(daemon.socket) as wire:
        where = {"owner": "alice", "pool": pool, "image": "v"}
        assert wire.catalog("Allocated", snap="s", **where)["errno"] == 0
        assert wire.catalog("RollbackSnap", snap="s", **where)["size"] == GiB    # protected, cloned: fine
        assert wire.catalog("RollbackSnap", snap="gone", **where)["errno"] == 2   # ENOENT
    assert mds.snap_delete(f"{vol}@s", ALICE) == W.kSnapshotFileProtected        # still Curve's rules
    assert mds.children(ALICE, snap=f"{vol}@s") == (W.kOK, [f"/{pool}/c"])


# --- mainline (--curve-release 2) -------------------------------------------------------------------
@pytest.fixture(scope="module")
def mainline():
    d = _daemon("--curve-release", "2")
    yield d
    remove(d)


def test_mainline_has_no_release15_rpcs(mainline):
    mds = Mds(mainline.mds_socket)
    try:
        for method in ("ProtectSnapShot", "UnprotectSnapShot", "Clone", "Flatten", "QueryFlattenStatus",
                       "Children"):
            reply = mds.call(method, b"")
            assert reply.error_code == W.ENOMETHOD, method
    finally:
        mds.close()


def test_mainline_one_snapshot_per_file(mainline):
    mds = Mds(mainline.mds_socket)
    try:
        assert mds.mkdir("/m", ALICE) == W.kOK
        assert mds.create("/m/v", ALICE, length=GiB) == W.kOK
        status, info = mds.snap_create("/m/v", ALICE)
        assert status == W.kOK
        assert (info["fileName"], info["seqNum"], info["fileType"]) == ("v-1", 1, W.SNAPSHOT_PAGEFILE)
        assert "isProtected" not in info
        status, again = mds.snap_create("/m/v", ALICE)                         # the one it has comes back
        assert status == W.kFileUnderSnapShot and again["seqNum"] == 1
        _, v = mds.info("/m/v", ALICE)
        assert v["seqNum"] == 2 and "snaps" not in v
        assert mds.snap_create("/m/v@s", ALICE)[0] == W.kFileNotExists          # '@' is part of a name here
        assert mds.snap_list("/m/v", ALICE) == (W.kOK, [])                      # only the seqs asked for
        assert [s["fileName"] for s in mds.snap_list("/m/v", ALICE, (1, 7))[1]] == ["v-1"]
        assert mds.snap_status("/m/v", ALICE, 1) == (W.kOK, W.kFileCreated, 0)
        assert mds.delete("/m/v", ALICE) == W.kFileUnderSnapShot
        assert mds.snap_delete("/m/v", ALICE) == W.kParaError                   # no seq
        assert mds.snap_delete("/m/v", ALICE, seq=7) == W.kSnapshotFileNotExists
        assert mds.snap_delete("/m/v", ALICE, seq=1) == W.kOK
        assert mds.snap_status("/m/v", ALICE, 1)[0] == W.kSnapshotFileNotExists
        assert mds.snap_create("/m/v", ALICE)[1]["fileName"] == "v-2"
    finally:
        mds.close()


# --- a daemon killed mid-flatten -------------------------------------------------------------------
def test_sigkill_mid_flatten_leaves_a_clone_or_a_flat_file():
    d = _daemon("--flatten-step", "256K")
    try:
        mds = Mds(d.mds_socket)
        assert mds.mkdir("/k", ALICE) == W.kOK
        assert mds.create("/k/v", ALICE, length=GiB) == W.kOK
        wire, fd = nebd_open(d, "k", "v")
        chunk = bytes(range(256)) * 4096                                        # 1 MiB
        for i in range(32):
            assert wire.write(fd, i * 16 * MiB, chunk).ret_code == 0
        nebd_close(wire, fd)
        clone = protected_clone(mds, "k")
        assert mds.flatten(clone, ALICE) == W.kOK
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, state, progress = mds.flatten_status(clone, ALICE)
            if state != W.kFileFlattening or progress:
                break
            time.sleep(0.01)
        if state == W.kFileFlattening:
            assert mds.delete(clone, ALICE) == W.kFileOccupied                  # not while flattening
        mds.close()
        d.stop(signal.SIGKILL)
        d.start()
        mds = Mds(d.mds_socket)
        status, info = mds.info(clone, ALICE)
        assert status == W.kOK
        if info["fileType"] == W.CLONE_PAGEFILE:                               # the whole clone
            assert (info["fileStatus"], info["cloneSource"]) == (W.kFileCreated, "/k/v@s")
            assert mds.children(ALICE, snap="/k/v@s") == (W.kOK, ["/k/c"])
        else:                                                                   # or the flat file
            assert info["fileType"] == W.PAGEFILE and "cloneSource" not in info
            assert mds.children(ALICE, snap="/k/v@s") == (W.kOK, [])
        for i in (0, 13, 31):
            assert read_through_nebd(d, "k", "c", i * 16 * MiB, len(chunk)) == chunk
        assert mds.flatten(clone, ALICE) == W.kOK                                # and it can be finished
        wait_flattened(mds, clone, timeout=120)
        assert read_through_nebd(d, "k", "c", 31 * 16 * MiB, len(chunk)) == chunk
        assert mds.protect("/k/v@s", ALICE, on=False) == W.kOK
        mds.close()
    finally:
        remove(d)
