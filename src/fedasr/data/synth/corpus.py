"""Build the embedded corpus: plan, synthesize in parallel, write manifests and corpus.json.

Layout of OUT:
  train.jsonl    training speakers, training texts
  test.jsonl     the same speakers, texts never used in training
  heldout.jsonl  held-out speakers (never in training), texts never used in training
  public.jsonl   public speakers (neither clients nor held-out), no evaluation text; sizes
                 small and default only (a server-held set, e.g. FedMD's)
  audio/<speaker>/<utt_id>.flac   16 kHz mono 16-bit
  corpus.json    the recipe and the numbers: seed, size, speakers, counts, engine versions
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedasr.data.manifest import Utterance, write_manifest
from fedasr.data.synth import worker
from fedasr.data.synth.checks import check_engines, engine_versions, resolve_espeak_backend
from fedasr.data.synth.plan import SIZES, UtteranceSpec, make_plan, select_speakers
from fedasr.data.synth.render import SAMPLE_RATE
from fedasr.data.synth.speakers import DEFAULT_ENGINES, speaker_table
from fedasr.errors import ConfigError
from fedasr.fsutil import fsync_dir, fsync_tree

SPLITS = ("train", "test", "heldout")
OPTIONAL_SPLITS = ("public",)  # written only when the size has such clips
CHUNK = 8  # clips per task: consecutive clips share a speaker, so a worker rarely switches voice


@dataclass(frozen=True)
class SynthConfig:
    out: Path
    size: str = "default"
    vocab: str = "commands"
    seed: int = 0
    workers: int | None = None  # None: one per CPU
    engines: tuple[str, ...] = DEFAULT_ENGINES
    noise: bool = True
    espeak_backend: str = "auto"


@dataclass
class BuiltCorpus:
    out: Path
    plan: list[UtteranceSpec]
    frames: dict[int, int]  # plan index -> samples at 16 kHz
    seconds_taken: float
    info: dict[str, Any] = field(default_factory=dict)  # what corpus.json holds


ProgressCallback = Callable[[int, int], None]  # (clips done, clips in all)


def plan_corpus(config: SynthConfig) -> tuple[list[UtteranceSpec], str]:
    """The plan and the espeak backend; fails fast on bad options or missing engines."""
    if config.size not in SIZES:
        raise ConfigError(f"--size: got {config.size!r}; allowed: {', '.join(SIZES)}")
    size = SIZES[config.size]
    backend = resolve_espeak_backend(config.espeak_backend)
    speakers = select_speakers(speaker_table(config.engines), size)
    if not speakers:
        raise ConfigError(f"--size {config.size} has no speakers for engines {config.engines}")
    check_engines(speakers, backend)
    return make_plan(speakers, size, config.vocab, config.seed, config.noise), backend


def build_corpus(
    config: SynthConfig, progress: ProgressCallback | None = None, overwrite: bool = False
) -> BuiltCorpus:
    """Synthesize into a temporary sibling of OUT and move it into place when complete, so OUT
    never holds half a corpus (a crash leaves only the hidden temporary directory). An OUT that
    already holds files is refused, unless `overwrite` and it holds a fedasr corpus."""
    started = time.perf_counter()
    plan, backend = plan_corpus(config)
    out = check_out_dir(Path(config.out), overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        workers = max(1, min(config.workers or os.cpu_count() or 1, len(plan)))
        frames: dict[int, int] = {}
        for result in _synthesize(plan, staging, backend, workers):
            frames[result.index] = result.frames
            if progress is not None:
                progress(len(frames), len(plan))
        write_manifests(staging, plan, frames, config.vocab)
        built = BuiltCorpus(out, plan, frames, time.perf_counter() - started)
        built.info = corpus_info(config, built, backend, workers)
        (staging / "corpus.json").write_text(json.dumps(built.info, indent=2) + "\n")
        fsync_tree(staging)
        _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # created by this call; empty once published
    return built


def check_out_dir(out: Path, overwrite: bool) -> Path:
    """OUT may be missing or empty; one holding a fedasr corpus only with `overwrite`; one
    holding anything else never (fedasr deletes nothing it did not create)."""
    if not out.exists() or not any(out.iterdir()):
        return out
    if not (out / "corpus.json").is_file():
        raise ConfigError(f"--out {out}: directory is not empty and holds no fedasr corpus")
    if not overwrite:
        raise ConfigError(
            f"--out {out}: already holds a corpus; pass --overwrite to replace it, or choose "
            "another --out"
        )
    return out


def _publish(staging: Path, out: Path) -> None:
    """Move the finished corpus into OUT. An existing corpus there (overwrite) is replaced
    entry by entry — its audio, manifests and corpus.json; any other file in OUT stays."""
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(staging, out)  # an empty directory is replaced atomically
        except OSError:
            if (out / "corpus.json").is_file():  # a concurrent build of the same corpus won
                return
            raise
        fsync_dir(out.parent)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.replaced-", dir=out.parent))
    names = ["audio", *(f"{split}.jsonl" for split in SPLITS + OPTIONAL_SPLITS), "corpus.json"]
    for name in names:
        if (out / name).exists():
            os.replace(out / name, old / name)
        if (staging / name).exists():  # an optional split this size has no clips for
            os.replace(staging / name, out / name)
    fsync_dir(out)
    shutil.rmtree(old)  # the corpus the caller asked to overwrite


def _synthesize(
    plan: list[UtteranceSpec], out: Path, backend: str, workers: int
) -> Iterator[worker.ClipResult]:
    if workers == 1:
        worker.init_worker(str(out), backend)
        try:
            yield from map(worker.synthesize_clip, plan)
        finally:
            worker.close_worker()
        return
    with _pool_context().Pool(workers, worker.init_worker, (str(out), backend)) as pool:
        yield from pool.imap_unordered(worker.synthesize_clip, plan, chunksize=CHUNK)
        pool.close()
        pool.join()


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork where it is safe (saves each worker ~1 s of imports), spawn otherwise.

    Forking a process that runs other threads can copy a lock some thread holds and hang the
    child, so callers with threads (a progress bar's refresh, torch) get spawn.
    """
    methods = multiprocessing.get_all_start_methods()
    safe_to_fork = "fork" in methods and threading.active_count() == 1
    return multiprocessing.get_context("fork" if safe_to_fork else "spawn")


