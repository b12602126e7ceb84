"""The installed package's version, for provenance (``0.0.0`` from a source tree that was never installed)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bayes_scaling")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
