"""Features computed once per (manifest content, feature config) and memory-mapped after.

Layout of one cache entry, `<cache_root>/<key>/`:
    feats.npy    float16 (total_frames, n_mels), every utterance back to back
    index.npz    ids, start frame and frame count per utterance, skipped ids with reasons
    meta.json    feature config, manifest path, per-dimension sum / sum of squares
The key hashes the manifest bytes, each audio file's size and mtime, and the feature config,
so an edited manifest or re-synthesized audio never reads stale features. Entries are built in a
temp directory and renamed into place: an interrupted build leaves no half-written cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from fedasr.data.audio import load_utterance_audio
from fedasr.data.features import FeatureConfig, log_mel
from fedasr.data.manifest import Utterance, audio_path, read_manifest
from fedasr.data.validation_cache import default_cache_root

CACHE_VERSION = 1
CHUNK = 64  # utterances per worker task: big enough to amortize pickling, small for progress


@dataclass
class FeatureStore:
    """Read-only view of one cache entry. Client data is a list of row indices into it."""

    root: Path
    ids: list[str]
    starts: np.ndarray
    lengths: np.ndarray
    feats: np.ndarray
    config: FeatureConfig
    frame_sum: np.ndarray
    frame_sumsq: np.ndarray
    skipped: dict[str, str]

    def __len__(self) -> int:
        return len(self.ids)

    def frames(self, row: int) -> np.ndarray:
        start = int(self.starts[row])
        return self.feats[start : start + int(self.lengths[row])]

    def row_of(self) -> dict[str, int]:
        return {utt_id: row for row, utt_id in enumerate(self.ids)}

    def seconds(self, row: int) -> float:
        return float(self.lengths[row]) / self.config.frames_per_second

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension mean and std over every frame (global CMVN statistics)."""
        count = max(int(self.lengths.sum()), 1)
        mean = self.frame_sum / count
        var = np.maximum(self.frame_sumsq / count - mean**2, 1e-8)
        return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


def cache_key(manifest: Path, utterances: Sequence[Utterance], config: FeatureConfig) -> str:
    digest = hashlib.sha256()
    digest.update(f"v{CACHE_VERSION}:{config.fingerprint()}".encode())
    digest.update(manifest.read_bytes())
    digest.update("\n".join(utt.id for utt in utterances).encode())  # which subset is cached
    for path in sorted({str(audio_path(manifest, utt)) for utt in utterances}):
        try:
            stat = os.stat(path)
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        except OSError:
            digest.update(f"{path}:missing".encode())
    return digest.hexdigest()[:24]


def _extract_chunk(
    jobs: list[tuple[str, str, float, float]], config: FeatureConfig
) -> list[tuple[str, np.ndarray | str]]:
    """Runs in a worker: (id, features or the reason it failed) per utterance."""
    torch.set_num_threads(1)
    results: list[tuple[str, np.ndarray | str]] = []
    for utt_id, path, offset, duration in jobs:
        try:
            samples = load_utterance_audio(path, offset, duration, config.sample_rate)
            feats = log_mel(samples, config).numpy()
            if feats.shape[0] == 0:
                raise ValueError("audio shorter than one frame")
            results.append((utt_id, feats))
        except Exception as err:  # one bad file is reported and skipped, never fatal
            results.append((utt_id, f"{type(err).__name__}: {err}"))
    return results


def load_or_build(
    manifest: str | Path,
    config: FeatureConfig | None = None,
    *,
    cache_root: str | Path | None = None,  # features go to <cache_root>/features/<key>
    workers: int | None = None,
    utterances: Sequence[Utterance] | None = None,
    progress: bool = True,
) -> FeatureStore:
    """The manifest's features: memory-mapped from the cache, extracted first if absent."""
    manifest = Path(manifest)
    config = config or FeatureConfig()
    utterances = list(utterances) if utterances is not None else read_manifest(manifest)
    base = Path(cache_root) if cache_root else default_cache_root()
    root = base / "features" / cache_key(manifest, utterances, config)
    if not (root / "meta.json").is_file():
        _build(root, manifest, utterances, config, workers, progress)
    return open_store(root)


