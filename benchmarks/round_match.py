"""How many rounds a reference run needed to get where other runs ended (the "FedAvg's round"
columns of docs/benchmarks.md), and when each run first reached given held-out WERs.

    python -m benchmarks.round_match --ref runs/server_ablation/e1-fedavg-adamw \\
        runs/server_ablation/e1-adam-adamw-s01 runs/server_ablation/e1-yogi-adamw-s01
    python -m benchmarks.round_match --ref RUN RUN [RUN ...] --wer 30 20 14.6

Per run: final and best held-out WER, the training loss per frame over its last WINDOW rounds
(mean), the first round at which the reference's WINDOW-round running mean of that loss was as
low (n/r: never), and the rounds to each `--wer` target (held-out WER %, evaluation rounds only).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from benchmarks.fl_bench import markdown_table
from fedasr.report.metrics import Point, best_point, final_point, load_run, rounds_to_reach, series

LOSS = "train_loss_per_frame"
WER = "heldout_wer"
WINDOW = 5


def running_mean(points: list[Point], window: int) -> list[Point]:
    """Each round's mean over it and the window - 1 rounds before it (fewer at the start)."""
    values = [p.value for p in points]
    return [
        Point(p.step, statistics.fmean(values[max(0, i - window + 1) : i + 1]))
        for i, p in enumerate(points)
    ]


def round_at_loss(reference: list[Point], loss: float) -> str:
    return next((str(p.step) for p in reference if p.value <= loss), "n/r")


def row(path: Path, reference: list[Point], targets: list[float]) -> list[str]:
    records = load_run(path).records
    final, best = final_point(records, WER), best_point(records, WER)
    losses = running_mean(series(records, LOSS), WINDOW)
    last = losses[-1].value if losses else float("nan")
    reached = [rounds_to_reach(records, WER, t / 100) for t in targets]
    return [
        path.name,
        f"{100 * final.value:.1f}" if final else "—",
        f"{100 * best.value:.1f}" if best else "—",
        f"{last:.3f}",
        round_at_loss(reference, last),
        *("n/r" if r is None else str(r) for r in reached),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", type=Path, required=True, help="the reference run (FedAvg)")
    parser.add_argument(
        "--wer",
        type=float,
        nargs="*",
        default=[],
        help="held-out WER targets in %% (rounds to reach each)",
    )
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    reference = running_mean(series(load_run(args.ref).records, LOSS), WINDOW)
    targets = [f"rounds to {t:g} %" for t in args.wer]
    header = ["run", "final held-out WER %", "best", f"loss, last {WINDOW} rounds",
              "reference's round at this loss", *targets]  # fmt: skip
    rows = [row(path, reference, args.wer) for path in [args.ref, *args.runs]]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
