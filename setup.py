"""setuptools' half of the build (build_so.py, the PEP 517 backend, builds the two client libraries first).

Two things pyproject.toml cannot say:
- the wheel is for this platform and Python: it carries librados.so.2 / librbd.so.1 linked against
  this Python's libpython (and the daemon's C frame loop), so it must never be tagged py3-none-any;
- a non-editable build compiles the daemon's C frame loop into the wheel, so an install without a
  C compiler still gets the fast path (without it the daemon would build it on first use, or serve
  in Python). Editable installs build it in the source tree on first use, as before.
"""
import importlib.util
import os

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True   # the platform tag, for the libraries built outside setuptools' view


class BuildPyWithFastLoop(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        # build_fastpath.py by path: importing the curverbd package here would need its dependencies
        spec = importlib.util.spec_from_file_location(
            "curverbd_build_fastpath", os.path.join(HERE, "curverbd", "server", "build_fastpath.py"))
        builder = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(builder)
        target = os.path.join(self.build_lib, "curverbd", "server")
        try:
            built = builder.build(target)
        except Exception as exc:  # no compiler: the installed daemon builds it on first use, or serves in Python
            self.warn(f"the daemon's C frame loop was not built into the wheel ({type(exc).__name__}: {exc})")
        else:
            self.announce(f"built the daemon's C frame loop: {built}", level=2)


setup(distclass=BinaryDistribution, cmdclass={"build_py": BuildPyWithFastLoop})
