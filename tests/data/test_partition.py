"""Partitioners: pure, seeded, and the non-IID knob at both ends."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from fedasr.data.manifest import Utterance
from fedasr.data.partition import (
    by_meta,
    by_speaker,
    dirichlet,
    draw,
    iid,
    k_speakers,
    noniid_knob,
    partition,
    size_skew,
    summary,
)
from fedasr.errors import ConfigError


def corpus(speakers: int = 8, per_speaker: int = 50) -> list[Utterance]:
    return [
        Utterance(
            id=f"s{s}-{i:03d}",
            audio=f"a/{s}/{i}.flac",
            duration=1.0 + (i % 3),
            sample_rate=16000,
            text="hello",
            speaker=f"s{s}",
            meta={"engine": f"e{s % 2}"},
        )
        for s in range(speakers)
        for i in range(per_speaker)
    ]


def covers_each_once(clients: dict[str, list[str]], utts: list[Utterance]) -> bool:
    ids = [u for members in clients.values() for u in members]
    return sorted(ids) == sorted(u.id for u in utts)


def test_by_speaker_and_by_engine() -> None:
    utts = corpus()
    assert list(by_speaker(utts)) == [f"s{s}" for s in range(8)]
    assert list(by_meta(utts, "engine")) == ["e0", "e1"]


def test_knob_zero_is_one_speaker_per_client() -> None:
    utts = corpus()
    clients = noniid_knob(utts, 0.0, seed=3)
    speaker_of = {u.id: u.speaker for u in utts}
    assert all({speaker_of[i] for i in ids} == {name} for name, ids in clients.items())
    assert covers_each_once(clients, utts)


def test_knob_one_matches_the_pooled_speaker_distribution() -> None:
    utts = corpus(speakers=8, per_speaker=200)
    clients = noniid_knob(utts, 1.0, seed=1)
    speaker_of = {u.id: u.speaker for u in utts}
    for ids in clients.values():
        assert len(ids) == 200  # every client keeps its size
        shares = np.array(list(Counter(speaker_of[i] for i in ids).values())) / len(ids)
        assert len(shares) == 8 and np.abs(shares - 1 / 8).max() < 0.08  # pooled: 1/8 each
    assert covers_each_once(clients, utts)


def test_knob_half_keeps_half_from_the_own_speaker() -> None:
    utts = corpus(per_speaker=100)
    speaker_of = {u.id: u.speaker for u in utts}
    for name, ids in noniid_knob(utts, 0.5, seed=0).items():
        own = sum(speaker_of[i] == name for i in ids)
        assert 50 <= own <= 50 + 100 * 0.5 / 8 + 10  # 50 kept + its share of the pool


def test_same_seed_same_partition_other_seed_other_partition() -> None:
    utts = corpus()
    schemes = [
        ("iid", {"num_clients": 5}),
        ("knob", {"p": 0.5}),
        ("k_speakers", {"k": 3}),
        ("dirichlet", {"num_clients": 4, "alpha": 0.5}),
        ("size_skew", {"num_clients": 6}),
    ]
    for scheme, params in schemes:
        first = partition(utts, scheme, seed=7, **params)
        assert first == partition(utts, scheme, seed=7, **params)
        assert first != partition(utts, scheme, seed=8, **params)
        assert covers_each_once(first, utts)


def test_k_speakers_merges_speakers() -> None:
    utts = corpus(speakers=7)
    clients = k_speakers(utts, 3, seed=0)
    speaker_of = {u.id: u.speaker for u in utts}
    assert sorted(len({speaker_of[i] for i in ids}) for ids in clients.values()) == [1, 3, 3]


def test_small_alpha_concentrates_speakers() -> None:
    utts = corpus(speakers=10, per_speaker=100)
    speaker_of = {u.id: u.speaker for u in utts}

    def mean_speakers(alpha: float) -> float:
        clients = dirichlet(utts, 10, alpha, seed=0)
        return float(np.mean([len({speaker_of[i] for i in ids}) for ids in clients.values()]))

    assert mean_speakers(0.05) < mean_speakers(100.0)


def test_size_skew_follows_a_power_law() -> None:
    utts = corpus(speakers=4, per_speaker=250)
    sizes = [len(ids) for ids in size_skew(utts, 10, exponent=1.0, seed=0).values()]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 5 * sizes[-1]
    assert iid(utts, 10, seed=0) != size_skew(utts, 10, seed=0)


def test_draw_builds_a_population_larger_than_the_corpus() -> None:
    utts = corpus(speakers=2, per_speaker=10)
    clients = draw(utts, num_clients=1000, per_client=3, seed=0)
    assert len(clients) == 1000
    assert all(len(set(ids)) == 3 for ids in clients.values())
    assert clients == partition(utts, "draw", seed=0, num_clients=1000, per_client=3)
    assert clients != draw(utts, num_clients=1000, per_client=3, seed=1)
    with pytest.raises(ConfigError, match=r"partition\.params\.per_client"):
        draw(utts, num_clients=10, per_client=21)


def test_bad_parameters_name_the_key() -> None:
    utts = corpus()
    with pytest.raises(ConfigError, match=r"partition\.params\.p"):
        noniid_knob(utts, 1.5)
    with pytest.raises(ConfigError, match=r"partition\.scheme"):
        partition(utts, "random")
    with pytest.raises(ConfigError, match="does not take"):
        partition(utts, "iid", num_clients=3, alpha=1.0)


def test_summary_reports_min_median_max() -> None:
    utts = corpus(speakers=2, per_speaker=3)
    table = summary(by_speaker(utts), utts)
    assert table["utterances"] == (3, 3.0, 3)
    assert table["speakers"] == (1, 1.0, 1)
