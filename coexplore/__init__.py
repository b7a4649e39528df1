"""coexplore: hardware/software co-exploration of neural architectures and their accelerators."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("coexplore")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
