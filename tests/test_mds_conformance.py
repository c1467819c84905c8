"""curverbd-server's Curve MDS service (curve.mds.CurveFSService) against Curve's rules, on the raw wire.

Requests are built by the tests' own protobuf and baidu_std code (mds_wire.py,
rawwire.py) with the field numbers of Curve's nameserver2.proto, and sent to a
real daemon over its MDS unix socket and over TCP (--mds-listen). Each test
checks the StatusCodes Curve's MDS gives (shared/reference/
curve-control-plane.md sections 3 and 4), in Curve's check order.
"""
import grp
import itertools
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import time

import pytest

import mds_wire as W
from daemon import ROOT as SOURCE_ROOT, new_daemon, remove
from mds_wire import Mds, Who
from rawwire import Wire, fb, fd_req, fields, nebd_name

GiB, MiB = 1 << 30, 1 << 20
SEGMENT = 512 * MiB
MAX = 4 * GiB
PASSWORD = "s3cret"
ROOT = Who("root", PASSWORD)
ROOT_DEFAULT = Who("root", "root_password")    # Curve's default root password
ALICE, BOB = Who("alice"), Who("bob")
_counter = itertools.count()
FIRST, MOVED = (b"first" * 2000)[:8192], (b"moved" * 1000)[:4096]   # whole 4 KiB blocks


@pytest.fixture(scope="module")
def daemon():
    """Small Curve sizes (1 GiB minimum, 512 MiB segments, 4 GiB maximum), TCP too, a root password."""
    d = new_daemon("--min-volume-size", "1G", "--segment-size", "512M", "--max-volume-size", "4G",
                   "--mds-listen", "127.0.0.1:0", "--root-password", PASSWORD).start()
    yield d
    remove(d)


def tcp_address(d) -> tuple[str, int]:
    host, port = open(os.path.join(d.data_dir, "mds.addr")).read().strip().rsplit(":", 1)
    return host, int(port)


@pytest.fixture(params=["unix", "tcp"])
def mds(request, daemon):
    conn = Mds(daemon.mds_socket if request.param == "unix" else tcp_address(daemon))
    yield conn
    conn.close()


@pytest.fixture
def pool(mds):
    """A fresh directory /p<n> owned by alice (a pool, for nebd names /<pool>/<image>)."""
    name = f"p{next(_counter)}"
    assert mds.mkdir(f"/{name}", ALICE) == W.kOK
    return name


def nebd_open(d, pool: str, image: str, owner: str = "alice") -> tuple[Wire, int]:
    wire = Wire(d.socket)
    return wire, wire.open_fd(nebd_name(pool, image, owner))


# --- paths and authentication -------------------------------------------------------------------
BAD_PATHS = ["", "a", "a/b", "/a/", "//a", "/a//b", "/a/b/"]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_invalid_paths_are_para_error_before_any_auth(mds, path):
    # an empty owner and a stale date would be kOwnerAuthFail: the path is judged first
    nobody = Who("", skew_us=-3600_000_000)
    assert mds.create(path, nobody, W.DIRECTORY) == W.kParaError
    assert mds.create(path, ALICE, W.PAGEFILE, GiB) == W.kParaError
    assert mds.delete(path, nobody) == W.kParaError
    assert mds.recover(path, nobody) == W.kParaError
    assert mds.info(path, nobody)[0] == W.kParaError
    assert mds.listdir(path, nobody)[0] == W.kParaError
    assert mds.extend(path, nobody, 2 * GiB) == W.kParaError
    assert mds.rename(path, "/ok", nobody) == W.kParaError
    assert mds.rename("/ok", path, nobody) == W.kParaError
    assert mds.chown(path, "bob", nobody) == W.kParaError
    assert mds.open(path, nobody)[0] == W.kParaError
    assert mds.close_file(path, nobody) == W.kParaError
    status, session, _ = mds.refresh(path, nobody, session="sess-7")
    assert (status, session) == (W.kParaError, "sess-7")   # the session id comes back even then


def test_rename_paths_that_contain_each_other(mds, pool):
    assert mds.create(f"/{pool}/v", ALICE, length=GiB) == W.kOK
    assert mds.rename(f"/{pool}", f"/{pool}/v/w", ALICE) == W.kParaError
    assert mds.rename(f"/{pool}/v", f"/{pool}", ALICE) == W.kParaError
    assert mds.rename("/", f"/{pool}/w", ROOT) == W.kParaError
    assert mds.rename(f"/{pool}/v", "/", ROOT) == W.kParaError
    # a shared prefix of characters is not containment
    assert mds.rename(f"/{pool}/v", f"/{pool}x", ALICE) == W.kOK


