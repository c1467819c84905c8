"""nebd's open-file meta file: ``{"volumes": [{"filename", "fd", ...}], "crc": CRC32C}``.

The CRC covers the JSON of the root without ``crc``; a file that fails the check
(torn, edited, corrupt) is refused, never silently used, because clients hold
fds that must keep naming the same volumes. Writes are atomic: tmp file, fsync,
rename, fsync of the directory.
"""
from __future__ import annotations

import json
import os

from .crc32c import crc32c


class MetaFileError(Exception):
    """The meta file exists but cannot be trusted."""


def _canonical(root: dict) -> bytes:
    return json.dumps(root, sort_keys=True, separators=(",", ":")).encode()


def load(path: str) -> list[dict]:
    """The recorded volumes; [] if the file does not exist (first start)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return []
    try:
        root = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MetaFileError(f"meta file {path} is not valid JSON ({exc}); refusing to start") from exc
    if not isinstance(root, dict) or not isinstance(root.get("crc"), int):
        raise MetaFileError(f"meta file {path} has no crc; refusing to start")
    crc = root.pop("crc")
    if crc32c(_canonical(root)) != crc:
        raise MetaFileError(f"meta file {path} fails its CRC32C check; refusing to start")
    volumes = root.get("volumes")
    if not isinstance(volumes, list):
        raise MetaFileError(f"meta file {path} has no volumes list; refusing to start")
    seen = set()
    for rec in volumes:
        if (not isinstance(rec, dict) or not isinstance(rec.get("filename"), str)
                or not isinstance(rec.get("fd"), int) or rec["fd"] <= 0 or rec["fd"] in seen):
            raise MetaFileError(f"meta file {path} has a bad volume record {rec!r}; refusing to start")
        seen.add(rec["fd"])
    return volumes


def save(path: str, volumes: list[dict]) -> None:
    root = {"volumes": volumes}
    root["crc"] = crc32c(_canonical(root))
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, _canonical(root))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
