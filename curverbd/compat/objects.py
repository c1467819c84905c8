"""Small rados objects, kept where the catalog can hold them.

The catalog has no object store, so each pool gets one hidden image,
``.rados`` (created on the first write, size 0, never opened for I/O), and each
object is one metadata entry of that image: key ``obj.<len(namespace)>.<namespace><key>``,
value JSON ``{"data": base64, "mtime": unix seconds}``. The rbd module hides
the image from ``RBD.list``. A whole-object write is one catalog update
(atomic); partial writes read, modify and write the value, so two clients
writing parts of one object at once may lose one part (OpenStack writes whole
objects). Objects are capped at MAX_OBJECT bytes (EFBIG above).
"""
from __future__ import annotations

import base64
import contextlib
import errno
import json
import time
from typing import Iterator

from curverbd.errors import Error

HIDDEN_IMAGE = ".rados"
MAX_OBJECT = 16 << 20
_PREFIX = "obj."


def is_hidden(image_name: str) -> bool:
    """True for the images this module keeps objects in (not RBD images)."""
    return image_name == HIDDEN_IMAGE


def _meta_key(namespace: str, key: str) -> str:
    return f"{_PREFIX}{len(namespace)}.{namespace}{key}"


def _split_key(meta_key: str) -> tuple[str, str] | None:
    """(namespace, key) of a metadata key, None if it is not an object's."""
    if not meta_key.startswith(_PREFIX):
        return None
    length, dot, rest = meta_key[len(_PREFIX):].partition(".")
    if not dot or not length.isdigit():
        return None
    n = int(length)
    return rest[:n], rest[n:]


class ObjectStore:
    """The objects of one pool (a core IoCtx) in one namespace."""

    def __init__(self, ioctx, namespace: str = "") -> None:
        self.ioctx = ioctx
        self.namespace = namespace

    def _name(self, key: str) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"object {self.ioctx.pool}/{ns}{key}"

    @contextlib.contextmanager
    def _image(self, create: bool = False):
        """The hidden image (created if ``create``); Error(ENOENT) if there is none."""
        try:
            image = self.ioctx.open_image(HIDDEN_IMAGE)
        except Error as exc:
            if exc.errno != errno.ENOENT or not create:
                raise
            try:
                self.ioctx.create_image(HIDDEN_IMAGE, 0)
            except Error as again:
                if again.errno != errno.EEXIST:  # another client made it meanwhile
                    raise
            image = self.ioctx.open_image(HIDDEN_IMAGE)
        try:
            yield image
        finally:
            image.close()

    def _get(self, image, key: str) -> dict:
        try:
            return json.loads(image.metadata_get(_meta_key(self.namespace, key)))
        except Error as exc:
            if exc.errno == errno.ENOENT:
                raise Error(errno.ENOENT, f"{self._name(key)}: no such object") from exc
            raise

    def _load(self, key: str) -> tuple[bytes, float]:
        try:
            with self._image() as image:
                value = self._get(image, key)
        except Error as exc:
            if exc.errno == errno.ENOENT:
                raise Error(errno.ENOENT, f"{self._name(key)}: no such object") from exc
            raise
        return base64.b64decode(value["data"]), float(value["mtime"])

    def _store(self, image, key: str, data: bytes) -> None:
        if len(data) > MAX_OBJECT:
            raise Error(errno.EFBIG, f"{self._name(key)}: {len(data)} bytes is above the {MAX_OBJECT} limit")
        value = {"data": base64.b64encode(data).decode(), "mtime": time.time()}
        image.metadata_set(_meta_key(self.namespace, key), json.dumps(value))

    def _modify(self, key: str, change) -> None:
        """Replace the object's bytes with ``change(old bytes)`` (b"" for a new object)."""
        with self._image(create=True) as image:
            try:
                old = base64.b64decode(self._get(image, key)["data"])
            except Error as exc:
                if exc.errno != errno.ENOENT:
                    raise
                old = b""
            self._store(image, key, change(old))

    # --- the operations of rados.Ioctx ----------------------------------------------
    def read(self, key: str, length: int, offset: int) -> bytes:
        """Up to ``length`` bytes at ``offset``; Error(ENOENT) if the object does not exist."""
        if length < 0 or offset < 0:
            raise Error(errno.EINVAL, f"{self._name(key)}: negative length or offset")
        return self._load(key)[0][offset:offset + length]

    def write(self, key: str, data: bytes, offset: int) -> None:
        """Write ``data`` at ``offset`` (the object grows, a gap reads as zeros)."""
        if offset < 0:
            raise Error(errno.EINVAL, f"{self._name(key)}: negative offset")
        if offset + len(data) > MAX_OBJECT:
            raise Error(errno.EFBIG, f"{self._name(key)}: write past the {MAX_OBJECT}-byte limit")

        def change(old: bytes) -> bytes:
            head = old[:offset].ljust(offset, b"\0")
            return head + data + old[offset + len(data):]
        self._modify(key, change)

    def write_full(self, key: str, data: bytes) -> None:
        """Make ``data`` the whole object."""
        with self._image(create=True) as image:
            self._store(image, key, data)

    def append(self, key: str, data: bytes) -> None:
        """Add ``data`` at the end of the object (created if missing)."""
        self._modify(key, lambda old: old + data)

    def truncate(self, key: str, size: int) -> None:
        """Cut or zero-extend the (existing) object to ``size`` bytes."""
        if size < 0:
            raise Error(errno.EINVAL, f"{self._name(key)}: negative size")
        self._load(key)  # ENOENT for a missing object
        self._modify(key, lambda old: old[:size].ljust(size, b"\0"))

    def stat(self, key: str) -> tuple[int, float]:
        """(size, mtime in unix seconds)."""
        data, mtime = self._load(key)
        return len(data), mtime

    def remove(self, key: str) -> None:
        """Delete the object; Error(ENOENT) if there is none."""
        try:
            with self._image() as image:
                image.metadata_remove(_meta_key(self.namespace, key))
        except Error as exc:
            if exc.errno == errno.ENOENT:
                raise Error(errno.ENOENT, f"{self._name(key)}: no such object") from exc
            raise

    def keys(self) -> Iterator[tuple[str, str]]:
        """(namespace, key) of every object in the pool (all namespaces)."""
        try:
            with self._image() as image:
                names = list(image.metadata_list())
        except Error as exc:
            if exc.errno == errno.ENOENT:
                return iter(())
            raise
        return iter(sorted(filter(None, map(_split_key, names))))

    def drop_all(self) -> None:
        """Remove every object (the hidden image) of the pool, e.g. before the pool is deleted."""
        try:
            self.ioctx.remove_image(HIDDEN_IMAGE)
        except Error as exc:
            if exc.errno != errno.ENOENT:
                raise
