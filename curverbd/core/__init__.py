"""The curverbd core: one implementation behind the C ABI, the Python modules and the CLI."""
from .cluster import Cluster
from .completion import Completion
from .image import Image
from .ioctx import IoCtx

__all__ = ["Cluster", "IoCtx", "Image", "Completion"]
