"""Reading, resampling and writing audio. soundfile reads a segment without loading the file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf


def read_audio(
    path: str | Path, offset: float = 0.0, duration: float | None = None
) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] and the file's sample rate; a segment if asked."""
    info = sf.info(str(path))
    start = round(offset * info.samplerate)
    frames = -1 if duration is None else round(duration * info.samplerate)
    samples, rate = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    return samples.mean(axis=1).astype(np.float32), int(rate)


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling (anti-aliased); identity when the rates agree."""
    if rate_in == rate_out:
        return samples.astype(np.float32, copy=False)
    from scipy.signal import resample_poly  # scipy.signal takes ~1 s to import: only when needed

    ratio = Fraction(rate_out, rate_in)
    out = resample_poly(samples, ratio.numerator, ratio.denominator)
    return out.astype(np.float32)


def load_utterance_audio(
    path: str | Path, offset: float, duration: float | None, target_rate: int
) -> np.ndarray:
    samples, rate = read_audio(path, offset, duration)
    return resample(samples, rate, target_rate)


def write_flac(path: str | Path, samples: np.ndarray, rate: int) -> None:
    """16-bit FLAC; clipped, since TTS output plus gain can exceed full scale."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    clipped = np.clip(samples, -1.0, 1.0)
    sf.write(str(path), clipped, rate, format="FLAC", subtype="PCM_16")
