"""The rest of Ceph Pacific's rbd module: Completion, the iterator classes, Group, the feature-name
helpers, Pacific's module-level helpers (cstr, decode_cstr, requires_not_closed), and what curverbd
cannot do (mirroring, groups, migration, namespaces, librbd encryption: OperationNotSupported).

The iterator classes are lists built when constructed with Pacific's arguments (``SnapIterator(image)``),
so they iterate like Pacific's and compare like the lists this module used to return.
"""
from __future__ import annotations

import errno
import threading

from curverbd.core import pool_meta
from curverbd.core.pool_meta import FEATURE_NAMES  # noqa: F401  (kept importable here)

from .constants import RBD_LOCK_MODE_EXCLUSIVE
from .errors import InvalidArgument, OperationNotSupported

UINT64_MAX = (1 << 64) - 1


def cstr(val, name, encoding="utf-8", opt=False):
    """Pacific's helper: ``val`` as bytes (None allowed if ``opt``); InvalidArgument for a non-string."""
    if opt and val is None:
        return None
    if isinstance(val, bytes):
        return val
    if isinstance(val, str):
        return val.encode(encoding)
    raise InvalidArgument(f"{name} must be a string")


def decode_cstr(val, encoding="utf-8"):
    """Pacific's helper: bytes -> str (None stays None)."""
    return None if val is None else val.decode(encoding)


def requires_not_closed(f):
    """Pacific's decorator: the method first calls ``self.require_not_closed()``."""
    def wrapper(self, *args, **kwargs):
        self.require_not_closed()
        return f(self, *args, **kwargs)
    return wrapper


def unsupported(what: str) -> OperationNotSupported:
    return OperationNotSupported(f"{what} is not supported by curverbd", errno=errno.EOPNOTSUPP)


def features_to_string(features: int) -> str:
    """librbd's rbd_features_to_string (core/pool_meta.py); InvalidArgument for unknown bits."""
    return pool_meta.features_to_string(features)


def features_from_string(text: str) -> int:
    """librbd's rbd_features_from_string (core/pool_meta.py); InvalidArgument for unknown names."""
    return pool_meta.features_from_string(text)


# --- Completion ----------------------------------------------------------------------------------
class Completion:
    """An asynchronous image operation, as Pacific's ``rbd.Completion`` (``Completion(image, oncomplete)``).

    ``oncomplete(completion)`` runs when the operation finishes (aio_read's: ``oncomplete(completion,
    data)``, data None on error); an exception it raises is re-raised by ``wait_for_complete_and_cb``.
    """

    def __init__(self, image, oncomplete) -> None:
        self.image = image
        self.oncomplete = oncomplete
        self._done = threading.Event()
        self._rc = -errno.EINPROGRESS
        self.exc_info = None

    def _finish(self, rc: int, *extra) -> None:
        self._rc = rc
        try:
            if self.oncomplete is not None:
                self.oncomplete(self, *extra)
        except BaseException as exc:   # handed to wait_for_complete_and_cb, as Pacific does
            self.exc_info = exc
        finally:
            self._done.set()

    def is_complete(self) -> bool:
        """True once the operation (and its callback) finished."""
        return self._done.is_set()

    def wait_for_complete_and_cb(self) -> None:
        """Wait for the operation and its callback; re-raise what the callback raised."""
        self._done.wait()
        if self.exc_info is not None:
            exc, self.exc_info = self.exc_info, None
            raise exc

    def get_return_value(self) -> int:
        """Bytes read for aio_read, 0 for the other calls, or a negative errno."""
        return self._rc


# --- iterators ------------------------------------------------------------------------------------
class _Listing(list):
    """Base of the iterator classes: a list made by ``_items(owner, ...)``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(self._items(*args, **kwargs))

    def _items(self, *args, **kwargs):
        return []


class SnapIterator(_Listing):
    """The snapshots of an image: dicts {id, size, name, namespace, ...} (``SnapIterator(image)``)."""
    def _items(self, image):
        return image._snapshot_dicts()


class ChildIterator(_Listing):
    """The clones (``descendants``: and their clones) of an image: dicts {id, pool, pool_namespace, image, trash}."""
    def _items(self, image, descendants=False):
        return image._children2(descendants)


class ImageIterator(_Listing):
    """The images of a pool: dicts {id, name} (``ImageIterator(ioctx)``)."""
    def _items(self, ioctx):
        from .pool import RBD
        return RBD()._list2(ioctx)


class TrashIterator(_Listing):
    """The trashed images of a pool (``TrashIterator(ioctx)``)."""
    def _items(self, ioctx):
        from .pool import RBD
        return RBD()._trash_entries(ioctx)


class MetadataIterator(_Listing):
    """(key, value) of an image's metadata (``MetadataIterator(image)``)."""
    def _items(self, image):
        return image._metadata_pairs()

    def get_next_chunk(self):
        """Pacific pages through the keys; everything is here already."""
        return None


class ConfigImageIterator(_Listing):
    """An image's config options: dicts {name, value, source} (``ConfigImageIterator(image)``)."""
    def _items(self, image):
        return image._config_dicts()


class ConfigPoolIterator(_Listing):
    """A pool's config options: dicts {name, value, source} (``ConfigPoolIterator(ioctx)``)."""
    def _items(self, ioctx):
        from .pool_extras import pool_config_list
        return pool_config_list(ioctx)


class PoolMetadataIterator(_Listing):
    """(key, value) of a pool's metadata (``PoolMetadataIterator(ioctx)``)."""
    def _items(self, ioctx):
        from .ioctx import core_ioctx
        return pool_meta.metadata_list(core_ioctx(ioctx))

    def get_next_chunk(self):
        return None


class WatcherIterator(_Listing):
    """Watchers of an image's header: curverbd has no rados watches, so none (``WatcherIterator(image)``)."""
    def _items(self, image):
        image.require_not_closed()
        return []


class LockOwnerIterator(_Listing):
    """Owners of an image's exclusive lock: dicts {mode, owner} (``LockOwnerIterator(image)``)."""
    def _items(self, image):
        owner = image._managed_lock_owner(check_feature=True)
        return [] if owner is None else [{"mode": RBD_LOCK_MODE_EXCLUSIVE, "owner": owner}]


class _Unsupported(_Listing):
    what = "this listing"

    def _items(self, *args, **kwargs):
        raise unsupported(self.what)

    def get_next_chunk(self):
        raise unsupported(self.what)


class MirrorPeerIterator(_Unsupported):
    what = "mirroring"


class MirrorImageStatusIterator(_Unsupported):
    what = "mirroring"


class MirrorImageInstanceIdIterator(_Unsupported):
    what = "mirroring"


class MirrorImageInfoIterator(_Unsupported):
    what = "mirroring"


class GroupImageIterator(_Unsupported):
    what = "RBD groups"


class GroupSnapIterator(_Unsupported):
    what = "RBD groups"


# --- groups ---------------------------------------------------------------------------------------
class Group:
    """An RBD group (``Group(ioctx, name)``): curverbd has no consistency groups, so every call raises
    OperationNotSupported (EOPNOTSUPP)."""

    def __init__(self, ioctx, name) -> None:
        self.name = cstr(name, "name")
        self.ioctx = ioctx

    def __enter__(self) -> "Group":
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def _unsupported(self, *args, **kwargs):
        raise unsupported("RBD groups")

    add_image = remove_image = list_images = create_snap = remove_snap = _unsupported
    rename_snap = list_snaps = rollback_to_snap = _unsupported

