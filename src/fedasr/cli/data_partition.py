"""`fedasr data partition` and `fedasr data features`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fedasr.cli.errors import user_errors
from fedasr.config import parse_override
from fedasr.data.manifest import read_manifest
from fedasr.data.partition import PARTITIONERS, partition, summary
from fedasr.fsutil import atomic_write_text, refuse_to_overwrite

console = Console()


@user_errors
def partition_command(
    manifest: Annotated[Path, typer.Argument(help="Manifest (JSONL) to partition.")],
    scheme: Annotated[str, typer.Option(help=f"One of: {', '.join(PARTITIONERS)}.")] = "speaker",
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Scheme parameter, e.g. -p p=0.5.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed (same seed, same partition).")] = 0,
    out: Annotated[Path | None, typer.Option(help="Write {client: [ids]} as JSON here.")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --out file.")
    ] = False,
) -> None:
    """Partition a manifest into clients and print a summary table."""
    if out is not None:
        refuse_to_overwrite(out, overwrite)
    utts = read_manifest(manifest)
    params = dict((".".join(k), v) for k, v in map(parse_override, param or []))
    clients = partition(utts, scheme, seed=seed, **params)
    table = Table(title=f"{scheme} partition of {manifest.name}: {len(clients)} clients")
    for column in ("per client", "min", "median", "max"):
        table.add_column(column, justify="right" if column != "per client" else "left")
    for name, (low, mid, high) in summary(clients, utts).items():
        table.add_row(name, f"{low:.1f}", f"{mid:.1f}", f"{high:.1f}")
    console.print(table)
    if out is not None:
        atomic_write_text(out, json.dumps(clients, indent=1))
        console.print(f"wrote {out}")


@user_errors
def features_command(
    manifest: Annotated[Path, typer.Argument(help="Manifest whose features to cache.")],
    cache_dir: Annotated[
        Path | None, typer.Option(help="Cache root (default $FEDASR_CACHE or ~/.cache/fedasr).")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Processes (default: the cores).")] = None,
) -> None:
    """Extract 80-dim log-mel features once into the memory-mapped cache; print the speed."""
    from fedasr.data.feature_cache import load_or_build  # imports torch: only for this command

    utts = read_manifest(manifest)
    started = time.perf_counter()
    store = load_or_build(manifest, cache_root=cache_dir, workers=workers, utterances=utts)
    seconds = time.perf_counter() - started
    audio = sum(u.duration for u in utts)
    console.print(
        f"{len(store)} utterances, {audio / 3600:.2f} h of audio, {len(store.skipped)} skipped; "
        f"{seconds:.1f} s ({audio / max(seconds, 1e-9):,.0f}x real time) -> {store.root}"
    )
