"""DP-FedAvg's client and server halves: clipping, bounded weights, noise statistics, seeding,
and adaptive clipping (Andrew et al. 2021)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fedasr.trust.dp import (
    client_weight,
    expected_weight,
    finish_round,
    privatize,
    update_noise_multiplier,
)
from fedasr.trust.schema import AdaptiveClipSection, DPSection

BIG = 200_000  # coordinates: enough for a sample std within 1 %


def section(**kw: object) -> DPSection:
    return DPSection(noise_multiplier=1.0, **kw)  # type: ignore[arg-type]


def client(delta: torch.Tensor, dp: DPSection, index: int = 0, **kw: object) -> torch.Tensor:
    args: dict = {
        "clip_norm": 0.5,
        "noise_multiplier": 1.0,
        "expected_clients": 16,
        "seed": 1,
        "round_index": 2,
        "client_index": index,
    }
    args.update(kw)
    return privatize(delta, 10, dp, **args).vector


def test_central_mode_clips_the_update_and_adds_no_client_noise() -> None:
    delta = torch.tensor([3.0, 4.0])
    common: dict = {"clip_norm": 0.5, "noise_multiplier": 1.0, "expected_clients": 16,
                    "seed": 0, "round_index": 0, "client_index": 0}  # fmt: skip
    out = privatize(delta, 10, section(), **common)
    assert out.vector.tolist() == pytest.approx([0.3, 0.4])
    assert out.norm == pytest.approx(5.0) and out.unclipped == 0.0 and out.weight == 1.0
    small = privatize(delta / 100, 10, section(), **common)
    assert small.vector.tolist() == pytest.approx([0.03, 0.04]) and small.unclipped == 1.0


def test_example_weights_are_bounded_so_the_sensitivity_stays_the_clip_norm() -> None:
    dp = section(weighting="examples", weight_cap=50)
    assert client_weight(25, dp) == 0.5 and client_weight(500, dp) == 1.0
    assert client_weight(0, section()) == 0.0
    assert expected_weight([25, 50, 500, 0], cohort_size=8, section=dp) == pytest.approx(
        8 * 2.5 / 4
    )


def test_local_noise_has_std_z_times_clip_and_is_seeded_per_client() -> None:
    zeros = torch.zeros(BIG)
    dp = section(mode="local")
    noise = client(zeros, dp)
    assert float(noise.std()) == pytest.approx(1.0 * 0.5, rel=0.01)
    assert abs(float(noise.mean())) < 0.5 * 0.01
    assert torch.equal(noise, client(zeros, dp))
    assert not torch.equal(noise, client(zeros, dp, index=1))
    assert not torch.equal(noise, client(zeros, dp, round_index=3))


def test_distributed_noise_sums_to_the_central_std_over_the_cohort() -> None:
    dp = section(mode="distributed")
    zeros = torch.zeros(BIG // 4)
    total = sum(client(zeros, dp, index=i).double() for i in range(16))
    assert float(total.std()) == pytest.approx(0.5, rel=0.02)  # z C from 16 shares of it
    one = client(zeros, dp)
    assert float(one.std()) == pytest.approx(0.5 / 4, rel=0.02)


def test_central_noise_on_the_sum_divided_by_the_expected_weight() -> None:
    update_sum = torch.zeros(BIG)
    kw: dict = {
        "clip_norm": 0.5,
        "noise_multiplier": 2.0,
        "expected_clients": 10,
        "expected_total_weight": 10.0,
        "seed": 4,
        "round_index": 7,
    }
    result = finish_round(update_sum, 0.0, section(), **kw)
    assert result.noise_std == pytest.approx(1.0)
    assert float(result.pseudo_gradient.std()) == pytest.approx(1.0 / 10, rel=0.01)
    assert torch.equal(
        result.pseudo_gradient, finish_round(update_sum, 0.0, section(), **kw).pseudo_gradient
    )
    kw["round_index"] = 8
    assert not torch.equal(
        result.pseudo_gradient, finish_round(update_sum, 0.0, section(), **kw).pseudo_gradient
    )
    assert result.next_clip_norm == 0.5 and result.unclipped_fraction is None


def test_adaptive_clipping_splits_the_noise_between_update_and_count() -> None:
    dp = section(adaptive=AdaptiveClipSection(count_noise=5.0))
    # z_delta = (z^-2 - (2 sigma_b)^-2)^-1/2 = (1 - 1/100)^-1/2
    assert update_noise_multiplier(dp, 1.0, 100) == pytest.approx(1 / math.sqrt(0.99))
    assert update_noise_multiplier(section(), 1.0, 100) == 1.0
    with pytest.raises(ValueError, match=r"count noise 0\.5 is too small"):
        update_noise_multiplier(section(adaptive=AdaptiveClipSection(count_noise=0.5)), 1.0, 100)
    default = section(adaptive=AdaptiveClipSection())  # sigma_b = cohort / 20
    assert update_noise_multiplier(default, 1.0, 100) == pytest.approx((1 - 1 / 100) ** -0.5)


def test_adaptive_clip_norm_follows_the_geometric_rule_and_reaches_the_quantile() -> None:
    adaptive = AdaptiveClipSection(target_quantile=0.5, learning_rate=0.2)
    dp = section(adaptive=adaptive)
    rng = np.random.default_rng(0)
    clip = 0.01
    for round_index in range(200):
        norms = rng.lognormal(mean=math.log(0.3), sigma=0.4, size=100)  # median norm 0.3
        unclipped = float((norms <= clip).sum())
        result = finish_round(
            torch.zeros(4),
            unclipped,
            dp,
            clip_norm=clip,
            noise_multiplier=1.0,
            expected_clients=100,
            expected_total_weight=100.0,
            seed=0,
            round_index=round_index,
        )
        assert result.unclipped_fraction is not None
        expected = clip * math.exp(-0.2 * (result.unclipped_fraction - 0.5))
        assert result.next_clip_norm == pytest.approx(expected)
        clip = result.next_clip_norm
    assert clip == pytest.approx(0.3, rel=0.2)
