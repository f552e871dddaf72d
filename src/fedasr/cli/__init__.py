"""The one entry point: `fedasr data|train|run|eval|report|demo|bench`."""

from __future__ import annotations

from fedasr.cli.app import app

__all__ = ["app"]
