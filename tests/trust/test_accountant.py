"""The privacy accountant (Google's dp-accounting) against published values."""

from __future__ import annotations

import itertools
import math

import dp_accounting
import numpy as np
import pytest

from fedasr.trust.accountant import (
    Cohort,
    PrivacyLedger,
    default_delta,
    epsilon,
    fresh_accountant,
    local_epsilon,
    noise_multiplier_for,
    round_event,
)


def classical_epsilon(orders: np.ndarray, rdp: np.ndarray, delta: float) -> float:
    """The RDP-to-(ε, δ) conversion the published numbers below used (Mironov 2017,
    Proposition 3): min over orders of rdp + log(1/δ) / (α − 1). The library now uses the
    tighter conversion of Canonne et al. 2020, so its own ε must be at most this."""
    return float(np.min(rdp + math.log(1 / delta) / (orders - 1)))


def rdp_curve(q: float, z: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    accountant = fresh_accountant("rdp", Cohort(1_000_000, round(q * 1_000_000), "poisson"))
    accountant.compose(round_event(z, Cohort(1_000_000, round(q * 1_000_000), "poisson")), steps)
    return np.asarray(accountant.orders), np.asarray(accountant.rdp)


@pytest.mark.parametrize(
    ("q", "z", "steps", "published"),
    [
        # Abadi et al., "Deep Learning with Differential Privacy" (CCS 2016), Section 3.1:
        # "with q = 0.01, σ = 4, δ = 10^-5, and T = 10000, we have ε ≈ 1.26 using the
        # moments accountant".
        (0.01, 4.0, 10_000, 1.26),
        # TensorFlow Privacy, tutorials/README.md, "Select Parameters" table (MNIST, 60000
        # examples, batch 256, δ = 1e-5): noise 0.6 for 30 epochs gives ε 9.74; noise 1.2 for
        # 10 epochs gives ε 1.20.
        (256 / 60_000, 0.6, 30 * 60_000 // 256, 9.74),
        (256 / 60_000, 1.2, 10 * 60_000 // 256, 1.20),
    ],
)
def test_epsilon_matches_published_values(q: float, z: float, steps: int, published: float) -> None:
    orders, rdp = rdp_curve(q, z, steps)
    assert classical_epsilon(orders, rdp, 1e-5) == pytest.approx(published, abs=0.025)
    population = 1_000_000
    ours = epsilon(z, steps, Cohort(population, round(q * population), "poisson"), 1e-5)
    assert ours <= published  # the tighter conversion can only lower it
    assert ours > 0.7 * published


@pytest.mark.parametrize("sampling", ["poisson", "fixed_size"])
def test_noise_multiplier_for_a_target_epsilon_is_the_inverse(sampling: str) -> None:
    cohort = Cohort(1000, 50, sampling)  # type: ignore[arg-type]
    z = noise_multiplier_for(4.0, 100, cohort, 1e-5)
    assert epsilon(z, 100, cohort, 1e-5) <= 4.0
    assert epsilon(z - 0.01, 100, cohort, 1e-5) > 4.0  # and no more noise than needed
    assert epsilon(z, 100, cohort, 1e-5) == pytest.approx(4.0, rel=0.01)


def test_the_ledger_gives_the_same_epsilon_per_round_and_after_a_resume() -> None:
    cohort = Cohort(1000, 50, "poisson")
    ledger = PrivacyLedger(cohort, 1e-5)
    per_round = [ledger.record(1.2) for _ in range(30)]
    assert all(b > a for a, b in itertools.pairwise(per_round))
    assert per_round[9] == pytest.approx(epsilon(1.2, 10, cohort, 1e-5), rel=1e-9)
    assert per_round[-1] == pytest.approx(epsilon(1.2, 30, cohort, 1e-5), rel=1e-9)
    resumed = PrivacyLedger(cohort, 1e-5, noise_multipliers=list(ledger.noise_multipliers))
    assert resumed.epsilon() == per_round[-1]
    assert ledger.would_exceed(per_round[-1] + 1e-9, 1.2)
    assert not ledger.would_exceed(per_round[-1] + 1.0, 1.2)


def test_pld_is_at_least_as_tight_as_rdp() -> None:
    cohort = Cohort(1000, 50, "poisson")
    rdp = PrivacyLedger(cohort, 1e-5, "rdp", [1.0] * 20).epsilon()
    pld = PrivacyLedger(cohort, 1e-5, "pld", [1.0] * 20).epsilon()
    assert pld <= rdp and pld > 0.6 * rdp


def test_fixed_size_sampling_is_accounted_more_conservatively() -> None:
    fixed = epsilon(2.0, 50, Cohort(1000, 50, "fixed_size"), 1e-5)
    poisson = epsilon(2.0, 50, Cohort(1000, 50, "poisson"), 1e-5)
    assert fixed > poisson
    with pytest.raises(ValueError, match="poisson sampling only"):
        fresh_accountant("pld", Cohort(1000, 50, "fixed_size"))


def test_local_dp_is_at_least_the_exact_gaussian_mechanism_bound() -> None:
    # one noised update, sensitivity 2C: the exact (analytic) Gaussian mechanism ε at
    # sigma = z / 2 (Balle & Wang 2018) is a lower bound for the RDP-based ε
    exact = dp_accounting.get_epsilon_gaussian(5.0 / 2, 1e-5)
    assert exact <= local_epsilon(5.0, 1, 1e-5) <= 1.3 * exact
    assert local_epsilon(5.0, 10, 1e-5) > local_epsilon(5.0, 1, 1e-5)
    assert local_epsilon(5.0, 0, 1e-5) == 0.0


def test_default_delta_is_below_one_over_the_population() -> None:
    assert default_delta(10_000) == pytest.approx(10_000**-1.1)
    assert default_delta(10_000) < 1 / 10_000
