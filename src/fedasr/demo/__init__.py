"""`fedasr demo`: the platform's main results in about ten minutes on 2 CPU cores.

One story on a small spoken-digits corpus that the demo synthesizes (30 training speakers, one
client each): federated learning (FedAvg) approaches training on pooled data (centralized);
when a quarter of the clients have bad data, Dynamic Gradient Aggregation (DGA) keeps much of
that accuracy where plain FedAvg loses it; and early exit lets slow devices take part by
training only the first layers, while one shared model serves every tier. Every run has a
fixed number of rounds or epochs, so its results do not depend on how busy the machine is, only
its run time does. The configs are package data (`fedasr/demo/configs/`), so an installed
wheel runs the demo as a checkout does; a finished run is reused, not repeated.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fedasr.config import load_config
from fedasr.data.bundle import ensure_corpus
from fedasr.reproduce.runs import RunSpec, ensure_run

log = logging.getLogger(__name__)

# Report order: the first run is the baseline of the report's WERR and speed-up.
RUNS = ("fedavg", "fedavg_corrupted", "dga_corrupted", "early_exit", "centralized")
LABELS = {
    "fedavg": "FedAvg",
    "fedavg_corrupted": "FedAvg, 8 clients corrupted",
    "dga_corrupted": "FedAvg + DGA, 8 clients corrupted",
    "early_exit": "early exit, 3 device tiers",
    "centralized": "centralized",
}
STORY = (
    "This demo trains a small speech recognizer (a 1.1 M-parameter Conformer with CTC, three "
    "exits) to transcribe spoken digit strings such as 'three seven nine one', on a corpus it "
    "synthesized with three text-to-speech engines: 30 training speakers, each one federated "
    "client that keeps its recordings to itself, and 6 held-out speakers that no run trains on.",
    "Read it as one story. FedAvg: 4 clients a round train on their own utterances and the "
    "server averages their updates; in 30 rounds it goes from 100 % to about 20 % held-out WER "
    "without any recording leaving its client. The centralized run, which sees every speaker's "
    "data in one place (the dashed line), shows what that costs at this budget. FedAvg, 8 "
    "clients corrupted: the same, but 8 of the 30 clients have wrong transcripts or very noisy, "
    "fast speech, and plain averaging lets them drag the model down. FedAvg + DGA: the same "
    "corrupted clients, but each update is weighted by how well the model fits that client's "
    "data, so the corrupted ones count less and more than half of the damage is undone. Early "
    "exit: a third of the clients are slow phones that train only the first 2 of 6 layers "
    "(exit 1), a third mid-range ones (exits 1-2); the 'per exit' figure shows the WER each "
    "kind of device gets from the one shared model.",
)


@dataclass
class DemoResult:
    runs: list[Path]
    report: Path
    seconds: float
    outcomes: dict[str, str]


def demo_configs() -> dict[str, Path]:
    """The demo's configs by run name, from the installed package."""
    folder = resources.files("fedasr.demo") / "configs"
    return {name: Path(str(folder / f"{name}.yaml")) for name in RUNS}


def run_demo(out: Path = Path("runs/demo"), progress: bool = True) -> DemoResult:
    """Train (or reuse) every run of the story in OUT/<name>, then write OUT/report.html."""
    from fedasr.report.build import write_report

    started = time.perf_counter()
    configs = demo_configs()
    specs = {
        name: RunSpec(
            "central" if name == "centralized" else "fl", configs[name], (f"run_dir={out / name}",)
        )
        for name in RUNS
    }
    ensure_corpus(load_config(configs["fedavg"]).data)
    outcomes = {}
    for name in ("centralized", "fedavg", "fedavg_corrupted", "dga_corrupted", "early_exit"):
        log.info("demo: %s (%s)", LABELS[name], specs[name].command())
        outcomes[name] = ensure_run(specs[name], progress=progress)
    runs = [out / name for name in RUNS]
    labels = {out / name: LABELS[name] for name in RUNS}
    report = write_report(runs, out, labels=labels, intro=STORY)
    return DemoResult(runs, report.html, time.perf_counter() - started, outcomes)
