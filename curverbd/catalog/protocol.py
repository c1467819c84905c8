"""The embedded daemon's snapshot service: what RBD needs of snapshot data that no Curve release offers.

Snapshots, clones, protection, flatten, children and parents run on Curve's own
services (the MDS's release1.5 RPCs, or mainline's snapshotcloneserver) and the
RBD state home (etcd); see curverbd/core/catalog_snapshots.py. This service
keeps only what neither Curve flavour has an RPC for: release1.5's rollback,
whole-image copies, differences between snapshots, allocation, and the
cluster's usage. A real Curve cluster's nebd-server has no such service: there
the client answers EOPNOTSUPP for these.

It rides the nebd socket and baidu_std framing under its own service name. Its
payloads are UTF-8 JSON objects: the request holds the method's arguments,
always with ``owner``; the reply is ``{"errno": 0, ...results}`` or
``{"errno": N, "message": "..."}`` where N is a positive errno and the message
names the object and the cause. A change (RollbackSnap) carries a
``request_id``, so the daemon carries it out once however often it is re-sent.
Sizes here are logical sizes, which the client reads from the RBD state and
passes in.

Methods (arguments -> results); ``pool``/``image`` name the Curve file
``/<pool>/<image>``, ``snap`` (and ``from_snap``) a snapshot by Curve's key: a
release1.5 snapshot's name, or a snapshotcloneserver snapshot's UUID:

    ClusterStat   {}                  -> {fsid, bytes_total, bytes_used, bytes_avail, pools, objects}
    RollbackSnap  {owner, pool, image, snap}                    -> {size}: Curve's length of the
                  snapshot; the image shows the snapshot again
    DiffExtents   {owner, pool, image, offset, length, size, order, from_snap?, snap?, include_parent?,
                  whole_object?} -> {extents: [[offset, length, exists]]}: where the image (or ``snap``)
                  differs from ``from_snap`` (or from zeros) within the logical ``size`` (the
                  snapshot's when ``snap`` is given); exists = holds non-zero data; whole_object
                  widens to objects of 2**order bytes.
    Allocated     {owner, pool, image, snap?}                   -> {bytes} stored in the head (snap's layer)

Errors: ENOENT for a missing image or snapshot, EINVAL for a malformed argument.
"""
from __future__ import annotations

import json
from typing import Any

SERVICE = "curverbd.CatalogService"

METHODS = ("ClusterStat", "RollbackSnap", "DiffExtents", "Allocated")


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def decode(data) -> dict[str, Any]:
    """Decode a payload; ValueError if it is not a JSON object."""
    obj = json.loads(bytes(data).decode())
    if not isinstance(obj, dict):
        raise ValueError("catalog payload is not a JSON object")
    return obj
