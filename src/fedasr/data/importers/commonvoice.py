"""Common Voice: a TSV (validated.tsv, train.tsv, ...) next to `clips/`.

`client_id` is the speaker, `sentence` the text, `path` the clip under `clips/`. Durations come
from `clip_durations.tsv` when the release has it, else from the clip's header. Clips are MP3:
the libsndfile bundled with soundfile >= 0.12 (libsndfile >= 1.1) decodes it; where the local
libsndfile cannot, the import stops with an error saying so, since skipping would skip every clip.
Clips are 32-48 kHz: validate with `--on-rate-mismatch resample`, features resample at load.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import soundfile as sf

from fedasr.data.importers.common import (
    AudioHeader,
    Collector,
    CorpusImportError,
    ImportResult,
    finish_import,
    probe_audio,
    relative_audio,
)
from fedasr.data.manifest import Utterance
from fedasr.data.text import normalize_text

REQUIRED_COLUMNS = ("client_id", "path", "sentence")
META_COLUMNS = ("gender", "age", "accents", "accent", "variant")  # kept when not empty


def import_commonvoice(
    src: str | Path, out_dir: str | Path, name: str | None = None, overwrite: bool = False
) -> ImportResult:
    tsv, out_dir = _tsv_file(Path(src)), Path(out_dir)
    clips = tsv.parent / "clips"
    durations = read_clip_durations(tsv.parent / "clip_durations.tsv")
    collector = Collector()
    for line_no, row in _rows(tsv):
        where = f"{tsv}:{line_no}"
        found = _row_utterance(row, clips, durations, out_dir)
        if isinstance(found, Utterance):
            collector.add(found, where)
        else:
            collector.skip(where, *found)
    return finish_import(collector, tsv, out_dir, name or tsv.stem, overwrite)


def _tsv_file(src: Path) -> Path:
    if src.is_file():
        return src
    if src.is_dir():
        available = sorted(p.name for p in src.glob("*.tsv") if p.name != "clip_durations.tsv")
        listed = ", ".join(available) or "none found"
        raise CorpusImportError(f"{src}: pass one TSV file of this release ({listed})")
    raise CorpusImportError(f"{src}: no such file")


def _rows(tsv: Path) -> Iterator[tuple[int, dict[str, str | None]]]:
    """(line number, row); Common Voice quotes nothing, so quote characters are literal text."""
    with tsv.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            found = ", ".join(reader.fieldnames or []) or "an empty file"
            raise CorpusImportError(
                f"{tsv}:1: missing column(s) {', '.join(missing)}; found {found}"
            )
        try:
            for row in reader:
                yield reader.line_num, row
        except UnicodeDecodeError as err:
            where = f"{tsv}: after line {reader.line_num}"
            raise CorpusImportError(f"{where}: not UTF-8 text ({err.reason})") from err


def read_clip_durations(path: Path) -> dict[str, float]:
    """clip name -> seconds from `clip_durations.tsv` (milliseconds); {} when absent."""
    if not path.is_file():
        return {}
    durations: dict[str, float] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 2 and row[1].strip().isdigit():  # also skips the header
                durations[row[0]] = int(row[1]) / 1000
    return durations


def _row_utterance(
    row: dict[str, str | None], clips: Path, durations: dict[str, float], out_dir: Path
) -> Utterance | tuple[str, str]:
    """The utterance of one TSV row, or (kind, reason) when it is skipped."""
    if None in row or any(row.get(c) is None for c in REQUIRED_COLUMNS):
        return "unparsable", "wrong number of tab-separated columns"
    clip_name, speaker = str(row["path"]), str(row["client_id"])
    text = normalize_text(str(row["sentence"]))
    if not text:
        return "no-transcript", "empty sentence"
    clip = clips / clip_name
    if not clip.is_file():
        return "missing-audio", f"clip not found: {clip}"
    _require_decoder(clip)
    header = probe_audio(clip)
    if not isinstance(header, AudioHeader):
        return "unreadable-audio", header
    meta = {c: row[c] for c in META_COLUMNS if row.get(c)}
    return Utterance(
        id=Path(clip_name).stem,
        audio=relative_audio(clip, out_dir),
        duration=durations.get(clip_name, header.seconds),
        sample_rate=header.sample_rate,
        text=text,
        speaker=speaker,
        language=row.get("locale") or None,
        meta=meta,
    )


def _require_decoder(clip: Path) -> None:
    if clip.suffix.lower() == ".mp3" and "MP3" not in sf.available_formats():
        raise CorpusImportError(
            f"{clip}: this libsndfile ({sf.__libsndfile_version__}) cannot decode MP3; "
            "install soundfile>=0.12 (it bundles libsndfile>=1.1), or convert the clips to "
            "FLAC and rename them in the TSV's path column"
        )
