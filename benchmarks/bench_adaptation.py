"""Adaptation (transfer learning): a model trained centrally on half of the training speakers
is adapted federatedly to the other half, with and without server replay on the first half's
data. Prints the WER of every model on the adapted speakers' test utterances, on the held-out
speakers and on the pretraining speakers' test utterances, and the WERR against the unadapted
model.

    python -m benchmarks.bench_adaptation --corpus CORPUS --out runs/bench_adapt

CORPUS is a built corpus (`fedasr data synth`). The run in docs/results/dga.md: `--corpus
corpora/digits --out runs/bench_adapt_digits`, then the same with `--replay-lr 0.0001`.
`--set KEY=VALUE ...` adds config overrides to every run (the pretraining too); `--lock PATH`
takes turns with other heavy jobs on a shared machine (see fl_bench.py).

The halves alternate over the sorted speaker ids (espeak, festival and flite voices in both).
They are written as manifests with absolute audio paths under OUT/a and OUT/b (train, test =
those speakers' test utterances, heldout = the held-out speakers). The pretraining is run once;
the federated adaptation once per `--seeds` (cohorts, data order, dropout), with and without
replay (runs OUT/adapt-sSEED and OUT/adapt_replay-lrLR-stepsN-sSEED; complete runs are read
back, so a second call with another `--replay-lr` trains only the replay arm).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from benchmarks.fl_bench import (
    REPO,
    add_lock_argument,
    add_set_argument,
    heavy_lock,
    markdown_table,
    run_once,
    spread,
)
from fedasr.asr.evaluate import evaluate
from fedasr.config import load_config
from fedasr.data.batching import SpeechData
from fedasr.data.feature_cache import load_or_build
from fedasr.data.manifest import audio_path, read_manifest, write_manifest
from fedasr.data.validate import load_validated
from fedasr.experiment.central import train_centralized
from fedasr.models.io import import_model
from fedasr.report.metrics import werr

SPLITS = ("train", "test", "heldout")
UNADAPTED = "unadapted (central on half A)"


def split_halves(corpus: Path, out: Path) -> tuple[Path, Path]:
    speakers = sorted({u.speaker for u in read_manifest(corpus / "train.jsonl")})
    halves = {"a": set(speakers[0::2]), "b": set(speakers[1::2])}
    for half, members in halves.items():
        for split in SPLITS:
            manifest = corpus / f"{split}.jsonl"
            utts = [
                dataclasses.replace(u, audio=str(audio_path(manifest, u).resolve()))
                for u in read_manifest(manifest)
                if split == "heldout" or u.speaker in members
            ]
            target = out / half / f"{split}.jsonl"
            if not target.is_file():
                write_manifest(target, utts)
    return out / "a", out / "b"


def pretrain(half: Path, out: Path, args: argparse.Namespace) -> Path:
    model = out / "pretrain" / "model.safetensors"
    if model.is_file():
        return model
    config = load_config(
        REPO / "configs" / "centralized.yaml",
        [f"data.corpus={half}", "data.synth_if_missing=null", f"run_dir={out / 'pretrain'}",
         "name=pretrain", f"central.epochs={args.epochs}", "central.time_budget_min=null",
         "central.eval_every_epochs=5", "client.batch_seconds=15", "client.lr=0.003",
         "client.threads=2", "eval.max_utterances=null", "logging.tensorboard=false",
         *args.set],
    )  # fmt: skip
    with heavy_lock(args.lock):
        result = train_centralized(config, progress=False)
    print(f"  pretrained {result.epochs} epochs in {result.seconds:.0f} s", flush=True)
    return model


def adapt(
    b: Path, a: Path, model: Path, out: Path, args: argparse.Namespace, seed: int
) -> dict[str, Path]:
    common = [
        f"data.corpus={b}", "data.synth_if_missing=null", f"model.init_from={model}",
        f"client.lr={args.client_lr}", f"rounds.total={args.rounds}", "rounds.clients_per_round=8",
        f"eval.every={args.rounds}", "eval.max_utterances=null", f"executor.workers={args.workers}",
        "logging.tensorboard=false", "logging.checkpoint_every=10", f"seed={seed}", *args.set,
    ]  # fmt: skip
    replay = (
        f"server.replay={{manifest: {(a / 'train.jsonl').resolve()}, "
        f"steps: {args.replay_steps}, lr: {args.replay_lr}, trainable: all}}"
    )
    tag = f"lr{args.replay_lr:g}-steps{args.replay_steps}"
    variants = {
        "FL adaptation": ("adapt", []),
        f"FL adaptation + server replay ({args.replay_steps} steps, lr {args.replay_lr:g})": (
            f"adapt_replay-{tag}", [replay]),
    }  # fmt: skip
    runs = {}
    with heavy_lock(args.lock):  # two short runs, one turn on the machine
        for label, (name, extra) in variants.items():
            run_name = f"{name}-s{seed}"
            run_dir, _ = run_once(
                REPO / "configs" / "fedavg.yaml",
                [*common, *extra, f"name={run_name}", f"run_dir={out / run_name}"],
            )
            runs[label] = run_dir / "model.safetensors"
    return runs


def wer_of(model_file: Path, manifest: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        model, tokenizer, mean, std, features = import_model(model_file, Path(tmp))
    utts, _ = load_validated(manifest, tokenizer=tokenizer, sample_rate=features.sample_rate)
    store = load_or_build(manifest, features, utterances=utts, progress=False)
    data = SpeechData(store, {u.id: u.text for u in utts}, tokenizer, mean, std)
    return evaluate(model, data).final.wer


def report(wers: dict[str, list[dict[str, float]]], sets: list[str], seeds: list[int]) -> None:
    """Median (min–max) over the seeds of each model's WER and its WERR against the
    unadapted model (one model: the pretraining does not depend on the federated seed)."""
    (base,) = wers[UNADAPTED]
    rows, raw = [], []
    for label, per_seed in wers.items():
        cells = []
        for s in sets:
            values = [100 * w[s] for w in per_seed]
            gains = [100 * (werr(base[s], w[s]) or 0.0) for w in per_seed]
            cells.append(f"{spread(values, '{:.1f}')}; WERR {spread(gains, '{:+.1f} %')}")
        rows.append([label, *cells])
        if label != UNADAPTED:
            raw.append([label, *(" / ".join(f"{100 * w[s]:.1f}" for s in sets) for w in per_seed)])
    print(
        f"\nWER % ({len(seeds)} federated seeds: median (min–max)) "
        "and WERR vs the unadapted model\n"
    )
    print(markdown_table(["model", *sets], rows))
    print(f"\nper seed: WER % on {' / '.join(sets)}\n")
    print(markdown_table(["model", *(f"seed {s}" for s in seeds)], raw))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="a built corpus")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_adapt"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--client-lr", type=float, default=0.001)
    parser.add_argument("--replay-steps", type=int, default=5)
    parser.add_argument("--replay-lr", type=float, default=0.001)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    add_set_argument(parser)
    add_lock_argument(parser)
    args = parser.parse_args()
    a, b = split_halves(args.corpus, args.out)
    pretrained = pretrain(a, args.out, args)
    models: dict[str, list[Path]] = {UNADAPTED: [pretrained]}
    for seed in args.seeds:
        for label, path in adapt(b, a, pretrained, args.out, args, seed).items():
            models.setdefault(label, []).append(path)
    sets = {"B test (adapted)": b / "test.jsonl", "held-out": b / "heldout.jsonl",
            "A test (pretraining)": a / "test.jsonl"}  # fmt: skip
    with heavy_lock(args.lock):
        wers = {label: [{s: wer_of(path, manifest) for s, manifest in sets.items()}
                        for path in paths] for label, paths in models.items()}  # fmt: skip
    report(wers, list(sets), args.seeds)


if __name__ == "__main__":
    main()
