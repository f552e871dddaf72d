"""Privacy accounting for client-level DP, through Google's `dp-accounting` library.

One round of DP-FedAvg is a sampled Gaussian mechanism on the clients: the cohort is a sample
of the population, and the sum of clipped updates gets Gaussian noise of std z · C. Its
guarantee is client-level (a neighbouring dataset adds, removes or replaces one client's
entire data). Two cohort models, two neighbour relations:

    poisson     each client joins a round with probability q = cohort / population (the
                textbook DP-FedAvg assumption; add-or-remove-one adjacency, noise z)
    fixed_size  exactly `cohort` clients drawn without replacement, as fedasr samples
                (replace-one adjacency, so the sum's sensitivity is 2C: noise z / 2 relative
                to it; Wang, Balle and Kasiviswanathan 2019). More conservative.

The RDP accountant (Mironov 2017, with the improved RDP-to-(ε, δ) conversion of Canonne et
al. 2020) handles both; the PLD accountant (tighter, Poisson only) is there for comparison.
Local DP (each client noises its own update) gets no amplification from sampling: a client's
ε composes over the rounds it took part in, with sensitivity 2C.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from fedasr.errors import MissingExtraError

Sampling = Literal["fixed_size", "poisson"]
MIN_NOISE = 0.05  # noise_multiplier_for searches above this (below it ε is astronomical)
AccountantKind = Literal["rdp", "pld"]


def _dp() -> Any:
    try:
        import dp_accounting
    except ImportError:  # pragma: no cover - depends on the install
        raise MissingExtraError("privacy accounting", "privacy", "dp-accounting") from None
    return dp_accounting


@dataclass(frozen=True)
class Cohort:
    """Who takes part in a round, as the accountant needs it."""

    population: int
    size: int
    sampling: Sampling = "fixed_size"

    def __post_init__(self) -> None:
        if not 0 < self.size <= self.population:
            raise ValueError(
                f"cohort size {self.size} must be in 1..population ({self.population})"
            )

    @property
    def rate(self) -> float:
        return self.size / self.population


def default_delta(population: int) -> float:
    """δ = 1 / population^1.1, McMahan et al. 2018's choice (below 1 / population)."""
    return float(population) ** -1.1


def round_event(noise_multiplier: float, cohort: Cohort) -> Any:
    """The DpEvent of one round of DP-FedAvg."""
    dp = _dp()
    if cohort.sampling == "poisson":
        return dp.PoissonSampledDpEvent(cohort.rate, dp.GaussianDpEvent(noise_multiplier))
    inner = dp.GaussianDpEvent(noise_multiplier / 2)  # replace-one: sensitivity 2C
    return dp.SampledWithoutReplacementDpEvent(cohort.population, cohort.size, inner)


def fresh_accountant(kind: AccountantKind, cohort: Cohort) -> Any:
    dp = _dp()
    if kind == "pld":
        if cohort.sampling != "poisson":
            raise ValueError("the PLD accountant supports poisson sampling only; use rdp")
        return dp.pld.PLDAccountant()
    relation = (
        dp.NeighboringRelation.ADD_OR_REMOVE_ONE
        if cohort.sampling == "poisson"
        else dp.NeighboringRelation.REPLACE_ONE
    )
    return dp.rdp.RdpAccountant(neighboring_relation=relation)


def epsilon(
    noise_multiplier: float,
    rounds: int,
    cohort: Cohort,
    delta: float,
    kind: AccountantKind = "rdp",
) -> float:
    """ε after `rounds` rounds at noise multiplier z (inf for z = 0 and rounds > 0)."""
    if rounds == 0:
        return 0.0
    accountant = fresh_accountant(kind, cohort)
    accountant.compose(round_event(noise_multiplier, cohort), rounds)
    return float(accountant.get_epsilon(delta))


def noise_multiplier_for(
    target_epsilon: float,
    rounds: int,
    cohort: Cohort,
    delta: float,
    kind: AccountantKind = "rdp",
) -> float:
    """The smallest z whose `rounds` rounds spend at most `target_epsilon` (the library's
    Brent search over z), rounded up in the 4th decimal so it stays on the safe side."""
    dp = _dp()
    z = dp.calibrate_dp_mechanism(
        lambda: fresh_accountant(kind, cohort),
        lambda noise: dp.SelfComposedDpEvent(round_event(noise, cohort), rounds),
        target_epsilon,
        delta,
        # z = 0 (the library's default lower end) divides by zero for fixed-size sampling
        bracket_interval=dp.LowerEndpointAndGuess(MIN_NOISE, 1.0),
        tol=1e-5,
    )
    return float(np.ceil(float(z) * 1e4) / 1e4)


