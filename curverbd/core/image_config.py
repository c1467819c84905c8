"""Per-image config overrides and what an image reports for its options (``rbd config image list``).

librbd keeps an image's overrides as image metadata ``conf_<option>``; the QoS options are listed
with the client's value when the image does not override them ("0": unlimited)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .image import Image

CONF_PREFIX = "conf_"
QOS_OPTIONS = (
    "rbd_qos_iops_limit", "rbd_qos_bps_limit", "rbd_qos_bps_burst",
    "rbd_qos_read_iops_limit", "rbd_qos_write_iops_limit", "rbd_qos_read_bps_limit", "rbd_qos_write_bps_limit",
    "rbd_qos_iops_burst", "rbd_qos_read_iops_burst", "rbd_qos_write_iops_burst",
    "rbd_qos_read_bps_burst", "rbd_qos_write_bps_burst",
)
SOURCE_CONFIG, SOURCE_IMAGE = 0, 2   # RBD_CONFIG_SOURCE_CONFIG / _IMAGE


def config_list(image: Image) -> list[dict]:
    """Dicts {name, value, source} sorted by name: the image's overrides (SOURCE_IMAGE) and the QoS
    options' client values (SOURCE_CONFIG)."""
    lookup = image.ioctx.cluster.conf.lookup
    options = {name: {"name": name, "value": lookup(name) or "0", "source": SOURCE_CONFIG} for name in QOS_OPTIONS}
    for key, value in image.metadata_list().items():
        if key.startswith(CONF_PREFIX):
            name = key[len(CONF_PREFIX):]
            options[name] = {"name": name, "value": value, "source": SOURCE_IMAGE}
    return [options[name] for name in sorted(options)]