def test_auth_triple(mds, pool):
    path = f"/{pool}/f"
    assert mds.create(path, ALICE, length=GiB) == W.kOK
    assert mds.info(path, Who(""))[0] == W.kOwnerAuthFail                       # no owner
    for skew in (-20_000_000, 20_000_000):                                      # 20 s off, either way
        assert mds.info(path, Who("alice", skew_us=skew))[0] == W.kOwnerAuthFail
        assert mds.info(path, Who("root", PASSWORD, skew_us=skew))[0] == W.kOwnerAuthFail
        assert mds.create(f"/{pool}/g", Who("alice", skew_us=skew), length=GiB) == W.kOwnerAuthFail
    assert mds.info(path, Who("alice", skew_us=-10_000_000))[0] == W.kOK        # 10 s is inside the window
    # non-root: the signature is not looked at
    assert mds.info(path, Who("alice", signature="not-a-signature"))[0] == W.kOK
    # root: a missing or wrong signature, or one made with Curve's default password, fails
    assert mds.info(path, Who("root"))[0] == W.kOwnerAuthFail
    assert mds.info(path, Who("root", signature="AAAA"))[0] == W.kOwnerAuthFail
    assert mds.info(path, Who("root", "root_password"))[0] == W.kOwnerAuthFail
    assert mds.info(path, ROOT)[0] == W.kOK


def test_ancestor_ownership(mds, pool):
    top = f"/{pool}"
    assert mds.create(f"{top}/f", ALICE, length=GiB) == W.kOK
    assert mds.mkdir(f"{top}/d", ALICE) == W.kOK
    # anyone can create at the top; deeper needs every ancestor
    assert mds.mkdir(f"/{pool}-bob", BOB) == W.kOK
    assert mds.create(f"{top}/x", BOB, length=GiB) == W.kOwnerAuthFail
    assert mds.create(f"{top}/d/x", BOB, length=GiB) == W.kOwnerAuthFail
    assert mds.create(f"/{pool}-none/x", ALICE, length=GiB) == W.kFileNotExists
    assert mds.create(f"{top}/f/x", ALICE, length=GiB) == W.kNotDirectory
    # the entry itself must be the caller's
    assert mds.info(top, BOB)[0] == W.kOwnerAuthFail
    assert mds.info(f"{top}/f", BOB)[0] == W.kOwnerAuthFail
    assert mds.info(f"{top}/nope", ALICE)[0] == W.kFileNotExists
    # a file in the middle: kNotDirectory from the owner walk, kFileNotExists for root
    assert mds.info(f"{top}/f/x", ALICE)[0] == W.kNotDirectory
    assert mds.info(f"{top}/f/x", ROOT)[0] == W.kFileNotExists
    # "/" and /RecycleBin are never a non-root user's
    assert mds.info("/", ALICE)[0] == W.kOwnerAuthFail
    assert mds.listdir("/", ALICE)[0] == W.kOwnerAuthFail
    assert mds.info("/RecycleBin", ALICE)[0] == W.kOwnerAuthFail
    assert mds.listdir("/RecycleBin", ALICE)[0] == W.kOwnerAuthFail
    assert mds.create("/RecycleBin/x", ALICE, length=GiB) == W.kOwnerAuthFail
    # root skips every ownership rule
    status, info = mds.info(f"{top}/f", ROOT)
    assert status == W.kOK and info["owner"] == "alice"
    assert mds.create(f"{top}/byroot", ROOT, length=GiB) == W.kOK
    assert mds.info(f"{top}/byroot", ALICE)[0] == W.kOwnerAuthFail   # root's file in alice's directory
    assert mds.info("/", ROOT) == (W.kOK, {"id": 0, "fileName": "/", "fileType": W.DIRECTORY, "owner": "root"})
    status, info = mds.info("/RecycleBin", ROOT)
    assert status == W.kOK and (info["id"], info["parentId"], info["owner"]) == (1, 0, "root")
    assert info["fileType"] == W.DIRECTORY


