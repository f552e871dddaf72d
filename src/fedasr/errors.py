"""Errors that point at the exact place a user must fix."""

from __future__ import annotations


class FedasrError(Exception):
    """Base class: every error a user can cause derives from it, so the CLI prints it cleanly."""


class ManifestError(FedasrError):
    """A manifest line is malformed; the message names `file:line`."""

    def __init__(self, path: object, line: int, reason: str) -> None:
        self.path, self.line, self.reason = str(path), line, reason
        super().__init__(f"{path}:{line}: {reason}")


class ConfigError(FedasrError):
    """A config key or value is invalid; the message names the key and what is accepted."""


class OverwriteError(FedasrError):
    """A command would replace a file that already exists (and that it may not have written)."""


class MissingExtraError(FedasrError):
    """An optional dependency is needed; the message says which `pip install` fixes it."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the optional package '{module}': pip install -e '.[{extra}]'"
        )
