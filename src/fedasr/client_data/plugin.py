"""The client-data plug-in: who may be sampled, and what the round did with pseudo-labels
and corrupted clients.

- Without `client.pseudo_labels`, clients with no transcribed utterance are never sampled
  (the "ignore the unlabelled clients" baseline); with it, they label their audio and train.
- Per round it logs the pseudo-label WER against the hidden truth (`pseudo_label_wer` over
  the kept labels, `pseudo_label_wer_all` over every label made), the kept share, and for
  corrupted clients how many were sampled and the share of the aggregation weight they got
  (which is what DGA is meant to shrink).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fedasr.algorithms.base import ClientReport
from fedasr.engine.plugins import Plugin
from fedasr.errors import ConfigError

if TYPE_CHECKING:
    from fedasr.client_data.plan import ClientDataPlan


class ClientDataPlugin(Plugin):
    name = "client_data"

    def __init__(self, plan: ClientDataPlan, clients: int, pseudo_labels: bool) -> None:
        self.pseudo_labels = pseudo_labels
        self.untranscribed, self.corrupted = plan.untranscribed, frozenset(plan.quality)
        self.hidden = plan.hidden
        if not pseudo_labels and len(self.untranscribed) == clients:
            raise ConfigError(
                "no client has a transcribed utterance: set client.pseudo_labels, or hide "
                "fewer transcripts (partition.hide_transcripts)"
            )

    def eligible(self, round_index: int, clients: list[int]) -> list[int]:
        if self.pseudo_labels:
            return clients
        return [c for c in clients if c not in self.untranscribed]

    def round_metrics(self, round_index: int, reports: Sequence[ClientReport]) -> dict[str, Any]:
        metrics = pseudo_label_metrics(reports) if self.pseudo_labels else {}
        if self.corrupted:
            metrics.update(corrupted_metrics(reports, self.corrupted))
        return metrics


def _total(reports: Sequence[ClientReport], key: str) -> float:
    return sum(report.stats.get(key, 0.0) for report in reports)


def pseudo_label_metrics(reports: Sequence[ClientReport]) -> dict[str, Any]:
    labelled = _total(reports, "pl_utterances")
    if labelled == 0:
        return {}
    words, kept_words = _total(reports, "pl_ref_words"), _total(reports, "pl_kept_ref_words")
    return {
        "pseudo_label_utterances": labelled,
        "pseudo_label_kept_share": _total(reports, "pl_kept") / labelled,
        "pseudo_label_wer": _total(reports, "pl_kept_errors") / kept_words if kept_words else None,
        "pseudo_label_wer_all": _total(reports, "pl_errors") / words if words else None,
    }


def corrupted_metrics(reports: Sequence[ClientReport], corrupted: frozenset[str]) -> dict[str, Any]:
    """How many corrupted clients were sampled, and their share of the aggregation weight."""
    ok = [r for r in reports if r.ok and np.isfinite(r.log_weight)]
    metrics: dict[str, Any] = {"corrupted_sampled": sum(r.client_id in corrupted for r in reports)}
    if ok:
        logs = np.array([r.log_weight for r in ok])
        shares = np.exp(logs - np.logaddexp.reduce(logs))
        bad = np.array([r.client_id in corrupted for r in ok])
        metrics["corrupted_weight_share"] = float(shares[bad].sum())
    return metrics