def local_epsilon(noise_multiplier: float, participations: int, delta: float) -> float:
    """Local DP: one client's ε after sending `participations` noised updates, each a Gaussian
    mechanism on its clipped update (sensitivity 2C: any two updates in the ball differ by at
    most 2C; no amplification, the output is attributed to the client)."""
    return local_epsilon_of([noise_multiplier] * participations, delta)


def local_epsilon_of(noise_multipliers: Sequence[float], delta: float) -> float:
    """`local_epsilon` of updates sent at these noise multipliers (one per participation)."""
    if not noise_multipliers:
        return 0.0
    dp = _dp()
    accountant = dp.rdp.RdpAccountant()
    history = list(noise_multipliers)
    for z in sorted(set(history)):
        accountant.compose(dp.GaussianDpEvent(z / 2), history.count(z))
    return float(accountant.get_epsilon(delta))


@dataclass
class PrivacyLedger:
    """The noise multiplier of every round so far, and the (ε, δ) they add up to. Its state is
    that list, so a resumed run recomputes exactly the ε of the uninterrupted one."""

    cohort: Cohort
    delta: float
    kind: AccountantKind = "rdp"
    noise_multipliers: list[float] = field(default_factory=list)

    def record(self, noise_multiplier: float) -> float:
        """Add one round; return ε so far."""
        self.noise_multipliers.append(float(noise_multiplier))
        return self.epsilon()

    def epsilon(self, extra_rounds: Sequence[float] = ()) -> float:
        """ε of the recorded rounds plus `extra_rounds` (noise multipliers) not yet run."""
        history = [*self.noise_multipliers, *extra_rounds]
        if not history:
            return 0.0
        return self._rdp_epsilon(history) if self.kind == "rdp" else self._pld_epsilon(history)

    def _rdp_epsilon(self, history: list[float]) -> float:
        """RDP adds up order by order: one cached curve per distinct z, scaled by its count."""
        orders, curve = _rdp_orders(), np.zeros(len(_rdp_orders()))
        for z in set(history):
            curve += history.count(z) * _rdp_curve(z, self.cohort)
        rdp = _dp().rdp.rdp_privacy_accountant
        return float(rdp.compute_epsilon(orders, curve, self.delta)[0])

    def _pld_epsilon(self, history: list[float]) -> float:
        fresh_accountant("pld", self.cohort)  # the same check: PLD needs poisson sampling
        total: Any = None
        for z in sorted(set(history)):  # one cached round per z, self-composed by FFT
            part = _pld_round(z, self.cohort).self_compose(history.count(z))
            total = part if total is None else total.compose(part)
        return float(total.get_epsilon_for_delta(self.delta))

    def would_exceed(self, target_epsilon: float, noise_multiplier: float) -> bool:
        """Whether one more round at this noise would take ε past the target."""
        return self.epsilon([noise_multiplier]) > target_epsilon


def _rdp_orders() -> list[float]:
    return list(_dp().rdp.RdpAccountant().orders)


@functools.lru_cache(maxsize=64)
def _rdp_curve(noise_multiplier: float, cohort: Cohort) -> np.ndarray:
    """RDP of one round at each order of the accountant's default grid."""
    accountant = fresh_accountant("rdp", cohort)
    accountant.compose(round_event(noise_multiplier, cohort))
    return np.asarray(accountant.rdp, dtype=np.float64)


@functools.lru_cache(maxsize=16)
def _pld_round(noise_multiplier: float, cohort: Cohort) -> Any:
    """The privacy-loss distribution of one Poisson-sampled round (what PLDAccountant builds,
    at its default discretisation), built once per noise multiplier."""
    pld = _dp().pld.privacy_loss_distribution
    return pld.from_gaussian_mechanism(
        noise_multiplier, sensitivity=1.0, sampling_prob=cohort.rate,
        value_discretization_interval=1e-4,
    )  # fmt: skip
