"""The package version, importable without importing the SDK (the package re-exports it)."""

from __future__ import annotations

__version__ = "0.1.0"
