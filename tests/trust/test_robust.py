"""Robust aggregators on hand examples, each with the attack it should resist."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fedasr.algorithms.aggregate import weighted_mean
from fedasr.algorithms.server_opt import KINDS, ServerOptimizer
from fedasr.trust.clipping import quantile_step
from fedasr.trust.robust import (
    krum_scores,
    robust_aggregate,
    trimmed_mean,
    weighted_median,
    weights_from_log,
)
from fedasr.trust.schema import ClipSection, RobustSection


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


HONEST = [t(1.0, 2.0), t(1.2, 1.8), t(0.8, 2.2), t(1.1, 2.1), t(0.9, 1.9)]
ONES = [1.0] * 6


def test_mean_is_wrecked_by_one_scaled_attacker_median_is_not() -> None:
    updates = [*HONEST, t(100.0, -100.0)]  # a scaled / sign-flipped attacker
    mean = robust_aggregate(updates, ONES, RobustSection(kind="mean"))
    assert mean.pseudo_gradient[0] > 15  # (5 + 100) / 6
    median = robust_aggregate(updates, ONES, RobustSection(kind="median"))
    # sorted first coordinates 0.8 0.9 1.0 1.1 1.2 100 -> (1.0 + 1.1) / 2
    # sorted second coordinates -100 1.8 1.9 2.0 2.1 2.2 -> (1.9 + 2.0) / 2
    assert median.pseudo_gradient.tolist() == pytest.approx([1.05, 1.95])
    attacker = median.outcomes[5]
    assert attacker.status == "rejected" and attacker.factor == 0.0


def test_weighted_median_by_hand_and_equal_weights_match_numpy() -> None:
    values = [t(1.0), t(2.0), t(3.0)]
    heavy_last = torch.tensor([1.0, 1.0, 5.0], dtype=torch.float64)
    assert weighted_median(values, heavy_last)[0].tolist() == [3.0]
    rng = np.random.default_rng(0)
    for n in (4, 5, 8):
        stack = rng.normal(size=(n, 37))
        got, _ = weighted_median(
            [torch.tensor(r) for r in stack], torch.ones(n, dtype=torch.float64)
        )
        assert np.allclose(got.numpy(), np.median(stack, axis=0))


def test_trimmed_mean_cuts_the_extremes_then_weights_the_rest() -> None:
    updates = [t(1.0), t(2.0), t(3.0), t(4.0), t(100.0)]
    weights = torch.tensor([1.0, 1.0, 2.0, 1.0, 1.0], dtype=torch.float64)
    mean, kept = trimmed_mean(updates, weights, trim=0.2)  # cuts 1 at each side
    assert mean.tolist() == pytest.approx([(2 + 2 * 3 + 4) / 4])
    assert kept == [0.0, 1.0, 1.0, 1.0, 0.0]
    result = robust_aggregate(
        updates, [1, 1, 2, 1, 1], RobustSection(kind="trimmed_mean", trim=0.2)
    )
    assert [o.status for o in result.outcomes] == ["rejected", "kept", "kept", "kept", "rejected"]
    with pytest.raises(ValueError, match="cuts every one"):
        trimmed_mean(updates[:2], weights[:2], trim=0.5)


def test_krum_scores_by_hand_and_krum_picks_an_honest_update() -> None:
    # 1-d points 0, 1, 3, 10 with f = 0: each scores its n - f - 2 = 2 nearest squared distances
    scores = krum_scores([t(0.0), t(1.0), t(3.0), t(10.0)], byzantine=0)
    assert scores == [1 + 9, 1 + 4, 4 + 9, 49 + 81]
    flipped = [-5 * h for h in HONEST[:2]]  # two sign-flipped, boosted attackers
    updates = [*HONEST, *flipped]
    krum = robust_aggregate(updates, [1.0] * 7, RobustSection(kind="krum", byzantine=2))
    chosen = [o.position for o in krum.outcomes if o.status == "kept"]
    assert len(chosen) == 1 and chosen[0] < 5
    assert torch.equal(krum.pseudo_gradient, HONEST[chosen[0]])


def test_multi_krum_averages_the_best_scored_with_their_weights() -> None:
    updates = [*HONEST, t(-50.0, -50.0), t(-60.0, -40.0)]
    weights = [1.0, 2.0, 1.0, 1.0, 1.0, 9.0, 9.0]
    result = robust_aggregate(updates, weights, RobustSection(kind="multi_krum", byzantine=2))
    assert [o.status for o in result.outcomes][5:] == ["rejected", "rejected"]
    expected = weighted_mean(HONEST, weights[:5])  # m = n - f = 5: all honest ones
    assert torch.allclose(result.pseudo_gradient, expected)
    assert result.byzantine == 2


def test_krum_falls_back_to_a_plain_mean_when_the_chosen_weigh_nothing() -> None:
    updates = [t(1.0), t(1.1), t(50.0), t(-50.0), t(0.9)]
    result = robust_aggregate(updates, [0.0, 1.0, 1.0, 1.0, 1.0], RobustSection(kind="krum"))
    assert result.pseudo_gradient.tolist() == [1.0]  # the central update, though it weighs 0


def test_krum_lowers_f_when_the_round_is_too_small() -> None:
    result = robust_aggregate(HONEST[:4], [1.0] * 4, RobustSection(kind="krum", byzantine=3))
    assert result.byzantine == 0  # n > 2f + 2 needs f = 0 with 4 clients


def test_fixed_norm_clipping_bounds_a_scaled_attacker() -> None:
    updates = [t(3.0, 4.0), t(0.6, 0.8), t(300.0, 400.0)]  # norms 5, 1, 500
    section = RobustSection(kind="mean", clip=ClipSection(mode="fixed", bound=2.0))
    result = robust_aggregate(updates, [1.0, 1.0, 1.0], section)
    # clipped: (1.2, 1.6), (0.6, 0.8), (1.2, 1.6)
    assert result.pseudo_gradient.tolist() == pytest.approx([1.0, 4.0 / 3])
    assert [o.status for o in result.outcomes] == ["down_weighted", "kept", "down_weighted"]
    assert result.outcomes[2].factor == pytest.approx(2.0 / 500)
    assert result.outcomes[2].norm == pytest.approx(500.0)


def test_median_norm_clipping_composes_with_the_median() -> None:
    updates = [t(3.0, 4.0), t(0.6, 0.8), t(300.0, 400.0)]
    section = RobustSection(kind="median", clip=ClipSection(mode="median", multiplier=1.0))
    result = robust_aggregate(updates, [1.0] * 3, section)
    assert result.clip_bound == pytest.approx(5.0)  # the median norm
    # clipped to norm 5: (3, 4), (0.6, 0.8), (3, 4) -> coordinate medians (3, 4)
    assert result.pseudo_gradient.tolist() == pytest.approx([3.0, 4.0])


def test_quantile_clipping_tracks_the_target_quantile_over_rounds() -> None:
    assert quantile_step(1.0, 0.8, 0.5, 0.2) == pytest.approx(math.exp(-0.2 * 0.3))
    clip = ClipSection(mode="quantile", bound=0.01, quantile=0.5, learning_rate=0.2)
    section = RobustSection(kind="mean", clip=clip)
    rng = np.random.default_rng(0)
    state = None
    for _ in range(150):
        norms = rng.lognormal(mean=0.0, sigma=0.5, size=20)  # median norm 1
        updates = [t(float(n)) for n in norms]
        state = robust_aggregate(updates, [1.0] * 20, section, clip_state=state).next_clip_bound
    assert state == pytest.approx(1.0, rel=0.2)


def test_dga_weights_compose_with_robust_aggregation() -> None:
    log_weights = [-0.5, -1.0, -700.0, 0.0, -2.0]  # DGA: -beta * loss; one tiny
    weights = weights_from_log(log_weights)
    assert min(weights) > 0 or weights[2] == 0.0
    result = robust_aggregate(HONEST, weights, RobustSection(kind="mean"))
    assert torch.allclose(result.pseudo_gradient, weighted_mean(HONEST, weights))


@pytest.mark.parametrize("kind", KINDS)
def test_every_server_optimizer_applies_a_robust_pseudo_gradient(kind: str) -> None:
    result = robust_aggregate(HONEST, [1.0] * 5, RobustSection(kind="trimmed_mean", trim=0.2))
    optimizer = ServerOptimizer(kind=kind, lr=0.5)
    params = torch.zeros(2)
    new_params, _ = optimizer.step(params, result.pseudo_gradient, optimizer.init_state(params))
    assert bool((new_params < 0).all())  # a step against the (positive) pseudo-gradient


def test_updates_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="same coordinates"):
        robust_aggregate([t(1.0), t(1.0, 2.0)], [1.0, 1.0], RobustSection(kind="median"))


def test_non_finite_updates_are_refused_with_their_position() -> None:
    with pytest.raises(ValueError, match=r"non-finite update\(s\) at position\(s\) \[1\]"):
        robust_aggregate([t(1.0), t(math.nan)], [1.0, 1.0], RobustSection(kind="median"))