def open_store(root: str | Path) -> FeatureStore:
    root = Path(root)
    meta = json.loads((root / "meta.json").read_text())
    index = np.load(root / "index.npz", allow_pickle=False)
    skipped_ids, reasons = index["skipped_ids"].tolist(), index["skipped_reasons"].tolist()
    return FeatureStore(
        root=root,
        ids=index["ids"].tolist(),
        starts=index["starts"],
        lengths=index["lengths"],
        feats=np.load(root / "feats.npy", mmap_mode="r"),
        config=FeatureConfig(**meta["config"]),
        frame_sum=np.asarray(meta["frame_sum"], dtype=np.float64),
        frame_sumsq=np.asarray(meta["frame_sumsq"], dtype=np.float64),
        skipped=dict(zip(skipped_ids, reasons, strict=True)),
    )


def _build(
    root: Path,
    manifest: Path,
    utterances: Sequence[Utterance],
    config: FeatureConfig,
    workers: int | None,
    progress: bool,
) -> None:
    # Always read `duration` seconds from `offset`: segments of long recordings are cut by it.
    jobs = [(u.id, str(audio_path(manifest, u)), u.offset, u.duration) for u in utterances]
    chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=root.parent))
    started = time.perf_counter()
    try:
        writer = _FeatureWriter(tmp, config.n_mels)
        for chunk_result in _map_chunks(chunks, config, workers, progress, len(jobs)):
            for utt_id, result in chunk_result:
                writer.add(utt_id, result)
        writer.finish(config, manifest, time.perf_counter() - started)
        if root.exists():  # another process finished first; theirs is identical
            shutil.rmtree(tmp)
        else:
            tmp.rename(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _map_chunks(
    chunks: list[list[tuple[str, str, float, float]]],
    config: FeatureConfig,
    workers: int | None,
    progress: bool,
    total: int,
) -> Iterator[list[tuple[str, np.ndarray | str]]]:
    from rich.progress import Progress

    workers = workers or min(len(os.sched_getaffinity(0)), max(len(chunks), 1))
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("log-mel features", total=total)
        if workers <= 1:
            results = (_extract_chunk(chunk, config) for chunk in chunks)
            for result in results:
                bar.advance(task, len(result))
                yield result
            return
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(_extract_chunk, chunks, [config] * len(chunks)):
                bar.advance(task, len(result))
                yield result


class _FeatureWriter:
    """Appends float16 frames to a raw file, then wraps it as .npy once the size is known."""

    def __init__(self, directory: Path, n_mels: int) -> None:
        self.directory, self.n_mels = directory, n_mels
        self.raw = (directory / "feats.raw").open("wb")
        self.ids: list[str] = []
        self.starts: list[int] = []
        self.lengths: list[int] = []
        self.skipped: dict[str, str] = {}
        self.total = 0
        self.frame_sum = np.zeros(n_mels)
        self.frame_sumsq = np.zeros(n_mels)

    def add(self, utt_id: str, result: np.ndarray | str) -> None:
        if isinstance(result, str):
            self.skipped[utt_id] = result
            return
        stored = result.astype(np.float16)
        self.raw.write(stored.tobytes())
        as64 = stored.astype(np.float64)
        self.frame_sum += as64.sum(axis=0)
        self.frame_sumsq += (as64**2).sum(axis=0)
        self.ids.append(utt_id)
        self.starts.append(self.total)
        self.lengths.append(len(stored))
        self.total += len(stored)

    def finish(self, config: FeatureConfig, manifest: Path, seconds: float) -> None:
        self.raw.close()
        raw_path = self.directory / "feats.raw"
        frames = np.memmap(raw_path, dtype=np.float16, mode="r", shape=(self.total, self.n_mels))
        np.save(self.directory / "feats.npy", frames if self.total else np.zeros((0, self.n_mels)))
        del frames
        raw_path.unlink()
        np.savez(
            self.directory / "index.npz",
            ids=np.array(self.ids, dtype=str),
            starts=np.array(self.starts, dtype=np.int64),
            lengths=np.array(self.lengths, dtype=np.int32),
            skipped_ids=np.array(list(self.skipped), dtype=str),
            skipped_reasons=np.array(list(self.skipped.values()), dtype=str),
        )
        meta = {
            "config": asdict(config),
            "manifest": str(manifest.resolve()),
            "frames": self.total,
            "extraction_seconds": seconds,
            "frame_sum": self.frame_sum.tolist(),
            "frame_sumsq": self.frame_sumsq.tolist(),
        }
        (self.directory / "meta.json").write_text(json.dumps(meta))
