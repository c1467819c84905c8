"""The home of the RBD state Curve's MDS cannot hold: the cluster's etcd.

Curve's FileInfo has no place for an image's exact logical size, its features,
order, stripe settings as given, image-meta, timestamps, trash deferment, or a
pool's small rados objects. They live in the etcd every Curve cluster already
runs for its MDS (the embedded daemon starts its own), so every compute host
gets the same answer, a crash leaves either the old or the new record (etcd is a
raft log), two hosts updating at once are serialised by compare-and-swap, and a
watch tells another host's open handle that an image changed (README.md, "Where
RBD's own state lives", has the measurements and the trade-offs).

Keys sit under ``/curverbd/v1/`` (Curve's own keys start with digits) and are
keyed by Curve file ids, which survive RenameFile, DeleteFile into /RecycleBin
and RecoverFile, so no rename or trash step has to touch etcd:

    image/<file id>                     JSON ImageState (below)
    meta/<file id>/<key>                image-meta value (bytes)
    snap/<file id>/<snapshot>           JSON {size, curve, protected?}: a snapshot's RBD name, its logical
                                        size (the image's when it was taken), which Curve snapshot it is
                                        (``curve``: release1.5's snapshot name or snapshotcloneserver's
                                        UUID; None until Curve has answered the create) and, where Curve
                                        has no protection (mainline), whether RBD protected it
    fsid                                the cluster's id for RBD (a UUID, made by the first client)
    pool/<name>                         JSON {owner}: Curve lets only root list "/", so the pools
                                        RBD made are recorded for `rbd pool ls` / rados_pool_list
    alias/<pool dir id>/<name>          JSON {file_id, curve_name}: the RBD name of an image renamed
                                        while it had snapshots (Curve renames no such volume)
    trash/<pool dir id>/<file id>       JSON {name, source, deletion_time, deferment_end_time}
    object/<pool dir id>/<ns>\\0<key>    JSON {mtime} + "\\n" + the object's bytes
    lock/<file id>                      JSON {owner, explicit, since}: the image's exclusive lock, on
                                        its holder's lease (core/writer_lock.py)
    lockreq/<file id>/<handle>          a handle asking the holder for the lock
    app/<pool dir id>                   JSON {application: {key: value}}: the pool's rados applications
    xattr/<pool dir id>/<ns>\\0<key>\\0<name>   an object's xattr value (goes with the object; cls_lock's
                                        object locks are its xattrs lock.<name>: core/object_ops.py)
    omap/<pool dir id>/<ns>\\0<key>\\0<omap key>   an object's omap value (raw bytes; goes with the object)

A volume without an ``image/`` record (made by Curve's own tools) is an image
of its Curve length with default features.
"""
from __future__ import annotations

import errno
import json
import time
from typing import Any, Callable

from ..errors import Error
from .etcd import Compare, Etcd, Op

PREFIX = b"/curverbd/v1/"
MAX_OBJECT = 1 << 20          # bytes per rados object: one etcd value under its 1.5 MiB request limit
CAS_ATTEMPTS = 64             # compare-and-swap rounds before giving up (EAGAIN)


def _key(*parts: Any) -> bytes:
    return PREFIX + b"/".join(p if isinstance(p, bytes) else str(p).encode() for p in parts)


def image_key(file_id: int) -> bytes:
    return _key("image", file_id)


def lock_key(file_id: int) -> bytes:
    """The image's exclusive lock (core/writer_lock.py)."""
    return _key("lock", file_id)


def lock_requests(file_id: int) -> bytes:
    """The prefix under which handles ask the lock's holder for it."""
    return _key("lockreq", file_id, b"")


