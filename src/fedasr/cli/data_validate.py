"""`fedasr data validate MANIFEST`: every problem as `file:line: [kind] reason`, then a summary."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fedasr.cli.errors import user_errors
from fedasr.data.tokenizer import CharTokenizer, Tokenizer, load_tokenizer
from fedasr.data.validate import NOTE_KINDS, PROBLEM_KINDS, ValidationReport, validate_manifest
from fedasr.errors import ConfigError

ManifestArg = Annotated[Path, typer.Argument(help="The manifest (JSONL) to check.")]
TokenizerOpt = Annotated[
    str, typer.Option(help="'char', or a directory holding a saved tokenizer.json.")
]
SampleRateOpt = Annotated[int, typer.Option(help="The sample rate training expects.")]
RatePolicyOpt = Annotated[
    str,
    typer.Option(help="reject: a file at another rate is a problem; resample: accept it."),
]
WorkersOpt = Annotated[int | None, typer.Option(help="Decoding threads (default: the cores).")]


@user_errors
def validate_command(
    manifest: ManifestArg,
    tokenizer: TokenizerOpt = "char",
    sample_rate: SampleRateOpt = 16000,
    on_rate_mismatch: RatePolicyOpt = "reject",
    workers: WorkersOpt = None,
) -> None:
    """Check every line and every audio file; exit 1 if anything is wrong, 0 if clean."""
    started = time.perf_counter()
    report = validate_manifest(
        manifest,
        tokenizer=_tokenizer_from_option(tokenizer),
        sample_rate=sample_rate,
        on_rate_mismatch=on_rate_mismatch,  # type: ignore[arg-type]  # checked inside
        workers=workers,
    )
    for problem in report.problems:
        typer.echo(str(problem))  # plain text: one greppable line each, never wrapped
    _print_summary(report, time.perf_counter() - started)
    raise typer.Exit(0 if report.ok else 1)


def _tokenizer_from_option(option: str) -> Tokenizer:
    if option == "char":
        return CharTokenizer()
    directory = Path(option)
    if not (directory / "tokenizer.json").is_file():
        raise ConfigError(
            f"--tokenizer: got {option!r}; allowed: 'char' or a directory with tokenizer.json"
        )
    return load_tokenizer(directory)


def _print_summary(report: ValidationReport, seconds: float) -> None:
    console = Console(highlight=False)
    table = Table(
        title=f"{escape(report.manifest)}: {report.lines} lines checked in {seconds:.1f} s"
    )
    for column in ("kind", "lines", "verdict", "meaning"):
        table.add_column(column, justify="right" if column == "lines" else "left")
    for kind, count in sorted(report.counts().items()):
        table.add_row(kind, str(count), "[red]rejected[/]", PROBLEM_KINDS.get(kind, ""))
    for kind, count in sorted(report.note_counts().items()):
        table.add_row(kind, str(count), "[yellow]accepted[/]", NOTE_KINDS.get(kind, ""))
    table.add_row("valid", str(len(report.utterances)), "[green]ok[/]", "used for training")
    console.print(table)
    if report.ok:
        console.print(f"[green]clean:[/] {len(report.utterances)} utterances")
    else:
        bad = len(report.bad_lines())
        console.print(f"[red]{len(report.problems)} problems on {bad} lines[/]")
