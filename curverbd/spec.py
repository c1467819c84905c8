"""Image specs: QEMU's ``rbd:`` filenames and the rbd CLI's ``pool/image@snap``.

QEMU's legacy filename is
``rbd:pool[/namespace]/image[@snap][:opt=val[:opt=val...]]``; a backslash
escapes the next character (``\\:`` ``\\@`` ``\\=`` ``\\/``), so names and
values may contain the separators. ``id=`` names the user, ``conf=`` the conf
file; every other ``key=value`` is a config override (``rados_conf_set``).
"""
from __future__ import annotations

import errno
from dataclasses import dataclass, field

from .config import user_id  # noqa: F401  (part of this module's API)
from .errors import Error

PREFIX = "rbd:"


@dataclass
class ImageSpec:
    pool: str
    image: str
    namespace: str = ""
    snapshot: str | None = None
    user: str | None = None          # from id=, without "client."
    conf: str | None = None          # from conf=
    options: dict[str, str] = field(default_factory=dict)  # other key=value pairs, in order


def _split(text: str, delim: str) -> tuple[str, str | None]:
    """Cut ``text`` at the first unescaped ``delim``: (before, after) or (text, None)."""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == delim:
            return text[:i], text[i + 1:]
        i += 1
    return text, None


def unescape(text: str) -> str:
    """Drop each escaping backslash (a trailing lone backslash is kept)."""
    out = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out)


def _image_part(part: str, where: str) -> tuple[str, str, str | None]:
    """``[namespace/]image[@snap]`` (still escaped) -> (namespace, image, snap)."""
    image, snap = _split(part, "@")
    namespace = ""
    head, rest = _split(image, "/")
    if rest is not None:
        namespace, image = head, rest
    image = unescape(image)
    if not image:
        raise Error(errno.EINVAL, f"{where}: image name is required")
    if snap is not None:
        snap = unescape(snap)
        if not snap:
            raise Error(errno.EINVAL, f"{where}: snapshot name after '@' is empty")
    return unescape(namespace), image, snap


def parse_rbd_filename(filename: str) -> ImageSpec:
    """Parse QEMU's ``rbd:`` filename; Error(EINVAL) naming the fault."""
    if not filename.startswith(PREFIX):
        raise Error(errno.EINVAL, f"{filename!r}: an rbd filename starts with 'rbd:'")
    text = filename[len(PREFIX):]
    pool, rest = _split(text, "/")
    if rest is None or not pool:
        raise Error(errno.EINVAL, f"{filename!r}: pool name is required (rbd:pool/image)")
    image_part, opts = _split(rest, ":")
    namespace, image, snap = _image_part(image_part, repr(filename))
    spec = ImageSpec(pool=unescape(pool), image=image, namespace=namespace, snapshot=snap)
    while opts is not None:
        key, opts = _split(opts, "=")
        if opts is None:
            raise Error(errno.EINVAL, f"{filename!r}: option {unescape(key)!r} has no value")
        value, opts = _split(opts, ":")
        key, value = unescape(key), unescape(value)
        if key == "id":
            spec.user = user_id(value)
        elif key == "conf":
            spec.conf = value
        else:
            spec.options[key] = value
    return spec


def parse_image_spec(text: str, default_pool: str = "rbd") -> ImageSpec:
    """The rbd CLI's ``[pool/[namespace/]]image[@snap]``; Error(EINVAL) if empty."""
    where = repr(text)
    first, rest = _split(text, "/")
    if rest is None:
        namespace, image, snap = _image_part(text, where)
        if namespace:  # cannot happen without '/', kept for clarity
            raise Error(errno.EINVAL, f"{where}: bad image spec")
        return ImageSpec(pool=default_pool, image=image, snapshot=snap)
    if not first:
        raise Error(errno.EINVAL, f"{where}: pool name is empty")
    namespace, image, snap = _image_part(rest, where)
    return ImageSpec(pool=unescape(first), image=image, namespace=namespace, snapshot=snap)