class RbdState:
    """Typed access to the RBD records in etcd."""

    def __init__(self, etcd: Etcd) -> None:
        self.etcd = etcd

    # --- images ---------------------------------------------------------------------------------
    def image(self, file_id: int) -> tuple[dict | None, int]:
        """(the image's state or None, the record's mod revision or 0)."""
        kv = self.etcd.get(image_key(file_id))
        if kv is None:
            return None, 0
        return json.loads(kv.value), kv.mod_revision

    def image_and_meta(self, file_id: int) -> tuple[dict | None, int, dict[str, str]]:
        """(the image's state or None, the revision it was read at, its metadata), in one round trip."""
        prefix = _key("meta", file_id, b"")
        _, (kv, metas) = self.etcd.txn([], [Op.get(image_key(file_id)), Op.get_prefix(prefix)])
        state = None if kv is None else json.loads(kv.value)
        revision = max([kv.mod_revision if kv else 0, *(m.mod_revision for m in metas)])
        return state, revision, {m.key[len(prefix):].decode(): m.value.decode() for m in metas}

    def create_image(self, file_id: int, state: dict) -> None:
        """The record of a new image (replaces a stale one left by a crash between create steps)."""
        self.etcd.put(image_key(file_id), _encode(state))

    def update_image(self, file_id: int, change: Callable[[dict], dict | None], default: dict) -> dict:
        """Apply ``change`` to the record atomically (compare-and-swap on its revision); a volume
        without one starts from ``default``. ``change`` returning None leaves it as it is."""
        key = image_key(file_id)
        for _ in range(CAS_ATTEMPTS):
            state, rev = self.image(file_id)
            new = change(dict(state if state is not None else default))
            if new is None:
                return state if state is not None else default
            guard = Compare.mod_revision(key, "=", rev) if rev else Compare.absent(key)
            if self.etcd.txn([guard], [Op.put(key, _encode(new))])[0]:
                return new
        raise Error(errno.EAGAIN, f"image record {file_id}: {CAS_ATTEMPTS} concurrent updates in a row")

    def remove_image(self, file_id: int) -> None:
        """Forget an image: its record, its metadata and its snapshots' sizes."""
        self.etcd.txn([], [Op.delete(image_key(file_id)), Op.delete_prefix(_key("meta", file_id, b"")),
                           Op.delete_prefix(_key("snap", file_id, b""))])

    def move_image(self, old_id: int, new_id: int) -> None:
        """Give the volume that replaced ``old_id`` (mainline's Recover makes a new one) its record,
        metadata and snapshot records, in one transaction."""
        ops = []
        for kind in ("meta", "snap"):
            for kv in self.etcd.get_prefix(_key(kind, old_id, b"")):
                ops.append(Op.put(_key(kind, new_id, kv.key[len(_key(kind, old_id, b"")):]), kv.value))
        record = self.etcd.get(image_key(old_id))
        if record is not None:
            ops.append(Op.put(image_key(new_id), record.value))
        self.etcd.txn([], [*ops, Op.delete(image_key(old_id)), Op.delete_prefix(_key("meta", old_id, b"")),
                           Op.delete_prefix(_key("snap", old_id, b""))])

    # --- snapshots ------------------------------------------------------------------------------
    def snaps(self, file_id: int) -> dict[str, dict]:
        """RBD snapshot name -> its record ({size, curve, ...}), for one image."""
        prefix = _key("snap", file_id, b"")
        return {kv.key[len(prefix):].decode(): json.loads(kv.value) for kv in self.etcd.get_prefix(prefix)}

    def snap_set(self, file_id: int, name: str, record: dict) -> None:
        self.etcd.put(_key("snap", file_id, name), _encode(record))

    def snap_remove(self, file_id: int, name: str) -> None:
        self.etcd.delete(_key("snap", file_id, name))

    def snap_rename(self, file_id: int, old: str, new: str, record: dict) -> None:
        """``old``'s record (given: one made now for a snapshot without one) becomes ``new``'s, in one
        step; EEXIST if ``new`` was taken meanwhile."""
        new_key = _key("snap", file_id, new)
        if not self.etcd.txn([Compare.absent(new_key)], [Op.put(new_key, _encode(record)),
                                                          Op.delete(_key("snap", file_id, old))])[0]:
            raise Error(errno.EEXIST, f"snapshot {new!r}: the name was taken meanwhile")

    def watch_image(self, file_id: int, after_revision: int, on_change: Callable[[dict | None], None]):
        """Call ``on_change(state or None)`` on every later change of the record; a Watch (cancel())."""
        def events(batch) -> None:
            for event in batch:
                on_change(json.loads(event.value) if event.type == "PUT" else None)
        return self.etcd.watch(image_key(file_id), after_revision + 1, events, prefix_match=False)

    # --- the cluster -----------------------------------------------------------------------------
    def fsid(self) -> str:
        """The cluster's fsid: one UUID for every host (glance puts it in image locations)."""
        import uuid   # here, not at import: it costs every QEMU start ~5 ms (it imports platform)
        key = _key("fsid")
        made = str(uuid.uuid4())
        succeeded, responses = self.etcd.txn([Compare.absent(key)], [Op.put(key, made)], [Op.get(key)])
        return made if succeeded else responses[0].value.decode()

    # --- pools ----------------------------------------------------------------------------------
    def pool_add(self, pool: str, owner: str) -> None:
        self.etcd.put(_key("pool", pool), _encode({"owner": owner}))

    def pools(self) -> dict[str, str]:
        """pool name -> owner, of the pools RBD created."""
        prefix = _key("pool", b"")
        return {kv.key[len(prefix):].decode(): json.loads(kv.value)["owner"] for kv in self.etcd.get_prefix(prefix)}

    # --- aliases ---------------------------------------------------------------------------------
    def alias_get(self, pool_id: int, name: str) -> dict | None:
        kv = self.etcd.get(_key("alias", pool_id, name))
        return None if kv is None else json.loads(kv.value)

    def alias_set(self, pool_id: int, name: str, file_id: int, curve_name: str) -> None:
        self.etcd.put(_key("alias", pool_id, name), _encode({"file_id": file_id, "curve_name": curve_name}))

    def alias_remove(self, pool_id: int, name: str) -> None:
        self.etcd.delete(_key("alias", pool_id, name))

    def aliases(self, pool_id: int) -> dict[str, dict]:
        """RBD name -> {file_id, curve_name}, for one pool."""
        prefix = _key("alias", pool_id, b"")
        return {kv.key[len(prefix):].decode(): json.loads(kv.value) for kv in self.etcd.get_prefix(prefix)}

    # --- image metadata ---------------------------------------------------------------------------
    def meta_set(self, file_id: int, key: str, value: str) -> None:
        self.etcd.put(_key("meta", file_id, key), value.encode())

    def meta_remove(self, file_id: int, key: str) -> bool:
        """Whether there was such a key."""
        return self.etcd.delete(_key("meta", file_id, key)) > 0

    def meta_list(self, file_id: int) -> dict[str, str]:
        prefix = _key("meta", file_id, b"")
        return {kv.key[len(prefix):].decode(): kv.value.decode() for kv in self.etcd.get_prefix(prefix)}

    def copy_meta(self, src_id: int, dst_id: int) -> None:
        ops = [Op.put(_key("meta", dst_id, k), v.encode()) for k, v in self.meta_list(src_id).items()]
        if ops:
            self.etcd.txn([], ops)

    # --- trash ------------------------------------------------------------------------------------
    def trash_add(self, pool_id: int, file_id: int, entry: dict) -> None:
        self.etcd.put(_key("trash", pool_id, file_id), _encode(entry))

    def trash_get(self, pool_id: int, file_id: int) -> dict | None:
        kv = self.etcd.get(_key("trash", pool_id, file_id))
        return None if kv is None else json.loads(kv.value)

    def trash_list(self, pool_id: int) -> dict[int, dict]:
        """file id -> trash entry, for one pool."""
        prefix = _key("trash", pool_id, b"")
        return {int(kv.key[len(prefix):]): json.loads(kv.value) for kv in self.etcd.get_prefix(prefix)}

    def trash_remove(self, pool_id: int, file_id: int) -> None:
        self.etcd.delete(_key("trash", pool_id, file_id))

    # --- small rados objects ----------------------------------------------------------------------
    @staticmethod
    def _object_key(pool_id: int, namespace: str, key: str) -> bytes:
        return _key("object", pool_id, namespace.encode() + b"\0" + key.encode())

    def object_get(self, pool_id: int, namespace: str, key: str) -> tuple[bytes, float] | None:
        """(data, mtime) or None."""
        kv = self.etcd.get(self._object_key(pool_id, namespace, key))
        return None if kv is None else _split_object(kv.value)

    def object_update(self, pool_id: int, namespace: str, key: str,
                      change: Callable[[bytes | None], bytes], name: str) -> None:
        """Replace the object's data by ``change(old data or None)``, atomically (compare-and-swap),
        so two clients writing different parts of one object both land; ``name`` names it in errors."""
        okey = self._object_key(pool_id, namespace, key)
        for _ in range(CAS_ATTEMPTS):
            kv = self.etcd.get(okey)
            data = change(None if kv is None else _split_object(kv.value)[0])
            if len(data) > MAX_OBJECT:
                raise Error(errno.EFBIG, f"object {name}: {len(data)} bytes exceed the {MAX_OBJECT} byte limit "
                                         "of an object kept in etcd")
            value = object_value(data, time.time())
            guard = Compare.mod_revision(okey, "=", kv.mod_revision) if kv else Compare.absent(okey)
            if self.etcd.txn([guard], [Op.put(okey, value)])[0]:
                return
        raise Error(errno.EAGAIN, f"object {name}: {CAS_ATTEMPTS} concurrent updates in a row")

    def object_remove(self, pool_id: int, namespace: str, key: str) -> bool:
        return self.etcd.delete(self._object_key(pool_id, namespace, key)) > 0

    def object_list(self, pool_id: int, namespace: str | None) -> list[tuple[str, str]]:
        """Sorted (namespace, key) of a pool's objects (of one namespace, or all with None)."""
        base = _key("object", pool_id, b"")
        prefix = base if namespace is None else base + namespace.encode() + b"\0"
        out = []
        for kv in self.etcd.get_prefix(prefix, keys_only=True):
            ns, _, key = kv.key[len(base):].partition(b"\0")
            out.append((ns.decode(), key.decode()))
        return sorted(out)

    def object_count(self, pool_id: int) -> tuple[int, int]:
        """(objects, bytes) of one pool."""
        kvs = self.etcd.get_prefix(_key("object", pool_id, b""))
        return len(kvs), sum(len(_split_object(kv.value)[0]) for kv in kvs)

    def object_total(self) -> int:
        """Objects in every pool (``ceph df``'s count)."""
        return len(self.etcd.get_prefix(_key("object", b""), keys_only=True))

    def forget_pool(self, pool: str, pool_id: int) -> None:
        """Drop what a removed pool left, in one transaction: its index entry, trash entries, aliases and
        applications (objects, and so their xattrs, keep a pool from going)."""
        self.etcd.txn([], [Op.delete(_key("pool", pool)), Op.delete_prefix(_key("trash", pool_id, b"")),
                           Op.delete_prefix(_key("alias", pool_id, b"")), Op.delete(_key("app", pool_id))])


def _encode(obj: dict) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def object_value(data: bytes, mtime: float) -> bytes:
    """An object record: JSON {mtime} + "\\n" + the object's bytes."""
    return json.dumps({"mtime": mtime}).encode() + b"\n" + data


def _split_object(value: bytes) -> tuple[bytes, float]:
    head, _, data = value.partition(b"\n")
    return data, float(json.loads(head)["mtime"])
