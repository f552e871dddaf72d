"""Turn fedasr's user-facing errors into one clear line and a non-zero exit."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from fedasr.errors import FedasrError

F = TypeVar("F", bound=Callable[..., Any])
err_console = Console(stderr=True)


def user_errors(func: F) -> F:
    """Print FedasrError as `error: ...` and exit with its `exit_code` (2 unless it says
    otherwise: a run that trained nothing exits 3) instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FedasrError as err:
            # escaped: messages quote `[kind]` tags and paths; soft_wrap keeps `file:line` whole
            err_console.print(
                f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(getattr(err, "exit_code", 2)) from err

    return wrapper  # type: ignore[return-value]
