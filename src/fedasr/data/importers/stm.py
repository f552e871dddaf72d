"""TED-LIUM style STM: `<file> <channel> <speaker> <start> <end> [<label>] transcript`.

Each line is a segment of a long recording, cut by offset/duration (the audio is not copied).
The recording is found by its file id under the STM tree: TED-LIUM keeps `stm/` and `sph/`
side by side; `.wav` and `.flac` are accepted too. One client per talk: the speaker is the
file id, as the early-exit FL paper does (the STM speaker field goes in `meta`).

Transcripts are cleaned for a character CTC model:
- `ignore_time_segment_in_scoring` segments are skipped (counted in the report);
- non-speech events (`{NOISE}`, `{BREATH}`, `[laughter]`, `<sil>`, `<s>`, `</s>`, `<noise>`)
  are removed: they are not words a recognizer should spell;
- `<unk>` (a word the transcriber could not spell) follows `unk`: "skip" drops the segment
  (default: any other choice teaches the model a wrong label), "drop" deletes the token,
  "keep" leaves it for a tokenizer that has it (the char tokenizer does not);
- TED-LIUM's split contractions (`it 's`, `do n't`) are joined as Kaldi's recipe does;
- then fedasr.data.text.normalize_text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fedasr.data.importers.common import (
    END_TOLERANCE,
    AudioHeader,
    Collector,
    CorpusImportError,
    ImportResult,
    finish_import,
    probe_audio,
    read_text_lines,
    relative_audio,
)
from fedasr.data.manifest import Utterance
from fedasr.data.text import normalize_text

UnkPolicy = Literal["skip", "drop", "keep"]
UNK_POLICIES = ("skip", "drop", "keep")
STM_SYNTAX = "<file> <channel> <speaker> <start> <end> [<label>] transcript"
IGNORED = "ignore_time_segment_in_scoring"
AUDIO_PREFERENCE = (".flac", ".wav", ".sph")  # converted copies win over the original SPHERE
_EVENT = re.compile(r"^(\{.*\}|\[.*\]|<sil>|<s>|</s>|<noise>)$", re.IGNORECASE)
_WORD_MARKERS = {"<unk>", "<sil>", "<s>", "</s>", "<noise>"}  # never read as a <label>


@dataclass(frozen=True)
class StmSegment:
    file_id: str
    channel: str
    speaker: str
    start: float
    end: float
    label: str | None
    text: str


def import_stm(
    src: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    unk: UnkPolicy = "skip",
    overwrite: bool = False,
) -> ImportResult:
    src, out_dir = Path(src), Path(out_dir)
    if unk not in UNK_POLICIES:
        raise CorpusImportError(f"unk: got {unk!r}; allowed: {', '.join(UNK_POLICIES)}")
    stm_files = _stm_files(src)
    recordings = _audio_index(_tree_root(src))
    collector = Collector()
    headers: dict[Path, AudioHeader | str] = {}  # one probe per talk, not per segment
    for stm in stm_files:
        lines = read_text_lines(stm)
        for line_no, line in enumerate(lines, start=1):
            if line.strip() and not line.lstrip().startswith(";;"):
                found = _segment_utterance(line, recordings, headers, out_dir, unk)
                where = f"{stm}:{line_no}"
                if isinstance(found, Utterance):
                    collector.add(found, where)
                else:
                    collector.skip(where, *found)
    return finish_import(collector, src, out_dir, name or _default_name(src), overwrite)


def parse_stm_line(line: str) -> StmSegment:
    """One STM line; ValueError says what is wrong with it."""
    fields = line.split()
    if len(fields) < 5:
        raise ValueError(f"expected {STM_SYNTAX!r}, got {len(fields)} fields")
    file_id, channel, speaker, start, end, *rest = fields
    try:
        start_s, end_s = float(start), float(end)
    except ValueError:
        raise ValueError(f"start/end must be seconds, got {start!r} {end!r}") from None
    label = None
    if rest and _is_label(rest[0]):
        label, rest = rest[0], rest[1:]
    return StmSegment(file_id, channel, speaker, start_s, end_s, label, " ".join(rest))


def _is_label(token: str) -> bool:
    # `<o,f0,male>` is a label; `<unk>` opening a transcript is a word
    return token.startswith("<") and token.endswith(">") and token.lower() not in _WORD_MARKERS


def clean_transcript(text: str, unk: UnkPolicy) -> str | None:
    """The words to train on, or None when the segment must be skipped for its <unk>."""
    words: list[str] = []
    for token in text.split():
        if _EVENT.match(token):
            continue
        if token.lower() == "<unk>":
            if unk == "skip":
                return None
            if unk == "drop":
                continue
        if words and (token.startswith("'") or token.lower() == "n't"):
            words[-1] += token  # TED-LIUM writes "it 's", "do n't"
        else:
            words.append(token)
    if unk == "keep":  # normalize_text would strip the brackets of <unk>
        kept = (w if w.lower() == "<unk>" else normalize_text(w) for w in words)
        return " ".join(w for w in kept if w)
    return normalize_text(" ".join(words))


def _segment_utterance(
    line: str,
    recordings: dict[str, Path],
    headers: dict[Path, AudioHeader | str],
    out_dir: Path,
    unk: UnkPolicy,
) -> Utterance | tuple[str, str]:
    """The utterance for one STM line, or (kind, reason) when it is skipped."""
    try:
        seg = parse_stm_line(line)
    except ValueError as err:
        return "unparsable", str(err)
    if seg.text.strip() == IGNORED:
        return "ignored-segment", f"marked {IGNORED}"
    if seg.end <= seg.start:
        return "bad-times", f"end {seg.end} is not after start {seg.start}"
    audio = recordings.get(seg.file_id)
    if audio is None:
        return "missing-audio", f"no {seg.file_id}.sph/.wav/.flac found for this talk"
    header = probe_audio(audio, headers)
    if not isinstance(header, AudioHeader):
        hint = " (shorten-compressed SPHERE? convert with sph2pipe to .wav)"
        return "unreadable-audio", header + (hint if audio.suffix == ".sph" else "")
    if seg.end > header.seconds + END_TOLERANCE:
        return "segment-past-end", f"ends at {seg.end} s, {audio} is {header.seconds} s long"
    text = clean_transcript(seg.text, unk)
    if text is None:
        return "unk", "transcript has <unk> (see --unk)"
    if not text:
        return "no-speech", f"no words left in {seg.text!r}"
    return _utterance(seg, text, audio, header, out_dir)


def _utterance(
    seg: StmSegment, text: str, audio: Path, header: AudioHeader, out_dir: Path
) -> Utterance:
    meta: dict[str, object] = {"segment": True, "channel": seg.channel}
    if seg.speaker != seg.file_id:
        meta["stm_speaker"] = seg.speaker
    if seg.label:
        meta["label"] = seg.label
    return Utterance(
        # Kaldi's TED-LIUM naming: talk-start-end in centiseconds; sorts by time within a talk
        id=f"{seg.file_id}-{round(seg.start * 100):07d}-{round(seg.end * 100):07d}",
        audio=relative_audio(audio, out_dir),
        duration=round(seg.end - seg.start, 6),
        sample_rate=header.sample_rate,
        text=text,
        speaker=seg.file_id,
        offset=seg.start,
        meta=meta,
    )


def _stm_files(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    found = sorted(src.rglob("*.stm")) if src.is_dir() else []
    if not found:
        raise CorpusImportError(f"{src}: no .stm file found (pass an .stm file or a directory)")
    return found


def _tree_root(src: Path) -> Path:
    """Where the recordings live: the STM tree (the parent of an `stm/` directory)."""
    directory = src.parent if src.is_file() else src
    return directory.parent if directory.name == "stm" else directory


def _audio_index(root: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for suffix in AUDIO_PREFERENCE:
        for path in sorted(root.rglob(f"*{suffix}")):
            index.setdefault(path.stem, path)
    return index


def _default_name(src: Path) -> str:
    if src.is_file():
        return src.stem
    return src.parent.name if src.name == "stm" else src.name
