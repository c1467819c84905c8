"""The one way rbd reaches a pool: the core IoCtx behind a ``rados.Ioctx``."""
from __future__ import annotations


def core_ioctx(ioctx):
    """The core IoCtx behind a ``rados.Ioctx`` (TypeError for anything else).

    Duck-typed so that rbd never imports rados: both are top-level modules.
    """
    get = getattr(ioctx, "_core_ioctx", None)
    if get is None:
        raise TypeError(f"expected a rados.Ioctx, got {type(ioctx).__name__}")
    return get()
