"""Errors of corpus synthesis; the CLI prints them as one line (fedasr.cli.errors)."""

from __future__ import annotations

from fedasr.errors import FedasrError

INSTALL_HINT = "install it with `bash scripts/install-system-deps.sh`"


class SynthesisError(FedasrError):
    """An engine failed on one clip; the message names the engine, voice and text."""


class EngineMissingError(SynthesisError):
    """A requested engine or voice is not installed; the message says how to get it."""
