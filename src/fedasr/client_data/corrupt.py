"""Corruptions of a client's data, applied at batch time to cached log-mel features and to
token targets. Pure functions of their inputs and a seeded generator.

Features are stored as log mel-filterbank energies, so the audio itself cannot be touched; each
corruption is an approximation in the feature domain, chosen to be cheap and deterministic:

- noise: mel power P = exp(x) plus noise power N in every (frame, bin) cell,
  N = (mean over cells of P) / 10^(snr/10) x E with E ~ Exponential(1) (the spread of a
  periodogram cell of Gaussian noise); the result is log(P + N). This approximates adding
  stationary noise with the same power in every mel band at the given SNR. True time-domain
  white noise would put more energy in the wider high-frequency mel bands.
- speed: the frame sequence resampled along time by linear interpolation (T / factor frames).
  This approximates a tempo change (sox `tempo`): speech gets faster or slower but keeps its
  pitch and formants, unlike resampling the waveform (sox `speed`), which shifts them too.
- transcripts: "shuffle" gives each chosen utterance the transcript of another of the client's
  chosen utterances (a cyclic shift along a random order: nobody keeps its own when two or more
  are chosen); "random_words" replaces each by as many words drawn uniformly from a vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def add_noise(frames: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """Log-mel frames with noise added in the mel-power domain at `snr_db` (float32)."""
    power = np.exp(frames.astype(np.float64))
    noise_power = power.mean() / 10 ** (snr_db / 10)
    noise = noise_power * rng.exponential(1.0, size=frames.shape)
    return np.log(power + noise).astype(np.float32)


def change_tempo(frames: np.ndarray, factor: float) -> np.ndarray:
    """Resample (T, n_mels) frames to round(T / factor) frames (at least one), linearly."""
    count = len(frames)
    target = max(1, round(count / factor))
    positions = np.minimum(np.arange(target) * factor, count - 1)
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, count - 1)
    frac = (positions - low)[:, None]
    values = frames.astype(np.float32)
    return ((1 - frac) * values[low] + frac * values[high]).astype(np.float32)


def choose(items: Sequence[int], share: float, rng: np.random.Generator) -> list[int]:
    """round(share x len) of the items, drawn without replacement, in their original order."""
    count = round(share * len(items))
    picked = set(rng.choice(len(items), size=count, replace=False).tolist()) if count else set()
    return [item for i, item in enumerate(items) if i in picked]


def shuffled_texts(texts: dict[int, str], rng: np.random.Generator) -> dict[int, str]:
    """Each row gets another row's text: a cyclic shift along a random order of the rows."""
    rows = sorted(texts)
    order = [rows[i] for i in rng.permutation(len(rows))]
    return {row: texts[order[(i + 1) % len(order)]] for i, row in enumerate(order)}


def random_word_texts(
    texts: dict[int, str], vocabulary: Sequence[str], rng: np.random.Generator
) -> dict[int, str]:
    """Each row's text replaced by as many words drawn uniformly from `vocabulary`."""
    out = {}
    for row in sorted(texts):
        count = max(1, len(texts[row].split()))
        out[row] = " ".join(vocabulary[i] for i in rng.integers(len(vocabulary), size=count))
    return out


def vocabulary_of(texts: Sequence[str | None]) -> list[str]:
    """Sorted distinct words of the transcripts (a stable order: the draws depend on it)."""
    return sorted({word for text in texts if text for word in text.split()})
