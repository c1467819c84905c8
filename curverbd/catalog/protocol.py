"""The catalog service: what nebd lacks (pools, image lifecycle, RBD metadata).

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
    StatPool    {owner, pool}      -> {pool, owner, images, bytes_used, bytes_provisioned}
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
    ClusterStat {}                     -> {fsid, bytes_total, bytes_used, bytes_avail, pools}

ImageRecord: {id, pool, name, owner, size (the exact logical size),
backend_size (the Curve volume's length, >= 10 GiB), features, order,
created (unix seconds), meta: {key: value}}.
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
)


def encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def decode(data) -> dict[str, Any]:
    """Decode a payload; ValueError if it is not a JSON object."""
    obj = json.loads(bytes(data).decode())
    if not isinstance(obj, dict):
        raise ValueError("catalog payload is not a JSON object")
    return obj
