"""lhotse manifests (recordings + supervisions JSONL, optionally gzipped) read as plain JSON.

No lhotse dependency: the two record shapes are small and stable.
    recording   {id, sources: [{type: "file", channels, source}], sampling_rate, num_samples,
                 duration, [channel_ids], [transforms]}
    supervision {id, recording_id, start, duration, channel, text, speaker, language}
One utterance per supervision, offset = start. Relative `source` paths are resolved against
the recordings file's directory, then the working directory (lhotse stores them as given).
Skipped with a reason: non-file sources (url, command, memory), recordings with transforms
(speed/volume perturbation), and one channel of a multi-channel file (fedasr reads a mono
mix-down). A supervision without a speaker gets its recording id as speaker.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fedasr.data.importers.common import (
    END_TOLERANCE,
    Collector,
    CorpusImportError,
    ImportResult,
    finish_import,
    relative_audio,
)
from fedasr.data.manifest import Utterance
from fedasr.data.text import normalize_text

Record = dict[str, Any]
SUPERVISION_KEYS = ("id", "recording_id", "start", "duration")
RECORDING_KEYS = ("id", "sources", "sampling_rate", "duration")


def import_lhotse(
    src: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    recordings: str | Path | None = None,
    overwrite: bool = False,
) -> ImportResult:
    supervisions, recordings_file = locate_manifests(Path(src), recordings)
    out_dir, collector = Path(out_dir), Collector()
    recording_by_id = _read_recordings(recordings_file, collector)
    for line_no, sup in read_jsonl(supervisions):
        where = f"{supervisions}:{line_no}"
        found = (
            _supervision_utterance(sup, recording_by_id, recordings_file.parent, out_dir)
            if isinstance(sup, dict)
            else ("unparsable", sup)
        )
        if isinstance(found, Utterance):
            collector.add(found, where)
        else:
            collector.skip(where, *found)
    manifest_name = name or _default_name(supervisions)
    return finish_import(collector, supervisions, out_dir, manifest_name, overwrite)


def locate_manifests(src: Path, recordings: str | Path | None) -> tuple[Path, Path]:
    """(supervisions, recordings): SRC is the supervisions file or a directory with one pair."""
    if src.is_dir():
        found = sorted(src.glob("*supervisions*.jsonl*"))
        if len(found) != 1:
            listed = ", ".join(p.name for p in found) or "none"
            raise CorpusImportError(f"{src}: pass one supervisions file (found: {listed})")
        src = found[0]
    if not src.is_file():
        raise CorpusImportError(f"{src}: no such supervisions file")
    partner = (
        Path(recordings)
        if recordings
        else src.with_name(src.name.replace("supervisions", "recordings"))
    )
    if partner == src or not partner.is_file():
        raise CorpusImportError(f"{src}: recordings manifest not found at {partner} (--recordings)")
    return src, partner


def read_jsonl(path: Path) -> Iterator[tuple[int, Record | str]]:
    """(line number, record or why the line is unreadable); never stops at a bad line."""
    opener = gzip.open if path.suffix == ".gz" else open
    line_no = 0
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for line_no, line in enumerate(handle, start=1):
                if line.strip():
                    yield line_no, _parse_record(line)
    except (UnicodeDecodeError, OSError, EOFError) as err:  # not UTF-8, bad or cut gzip
        raise CorpusImportError(f"{path}: unreadable after line {line_no}: {err}") from err


def _parse_record(line: str) -> Record | str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        return f"malformed JSON: {err.msg}"
    return record if isinstance(record, dict) else "expected a JSON object"


def _read_recordings(path: Path, collector: Collector) -> dict[str, Record]:
    recordings: dict[str, Record] = {}
    for line_no, record in read_jsonl(path):
        missing = [k for k in RECORDING_KEYS if k not in record] if isinstance(record, dict) else []
        if isinstance(record, str) or missing:
            reason = record if isinstance(record, str) else f"missing key(s) {', '.join(missing)}"
            # its supervisions are then skipped as "unknown-recording", naming this line
            collector.skip(f"{path}:{line_no}", "unparsable", reason)
            continue
        recordings[str(record["id"])] = record
    return recordings


def _supervision_utterance(
    sup: Record, recordings: dict[str, Record], base: Path, out_dir: Path
) -> Utterance | tuple[str, str]:
    """The utterance of one supervision, or (kind, reason) when it is skipped."""
    missing = [k for k in SUPERVISION_KEYS if k not in sup]
    if missing:
        return "unparsable", f"missing key(s) {', '.join(missing)}"
    recording = recordings.get(str(sup["recording_id"]))
    if recording is None:
        return "unknown-recording", f"recording {sup['recording_id']!r} is not in the recordings"
    channel = sup.get("channel")
    source = _audio_source(recording, 0 if channel is None else channel, base)
    if isinstance(source, tuple):
        return source
    try:
        start, duration = float(sup["start"]), float(sup["duration"])
        total, rate = float(recording["duration"]), int(recording["sampling_rate"])
    except (TypeError, ValueError):
        return "unparsable", "start, duration and sampling_rate must be numbers"
    if start + duration > total + END_TOLERANCE:
        return "segment-past-end", f"ends at {start + duration:.3f} s, recording is {total} s"
    text = sup.get("text")
    if text is not None and not normalize_text(str(text)):
        return "no-transcript", f"empty text {text!r} (omit it for untranscribed audio)"
    whole = start == 0 and abs(duration - total) <= END_TOLERANCE
    return Utterance(
        id=str(sup["id"]),
        audio=relative_audio(source, out_dir),
        duration=duration,
        sample_rate=rate,
        text=None if text is None else normalize_text(str(text)),
        speaker=str(sup.get("speaker") or sup["recording_id"]),
        offset=start,
        language=sup.get("language"),
        meta={"recording": str(sup["recording_id"])} | ({} if whole else {"segment": True}),
    )


def _audio_source(recording: Record, channel: Any, base: Path) -> Path | tuple[str, str]:
    """The file holding `channel` of `recording`, or (kind, reason) when it cannot be used."""
    if recording.get("transforms"):
        return "unsupported-source", "recording has transforms (perturbation needs lhotse)"
    wanted = set(channel) if isinstance(channel, list) else {channel}
    sources = recording["sources"] if isinstance(recording["sources"], list) else []
    for source in (s for s in sources if isinstance(s, dict)):
        channels = set(source.get("channels") or [0])
        if not wanted <= channels:
            continue
        if source.get("type") != "file":
            return "unsupported-source", f"source type {source.get('type')!r}; only 'file' works"
        if channels != wanted:
            n = len(channels)
            return (
                "multi-channel",
                f"channel(s) {sorted(wanted)} of a {n}-channel file (mono mix-down only)",
            )
        return _resolve(Path(str(source["source"])), base)
    return "unsupported-source", f"no source holds channel {channel}"


def _resolve(path: Path, base: Path) -> Path | tuple[str, str]:
    for candidate in (path,) if path.is_absolute() else (base / path, path):
        if candidate.is_file():
            return candidate
    return "missing-audio", f"audio file not found: {path} (relative paths: tried {base}, .)"


def _default_name(supervisions: Path) -> str:
    stem = supervisions.name.removesuffix(".gz").removesuffix(".jsonl")
    return stem.replace("_supervisions", "").replace("supervisions_", "") or "lhotse"
