"""Where the control plane's frames go, recorded on the wire for an OpenStack-shaped flow.

A recording proxy sits in front of the daemon's MDS socket and its nebd socket. Every frame the
client sends to the MDS must be a CurveFSService method with Curve's field numbers (checked
with the tests' own decoder against the table in shared/reference/curve-control-plane.md), so
the same client works against Curve's own MDS; snapshots, protection, clones and flatten are
release1.5's local snapshot RPCs. The nebd socket must carry nebd's services only, plus the
embedded daemon's `ceph df`; the RBD-only state goes to etcd.
"""
from __future__ import annotations

import os
import struct
import time

import pytest

from proxies import FrameProxy, route_clients, frame_meta, request_names
from rawwire import fields

from curverbd.core import Cluster

MiB = 1 << 20
MDS = "curve.mds.CurveFSService"
NEBD = {"nebd.client.NebdFileService", "nebd.client.NebdHeartbeatService"}
SNAPSHOT_SERVICE = "curverbd.CatalogService"
SNAPSHOT_METHODS = {"ClusterStat"}   # `ceph df` on the embedded daemon; snapshots and clones are Curve's

# CurveFSService request fields by method (number -> (name, wire type: 0 varint, 2 bytes))
AUTH3 = {2: ("owner", 2), 3: ("signature", 2), 4: ("date", 0)}
CURVE_FIELDS = {
    "CreateFile": {1: ("fileName", 2), 2: ("owner", 2), 3: ("fileType", 0), 4: ("fileLength", 0),
                   5: ("signature", 2), 6: ("date", 0), 7: ("stripeUnit", 0), 8: ("stripeCount", 0),
                   9: ("poolset", 2)},
    "DeleteFile": {1: ("fileName", 2), **AUTH3, 5: ("fileId", 0), 6: ("forceDelete", 0)},
    "RecoverFile": {1: ("fileName", 2), **AUTH3, 5: ("fileId", 0)},
    "GetFileInfo": {1: ("fileName", 2), **AUTH3},
    "ListDir": {1: ("fileName", 2), **AUTH3},
    "ExtendFile": {1: ("fileName", 2), 2: ("owner", 2), 3: ("newSize", 0), 4: ("signature", 2), 5: ("date", 0)},
    "RenameFile": {1: ("oldFileName", 2), 2: ("newFileName", 2), 3: ("owner", 2), 4: ("signature", 2),
                   5: ("oldFileID", 0), 6: ("newFileID", 0), 7: ("date", 0)},
    "GetAllocatedSize": {1: ("fileName", 2)},
    # release1.5's local snapshots
    "CreateSnapShot": {1: ("fileName", 2), **AUTH3},
    "ListSnapShot": {1: ("fileName", 2), 2: ("owner", 2), 3: ("seq", 0), 4: ("signature", 2), 5: ("date", 0)},
    "DeleteSnapShot": {1: ("fileName", 2), 2: ("owner", 2), 3: ("seq", 0), 4: ("signature", 2), 5: ("date", 0)},
    "ProtectSnapShot": {1: ("snapFileName", 2), **AUTH3},
    "UnprotectSnapShot": {1: ("snapFileName", 2), **AUTH3},
    "Clone": {1: ("fileName", 2), 2: ("snapFileName", 2), 3: ("owner", 2), 4: ("signature", 2), 5: ("date", 0),
              6: ("poolset", 2), 7: ("readonly", 0)},
    "Flatten": {1: ("fileName", 2), **AUTH3},
    "QueryFlattenStatus": {1: ("fileName", 2), **AUTH3},
    "Children": {1: ("fileName", 2), 2: ("snapFileName", 2), 3: ("owner", 2), 4: ("signature", 2), 5: ("date", 0)},
}
OWNER_FIELD = {"RenameFile": 3, "Clone": 3, "Children": 3}
DATE_FIELD = {"CreateFile": 6, "ExtendFile": 5, "RenameFile": 7, "ListSnapShot": 5, "DeleteSnapShot": 5,
              "Clone": 5, "Children": 5}


class Recorder(FrameProxy):
    """Records (service, method, payload) of each request a client sends."""

    def __init__(self, target: str, path: str) -> None:
        self.frames: list[tuple[str, str, bytes]] = []
        super().__init__(target, path)

    def on_request(self, link, frame: bytes) -> bool:
        service, method, _ = request_names(frame)
        meta = frame_meta(frame)
        attachment = meta.get(5, [0])[0]
        self.frames.append((service, method, frame[12 + struct.unpack(">I", frame[8:12])[0]:len(frame) - attachment]))
        return True


