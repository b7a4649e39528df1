"""coexplore: hardware/software co-exploration of neural architectures and their accelerators."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("coexplore")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

from coexplore.catalogue import register_envs  # noqa: E402

# Every envs/*.yaml scenario is the Gymnasium id coexplore/<name>-v0 once coexplore is imported.
register_envs()

__all__ = ["__version__", "register_envs"]
