"""Testimony Vault."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("testimony-vault")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"
