"""The Python side of the exported C API (librados.so.2 / librbd.so.1).

The exports themselves are C (shim_c/); they call into here only for the control plane,
through cffi ``extern "Python"`` callbacks registered by ``embed.start``. Objects cross the
boundary as integer handles (``handles``); failures cross it as negative errno (``externs``).
"""
