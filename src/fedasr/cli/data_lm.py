"""`fedasr data lm`: an ARPA word n-gram from a manifest's transcripts, for `eval --lm`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fedasr.cli.errors import user_errors

console = Console()


@user_errors
def lm_command(
    manifest: Annotated[Path, typer.Argument(help="Manifest whose transcripts train the LM.")],
    out: Annotated[Path, typer.Argument(help="ARPA file to write (e.g. lm.arpa).")],
    order: Annotated[int, typer.Option(help="n-gram order.")] = 3,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing OUT.")
    ] = False,
) -> None:
    """Write an interpolated Kneser-Ney ARPA language model (pure Python, no KenLM needed)."""
    from fedasr.fsutil import refuse_to_overwrite

    refuse_to_overwrite(out, overwrite)
    from fedasr.asr.arpa import write_arpa
    from fedasr.data.manifest import read_manifest

    texts = [utt.text for utt in read_manifest(manifest)]
    write_arpa(texts, order, out)
    console.print(f"wrote a {order}-gram LM from {len(texts)} transcripts -> {out}")