def present_splits(plan: list[UtteranceSpec]) -> tuple[str, ...]:
    """The three splits every corpus has, and the optional ones this plan fills."""
    return SPLITS + tuple(s for s in OPTIONAL_SPLITS if any(c.split == s for c in plan))


def write_manifests(
    out: Path, plan: list[UtteranceSpec], frames: dict[int, int], vocab: str
) -> None:
    for split in present_splits(plan):
        utterances = [
            _utterance(spec, frames[spec.index], vocab) for spec in plan if spec.split == split
        ]
        write_manifest(out / f"{split}.jsonl", utterances)


def _utterance(spec: UtteranceSpec, frames: int, vocab: str) -> Utterance:
    return Utterance(
        id=spec.id,
        audio=worker.clip_path(spec),
        duration=frames / SAMPLE_RATE,
        sample_rate=SAMPLE_RATE,
        text=spec.text,
        speaker=spec.speaker.id,
        language="en",
        meta={"engine": spec.speaker.engine, "voice": spec.speaker.voice, "vocab": vocab},
    )


def corpus_info(
    config: SynthConfig, built: BuiltCorpus, backend: str, workers: int
) -> dict[str, Any]:
    speakers = {spec.speaker.id: spec.speaker for spec in built.plan}
    return {
        "format": "fedasr-synth/1",
        "seed": config.seed,
        "size": config.size,
        "vocab": config.vocab,
        "engines": list(config.engines),
        "espeak_backend": backend if "espeak" in config.engines else None,
        "noise": config.noise,
        "sample_rate": SAMPLE_RATE,
        "speakers": [speaker.to_dict() for speaker in speakers.values()],
        "counts": split_counts(built),
        "build_seconds": round(built.seconds_taken, 2),
        "workers": workers,
        "engine_versions": engine_versions(config.engines, backend),
    }


def split_counts(built: BuiltCorpus) -> dict[str, dict[str, float]]:
    counts = {}
    for split in present_splits(built.plan):
        specs = [spec for spec in built.plan if spec.split == split]
        seconds = sum(built.frames[spec.index] for spec in specs) / SAMPLE_RATE
        counts[split] = {
            "utterances": len(specs),
            "speakers": len({spec.speaker.id for spec in specs}),
            "hours": round(seconds / 3600, 4),
        }
    return counts
