"""Dynamic Gradient Aggregation (DGA): FedAvg whose client weights come from the clients' data.

Dimitriadis et al., "Federated Transfer Learning with Dynamic Gradient Aggregation" (arXiv
2008.02452) and the FLUTE platform weight client k's pseudo-gradient Δ_k by

    w_k = min(cap, exp(-beta * s_k)),      g = Σ_k w_k Δ_k / Σ_k w_k,

a softmax over the cohort of -beta * s_k (the normalization happens in the aggregate), and hand
g to any server optimizer. The statistic s_k (`algorithm.statistic`) is one of:

    loss        L_k / n_k: the client's summed training CTC loss over its local steps, divided
                by the frames it trained on (`loss_per: frames`, default) or its utterances
                (`loss_per: utterances`). The paper's choice.
    mean        (1/D) Σ_i Δ_k,i                      the mean coordinate of Δ_k
    magnitude   sqrt((1/D) Σ_i Δ_k,i²)               the root mean square of Δ_k (‖Δ_k‖₂ / √D)
    variance    (1/D) Σ_i Δ_k,i² - mean²             the population variance of Δ_k's coordinates

over the D coordinates the client sent. The paper names the Δ statistics but not their
formulas: these three are our definitions. They are small numbers (Δ is a few 1e-3 per
coordinate after one local epoch), so a useful beta for them is orders of magnitude larger than
for the loss. A non-finite statistic gives weight 0: the client is left out and reported
(FedAvgClient.fold), as FLUTE does. The cap (FLUTE: 100) only binds for negative statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from fedasr.algorithms.aggregate import log_weight_dga

if TYPE_CHECKING:
    from fedasr.algorithms.base import ClientResult

Statistic = Literal["loss", "mean", "magnitude", "variance"]


class DGAOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    beta: float = Field(1.0, ge=0)
    statistic: Statistic = "loss"
    loss_per: Literal["frames", "utterances"] = "frames"
    cap: float | None = Field(100.0, gt=0)  # on the raw weight exp(-beta * s); null: no cap


def mean_loss(result: ClientResult, per: str) -> float:
    """L_k / n_k; infinite when the client trained on nothing (its weight becomes 0)."""
    count = result.frames if per == "frames" else result.examples
    return result.loss_sum / count if count > 0 else math.inf


def delta_statistic(delta: torch.Tensor, statistic: str) -> float:
    """mean, magnitude (RMS) or variance of the pseudo-gradient's coordinates, in float64."""
    values = delta.to(torch.float64)
    if values.numel() == 0:
        return math.inf
    mean = float(values.mean())
    mean_square = float((values * values).mean())
    if statistic == "mean":
        return mean
    if statistic == "magnitude":
        return math.sqrt(mean_square)
    return max(mean_square - mean * mean, 0.0)  # variance; rounding must not make it negative


def client_statistic(result: ClientResult, statistic: str, loss_per: str = "frames") -> float:
    if statistic == "loss":
        return mean_loss(result, loss_per)
    if result.delta is None:
        return math.inf
    return delta_statistic(result.delta, statistic)


@dataclass(frozen=True)
class DGAWeighting:
    """log w_k of a client result (FedAvg's weighting)."""

    options: DGAOptions

    def __call__(self, result: ClientResult) -> float:
        options = self.options
        statistic = client_statistic(result, options.statistic, options.loss_per)
        return log_weight_dga(statistic, options.beta, options.cap)
