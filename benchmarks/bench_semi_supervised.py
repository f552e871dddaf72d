"""Semi-supervised clients: the transcripts of half of the clients are hidden, and their audio is
either ignored (those clients are never sampled) or pseudo-labelled by the current global model
(greedy CTC, confidence-filtered). A third arm keeps every transcript (the upper bound).

    python -m benchmarks.bench_semi_supervised --corpus runs/bench_adapt/b \\
        --init-from runs/bench_adapt/pretrain/model.safetensors --out runs/bench_semi

Pseudo-labels need a model that is already somewhat right, so the documented run starts from
bench_adaptation.py's model, trained centrally on the other half of the speakers (a seed model
trained on labelled data, then federated training with unlabelled clients): its --out holds
both the clients' half (OUT/b) and that model. Without --init-from the runs start from
scratch. `--set KEY=VALUE ...` adds config overrides to every run; `--lock PATH` takes turns
with other heavy jobs on a shared machine (see fl_bench.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.fl_bench import (
    REPO,
    add_lock_argument,
    add_set_argument,
    finished,
    heavy_lock,
    markdown_table,
    run_once,
    spread,
)
from fedasr.client_data.plan import HIDE_SALT, choose_clients, client_order
from fedasr.client_data.schema import HideTranscripts
from fedasr.config import load_config
from fedasr.data.manifest import read_manifest
from fedasr.report.metrics import Run, best_point, final_point, load_run, series

METRIC = "heldout_wer"


def variants(args: argparse.Namespace) -> dict[str, list[str]]:
    """The pseudo-label arms come last, one per `--score` (their run names follow that order)."""
    hide = f"partition.hide_transcripts={{share: {args.hide}}}"
    arms = {
        "every transcript known": [],
        f"{args.hide:.0%} of clients unlabelled, ignored": [hide],
    }
    for score in args.score:
        pseudo = f"client.pseudo_labels={{threshold: {args.threshold}, score: {score}}}"
        arms[f"{args.hide:.0%} unlabelled, pseudo-labels ({score} >= {args.threshold})"] = [
            hide,
            pseudo,
        ]
    return arms


def common(args: argparse.Namespace) -> list[str]:
    init = [f"model.init_from={args.init_from}"] if args.init_from else []
    return [
        f"data.corpus={args.corpus}", "data.synth_if_missing=null", *init,
        f"client.lr={args.client_lr}", f"rounds.total={args.rounds}",
        f"eval.every={args.eval_every}", "eval.splits=[test, heldout]", "eval.max_utterances=null",
        "eval.per_client=true",
        f"executor.workers={args.workers}", "logging.tensorboard=false",
        "logging.checkpoint_every=10", *args.set,
    ]  # fmt: skip


def run_all(args: argparse.Namespace) -> dict[str, list[Run]]:
    base = REPO / "configs" / "fedavg.yaml"
    runs: dict[str, list[Run]] = {}
    for seed in args.seeds:  # one turn on the lock per seed: three short runs
        group = {
            label: [*common(args), *extra, f"seed={seed}", f"name=semi{index}-s{seed}",
                    f"run_dir={args.out / f'semi{index}-s{seed}'}"]
            for index, (label, extra) in enumerate(variants(args).items())
        }  # fmt: skip
        todo = [o for o in group.values() if not finished(load_config(base, o))]
        with heavy_lock(args.lock if todo else None):
            for label, overrides in group.items():
                run_dir, _ = run_once(base, overrides)
                runs.setdefault(label, []).append(load_run(run_dir, label))
    return runs


def mean_of(run: Run, key: str) -> float | None:
    points = series(run.records, key)
    return sum(p.value for p in points) / len(points) if points else None


def hidden_speakers(corpus: Path, seed: int, share: float) -> list[str]:
    """The clients (speakers) a run with this seed hid, as the run itself chose them."""
    ids = sorted({u.speaker for u in read_manifest(corpus / "train.jsonl")})
    order = client_order(ids, seed, HIDE_SALT)
    return choose_clients(HideTranscripts(share=share), ids, order, set(), "hide")


def unlabelled_speakers_wer(run: Run, speakers: list[str]) -> float | None:
    """Mean over the hidden clients' speakers of their final test WER."""
    per_speaker = run.records[-1].get("test_wer_per_speaker") or {}
    values = [per_speaker[s] for s in speakers if s in per_speaker]
    return 100 * sum(values) / len(values) if values else None


def summary_row(label: str, members: list[Run], hidden: list[list[str]]) -> list[str]:
    finals = {k: [100 * p.value for r in members if (p := final_point(r.records, k))]
              for k in ("test_wer", METRIC)}  # fmt: skip
    own = [unlabelled_speakers_wer(r, h) for r, h in zip(members, hidden, strict=True)]
    bests = [100 * p.value for r in members if (p := best_point(r.records, METRIC))]
    pl_wer = [100 * v for r in members if (v := mean_of(r, "pseudo_label_wer")) is not None]
    kept = [100 * v for r in members if (v := mean_of(r, "pseudo_label_kept_share")) is not None]
    flops = [r.records[-1]["cumulative"]["flops"] / 1e12 for r in members]
    return [
        label, spread(finals["test_wer"], "{:.1f}"), spread(own, "{:.1f}"),
        spread(finals[METRIC], "{:.1f}"),
        spread(bests, "{:.1f}"), spread(pl_wer, "{:.1f}") if pl_wer else "—",
        spread(kept, "{:.0f} %") if kept else "—", spread(flops, "{:.1f}"),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, required=True,
        help="the clients' corpus, e.g. bench_adaptation's OUT/b",
    )  # fmt: skip
    parser.add_argument(
        "--init-from", type=Path, default=None,
        help="the starting model, e.g. bench_adaptation's OUT/pretrain/model.safetensors; "
        "default: a seeded initialization",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("runs/bench_semi"))
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--client-lr", type=float, default=0.001)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--hide", type=float, default=0.5)
    parser.add_argument("--threshold", type=float, default=0.85)
    parser.add_argument(
        "--score", nargs="+", default=["confidence"],
        help="one pseudo-label arm per score: confidence, token_confidence",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=2)
    add_set_argument(parser)
    add_lock_argument(parser)
    args = parser.parse_args()
    runs = run_all(args)
    header = ["clients' data", "final test WER % (the clients' speakers)",
              "… of the unlabelled clients' speakers (mean per speaker)",
              "final held-out WER %", "best held-out WER %",
              "pseudo-label WER % (kept; mean over rounds)", "kept share (mean over rounds)",
              "client TFLOPs"]  # fmt: skip
    print(f"\n{len(args.seeds)} seeds: median (min–max)\n")
    hidden = [hidden_speakers(args.corpus, seed, args.hide) for seed in args.seeds]
    rows = [summary_row(label, members, hidden) for label, members in runs.items()]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
