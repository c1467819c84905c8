"""The embedded daemon's snapshot service: what RBD needs of snapshots and clones until they run on
Curve's own snapshot services (the MDS's local snapshots, or snapshotcloneserver).

It rides the nebd socket and baidu_std framing under its own service name. Its
payloads are UTF-8 JSON objects: the request holds the method's arguments,
always with ``owner``; the reply is ``{"errno": 0, ...results}`` or
``{"errno": N, "message": "..."}`` where N is a positive errno and the message
names the object and the cause. Pools, images, sizes, metadata, the trash and
rados objects are not here: they are Curve's MDS (CurveFSService) and the RBD
state home (etcd); see curverbd/core/catalog.py. Sizes here are logical sizes,
which the client reads from the RBD state and passes in.

Methods (arguments -> results); ``pool``/``image`` name the Curve file
``/<pool>/<image>``, ``snap`` a snapshot (no '@' or '/'):

    ClusterStat   {}                  -> {fsid, bytes_total, bytes_used, bytes_avail, pools, objects}
    ImageLinks    {owner, pool, image}                          -> {snapshot_count, parent, children}
    CreateSnap    {owner, pool, image, snap, size}              -> {snap: SnapRecord}
    RemoveSnap    {owner, pool, image, snap}                    -> {}   EBUSY protected or open
    ListSnaps     {owner, pool, image}                          -> {snaps: [SnapRecord]} oldest first
    GetSnap       {owner, pool, image, snap}                    -> {snap: SnapRecord}
    RollbackSnap  {owner, pool, image, snap}                    -> {size} (the snapshot's, the image's now)
    RenameSnap    {owner, pool, image, snap, new_name}          -> {}
    ProtectSnap   {owner, pool, image, snap}                    -> {}   EBUSY if already protected
    UnprotectSnap {owner, pool, image, snap}                    -> {}   EINVAL unprotected, EBUSY clones
    Clone         {owner, pool, image, snap, child_pool, child_image}
                                                  -> {file_id, size} of the new volume; EINVAL unprotected
    Flatten       {owner, pool, image, size, offset?, length?}  -> {done, total, copied}
                  copies the parent's data for one chunk; the call whose chunk reaches ``total`` (the
                  largest of ``size`` and the image's snapshots' sizes) cuts the link.
                  EINVAL if the image has no parent.
    ListChildren  {owner, pool, image, snap?}                   -> {children: [[pool, image]]}
    ParentInfo    {owner, pool, image}                          -> {parent: {pool, image, snap}}  ENOENT
    CopyImage     {owner, pool, image, dest_pool, dest_image, snap?} -> {copied}: data into an existing,
                  empty volume
    DiffExtents   {owner, pool, image, offset, length, size, order, from_snap?, snap?, include_parent?,
                  whole_object?} -> {extents: [[offset, length, exists]]}: where the image (or ``snap``)
                  differs from ``from_snap`` (or from zeros); exists = holds non-zero data;
                  whole_object widens to objects of 2**order bytes.
    Allocated     {owner, pool, image, snap?}                   -> {bytes} stored in the head (snap's layer)

SnapRecord: {id, name, size (logical, at snapshot time), timestamp (unix
seconds, float), protected, namespace_type (0)}.

Snapshot data through nebd: OpenFile of the nebd name of Curve path
``/<pool>/<image>@<snap>`` (``format_name("/p/img@s1", owner)``) opens a
read-only view of the snapshot; Write and Discard on it answer kNoOK naming
the snapshot as read-only.
"""
from __future__ import annotations

import json
from typing import Any

SERVICE = "curverbd.CatalogService"

METHODS = (
    "ClusterStat", "ImageLinks",
    "CreateSnap", "RemoveSnap", "ListSnaps", "GetSnap", "RollbackSnap", "RenameSnap", "ProtectSnap",
    "UnprotectSnap", "Clone", "Flatten", "ListChildren", "ParentInfo", "CopyImage", "DiffExtents",
    "Allocated",
)


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def decode(data) -> dict[str, Any]:
    """Decode a payload; ValueError if it is not a JSON object."""
    obj = json.loads(bytes(data).decode())
    if not isinstance(obj, dict):
        raise ValueError("catalog payload is not a JSON object")
    return obj
