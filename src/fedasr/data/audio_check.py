"""Decode audio files end to end to learn what they really hold (the validator's ground truth).

A header alone is not enough: a truncated FLAC has an intact header announcing every frame,
and only decoding to the end finds the damage. Decoding is cheap next to what a bad file costs
later (a worker crash mid-round), about 3,000x real time per core for 16 kHz FLAC.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import soundfile as sf

BLOCK_FRAMES = 1 << 18  # bounded memory for hour-long recordings (TED talks, lhotse sources)


@dataclass(frozen=True)
class AudioFacts:
    """What decoding one file found: its real length and rate, or why it could not be read."""

    frames: int = 0
    sample_rate: int = 0
    missing: bool = False
    error: str | None = None

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def inspect_audio(path: str) -> AudioFacts:
    """Decode `path` to the end; never raises for a bad file, the reason is in `error`."""
    if not os.path.isfile(path):
        return AudioFacts(missing=True)
    if os.path.getsize(path) == 0:
        # libsndfile writes a 0-frame FLAC as a 0-byte file, so this is "empty", not "corrupt"
        return AudioFacts(frames=0, sample_rate=0)
    try:
        with sf.SoundFile(path) as handle:
            announced, rate = handle.frames, handle.samplerate
            decoded = _decode_to_end(handle)
    except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as err:
        return AudioFacts(error=str(err).strip() or type(err).__name__)
    if decoded < announced:
        return AudioFacts(error=f"truncated: header announces {announced} frames, {decoded} decode")
    return AudioFacts(frames=decoded, sample_rate=rate)


def _decode_to_end(handle: sf.SoundFile) -> int:
    # int16 keeps the blocks small; the values are thrown away, only decodability counts
    decoded = 0
    while True:
        block = handle.read(BLOCK_FRAMES, dtype="int16")
        if len(block) == 0:
            return decoded
        decoded += len(block)


def default_workers() -> int:
    """Threads suffice: libsndfile decodes outside the GIL (measured 1.6x on 2 cores)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def inspect_many(paths: Iterable[str], workers: int | None = None) -> dict[str, AudioFacts]:
    """AudioFacts for every distinct path, decoded in parallel threads."""
    unique = sorted(set(paths))
    workers = default_workers() if workers is None else max(1, workers)
    if workers == 1 or len(unique) < 2:
        return {path: inspect_audio(path) for path in unique}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fedasr-audio-check") as pool:
        return dict(zip(unique, pool.map(inspect_audio, unique), strict=True))
