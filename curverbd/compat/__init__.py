"""Ceph-compatible Python faces over the core.

``rados/`` and ``rbd/`` are installed as the top-level ``rados`` and ``rbd``
modules (see pyproject.toml), so OpenStack's stock drivers import them
unchanged. The helpers they share live beside them: the exception
translation (errors.py), fork detection (fork.py), rados objects (objects.py)
and the monitor commands (mon.py). Import the top-level names, never
``curverbd.compat.rados`` / ``curverbd.compat.rbd``: that would load a second
copy with distinct exception classes.
"""
