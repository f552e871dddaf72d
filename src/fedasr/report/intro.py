"""The report's first screen in plain words: what each run trained, on what data, what the
table and each figure show, and notes on methods with a known caveat.

Everything here is read from the runs' resolved config.yaml, so any report gets it, not only the
demo's (which adds its own story on top: `write_report(intro=...)`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fedasr.report.metrics import Run

# Where the evidence for a caveat lives, as a path in the repository (the report is a single
# offline file: no links out).
SERVER_ADAPTIVE_NOTE = (
    "{runs}: server {optimizer} on the pseudo-gradient. On this platform's corpora it learns far "
    "slower than FedAvg (server SGD, lr 1) with the same clients; docs/benchmarks.md, section "
    "'Why server Adam loses here: an ablation', takes the server update apart and says why."
)
ADAPTIVE_SERVERS = ("adam", "yogi", "adagrad", "momentum")

TABLE_TEXT = (
    "The table has one column per run and one row per measure. Test WER is measured on new "
    "sentences of the speakers the runs trained on, held-out WER on speakers no run saw; lower "
    "is better, and above 100 % means more inserted words than reference words. 'best' is the "
    "lowest value logged (with the round r or epoch e), 'final' the last. The first run is the "
    "baseline: 'rounds to target' counts rounds until a run first reaches the target WER, "
    "'speed-up' is the baseline's rounds to it ÷ the run's, and WERR is the relative WER "
    "reduction from the baseline's best to the run's best (negative: worse). Costs are totals "
    "over the run: bytes sent to and from clients, client FLOPs, audio hours trained on."
)

FIGURE_TEXT = {
    "wer_vs_round": "Each solid line is a federated run's WER after each evaluated round. Each "
    "dashed line is a centralized run's best WER: the level federated training is chasing.",
    "wer_vs_epoch": "Centralized runs (all training data in one place): WER after each epoch.",
    "wer_vs_bytes": "The same WER curves against the bytes clients downloaded and uploaded so "
    "far: which run gets furthest for the traffic.",
    "wer_vs_flops": "WER against the compute spent on the clients so far.",
    "wer_vs_examples": "WER against utterances processed by clients so far (an utterance "
    "trained in two local epochs counts twice).",
    "wer_vs_sim_hours": "WER against simulated wall-clock time of a device fleet: a round lasts "
    "as long as its slowest sampled client takes to download, train and upload.",
    "loss": "The training loss (CTC per audio frame) the clients or the centralized trainer "
    "saw. Clients with wrong transcripts keep it high.",
    "per_exit_wer": "Final WER at each exit of the model: exit 1 is after the first layers, the "
    "last exit after all of them. With early exit, a slow device runs only up to its exit.",
}


def describe_runs(runs: Sequence[Run]) -> list[str]:
    """One plain sentence per run: method, clients, budget, data and model."""
    return [f"{run.label}: {describe(run.config, run.centralized)}" for run in runs]


def describe(config: Mapping[str, Any], centralized: bool) -> str:
    if not config:
        return "no config.yaml, so nothing is known about how it was trained."
    data = _section(config, "data")
    model = _section(config, "model")
    where = f"corpus {data.get('corpus', '?')}, model preset {model.get('preset', '?')}"
    how = _centralized(config) if centralized else _federated(config)
    return f"{how}; {where}."


def method_notes(runs: Sequence[Run]) -> list[str]:
    """Caveats a reader should know before comparing curves."""
    by_optimizer: dict[str, list[str]] = {}
    for run in runs:
        optimizer = _section(run.config, "server").get("optimizer")
        if optimizer in ADAPTIVE_SERVERS and not run.centralized:
            by_optimizer.setdefault(str(optimizer), []).append(run.label)
    return [
        SERVER_ADAPTIVE_NOTE.format(runs=", ".join(labels), optimizer=optimizer.capitalize())
        for optimizer, labels in by_optimizer.items()
    ]


def _centralized(config: Mapping[str, Any]) -> str:
    central, client = _section(config, "central"), _section(config, "client")
    return (
        f"centralized: one model on all training utterances pooled, "
        f"{central.get('epochs', '?')} epochs of {client.get('optimizer', '?')} at lr "
        f"{client.get('lr', '?')}"
    )


def _federated(config: Mapping[str, Any]) -> str:
    algorithm, server = _section(config, "algorithm"), _section(config, "server")
    rounds, client = _section(config, "rounds"), _section(config, "client")
    partition = _section(config, "partition")
    method = str(algorithm.get("name", "fedavg"))
    if method == "dga":
        method = f"DGA (beta {algorithm.get('beta', '?')})"
    parts = [
        f"federated: {method}, server {server.get('optimizer', '?')} at lr {server.get('lr', '?')}",
        f"{rounds.get('clients_per_round', '?')} clients a round "
        f"({partition.get('scheme', '?')} partition), {rounds.get('total', '?')} rounds",
        f"{client.get('local_epochs', '?')} local epoch(s) of {client.get('optimizer', '?')} at "
        f"lr {client.get('lr', '?')}",
    ]
    corrupt = partition.get("corrupt") or []
    if corrupt:
        share = sum(float(group.get("share") or 0) for group in corrupt)
        parts.append(
            f"about {share:.0%} of the clients have corrupted data"
            if share
            else "some clients have corrupted data"
        )
    tiers = _section(config, "devices").get("tiers")
    if isinstance(tiers, Mapping) and tiers:
        parts.append(f"device tiers {', '.join(tiers)}, each training up to the exit it affords")
    return "; ".join(parts)


def _section(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = config.get(key)
    return value if isinstance(value, Mapping) else {}
