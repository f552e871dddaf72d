"""Utterance manifests: JSONL, one utterance per line (the lhotse idea, kept small).

A line looks like::

    {"id": "spk1-0001", "audio": "audio/spk1/0001.flac", "duration": 1.93,
     "sample_rate": 16000, "text": "turn on the light", "speaker": "spk1",
     "offset": 0.0, "language": "en", "meta": {"engine": "espeak"}}

`audio` is relative to the manifest's directory (absolute paths are kept as they are).
`offset`/`duration` cut a segment out of a longer recording without copying audio.
`text` may be null for untranscribed audio (semi-supervised clients).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fedasr.errors import ManifestError

REQUIRED_FIELDS = ("id", "audio", "duration", "sample_rate", "speaker")
OPTIONAL_FIELDS = ("text", "offset", "language", "meta")


@dataclass(frozen=True)
class Utterance:
    id: str
    audio: str
    duration: float
    sample_rate: int
    text: str | None
    speaker: str
    offset: float = 0.0
    language: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        record = asdict(self)
        if not record["meta"]:
            del record["meta"]
        if record["language"] is None:
            del record["language"]
        return json.dumps(record, ensure_ascii=False, sort_keys=False)


def utterance_from_dict(record: dict[str, Any]) -> Utterance:
    """Build an Utterance from a parsed JSON object; ValueError names the bad field."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    missing = [name for name in REQUIRED_FIELDS if name not in record]
    if missing:
        raise ValueError(f"missing field(s): {', '.join(missing)}")
    unknown = sorted(set(record) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        allowed = ", ".join(REQUIRED_FIELDS + OPTIONAL_FIELDS)
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; allowed: {allowed}")
    text = record.get("text")
    if text is not None and not isinstance(text, str):
        raise ValueError(f"field 'text' must be a string or null, got {text!r}")
    meta = record.get("meta") or {}
    if not isinstance(meta, dict):
        raise ValueError("field 'meta' must be a JSON object")
    return Utterance(
        id=_typed(record, "id", str),
        audio=_typed(record, "audio", str),
        duration=float(_typed(record, "duration", (int, float))),
        sample_rate=int(_typed(record, "sample_rate", int)),
        text=text,
        speaker=str(_typed(record, "speaker", (str, int))),
        offset=float(_typed(record, "offset", (int, float), default=0.0)),
        language=record.get("language"),
        meta=meta,
    )


def _typed(record: dict[str, Any], name: str, kind: Any, default: Any = None) -> Any:
    value = record.get(name, default)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"field '{name}' has the wrong type: {value!r}")
    return value


def iter_manifest_lines(path: str | Path) -> Iterator[tuple[int, Utterance | ManifestError]]:
    """Yield (line number, utterance or the error for that line); never stops at an error.

    Blank lines are skipped. This is what the validator walks; `read_manifest` raises instead.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, utterance_from_dict(json.loads(line))
            except json.JSONDecodeError as err:
                yield line_no, ManifestError(path, line_no, f"malformed JSON: {err.msg}")
            except (ValueError, TypeError) as err:
                yield line_no, ManifestError(path, line_no, str(err))


def read_manifest(path: str | Path) -> list[Utterance]:
    """Read every utterance; the first malformed line raises ManifestError (file:line)."""
    if not Path(path).is_file():
        raise ManifestError(path, 0, "manifest file does not exist")
    utterances = []
    for _, item in iter_manifest_lines(path):
        if isinstance(item, ManifestError):
            raise item
        utterances.append(item)
    return utterances


def write_manifest(path: str | Path, utterances: Iterable[Utterance]) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves half a manifest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for utt in utterances:
            handle.write(utt.to_json() + "\n")
    tmp.replace(path)
    return path


def audio_path(manifest_path: str | Path, utt: Utterance) -> Path:
    """The audio file of `utt`, resolved against the manifest's directory."""
    audio = Path(utt.audio)
    return audio if audio.is_absolute() else Path(manifest_path).parent / audio
