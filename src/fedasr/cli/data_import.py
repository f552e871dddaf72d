"""`fedasr data import {librispeech,stm,commonvoice,lhotse} SRC --out DIR`: other corpora in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fedasr.cli.errors import user_errors
from fedasr.data.importers import IMPORTERS, ImportResult
from fedasr.errors import ConfigError

app = typer.Typer(
    no_args_is_help=True,
    help="Import a corpus into a manifest (audio is referenced in place, never copied).",
)

SrcArg = Annotated[Path, typer.Argument(help="The corpus to import (see each format's help).")]
OutOpt = Annotated[Path, typer.Option("--out", help="Directory for NAME.jsonl.")]
NameOpt = Annotated[str | None, typer.Option("--name", help="Manifest name (default: from SRC).")]
OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Replace an existing OUT/NAME.jsonl.")
]
SHOWN_SKIPS = 20


@app.command("librispeech")
@user_errors
def librispeech(
    src: SrcArg, out: OutOpt, name: NameOpt = None, overwrite: OverwriteOpt = False
) -> None:
    """SRC is one split directory: SRC/<speaker>/<chapter>/*.flac + *.trans.txt."""
    _report(IMPORTERS["librispeech"](src, out, name, overwrite=overwrite))


@app.command("stm")
@user_errors
def stm(
    src: SrcArg,
    out: OutOpt,
    name: NameOpt = None,
    unk: Annotated[
        str, typer.Option(help="Segments with <unk>: skip them, drop the token, or keep it.")
    ] = "skip",
    overwrite: OverwriteOpt = False,
) -> None:
    """SRC is an .stm file or a tree of them (TED-LIUM: stm/ next to sph/). One talk = a client."""
    if unk not in ("skip", "drop", "keep"):
        raise ConfigError(f"--unk: got {unk!r}; allowed: skip, drop, keep")
    _report(IMPORTERS["stm"](src, out, name, unk=unk, overwrite=overwrite))


@app.command("commonvoice")
@user_errors
def commonvoice(
    src: SrcArg, out: OutOpt, name: NameOpt = None, overwrite: OverwriteOpt = False
) -> None:
    """SRC is one TSV of a release (validated.tsv, train.tsv, ...) next to clips/."""
    _report(IMPORTERS["commonvoice"](src, out, name, overwrite=overwrite))


@app.command("lhotse")
@user_errors
def lhotse(
    src: SrcArg,
    out: OutOpt,
    name: NameOpt = None,
    recordings: Annotated[
        Path | None,
        typer.Option(help="Recordings JSONL (default: SRC with 'supervisions' -> 'recordings')."),
    ] = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """SRC is a supervisions JSONL(.gz), or a directory holding one supervisions/recordings pair."""
    _report(IMPORTERS["lhotse"](src, out, name, recordings=recordings, overwrite=overwrite))


def _report(result: ImportResult) -> None:
    console = Console(highlight=False)
    console.print(
        f"imported [bold]{len(result.utterances)}[/] utterances ({_amount(result.hours)}) from "
        f"[bold]{len(result.speakers)}[/] speakers into {escape(str(result.manifest))}"
    )
    if result.skipped:
        _print_skips(console, result)
    console.print(f"next: fedasr data validate {escape(str(result.manifest))}")


def _amount(hours: float) -> str:
    return f"{hours:.2f} h" if hours >= 1 else f"{hours * 60:.1f} min"


def _print_skips(console: Console, result: ImportResult) -> None:
    table = Table(title=f"skipped {len(result.skipped)} entries")
    table.add_column("reason")
    table.add_column("entries", justify="right")
    for kind, count in sorted(result.skipped_counts().items()):
        table.add_row(kind, str(count))
    console.print(table)
    for skip in result.skipped[:SHOWN_SKIPS]:
        typer.echo(f"  {skip}")  # plain text: file:line stays on one line
    more = len(result.skipped) - SHOWN_SKIPS
    tail = f"{more} more; " if more > 0 else ""
    console.print(f"  ({tail}all listed in {escape(str(result.skipped_list))})")
