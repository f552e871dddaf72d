"""Feature extraction speed (x real time per core) and feature-cache load time.

    python -m benchmarks.bench_features corpora/default/train.jsonl --runs 3

Extraction runs in-process with one worker, so CPU seconds measure one core's work even on a
shared machine (wall time is printed too, with the load average). Each run uses a fresh cache.
The reference extractor, kaldi-native-fbank (a per-frame C++ loop), is timed on the same audio.
Cache load = opening the memory-mapped store (what a worker does), then one full read of every
frame from the page cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fedasr.data.audio import load_utterance_audio
from fedasr.data.feature_cache import load_or_build, open_store
from fedasr.data.features import FeatureConfig, log_mel
from fedasr.data.manifest import audio_path, read_manifest


def extraction_run(manifest: Path) -> tuple[float, float, Path]:
    cache = Path(tempfile.mkdtemp(prefix="bench-features-"))
    cpu, wall = time.process_time(), time.perf_counter()
    store = load_or_build(manifest, cache_root=cache, workers=1, progress=False)
    return time.process_time() - cpu, time.perf_counter() - wall, store.root


def feature_only_speed(manifest: Path, limit: int) -> tuple[float, float]:
    """x real time of our log-mel and of kaldi-native-fbank on decoded audio (no file I/O)."""
    import kaldi_native_fbank as knf

    config = FeatureConfig()
    utts = read_manifest(manifest)[:limit]
    waves = [
        load_utterance_audio(audio_path(manifest, u), u.offset, u.duration, 16000) for u in utts
    ]
    seconds = sum(len(w) for w in waves) / 16000
    started = time.process_time()
    for wave in waves:
        log_mel(wave, config)
    ours = seconds / (time.process_time() - started)
    options = knf.FbankOptions()
    options.frame_opts.dither = 0.0
    options.mel_opts.num_bins = 80
    started = time.process_time()
    for wave in waves:
        fbank = knf.OnlineFbank(options)
        fbank.accept_waveform(16000, wave.tolist())
        fbank.input_finished()
        np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])
    return ours, seconds / (time.process_time() - started)


def load_times(root: Path, repeats: int = 5) -> tuple[float, float, float]:
    opens, scans = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        store = open_store(root)
        opens.append(time.perf_counter() - started)
        started = time.perf_counter()
        float(np.asarray(store.feats, dtype=np.float32).sum())
        scans.append(time.perf_counter() - started)
    size = os.path.getsize(root / "feats.npy") / 1e6
    return statistics.median(opens), statistics.median(scans), size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--subset", type=int, default=300, help="utterances for the knf comparison")
    args = parser.parse_args()
    torch.set_num_threads(1)
    audio = sum(u.duration for u in read_manifest(args.manifest))
    runs = [extraction_run(args.manifest) for _ in range(args.runs)]
    cpu = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    ours, kaldi = feature_only_speed(args.manifest, args.subset)
    opened, scanned, megabytes = load_times(runs[-1][2])
    count = len(read_manifest(args.manifest))
    print(f"audio: {audio / 3600:.2f} h in {count} utterances; load {os.getloadavg()[0]:.2f}")
    print("| measure | median of runs |\n| --- | --- |")
    speed = f"{audio / cpu:,.0f}x real time per core ({cpu:.1f} s CPU, {wall:.1f} s wall)"
    print(f"| extraction incl. FLAC decode and cache write, 1 worker | {speed} |")
    print(f"| log-mel alone (torch, batched rfft) | {ours:,.0f}x real time per core |")
    print(f"| kaldi-native-fbank alone (per-frame loop) | {kaldi:,.0f}x real time per core |")
    print(f"| cache open (memory map) | {1000 * opened:.1f} ms |")
    print(f"| full read of every frame ({megabytes:.0f} MB float16) | {scanned:.2f} s |")


if __name__ == "__main__":
    main()
