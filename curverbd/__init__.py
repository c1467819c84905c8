"""curverbd: Ceph's librbd / librados and Python rados / rbd, over CurveBS."""

__version__ = "0.1.0"
