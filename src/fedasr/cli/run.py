"""`fedasr run`, `fedasr train`, `fedasr eval`: federated runs, the centralized baseline,
and scoring a trained model on any manifest."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from fedasr.cli.errors import user_errors
from fedasr.cli.logging_setup import setup_logging
from fedasr.config import load_config
from fedasr.errors import ConfigError

if TYPE_CHECKING:
    from fedasr.asr.beam import BeamDecoder
    from fedasr.data.tokenizer import Tokenizer

console = Console()

ConfigArg = Annotated[Path | None, typer.Argument(help="Experiment YAML (see configs/).")]
OverridesArg = Annotated[
    list[str] | None, typer.Argument(help="key=value overrides, e.g. rounds.total=10.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]


@user_errors
def run_command(
    config: ConfigArg = None,
    overrides: OverridesArg = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue the run in this directory from its checkpoint.")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Run a federated experiment (or continue one with --resume RUN_DIR)."""
    from fedasr.experiment import run_federated

    setup_logging()
    if resume is not None:
        if config is not None and "=" in str(config):  # `--resume DIR k=v`: config is an override
            overrides, config = [str(config), *(overrides or [])], None
        config, overrides = resume_arguments(resume, config, overrides or [])
    experiment = load_config(config, overrides)
    summary = run_federated(experiment, resume=resume is not None, progress=not quiet)
    console.print(f"run finished after {summary.rounds} rounds -> {summary.run_dir}")
    _print_final(summary.final)


def resume_arguments(
    run_dir: Path, config: Path | None, overrides: list[str]
) -> tuple[Path, list[str]]:
    """`--resume DIR [k=v ...]`: DIR's config.yaml with the overrides, and the run stays in
    DIR — wherever it was first started, or moved since (the run_dir it records is not used)."""
    if config is not None:
        raise ConfigError(
            f"--resume {run_dir}: a resumed run uses {run_dir / 'config.yaml'}; drop {config} "
            "(key=value overrides are accepted)"
        )
    stored = run_dir / "config.yaml"
    if not stored.is_file():
        raise ConfigError(f"--resume {run_dir}: no config.yaml there; is it a run directory?")
    for text in overrides:
        if text.split("=", 1)[0].strip() == "run_dir":
            raise ConfigError(
                f"--resume {run_dir}: override {text!r} would move the run; accepted: none "
                f"(the run continues in {run_dir}; move the directory itself to move it)"
            )
    literal = str(run_dir).replace("{", "{{").replace("}", "}}")  # run_dir is a format string
    return stored, [*overrides, f"run_dir={literal}"]


@user_errors
def train_command(
    config: ConfigArg = None, overrides: OverridesArg = None, quiet: QuietOpt = False
) -> None:
    """Train the centralized baseline: one model on all training speakers."""
    from fedasr.experiment.central import train_centralized

    setup_logging()
    result = train_centralized(load_config(config, overrides), progress=not quiet)
    console.print(f"trained {result.epochs} epochs ({result.seconds:.0f} s) -> {result.run_dir}")
    _print_final(result.final)


def _print_final(record: dict[str, Any]) -> None:
    shown = {k: v for k, v in record.items() if k.endswith(("_wer", "_cer")) and v is not None}
    if shown:
        console.print("  ".join(f"{k} {100 * v:.2f}%" for k, v in shown.items()))


@user_errors
def eval_command(
    model: Annotated[Path, typer.Argument(help="A model file (RUN/model.safetensors).")],
    manifest: Annotated[Path, typer.Argument(help="Manifest to score (needs transcripts).")],
    exit_: Annotated[
        int | None, typer.Option("--exit", help="Decode at this exit (1-based).")
    ] = None,
    entropy: Annotated[
        float | None, typer.Option(help="Pick each utterance's first exit under this mean entropy.")
    ] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Feature cache root.")] = None,
    max_utterances: Annotated[int | None, typer.Option(help="Score only the first N.")] = None,
    beam: Annotated[
        int | None, typer.Option(help="Beam search of this width (needs the `lm` extra).")
    ] = None,
    lm: Annotated[
        Path | None,
        typer.Option(
            help="ARPA word n-gram (`fedasr data lm`) for beam search; implies --beam 32."
        ),
    ] = None,
    alpha: Annotated[float, typer.Option(help="LM weight (with --lm).")] = 0.5,
    beta: Annotated[float, typer.Option(help="Word insertion bonus (with --lm).")] = 1.0,
) -> None:
    """Print WER/CER per exit and per speaker for MODEL on MANIFEST (greedy decoding unless
    --beam or --lm is given)."""
    from fedasr.asr.evaluate import evaluate
    from fedasr.data.batching import SpeechData
    from fedasr.data.feature_cache import load_or_build
    from fedasr.data.validate import load_validated
    from fedasr.models.io import import_model

    setup_logging()
    with tempfile.TemporaryDirectory() as tmp:
        net, tokenizer, mean, std, features = import_model(model, Path(tmp))
    decoder = _beam_decoder(tokenizer, beam, lm, alpha, beta)
    utts, _ = load_validated(
        manifest,
        tokenizer=tokenizer,
        sample_rate=features.sample_rate,
        on_rate_mismatch="resample",
        cache_dir=cache_dir,
    )
    store = load_or_build(manifest, features, cache_root=cache_dir, utterances=utts)
    data = SpeechData(store, {u.id: u.text for u in utts}, tokenizer, mean, std)
    speaker = {u.id: u.speaker for u in utts}
    rows = list(range(len(data)))[:max_utterances] if max_utterances else None
    result = evaluate(
        net,
        data,
        rows,
        depth=exit_,
        groups=[speaker[i] for i in store.ids],
        entropy_threshold=entropy,
        decoder=decoder,
    )
    console.print(f"decoding: {'greedy' if decoder is None else decoder.describe()}")
    table = Table(title=f"{manifest.name}: {len(result.references)} utterances")
    for column in ("exit", "WER %", "CER %"):
        table.add_column(column, justify="right")
    for index, scores in enumerate(result.per_exit, start=1):
        table.add_row(str(index), f"{100 * scores.wer:.2f}", f"{100 * scores.cer:.2f}")
    if result.entropy is not None:
        table.add_row(
            f"entropy<{entropy} (mean exit {result.mean_exit:.2f})",
            f"{100 * result.entropy.wer:.2f}",
            f"{100 * result.entropy.cer:.2f}",
        )
    console.print(table)
    speakers = Table(title="per speaker (deepest exit evaluated)")
    for column in ("speaker", "utterances", "WER %", "CER %"):
        speakers.add_column(column, justify="right")
    for name, scores in result.by_group.items():
        speakers.add_row(
            name, str(scores.utterances), f"{100 * scores.wer:.2f}", f"{100 * scores.cer:.2f}"
        )
    console.print(speakers)


def _beam_decoder(
    tokenizer: Tokenizer, width: int | None, lm: Path | None, alpha: float, beta: float
) -> BeamDecoder | None:
    """None (greedy) unless a beam or an LM was asked for; an LM alone implies the default
    beam width."""
    if width is None and lm is None:
        return None
    from fedasr.asr.beam import DEFAULT_WIDTH, BeamConfig, BeamDecoder

    config = BeamConfig(width=width or DEFAULT_WIDTH, lm=lm, alpha=alpha, beta=beta)
    return BeamDecoder(tokenizer, config)
