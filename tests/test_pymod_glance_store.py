"""glance_store's own RBD store (PyPI ``glance_store``, unmodified) on curverbd's rados/rbd modules.

The store adds an image (creating it, writing it in chunks, snapshotting and
protecting the snapshot), reads it back, reports its size and deletes it
(unprotect, remove snapshot, remove image), all against a real daemon.
"""
from __future__ import annotations

import hashlib
import io

import pytest

from pymod_helpers import rados, rbd

glance_store = pytest.importorskip("glance_store", reason="glance_store is in the [test] extra of pyproject.toml")
from glance_store import exceptions, location  # noqa: E402
from glance_store._drivers import rbd as rbd_store  # noqa: E402
from oslo_config import cfg  # noqa: E402

MiB = 1 << 20


@pytest.fixture
def store(daemon, tmp_path):
    """A configured glance_store RBD store on pool 'images' (conf file naming the daemon's socket)."""
    assert rbd_store.rados is rados and rbd_store.rbd is rbd     # glance imported *our* modules
    ceph_conf = tmp_path / "ceph.conf"
    ceph_conf.write_text(f"[global]\nfsid = ignored\n[client]\ncurverbd_socket = {daemon.socket}\n")
    with rados.Rados(rados_id="admin", conffile=str(ceph_conf)) as conn:
        conn.create_pool("images")
    conf = cfg.ConfigOpts()
    conf(args=[])
    glance_store.register_opts(conf)
    conf.set_override("rbd_store_ceph_conf", str(ceph_conf), group="glance_store")
    conf.set_override("rbd_store_user", "admin", group="glance_store")
    conf.set_override("rbd_store_pool", "images", group="glance_store")
    conf.set_override("rbd_store_chunk_size", 1, group="glance_store")   # 1 MiB: several chunks per image
    s = rbd_store.Store(conf)
    s.configure()
    return s


def _location(store, uri: str):
    return location.Location("rbd", rbd_store.StoreLocation, store.conf, uri=uri)


def _fetch(store, loc) -> bytes:
    chunks, size = store.get(loc)
    data = b"".join(chunks)
    assert len(data) == size
    return data


@pytest.mark.parametrize("declared_size", ["exact", "unknown"])
def test_add_get_size_delete(store, declared_size):
    data = (bytes(range(256)) * (5 * MiB // 256 + 13))[:5 * MiB + 4321]   # not a multiple of the chunk size
    size = len(data) if declared_size == "exact" else 0                    # 0: glance grows while writing
    uri, written, checksum, multihash, _ = store.add("3f1a5e8c-image", io.BytesIO(data), size, "sha256")
    assert written == len(data)
    assert checksum == hashlib.md5(data).hexdigest() and multihash == hashlib.sha256(data).hexdigest()
    with rados.Rados(rados_id="admin", conffile=store.conf_file) as conn:
        fsid = conn.get_fsid()
        assert uri == f"rbd://{fsid}/images/3f1a5e8c-image/snap"
        with conn.open_ioctx("images") as ioctx, rbd.Image(ioctx, "3f1a5e8c-image") as image:
            assert image.size() == len(data)                                 # trimmed to what was written
            assert [s["name"] for s in image.list_snaps()] == ["snap"]
            assert image.is_protected_snap("snap")

    loc = _location(store, uri)
    assert store.get_size(loc) == len(data)
    assert _fetch(store, loc) == data

    with pytest.raises(exceptions.Duplicate):
        store.add("3f1a5e8c-image", io.BytesIO(b"x"), 1, "sha256")

    store.delete(loc)
    with pytest.raises(exceptions.NotFound):
        store.get_size(loc)
    with pytest.raises(exceptions.NotFound):
        store.delete(loc)
    with rados.Rados(rados_id="admin", conffile=store.conf_file) as conn, conn.open_ioctx("images") as ioctx:
        assert rbd.RBD().list(ioctx) == []
