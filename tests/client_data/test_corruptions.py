"""Feature and transcript corruptions: their maths, determinism, and the client groups."""

from __future__ import annotations

import numpy as np
import pytest

from fedasr.client_data.corrupt import (
    add_noise,
    change_tempo,
    choose,
    random_word_texts,
    shuffled_texts,
    vocabulary_of,
)
from fedasr.client_data.plan import corrupted_clients
from fedasr.config import load_config
from fedasr.errors import ConfigError


def test_noise_lands_at_the_asked_snr_in_mel_power() -> None:
    frames = np.zeros((2000, 40), dtype=np.float16)  # log power 0: signal power 1 everywhere
    noisy = add_noise(frames, snr_db=10.0, rng=np.random.default_rng(0))
    noise_power = np.exp(noisy.astype(np.float64)) - 1.0
    assert noise_power.mean() == pytest.approx(0.1, rel=0.02)  # 10 dB below the signal
    assert (noise_power > 0).all()
    again = add_noise(frames, snr_db=10.0, rng=np.random.default_rng(0))
    assert np.array_equal(noisy, again)


def test_tempo_resamples_along_time() -> None:
    ramp = np.repeat(np.arange(100, dtype=np.float32)[:, None], 3, axis=1)
    faster = change_tempo(ramp, 1.25)
    assert faster.shape == (80, 3)
    assert np.allclose(faster[:, 0], np.arange(80) * 1.25)  # same content, 1.25x per frame
    slower = change_tempo(ramp, 0.5)
    assert slower.shape == (200, 3) and slower[1, 0] == pytest.approx(0.5)
    assert change_tempo(ramp[:1], 3.0).shape == (1, 3)  # never empty


def test_shuffle_gives_every_chosen_utterance_another_transcript() -> None:
    texts = {3: "a", 5: "b", 8: "c", 9: "d"}
    wrong = shuffled_texts(texts, np.random.default_rng(1))
    assert sorted(wrong) == sorted(texts) and sorted(wrong.values()) == sorted(texts.values())
    assert all(wrong[row] != texts[row] for row in texts)


def test_random_words_keep_the_word_count() -> None:
    vocab = vocabulary_of(["turn on the light", None, "call bob"])
    assert vocab == ["bob", "call", "light", "on", "the", "turn"]
    wrong = random_word_texts({0: "one two three", 1: "x"}, vocab, np.random.default_rng(2))
    assert [len(t.split()) for t in wrong.values()] == [3, 1]
    assert all(word in vocab for text in wrong.values() for word in text.split())


def test_choose_draws_the_share_in_order() -> None:
    picked = choose([10, 11, 12, 13, 14, 15, 16, 17], 0.5, np.random.default_rng(3))
    assert len(picked) == 4 and picked == sorted(picked)
    assert choose([1, 2], 0.0, np.random.default_rng(3)) == []


IDS = [f"spk{i:02d}" for i in range(20)]


def groups(*overrides: str) -> dict[str, object]:
    return corrupted_clients(load_config(None, list(overrides)), IDS)  # type: ignore[return-value]


def test_groups_take_disjoint_clients_from_a_seeded_order() -> None:
    spec = "partition.corrupt=[{share: 0.25, noise_snr_db: 5}, {share: 0.1, transcripts: shuffle}]"
    chosen = groups(spec)
    noisy = [c for c, q in chosen.items() if q.noise_snr_db == 5]  # type: ignore[attr-defined]
    wrong = [c for c, q in chosen.items() if q.transcripts == "shuffle"]  # type: ignore[attr-defined]
    assert len(noisy) == 5 and len(wrong) == 2 and not set(noisy) & set(wrong)
    assert groups(spec) == chosen  # the same seed, the same clients
    assert set(groups(spec, "seed=1")) != set(chosen)


def test_named_clients_must_exist() -> None:
    with pytest.raises(ConfigError, match=r"partition\.corrupt\.0\.clients: unknown .*nobody"):
        groups("partition.corrupt=[{clients: [spk01, nobody], speed: 1.2}]")
    with pytest.raises(ConfigError, match="exactly one of"):
        load_config(None, ["partition.corrupt=[{share: 0.1, clients: [a], speed: 1.2}]"])
