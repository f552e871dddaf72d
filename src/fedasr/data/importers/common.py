"""What every importer shares: skip bookkeeping, relative audio paths, header probes, output.

Importers never copy audio. They write our manifest with audio paths relative to the output
directory (so the manifest and the corpus can move together) and account for every entry of
the source they did not import: a skipped entry is listed with `file:line`, never dropped.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from fedasr.data.manifest import Utterance, write_manifest
from fedasr.errors import FedasrError
from fedasr.fsutil import atomic_write_text, refuse_to_overwrite

END_TOLERANCE = 0.05  # seconds a segment may overrun its recording (rounded STM times)


class CorpusImportError(FedasrError):
    """The source cannot be imported at all (wrong layout, missing columns, no usable entry)."""


@dataclass(frozen=True)
class Skipped:
    """One source entry that was not imported, and why."""

    where: str  # `file:line` for a line of a transcript/STM/TSV/JSONL file, else a path
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: [{self.kind}] {self.reason}"


@dataclass(frozen=True)
class AudioHeader:
    frames: int
    sample_rate: int

    @property
    def seconds(self) -> float:
        return round(self.frames / self.sample_rate, 6)


@dataclass
class Collector:
    """Accumulates utterances and skips; a repeated id is skipped with the first one's place."""

    utterances: list[Utterance] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    _first_seen: dict[str, str] = field(default_factory=dict)

    def add(self, utterance: Utterance, where: str) -> None:
        first = self._first_seen.setdefault(utterance.id, where)
        if first != where:
            self.skip(where, "duplicate-id", f"id {utterance.id!r} already imported from {first}")
            return
        self.utterances.append(utterance)

    def skip(self, where: str, kind: str, reason: str) -> None:
        self.skipped.append(Skipped(where, kind, reason))


@dataclass
class ImportResult:
    manifest: Path
    utterances: list[Utterance]
    skipped: list[Skipped]
    skipped_list: Path | None = None

    @property
    def speakers(self) -> set[str]:
        return {utt.speaker for utt in self.utterances}

    @property
    def hours(self) -> float:
        return sum(utt.duration for utt in self.utterances) / 3600

    def skipped_counts(self) -> Counter[str]:
        return Counter(skip.kind for skip in self.skipped)


def relative_audio(audio: Path, out_dir: Path) -> str:
    """The audio path as the manifest stores it: relative to the manifest's directory."""
    return os.path.relpath(os.path.abspath(audio), os.path.abspath(out_dir))


def read_text_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file; other encodings are an error naming file:line."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise CorpusImportError(f"{path}:{line}: not UTF-8 text ({err.reason})") from err


def probe_audio(
    path: Path, cache: dict[Path, AudioHeader | str] | None = None
) -> AudioHeader | str:
    """Length and rate from the header (no decoding; `fedasr data validate` decodes), or why not."""
    if cache is not None and path in cache:
        return cache[path]
    try:
        info = sf.info(str(path))
        found: AudioHeader | str = AudioHeader(int(info.frames), int(info.samplerate))
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        found = f"cannot read {path}: {str(err).strip()}"
    if cache is not None:
        cache[path] = found
    return found


def finish_import(
    collector: Collector, src: Path, out_dir: Path, name: str, overwrite: bool = False
) -> ImportResult:
    """Write `out_dir/name.jsonl` (and `name.skipped.txt` listing every skip); fail if empty,
    or if the manifest exists and `overwrite` is not given (it may be a manifest the user wrote)."""
    if not collector.utterances:
        first = "\n  ".join(str(skip) for skip in collector.skipped[:10])
        detail = f"; {len(collector.skipped)} entries skipped, first:\n  {first}" if first else ""
        raise CorpusImportError(f"{src}: nothing to import{detail}")
    refuse_to_overwrite(out_dir / f"{name}.jsonl", overwrite)
    manifest = write_manifest(out_dir / f"{name}.jsonl", collector.utterances)
    skipped_list = out_dir / f"{name}.skipped.txt"
    if collector.skipped:
        atomic_write_text(skipped_list, "".join(f"{skip}\n" for skip in collector.skipped))
    else:
        skipped_list.unlink(missing_ok=True)  # a stale list from an earlier import would mislead
    return ImportResult(
        manifest,
        collector.utterances,
        collector.skipped,
        skipped_list if collector.skipped else None,
    )
