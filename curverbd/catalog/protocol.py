"""The catalog service: what nebd lacks (pools, image lifecycle, RBD metadata, small rados objects).

It rides the same socket and baidu_std framing as nebd, under its own service
name. Its payloads are UTF-8 JSON objects (our own service, so no .proto to
stay compatible with): the request holds the method's arguments, always with
``owner``; the reply is ``{"errno": 0, ...results}`` or
``{"errno": N, "message": "..."}`` where N is a positive errno and the message
names the object and the cause.

Methods (arguments -> results). ``pool`` is the RBD pool (Curve directory
``/<pool>``), ``image`` the image (Curve file ``/<pool>/<image>``):

    CreatePool  {owner, pool}                                   -> {}
    RemovePool  {owner, pool}                                   -> {}
    ListPools   {owner}                                         -> {pools: [str]}
    StatPool    {owner, pool}      -> {pool, owner, images, objects, object_bytes, bytes_used,
                                       bytes_provisioned}   (bytes_used counts the objects' bytes)
    CreateImage {owner, pool, image, size, features?, order?}   -> {image: ImageRecord}
    RemoveImage {owner, pool, image}                            -> {}
    ListImages  {owner, pool}                                   -> {images: [str]}
    StatImage   {owner, pool, image}                            -> {image: ImageRecord}
    ResizeImage {owner, pool, image, size}                      -> {image: ImageRecord}
    RenameImage {owner, pool, image, new_name}                  -> {}
    SetMeta     {owner, pool, image, key, value}                -> {}
    GetMeta     {owner, pool, image, key}                       -> {value}
    RemoveMeta  {owner, pool, image, key}                       -> {}
    ListMeta    {owner, pool, image}                            -> {meta: {str: str}}
    ClusterStat {}                     -> {fsid, bytes_total, bytes_used, bytes_avail, pools, objects}

RemovePool refuses a pool that still has images or objects (ENOTEMPTY).

Snapshots, clones, data (``snap`` is a snapshot name; no '@' or '/' in it):

    CreateSnap    {owner, pool, image, snap}                    -> {snap: SnapRecord}
    RemoveSnap    {owner, pool, image, snap}                    -> {}   EBUSY protected or open
    ListSnaps     {owner, pool, image}                          -> {snaps: [SnapRecord]} oldest first
    GetSnap       {owner, pool, image, snap}                    -> {snap: SnapRecord}
    RollbackSnap  {owner, pool, image, snap}                    -> {image: ImageRecord} (size = snap's)
    RenameSnap    {owner, pool, image, snap, new_name}          -> {}
    ProtectSnap   {owner, pool, image, snap}                    -> {}   EBUSY if already protected
    UnprotectSnap {owner, pool, image, snap}                    -> {}   EINVAL unprotected, EBUSY clones
    Clone         {owner, pool, image, snap, child_pool, child_image, features?, order?}
                                                                -> {image: ImageRecord}  EINVAL unprotected
    Flatten       {owner, pool, image, offset?, length?}        -> {done, total, copied}
                  copies the parent's data for one chunk; the call whose chunk reaches ``total`` (the
                  largest size of the image and its snapshots; no length = to the end) cuts the link.
                  EINVAL if the image has no parent.
    ListChildren  {owner, pool, image, snap?}                   -> {children: [[pool, image]]}
    ParentInfo    {owner, pool, image}                          -> {parent: {pool, image, snap}}  ENOENT
    CopyImage     {owner, pool, image, dest_pool, dest_image, snap?} -> {image: ImageRecord}
    DiffExtents   {owner, pool, image, offset, length, from_snap?, snap?, include_parent?, whole_object?}
                  -> {extents: [[offset, length, exists]]}: where the image (or ``snap``) differs from
                  ``from_snap`` (or from zeros); exists = holds non-zero data; whole_object widens to
                  objects of 2**order bytes.
    Allocated     {owner, pool, image, snap?}                   -> {bytes} stored in the head (snap's layer)
    UpdateFeatures {owner, pool, image, features, enabled}      -> {image: ImageRecord}
    TrashMove     {owner, pool, image, delay?}                  -> {id}
    TrashList     {owner, pool}  -> {images: [{id, name, source, deletion_time, deferment_end_time}]}
    TrashRemove   {owner, pool, image_id, force?}               -> {}   EPERM before deferment end
    TrashRestore  {owner, pool, image_id, name?}                -> {}

Small rados objects (``namespace`` defaults to "", the default namespace; ``key``
is a non-empty string, at most 2048 bytes, no NUL; ``data`` is base64). The
pool's owner owns its objects. An object holds at most 16 MiB (EFBIG beyond);
a missing object is ENOENT naming pool/namespace/key:

    WriteObject  {owner, pool, key, data, namespace?, offset?, truncate?, append?} -> {}
                 writes data at offset (default 0; a gap reads as zeros), creating the object;
                 truncate: the object ends right after the data (offset 0 = write_full);
                 append: at the object's end (offset ignored). One transaction: concurrent
                 writes of different parts all land.
    ReadObject   {owner, pool, key, namespace?, offset?, length?} -> {data} (up to length bytes,
                 no length = to the end; offset past the end = empty)
    StatObject   {owner, pool, key, namespace?}              -> {size, mtime (unix seconds, float)}
    RemoveObject {owner, pool, key, namespace?}              -> {}
    ListObjects  {owner, pool, namespace?}   -> {objects: [{namespace, key}]} sorted; no
                 namespace = every namespace

RemoveImage refuses an image with clones (EBUSY), with snapshots (ENOTEMPTY)
or open by a client (EBUSY).

ImageRecord: {id, pool, name, owner, size (the exact logical size),
backend_size (the Curve volume's length, >= 10 GiB), features, order,
created (unix seconds), meta: {key: value}, snapshot_count,
parent: {pool, image, snap} or null, op_features (1 clone parent, 2 clone child)}.
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
    "CreatePool", "RemovePool", "ListPools", "StatPool",
    "CreateImage", "RemoveImage", "ListImages", "StatImage", "ResizeImage", "RenameImage",
    "SetMeta", "GetMeta", "RemoveMeta", "ListMeta",
    "ClusterStat",
    "CreateSnap", "RemoveSnap", "ListSnaps", "GetSnap", "RollbackSnap", "RenameSnap", "ProtectSnap",
    "UnprotectSnap", "Clone", "Flatten", "ListChildren", "ParentInfo", "CopyImage", "DiffExtents",
    "Allocated", "UpdateFeatures", "TrashMove", "TrashList", "TrashRemove", "TrashRestore",
    "WriteObject", "ReadObject", "StatObject", "RemoveObject", "ListObjects",
)


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def decode(data) -> dict[str, Any]:
    """Decode a payload; ValueError if it is not a JSON object."""
    obj = json.loads(bytes(data).decode())
    if not isinstance(obj, dict):
        raise ValueError("catalog payload is not a JSON object")
    return obj
