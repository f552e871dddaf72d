"""`fedasr data synth --out DIR`: build the embedded multi-speaker TTS corpus."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from fedasr.cli.errors import user_errors
from fedasr.data.synth.checks import parse_engines
from fedasr.data.synth.corpus import SynthConfig, build_corpus
from fedasr.data.synth.summary import summary_table

REFRESH_S = 0.1

OutOpt = Annotated[Path, typer.Option(help="Directory to write the corpus to.")]
SizeOpt = Annotated[str, typer.Option(help="fixture (20 clips), small, or default.")]
VocabOpt = Annotated[str, typer.Option(help="commands (smart-home grammar) or digits.")]
SeedOpt = Annotated[int, typer.Option(help="Same seed, same corpus (texts, jitter, audio).")]
WorkersOpt = Annotated[int | None, typer.Option(help="Parallel workers (default: the cores).")]
EnginesOpt = Annotated[str, typer.Option(help="Comma-separated: espeak, flite, festival.")]
ExtraOpt = Annotated[
    bool,
    typer.Option(help="Add mbrola and pico2wave voices (Debian contrib/non-free; non-commercial)."),
]
NoiseOpt = Annotated[bool, typer.Option(help="Add faint white/pink noise (-55..-45 dBFS).")]
OverwriteOpt = Annotated[
    bool, typer.Option(help="Replace the fedasr corpus already in OUT (its audio and manifests).")
]
BackendOpt = Annotated[
    str,
    typer.Option(help="espeak through: auto, binary (espeak-ng), or lib (espeakng-loader)."),
]


@user_errors
def synth_command(
    out: OutOpt,
    size: SizeOpt = "default",
    vocab: VocabOpt = "commands",
    seed: SeedOpt = 0,
    workers: WorkersOpt = None,
    engines: EnginesOpt = "espeak,flite,festival",
    extra_voices: ExtraOpt = False,
    noise: NoiseOpt = True,
    espeak_backend: BackendOpt = "auto",
    overwrite: OverwriteOpt = False,
) -> None:
    """Synthesize train/test/held-out speakers into OUT (manifests, FLAC audio, corpus.json)."""
    config = SynthConfig(
        out=out,
        size=size,
        vocab=vocab,
        seed=seed,
        workers=workers,
        engines=parse_engines(engines, extra_voices),
        noise=noise,
        espeak_backend=espeak_backend,
    )
    console = Console(stderr=True)
    columns = (TextColumn("synthesizing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # No refresh thread (auto_refresh=False): the synthesis pool can then fork, which starts
    # workers about a second faster than spawn.
    with Progress(*columns, console=console, transient=True, auto_refresh=False) as progress:
        task = progress.add_task("synth", total=None)

        last_refresh = [0.0]

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)
            if done == total or time.monotonic() - last_refresh[0] > REFRESH_S:
                progress.refresh()
                last_refresh[0] = time.monotonic()

        built = build_corpus(config, progress=advance, overwrite=overwrite)
    Console().print(summary_table(built))