# --- CreateFile ---------------------------------------------------------------------------------
def test_create_rules(mds, pool):
    top = f"/{pool}"
    assert mds.create(f"{top}/a", ALICE, W.APPENDFILE, GiB) == W.kNotSupported
    for length in (None, 0, SEGMENT, GiB + SEGMENT // 2, MAX + SEGMENT):
        assert mds.create(f"{top}/a", ALICE, length=length) == W.kFileLengthNotSupported, length
    assert mds.create(f"{top}/a", ALICE, length=GiB, poolset="nope") == W.kPoolsetNotExist
    chunk = 16 * MiB
    for stripe in ((MiB, 0), (0, 4), (2 * chunk, 1), (3 * 4096, 4), (2048, 8), (MiB, 64), (MiB, 1)):
        assert mds.create(f"{top}/a", ALICE, length=GiB, stripe=stripe) == W.kParaError, stripe
    assert mds.create(f"{top}/missing/a", ROOT, length=GiB) == W.kFileNotExists   # not kDirNotExist
    before = W.now_us()
    assert mds.create(f"{top}/a", ALICE, length=GiB, stripe=(MiB, 4), poolset="default") == W.kOK
    assert mds.create(f"{top}/a", ALICE, length=GiB) == W.kFileExists
    assert mds.mkdir(f"{top}/a", ALICE) == W.kFileExists
    assert mds.mkdir("/", ROOT) == W.kFileExists
    status, parent = mds.info(top, ALICE)
    status, info = mds.info(f"{top}/a", ALICE)
    assert status == W.kOK
    assert info["id"] >= 2 and info["parentId"] == parent["id"]
    assert before <= info["ctime"] <= W.now_us()                      # microseconds
    assert {k: info[k] for k in ("fileName", "fileType", "owner", "chunkSize", "segmentSize", "length",
                                 "seqNum", "fileStatus", "stripeUnit", "stripeCount", "blocksize")} == {
        "fileName": "a", "fileType": W.PAGEFILE, "owner": "alice", "chunkSize": chunk, "segmentSize": SEGMENT,
        "length": GiB, "seqNum": 1, "fileStatus": 0, "stripeUnit": MiB, "stripeCount": 4, "blocksize": 4096}
    assert parent["fileType"] == W.DIRECTORY and parent["length"] == 0
    assert mds.create(f"{top}/b", ALICE, length=MAX) == W.kOK       # the maximum itself is fine


def test_curve_default_sizes():
    """Curve's real defaults: 10 GiB minimum, 1 GiB segments, 20 TiB maximum (the files are sparse)."""
    d = new_daemon().start()
    try:
        mds = Mds(d.mds_socket)
        root = ROOT_DEFAULT
        assert mds.mkdir("/big", ALICE) == W.kOK
        for length in (9 * GiB, 10 * GiB + 512 * MiB, (20 << 40) + GiB):
            assert mds.create("/big/v", ALICE, length=length) == W.kFileLengthNotSupported, length
        assert mds.create("/big/v", ALICE, length=10 * GiB) == W.kOK
        status, info = mds.info("/big/v", ALICE)
        assert (status, info["segmentSize"], info["length"]) == (W.kOK, GiB, 10 * GiB)
        assert mds.extend("/big/v", ALICE, 10 * GiB + 512 * MiB) == W.kExtentUnitError
        assert mds.extend("/big/v", ALICE, (20 << 40) + GiB) == W.kFileLengthNotSupported
        assert mds.extend("/big/v", ALICE, 11 * GiB) == W.kOK
        assert mds.file_size("/big") == (W.kOK, 11 * GiB)
        assert mds.info("/big/v", root)[0] == W.kOK
        mds.close()
    finally:
        remove(d)


# --- DeleteFile, /RecycleBin, RecoverFile -------------------------------------------------------
def recycled(mds, origin: str) -> list[dict]:
    status, entries = mds.listdir("/RecycleBin", ROOT)
    assert status == W.kOK
    return [e for e in entries if e.get("originalFullPathName") == origin]


def test_delete_moves_to_recycle_bin(mds, pool):
    top = f"/{pool}"
    assert mds.mkdir(f"{top}/d", ALICE) == W.kOK
    assert mds.create(f"{top}/d/f", ALICE, length=GiB) == W.kOK
    assert mds.delete(f"{top}/d", ALICE) == W.kDirNotEmpty
    _, info = mds.info(f"{top}/d/f", ALICE)
    assert mds.delete(f"{top}/d/f", ALICE, file_id=info["id"] + 1000) == W.kFileIdNotMatch
    assert mds.delete(f"{top}/d/f", BOB) == W.kOwnerAuthFail
    before = int(time.time())
    assert mds.delete(f"{top}/d/f", ALICE, file_id=info["id"]) == W.kOK
    assert mds.info(f"{top}/d/f", ALICE)[0] == W.kFileNotExists
    [entry] = recycled(mds, f"{top}/d/f")
    name, file_id, sec = entry["fileName"].rsplit("-", 2)
    assert (name, int(file_id), entry["id"]) == ("f", info["id"], info["id"])   # the id stays
    assert before <= int(sec) <= time.time()
    assert (entry["parentId"], entry["owner"], entry["length"]) == (1, "alice", GiB)
    # the empty directory goes at once; "/" never
    assert mds.delete(f"{top}/d", ALICE) == W.kOK
    assert mds.delete(f"{top}/d", ALICE) == W.kFileNotExists
    assert mds.delete("/", ROOT) == W.kParaError
    assert mds.delete("/", ALICE) == W.kOwnerAuthFail


def test_force_delete_only_in_recycle_bin_and_only_by_root(mds, pool):
    path = f"/{pool}/f"
    assert mds.create(path, ALICE, length=GiB) == W.kOK
    assert mds.delete(path, ALICE, force=True) == W.kNotSupported
    assert mds.delete(path, ROOT, force=True) == W.kNotSupported
    assert mds.delete(path, ALICE) == W.kOK
    [entry] = recycled(mds, path)
    where = f"/RecycleBin/{entry['fileName']}"
    assert mds.delete(where, ALICE, force=True) == W.kOwnerAuthFail   # /RecycleBin is root's
    assert mds.delete(where, ROOT, force=True) == W.kOK
    assert mds.info(where, ROOT)[0] == W.kFileNotExists
    assert recycled(mds, path) == []


def test_recover(daemon, mds, pool):
    path = f"/{pool}/v"
    assert mds.create(path, ALICE, length=GiB) == W.kOK
    wire, fd = nebd_open(daemon, pool, "v")
    assert wire.write(fd, 0, FIRST).ret_code == 0
    wire.call("nebd.client.NebdFileService", "CloseFile", fd_req(fd))
    first = mds.info(path, ALICE)[1]["id"]
    assert mds.delete(path, ALICE) == W.kOK
    assert mds.create(path, ALICE, length=GiB) == W.kOK       # the same path again, a new file
    second = mds.info(path, ALICE)[1]["id"]
    assert mds.delete(path, ALICE) == W.kOK
    assert {e["id"] for e in recycled(mds, path)} == {first, second}
    assert mds.recover(f"/{pool}/never", ALICE) == W.kFileNotExists
    assert mds.recover(path, BOB) == W.kOwnerAuthFail
    assert mds.recover(path, ALICE) == W.kOK                   # the newest ctime: the second file
    assert mds.info(path, ALICE)[1]["id"] == second
    assert "originalFullPathName" not in mds.info(path, ALICE)[1]
    assert mds.recover(path, ALICE) == W.kFileExists
    assert mds.recover(path, ALICE, file_id=first) == W.kFileExists
    assert mds.delete(path, ALICE) == W.kOK
    assert mds.recover(path, ALICE, file_id=first) == W.kOK    # by id: the first file, its data with it
    assert mds.info(path, ALICE)[1]["id"] == first
    wire, fd = nebd_open(daemon, pool, "v")
    assert wire.read(fd, 0, len(FIRST)).attachment == FIRST
    wire.close()


# --- GetFileInfo, ListDir -----------------------------------------------------------------------
def test_listdir(mds, pool):
    top = f"/{pool}"
    names = ["b", "B", "a", "_x", "\u00e9t\u00e9", "Z9", "a.b", "~"]
    for name in names:
        assert mds.create(f"{top}/{name}", ALICE, length=GiB) == W.kOK
    status, entries = mds.listdir(top, ALICE)
    assert status == W.kOK
    assert [e["fileName"] for e in entries] == sorted(names, key=str.encode)   # byte order
    assert all(e["owner"] == "alice" and e["length"] == GiB for e in entries)
    assert mds.listdir(f"{top}/nope", ALICE)[0] == W.kFileNotExists
    assert mds.listdir(f"{top}/nope", ROOT)[0] == W.kDirNotExist
    assert mds.listdir(f"{top}/b", ALICE)[0] == W.kNotDirectory
    assert mds.listdir(top, BOB)[0] == W.kOwnerAuthFail
    status, top_level = mds.listdir("/", ROOT)
    assert status == W.kOK and {"RecycleBin", pool} <= {e["fileName"] for e in top_level}


# --- ExtendFile ---------------------------------------------------------------------------------
def test_extend_rules(daemon, mds, pool):
    path = f"/{pool}/v"
    assert mds.create(path, ALICE, length=GiB) == W.kOK
    wire, fd = nebd_open(daemon, pool, "v")                       # open: ExtendFile does not care
    assert mds.extend(path, ALICE, GiB - SEGMENT) == W.kShrinkBiggerFile
    assert mds.extend(path, ALICE, GiB) == W.kOK
    assert mds.extend(path, ALICE, GiB + SEGMENT // 2) == W.kExtentUnitError
    assert mds.extend(path, ALICE, MAX + SEGMENT) == W.kFileLengthNotSupported
    assert mds.extend(path, BOB, 2 * GiB) == W.kOwnerAuthFail
    assert mds.extend(f"/{pool}", ALICE, 2 * GiB) == W.kNotSupported
    assert mds.extend(f"/{pool}/nope", ALICE, 2 * GiB) == W.kFileNotExists
    assert mds.extend(path, ALICE, GiB + SEGMENT) == W.kOK
    assert mds.info(path, ALICE)[1]["length"] == GiB + SEGMENT
    info = wire.call("nebd.client.NebdFileService", "GetInfo", fd_req(fd))
    assert fields(info.fields[3][0])[1][0] == GiB + SEGMENT           # nebd's FileInfo.size: the new size
    assert mds.extend(path, ROOT, MAX) == W.kOK
    wire.close()


# --- RenameFile ---------------------------------------------------------------------------------
def test_rename_rules(daemon, mds, pool):
    top = f"/{pool}"
    assert mds.create(f"{top}/src", ALICE, length=GiB) == W.kOK
    assert mds.create(f"{top}/dst", ALICE, length=GiB) == W.kOK
    assert mds.mkdir(f"{top}/dir", ALICE) == W.kOK
    src, dst = mds.info(f"{top}/src", ALICE)[1]["id"], mds.info(f"{top}/dst", ALICE)[1]["id"]
    wire, fd = nebd_open(daemon, pool, "src")
    assert wire.write(fd, 4096, MOVED).ret_code == 0
    wire.call("nebd.client.NebdFileService", "CloseFile", fd_req(fd))
    wire.close()
    assert mds.rename(f"{top}/src", f"{top}/src", ALICE) == W.kFileExists
    assert mds.rename(f"{top}/dir", f"{top}/dir2", ALICE) == W.kNotSupported      # no directory renames
    assert mds.rename(f"{top}/src", f"{top}/dir", ALICE) == W.kFileExists         # onto a directory
    assert mds.rename(f"{top}/src", f"{top}/nodir/x", ROOT) == W.kFileNotExists
    assert mds.rename(f"{top}/src", f"{top}/x", BOB) == W.kOwnerAuthFail
    assert mds.mkdir(f"/{pool}-bob", BOB) == W.kOK
    assert mds.rename(f"{top}/src", f"/{pool}-bob/x", ALICE) == W.kOwnerAuthFail  # into bob's directory
    assert mds.rename(f"{top}/src", f"{top}/dst", ALICE, old_id=src + 1000) == W.kFileIdNotMatch
    assert mds.rename(f"{top}/src", f"{top}/dst", ALICE, new_id=dst + 1000) == W.kFileIdNotMatch
    # onto an existing page file: it is replaced and goes to /RecycleBin as <name>-<id>
    assert mds.rename(f"{top}/src", f"{top}/dst", ALICE, old_id=src, new_id=dst) == W.kOK
    assert mds.info(f"{top}/src", ALICE)[0] == W.kFileNotExists
    assert mds.info(f"{top}/dst", ALICE)[1]["id"] == src
    [old] = recycled(mds, f"{top}/dst")
    assert (old["fileName"], old["id"]) == (f"dst-{dst}", dst)
    assert mds.rename(f"{top}/dst", f"{top}/dir/new", ALICE) == W.kOK
    assert mds.rename(f"{top}/dir/new", f"{top}/back", ALICE) == W.kOK
    wire, fd = nebd_open(daemon, pool, "back")
    assert wire.read(fd, 4096, len(MOVED)).attachment == MOVED
    wire.close()


# --- ChangeOwner --------------------------------------------------------------------------------
def test_change_owner(mds, pool):
    top = f"/{pool}"
    assert mds.create(f"{top}/f", ALICE, length=GiB) == W.kOK
    assert mds.mkdir(f"{top}/d", ALICE) == W.kOK
    assert mds.chown(f"{top}/f", "bob", ALICE) == W.kOwnerAuthFail          # root only
    assert mds.chown(f"{top}/f", "bob", Who("root")) == W.kOwnerAuthFail    # with root's signature
    assert mds.chown(f"{top}/f", "alice", ROOT) == W.kOK                    # the same owner
    assert mds.chown(f"{top}/nope", "bob", ROOT) == W.kFileNotExists
    assert mds.chown(top, "bob", ROOT) == W.kDirNotEmpty
    assert mds.chown(f"{top}/d", "bob", ROOT) == W.kOK
    assert mds.chown(f"{top}/f", "bob", ROOT) == W.kOK
    assert mds.info(f"{top}/f", ALICE)[0] == W.kOwnerAuthFail
    assert mds.info(f"{top}/d", ALICE)[0] == W.kOwnerAuthFail
    # bob owns the file but not its directory: the walk still stops him
    assert mds.info(f"{top}/f", BOB)[0] == W.kOwnerAuthFail
    assert mds.info(f"{top}/f", ROOT)[1]["owner"] == "bob"


# --- sizes --------------------------------------------------------------------------------------
def test_sizes(daemon, mds, pool):
    top = f"/{pool}"
    assert mds.mkdir(f"{top}/d", ALICE) == W.kOK
    assert mds.create(f"{top}/d/a", ALICE, length=GiB) == W.kOK
    assert mds.create(f"{top}/b", ALICE, length=2 * GiB) == W.kOK
    assert mds.file_size(f"{top}/b") == (W.kOK, 2 * GiB)            # no auth fields at all
    assert mds.file_size(top) == (W.kOK, 3 * GiB)                   # directories: the sum, recursively
    assert mds.file_size(f"{top}/nope")[0] == W.kFileNotExists
    assert mds.file_size(f"{top}/b/x")[0] == W.kFileNotExists
    assert mds.allocated(f"{top}/b") == (W.kOK, 0)                   # sparse until written
    wire, fd = nebd_open(daemon, pool, "b")
    assert wire.write(fd, 0, b"x" * 65536).ret_code == 0
    assert wire.write(fd, GiB, b"y" * 65536).ret_code == 0
    wire.close()
    status, used = mds.allocated(f"{top}/b")
    assert status == W.kOK and 128 * 1024 <= used < 4 * MiB
    assert mds.allocated(top) == (W.kOK, used)
    assert mds.allocated(f"{top}/nope")[0] == W.kFileNotExists


# --- sessions and occupancy ---------------------------------------------------------------------
def test_open_close_refresh(mds, pool):
    path = f"/{pool}/v"
    assert mds.create(path, ALICE, length=GiB) == W.kOK
    before = W.now_us()
    status, session, info = mds.open(path, ALICE)
    assert status == W.kOK and info["id"] == mds.info(path, ALICE)[1]["id"]
    assert (session[1], session[2], session[4]) == (b"", 5_000_000, 0)   # sessionID "", lease 5 s, kSessionOK
    assert before <= session[3] <= W.now_us()
    assert mds.open(f"/{pool}", ALICE)[0] == W.kNotSupported
    assert mds.open(f"/{pool}/nope", ALICE)[0] == W.kFileNotExists
    assert mds.open(path, BOB)[0] == W.kOwnerAuthFail
    # OpenFile records nothing; RefreshSession does, CloseFile undoes it
    assert mds.delete(f"/{pool}/nothing", ALICE) == W.kFileNotExists
    status, sid, info = mds.refresh(path, ALICE, session="abc")
    assert (status, sid, info["fileName"]) == (W.kOK, "abc", "v")
    assert mds.refresh(f"/{pool}/nope", ALICE, session="abc")[:2] == (W.kFileNotExists, "abc")
    assert mds.delete(path, ALICE) == W.kFileOccupied
    assert mds.rename(path, f"/{pool}/w", ALICE) == W.kFileOccupied
    assert mds.chown(path, "bob", ROOT) == W.kFileOccupied
    assert mds.extend(path, ALICE, 2 * GiB) == W.kOK
    assert mds.close_file(path, ALICE) == W.kOK
    assert mds.close_file(f"/{pool}/nope", ALICE) == W.kFileNotExists
    assert mds.delete(path, ALICE) == W.kOK


def test_session_record_expires(daemon, pool):
    mds = Mds(daemon.mds_socket)
    path = f"/{pool}/v"
    assert mds.create(path, ALICE, length=GiB) == W.kOK
    assert mds.refresh(path, ALICE)[0] == W.kOK
    assert mds.delete(path, ALICE) == W.kFileOccupied
    time.sleep(5.3)                                   # mds.file.expiredTimeUs without a refresh
    assert mds.delete(path, ALICE) == W.kOK
    mds.close()


def test_open_through_nebd_is_occupied(daemon, mds, pool):
    path = f"/{pool}/v"
    assert mds.create(path, ALICE, length=GiB) == W.kOK
    wire, fd = nebd_open(daemon, pool, "v")
    assert mds.delete(path, ALICE) == W.kFileOccupied
    assert mds.rename(path, f"/{pool}/w", ALICE) == W.kFileOccupied
    assert mds.chown(path, "bob", ROOT) == W.kFileOccupied
    assert mds.delete(path, ROOT, force=True) == W.kFileOccupied    # checked before the RecycleBin rule
    wire.call("nebd.client.NebdFileService", "CloseFile", fd_req(fd))
    wire.close()
    assert mds.delete(path, ALICE) == W.kOK


def snapshotted(daemon, mds, pool: str) -> str:
    """The Curve path of a file of alice's with a snapshot, made through the MDS (release1.5's
    <vol>@<snap>, else mainline's one snapshot of the file)."""
    path = f"/{pool}/v"
    assert mds.create(path, ALICE, length=GiB) == W.kOK
    if mds.snap_create(f"{path}@s", ALICE)[0] != W.kOK:
        assert mds.snap_create(path, ALICE)[0] == W.kOK
    return path


def test_under_snapshot(daemon, mds, pool):
    path = snapshotted(daemon, mds, pool)
    pool = path.split("/")[1]
    assert mds.delete(path, ALICE) == W.kFileUnderSnapShot
    assert mds.rename(path, f"/{pool}/w", ALICE) == W.kFileUnderSnapShot
    assert mds.chown(path, "bob", ROOT) == W.kFileUnderSnapShot
    assert mds.extend(path, ALICE, 2 * GiB) == W.kOK              # no snapshot check on extend


def test_changes_refused_for_the_init_grace():
    d = new_daemon("--min-volume-size", "1G", "--segment-size", "1G", "--mds-init-grace", "3").start()
    try:
        mds = Mds(d.mds_socket)
        started = time.monotonic()
        assert mds.mkdir("/g", ALICE) == W.kOK
        assert mds.create("/g/v", ALICE, length=GiB) == W.kOK
        assert mds.mkdir("/g/d", ALICE) == W.kOK
        assert mds.delete("/g/v", ALICE) == W.kNotSupported
        assert mds.rename("/g/v", "/g/w", ALICE) == W.kNotSupported
        assert mds.chown("/g/v", "bob", ROOT_DEFAULT) == W.kNotSupported
        assert mds.delete("/g/d", ALICE) == W.kOK               # directories are not page files
        assert time.monotonic() - started < 3, "the test machine was too slow to see the grace"
        time.sleep(max(0.0, 3.2 - (time.monotonic() - started)))
        assert mds.delete("/g/v", ALICE) == W.kOK
        mds.close()
    finally:
        remove(d)


def test_root_user_option():
    d = new_daemon("--root-user", "admin", "--root-password", "pw").start()
    try:
        mds = Mds(d.mds_socket)
        admin = Who("admin", "pw")
        status, info = mds.info("/RecycleBin", admin)
        assert (status, info["owner"]) == (W.kOK, "admin")
        assert mds.listdir("/", admin)[0] == W.kOK
        assert mds.listdir("/", Who("root", "pw"))[0] == W.kOwnerAuthFail      # just a user now
        mds.close()
        d.stop()
        # like Curve's MDS, a /RecycleBin of another root user is a reason not to start
        d.args = ["--root-user", "someone"]
        try:   # its sockets may answer for a moment: they are bound before the store is read
            d.start()
        except RuntimeError:
            pass
        assert d.proc.wait(15) == 1
        assert "must be directory inode 1 owned by the root user 'someone'" in open(d.log).read()
    finally:
        remove(d)


def test_database_from_before_the_mds_service():
    """Inode 1 was a user's pool: it gets a new id, its file keeps its id and data, /RecycleBin takes 1."""
    d = new_daemon("--min-volume-size", "1G", "--segment-size", "1G")
    os.makedirs(os.path.join(d.data_dir, "volumes", "p"))
    with open(os.path.join(d.data_dir, "volumes", "p", "v"), "wb") as f:
        f.write(FIRST)
        f.truncate(GiB)
    db = sqlite3.connect(os.path.join(d.data_dir, "catalog.db"))
    db.executescript("""
        CREATE TABLE curve_files (id INTEGER PRIMARY KEY AUTOINCREMENT, parent INTEGER NOT NULL,
            name TEXT NOT NULL, type INTEGER NOT NULL, owner TEXT NOT NULL, length INTEGER NOT NULL,
            blocksize INTEGER NOT NULL, ctime INTEGER NOT NULL, UNIQUE (parent, name));
        INSERT INTO curve_files (parent, name, type, owner, length, blocksize, ctime)
            VALUES (0, 'p', 0, 'alice', 0, 0, 1700000000000000);
        INSERT INTO curve_files (parent, name, type, owner, length, blocksize, ctime)
            VALUES (1, 'v', 1, 'alice', 1073741824, 4096, 1700000000000001);
    """)
    db.commit()
    db.close()
    try:
        d.start()
        mds = Mds(d.mds_socket)
        assert mds.info("/RecycleBin", ROOT_DEFAULT)[1]["id"] == 1
        pool_id = mds.info("/p", ALICE)[1]["id"]
        assert pool_id > 2
        status, info = mds.info("/p/v", ALICE)
        assert (status, info["id"], info["parentId"], info["length"]) == (W.kOK, 2, pool_id, GiB)
        mds.close()
        wire, fd = nebd_open(d, "p", "v")
        assert wire.read(fd, 0, len(FIRST)).attachment == FIRST
        wire.close()
    finally:
        remove(d)


def test_internal_error_is_answered_and_rolled_back(daemon, mds, pool):
    """A fault inside a handler (here: the name the replaced file would take in /RecycleBin is taken)."""
    top = f"/{pool}"
    assert mds.create(f"{top}/src", ALICE, length=GiB) == W.kOK
    assert mds.create(f"{top}/dst", ALICE, length=GiB) == W.kOK
    dst = mds.info(f"{top}/dst", ALICE)[1]["id"]
    assert mds.create(f"/RecycleBin/dst-{dst}", ROOT, length=GiB) == W.kOK
    assert mds.rename(f"{top}/src", f"{top}/dst", ALICE) == 502          # KInternalError
    assert mds.info(f"{top}/src", ALICE)[0] == W.kOK                      # nothing happened
    assert mds.info(f"{top}/dst", ALICE)[1]["id"] == dst
    assert "RenameFile(" in open(daemon.log).read()
    assert mds.delete(f"/RecycleBin/dst-{dst}", ROOT, force=True) == W.kOK


# --- brpc-level answers -------------------------------------------------------------------------
def test_brpc_errors_keep_the_connection(daemon, mds):
    unknown = mds.call("GetOrAllocateSegment", b"")
    assert unknown.error_code == W.ENOMETHOD and unknown.payload == b""
    assert mds.call("NoSuchMethod", b"").error_code == W.ENOMETHOD
    garbage = mds.call("GetFileInfo", b"\xff\xff\xff")
    assert garbage.error_code == W.EREQUEST
    assert mds.call("GetFileInfo", fb(1, "/x")).error_code == W.EREQUEST    # owner and date are required
    assert mds.call("ChangeOwner", fb(1, "/x") + fb(2, "b")).error_code == W.EREQUEST
    assert mds.call("Read", b"", service="nebd.client.NebdFileService").error_code == W.ENOSERVICE
    assert mds.file_size("/")[0] == W.kOK                                # the same connection still serves
    assert daemon.proc.poll() is None


def test_not_baidu_std_drops_only_that_connection(daemon):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(daemon.mds_socket)
        s.sendall(b"GET / HTTP/1.1\r\n\r\n" + b"x" * 64)
        s.settimeout(10)
        assert s.recv(100) == b""
    mds = Mds(daemon.mds_socket)
    assert mds.file_size("/")[0] == W.kOK
    mds.close()


# --- sockets, files and the CLI -----------------------------------------------------------------
def test_socket_conventions(daemon):
    assert stat.S_ISSOCK(os.stat(daemon.mds_socket).st_mode)
    assert stat.S_IMODE(os.stat(daemon.mds_socket).st_mode) == 0o600
    host, port = tcp_address(daemon)
    assert host == "127.0.0.1" and port > 0
    with socket.create_connection((host, port), timeout=5):
        pass


def test_group_socket_and_clean_stop():
    group = grp.getgrgid(os.getgid()).gr_name
    d = new_daemon("--socket-group", group, "--mds-listen", "127.0.0.1:0").start()
    try:
        assert stat.S_IMODE(os.stat(d.mds_socket).st_mode) == 0o660
        assert os.stat(d.mds_socket).st_gid == os.getgid()
        addr = os.path.join(d.data_dir, "mds.addr")
        assert os.path.exists(addr)
        mds = Mds(d.mds_socket)
        assert mds.file_size("/")[0] == W.kOK     # serving: its signal handlers are in place
        mds.close()
        assert d.stop() == 0
        assert not os.path.exists(d.mds_socket) and not os.path.exists(addr)
        assert not os.path.exists(d.socket)
    finally:
        remove(d)


def test_cli_status_names_the_mds_addresses():
    d = new_daemon()
    sock, data = d.socket, d.data_dir
    env = dict(os.environ, PYTHONPATH=SOURCE_ROOT, CURVERBD_SOCKET=sock)

    def cli(command, *server_args):
        return subprocess.run([sys.executable, "-m", "curverbd.cli.curverbd", "server", command, "--socket", sock,
                               "--data-dir", data, *server_args], env=env, capture_output=True, text=True,
                              timeout=120)
    try:
        started = cli("start", "--", "--mds-listen", "127.0.0.1:0")
        assert started.returncode == 0, started.stderr
        status = cli("status")
        assert status.returncode == 0, status.stdout + status.stderr
        addr = open(os.path.join(data, "mds.addr")).read().strip()
        assert f"Curve MDS service: unix socket {sock}.mds\n" in status.stdout
        assert f"Curve MDS service: TCP {addr}\n" in status.stdout
    finally:
        cli("stop")
        remove(d)
