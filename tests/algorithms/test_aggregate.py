"""Aggregation maths against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from fedasr.algorithms.aggregate import (
    WeightedSum,
    all_finite,
    log_weight_dga,
    log_weight_examples,
)


def test_weighted_mean_by_examples_matches_hand_computation() -> None:
    acc = WeightedSum(3)
    acc.add(torch.tensor([1.0, 2.0, 3.0]), log_weight_examples(1))
    acc.add(torch.tensor([4.0, 5.0, 6.0]), log_weight_examples(3))
    mean, covered = acc.mean()
    # (1*[1,2,3] + 3*[4,5,6]) / 4 = [13/4, 17/4, 21/4]
    assert torch.allclose(mean, torch.tensor([3.25, 4.25, 5.25]))
    assert covered.all()


def test_prefix_vectors_average_only_over_clients_that_hold_a_coordinate() -> None:
    acc = WeightedSum(4)
    acc.add(torch.tensor([2.0, 2.0]), 0.0)  # a shallow client: first two coordinates only
    acc.add(torch.tensor([4.0, 4.0, 4.0]), 0.0)
    mean, covered = acc.mean()
    assert mean.tolist() == [3.0, 3.0, 4.0, 0.0]
    assert covered.tolist() == [True, True, True, False]  # nobody trained the last one


def test_merging_partial_sums_equals_one_sum() -> None:
    vectors = [torch.randn(5, generator=torch.Generator().manual_seed(i)) for i in range(4)]
    log_weights = [-30.0, -2.0, 0.5, -700.0]  # tiny weights must not underflow to zero
    whole = WeightedSum(5)
    for v, w in zip(vectors, log_weights, strict=True):
        whole.add(v, w)
    first, second = WeightedSum(5), WeightedSum(5)
    first.add(vectors[0], log_weights[0])
    first.add(vectors[1], log_weights[1])
    second.add(vectors[2], log_weights[2])
    second.add(vectors[3], log_weights[3])
    first.merge(second)
    expected = sum(math.exp(w) * v.double() for v, w in zip(vectors, log_weights, strict=True))
    expected = expected / sum(math.exp(w) for w in log_weights)
    assert torch.allclose(first.mean()[0].double(), expected, atol=1e-6)
    assert torch.allclose(whole.mean()[0], first.mean()[0], atol=1e-6)
    assert first.count == 4


def test_only_tiny_weights_still_give_the_weighted_mean() -> None:
    acc = WeightedSum(1)
    acc.add(torch.tensor([1.0]), -2000.0)  # exp(-2000) underflows float64 on its own
    acc.add(torch.tensor([3.0]), -2000.0 + math.log(3.0))
    assert acc.mean()[0].item() == pytest.approx(2.5)


def test_dga_weight_is_exp_minus_beta_loss_with_cap_and_zero_for_non_finite() -> None:
    assert log_weight_dga(0.5, beta=2.0, cap=None) == pytest.approx(-1.0)
    assert log_weight_dga(-10.0, beta=1.0, cap=100.0) == pytest.approx(math.log(100.0))
    assert log_weight_dga(float("nan"), beta=1.0, cap=None) == -math.inf
    assert log_weight_dga(float("inf"), beta=1.0, cap=None) == -math.inf


def test_non_finite_weight_is_rejected_loudly() -> None:
    with pytest.raises(ValueError):
        WeightedSum(2).add(torch.zeros(2), -math.inf)


def test_all_finite_is_exact_even_where_the_sum_overflows() -> None:
    vector = torch.ones(1000)
    assert all_finite(vector)
    for bad in (math.inf, -math.inf, math.nan):
        spoiled = vector.clone()
        spoiled[500] = bad
        assert not all_finite(spoiled)
    huge = torch.full((4,), 3e38)  # finite coordinates whose float32 sum is inf
    assert all_finite(huge)
    assert not all_finite(torch.tensor([3e38, 3e38, math.inf, -math.inf]))


def test_index_sets_and_spans_average_each_coordinate_over_its_holders() -> None:
    from fedasr.algorithms.coordinates import Index, Span

    acc = WeightedSum(5)
    acc.add(torch.tensor([1.0, 1.0, 1.0, 1.0]), log_weight_examples(1), Span(0, 4))  # no 4
    acc.add(torch.tensor([4.0, 7.0]), log_weight_examples(3), Index("odd", torch.tensor([1, 3])))
    other = WeightedSum(5)  # another shard, with the same named index
    other.add(torch.tensor([10.0, 10.0]), 0.0, Index("odd", torch.tensor([1, 3])))
    acc.merge(other)
    mean, covered = acc.mean()
    # coordinate 1: (1*1 + 3*4 + 1*10) / 5 = 4.6; coordinate 3: (1 + 21 + 10) / 5 = 6.4
    assert torch.allclose(mean, torch.tensor([1.0, 4.6, 1.0, 6.4, 0.0]))
    assert covered.tolist() == [True, True, True, True, False]


def test_an_index_must_fit_and_keep_its_name() -> None:
    from fedasr.algorithms.coordinates import Index

    acc = WeightedSum(3)
    with pytest.raises(ValueError, match="outside"):
        acc.add(torch.ones(2), 0.0, Index("far", torch.tensor([1, 3])))
    acc.add(torch.ones(2), 0.0, Index("pair", torch.tensor([0, 1])))
    with pytest.raises(ValueError, match="both named 'pair'"):
        acc.add(torch.ones(2), 0.0, Index("pair", torch.tensor([1, 2])))
