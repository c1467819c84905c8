"""Metadata, per-image config (QoS) and mirroring methods of rbd.Image (a mixin)."""
from __future__ import annotations

import errno

from curverbd.core.image_config import CONF_PREFIX, config_list
from curverbd.errors import Error as CoreError

from .errors import OperationNotSupported, rbd_errors


def missing_is_key_error(call, what: str):
    """Run ``call``; a missing key (ENOENT) becomes KeyError, as in Ceph's binding (image and pool
    metadata and config: pool_extras.py too)."""
    try:
        return call()
    except CoreError as exc:
        if exc.errno == errno.ENOENT:
            raise KeyError(what) from None
        raise


@rbd_errors
class ImageSettings:
    """Image metadata, config overrides and (unsupported) mirroring (needs ``self._core()``)."""

    # --- metadata --------------------------------------------------------------------------
    def metadata_get(self, key: str) -> str:
        """The value of ``key``; KeyError if it is not set."""
        image = self._core()
        return missing_is_key_error(lambda: image.metadata_get(key), f"no metadata {key} for image {self.name}")

    def metadata_set(self, key: str, value: str) -> None:
        """Set metadata ``key`` to ``value``."""
        self._core().metadata_set(key, value)

    def metadata_remove(self, key: str) -> None:
        """Remove ``key``; KeyError if it is not set."""
        image = self._core()
        missing_is_key_error(lambda: image.metadata_remove(key), f"no metadata {key} for image {self.name}")

    def metadata_list(self):
        """(key, value) pairs sorted by key (a MetadataIterator; curverbd's reserved keys are hidden)."""
        from .pacific import MetadataIterator
        return MetadataIterator(self)

    def _metadata_pairs(self) -> list[tuple[str, str]]:
        return self._core().public_metadata()   # curverbd's reserved keys hidden, as rbd_metadata_list

    # --- config overrides (QoS) ------------------------------------------------------------
    def _check_option(self, key: str) -> None:
        if not isinstance(key, str) or not key.startswith("rbd_"):
            raise CoreError(errno.EINVAL, f"image {self.name}: {key!r} is not an rbd config option")

    def config_set(self, key: str, value: str) -> None:
        """Override rbd option ``key`` for this image."""
        self._check_option(key)
        self._core().metadata_set(CONF_PREFIX + key, str(value))

    def config_get(self, key: str) -> str:
        """The image's override of ``key``; KeyError if there is none."""
        self._check_option(key)
        image = self._core()
        return missing_is_key_error(lambda: image.metadata_get(CONF_PREFIX + key),
                                     f"no config {key} for image {self.name}")

    def config_remove(self, key: str) -> None:
        """Drop the image's override of ``key``; KeyError if there is none."""
        self._check_option(key)
        image = self._core()
        missing_is_key_error(lambda: image.metadata_remove(CONF_PREFIX + key),
                              f"no config {key} for image {self.name}")

    def config_list(self):
        """Dicts {name, value, source} (a ConfigImageIterator): the image's overrides (source IMAGE) and
        the QoS options' client values (source CONFIG, "0" = unlimited when unset)."""
        from .pacific import ConfigImageIterator
        return ConfigImageIterator(self)

    def _config_dicts(self) -> list[dict]:
        return config_list(self._core())

    # --- mirroring: not available (Curve has no rbd-mirror) -----------------------------------
    def _no_mirroring(self, *args, **kwargs):
        """Mirroring needs rbd-mirror and journals/mirror snapshots: OperationNotSupported."""
        raise OperationNotSupported(f"image {self.name}: mirroring is not supported by curverbd",
                                    errno=errno.EOPNOTSUPP)

    mirror_image_enable = mirror_image_disable = mirror_image_promote = mirror_image_demote = _no_mirroring
    mirror_image_resync = mirror_image_get_info = mirror_image_get_mode = _no_mirroring
    mirror_image_get_status = mirror_image_create_snapshot = _no_mirroring
