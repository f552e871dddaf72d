"""Log lines through rich, so they interleave cleanly with progress bars."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=_console(), show_path=False, markup=False)],
        force=True,
    )
    for noisy in ("matplotlib", "PIL", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _console() -> Console:
    """stderr; when it is not a terminal (CI, a log file), wide lines instead of 80 columns."""
    console = Console(stderr=True)
    return console if console.is_terminal else Console(stderr=True, width=160)