@pytest.fixture
def recorded(daemon, monkeypatch):
    mds = Recorder(daemon.mds_socket, os.path.join(daemon.base, "rec-mds.sock"))
    nebd = Recorder(daemon.socket, os.path.join(daemon.base, "rec-nebd.sock"))
    route_clients(monkeypatch, daemon, nebd=nebd, mds=mds)
    yield mds, nebd
    mds.close()
    nebd.close()


def openstack_flow() -> None:
    """What glance (upload, snapshot, protect), nova and cinder (clone, flatten, create, extend, rename on
    delete, trash, attach) do."""
    c = Cluster("admin")
    c.connect()
    try:
        c.create_pool("images")
        c.create_pool("volumes")
        io = c.open_ioctx("images")
        io.create_image("glance-img", 0, features=1, order=23)       # glance: size 0, then resize chunkwise
        with io.open_image("glance-img") as img:
            for n in range(3):
                img.resize((n + 1) * MiB)
                img.write(n * MiB, bytes([n + 1]) * MiB)
            img.metadata_set("glance", "uploaded")
            img.create_snap("snap")                                   # glance: snapshot + protect
            img.protect_snap("snap")
        io.clone("glance-img", "snap", c.open_ioctx("volumes"), "volume-from-image")   # cinder / nova
        with c.open_ioctx("volumes").open_image("volume-from-image") as clone:
            assert clone.read(0, 1) == b"\x01"
            clone.flatten()                                           # cinder: rbd_flatten_volume_from_snapshot
        c.open_ioctx("volumes").remove_image("volume-from-image")
        with io.open_image("glance-img") as img:                     # glance delete: unprotect, snap rm
            img.unprotect_snap("snap")
            img.remove_snap("snap")
        vols = c.open_ioctx("volumes")
        vols.create_image("volume-1", 10 * MiB)                      # cinder create_volume
        assert vols.list_images() == ["volume-1"]
        with vols.open_image("volume-1") as img:                     # nova attach: open, I/O, size
            img.write(0, b"v" * 4096)
            assert img.size() == 10 * MiB
            img.resize(11 << 30)                                     # cinder extend_volume: past 10 GiB
        vols.stat()                                                  # cinder's pool stats
        vols.rename_image("volume-1", "volume-1.deleted")            # cinder's deferred delete
        vols.trash_restore(vols.trash_move("volume-1.deleted"), "volume-1")
        vols.remove_image("volume-1")
        io.remove_image("glance-img")
        assert c.list_pools() == ["images", "volumes"]
    finally:
        c.shutdown()


def test_every_control_frame_is_curves(recorded):
    mds, nebd = recorded
    openstack_flow()
    time.sleep(0.2)   # the proxy threads record the last frames
    assert mds.frames, "no frame reached the MDS"
    seen = set()
    for service, method, payload in mds.frames:
        assert service == MDS, (service, method)
        assert method in CURVE_FIELDS, f"{method}: not a CurveFSService method this flow should need"
        table = CURVE_FIELDS[method]
        got = fields(payload)
        assert set(got) <= set(table), (method, sorted(got))
        assert 1 in got or method == "Children"                  # fileName / oldFileName / snapFileName
        if method != "GetAllocatedSize":
            assert got[OWNER_FIELD.get(method, 2)] == [b"admin"], method
            assert abs(got[DATE_FIELD.get(method, 4)][0] - time.time() * 1e6) < 60e6, method     # microseconds
        seen.add(method)
    assert {"CreateFile", "GetFileInfo", "ListDir", "ExtendFile", "RenameFile", "DeleteFile",
            "RecoverFile", "GetAllocatedSize", "CreateSnapShot", "ProtectSnapShot", "Clone", "Flatten",
            "QueryFlattenStatus", "UnprotectSnapShot", "DeleteSnapShot"} <= seen
    others = {(service, method) for service, method, _ in nebd.frames if service not in NEBD}
    assert {service for service, _ in others} <= {SNAPSHOT_SERVICE}
    assert {method for _, method in others} <= SNAPSHOT_METHODS, others
