"""Engine output -> the corpus clip: trim, shift, resample to 16 kHz, level, add noise.

Engines pad clips with up to a second of silence and each has its own loudness; left as they
are, both would tell a model which engine spoke. So every clip is trimmed to 0.1-0.2 s of
silence (a 50 ms margin of the engine's own signal plus 50-150 ms added), normalized to a random
peak level and (by default) given faint white or pink noise, because a model that only ever
hears exact zeros between words learns to rely on them.
"""

from __future__ import annotations

import numpy as np

from fedasr.data.audio import resample
from fedasr.data.synth.plan import UtteranceSpec

SAMPLE_RATE = 16_000
SILENCE_BELOW_LOUDEST_DB = 42.0  # frames this far below the loudest frame are silence
TRIM_MARGIN_S = 0.05  # kept on each side of the speech, so weak onsets are never cut
SHIFT_RATE_STEP = 80  # shifted rates are rounded to keep the polyphase filter short


def render(samples: np.ndarray, rate: int, spec: UtteranceSpec) -> np.ndarray:
    """The final 16 kHz float32 clip for `spec` from the engine's samples at `rate`."""
    speech = trim_silence(samples, rate)
    # Read the samples as if recorded at rate*shift: > 1 raises pitch and formants.
    shifted_rate = round(rate * spec.shift / SHIFT_RATE_STEP) * SHIFT_RATE_STEP
    speech = resample(speech, shifted_rate, SAMPLE_RATE)
    speech = normalize_peak(speech, spec.peak_dbfs)
    lead = np.zeros(round(spec.lead_s * SAMPLE_RATE), dtype=np.float32)
    tail = np.zeros(round(spec.tail_s * SAMPLE_RATE), dtype=np.float32)
    clip = np.concatenate([lead, speech, tail])
    if spec.noise_dbfs is not None:
        rng = np.random.default_rng(spec.seed)
        clip = clip + noise(len(clip), spec.noise_dbfs, spec.noise_color, rng)
    return np.clip(clip, -1.0, 1.0).astype(np.float32)


def trim_silence(samples: np.ndarray, rate: int) -> np.ndarray:
    """Cut leading and trailing silence, keeping a short margin of the engine's own signal.

    Works on 10 ms frame energies: flite and festival "silence" is a noise floor 45-55 dB
    below the loudest frame (espeak's is exact zero), and single samples are too jumpy.
    """
    hop = max(1, rate // 100)
    count = len(samples) // hop
    if count == 0:
        return samples
    energy = np.mean(samples[: count * hop].reshape(count, hop) ** 2, axis=1)
    if float(energy.max()) == 0.0:
        return samples
    loud = np.flatnonzero(energy > energy.max() * 10 ** (-SILENCE_BELOW_LOUDEST_DB / 10))
    margin = round(TRIM_MARGIN_S * rate)
    start = max(0, loud[0] * hop - margin)
    end = min(len(samples), (loud[-1] + 1) * hop + margin)
    return samples[start:end]


def normalize_peak(samples: np.ndarray, peak_dbfs: float) -> np.ndarray:
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak == 0.0:
        return samples
    return (samples * (10 ** (peak_dbfs / 20) / peak)).astype(np.float32)


def noise(length: int, level_dbfs: float, color: str, rng: np.random.Generator) -> np.ndarray:
    """White or pink (1/f power) noise with an RMS of `level_dbfs`."""
    white = rng.standard_normal(length)
    if color == "pink" and length > 1:
        spectrum = np.fft.rfft(white)
        frequencies = np.arange(len(spectrum), dtype=np.float64)
        frequencies[0] = 1.0  # leave DC unscaled instead of dividing by zero
        white = np.fft.irfft(spectrum / np.sqrt(frequencies), n=length)
    rms = float(np.sqrt(np.mean(white**2))) or 1.0
    return (white * (10 ** (level_dbfs / 20) / rms)).astype(np.float32)
