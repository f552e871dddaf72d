"""Test helpers for the data layer: short clips and small corpora built in tmp_path.

Clips come from the committed fixture corpus (tests/fixtures/mini, real TTS speech) when it is
there, else they are synthesized here with numpy. Samples are kept as int16 so that every
comparison after a FLAC/WAV/SPHERE round trip is exact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from fedasr.data.manifest import Utterance, read_manifest, write_manifest

MINI = Path(__file__).resolve().parents[1] / "fixtures" / "mini"
RATE = 16000
WORDS = [
    "turn",
    "on",
    "the",
    "light",
    "off",
    "open",
    "door",
    "close",
    "window",
    "play",
    "music",
    "stop",
    "next",
]


@dataclass(frozen=True)
class Clip:
    speaker: str
    text: str
    pcm: np.ndarray  # int16, mono

    @property
    def samples(self) -> np.ndarray:
        """What fedasr.data.audio.read_audio returns for this clip (libsndfile scales by 2^15)."""
        return self.pcm.astype(np.float32) / 32768.0

    @property
    def seconds(self) -> float:
        return len(self.pcm) / RATE


def source_clips(count: int = 8) -> list[Clip]:
    """`count` short clips from at least two speakers, deterministic."""
    if (MINI / "train.jsonl").is_file():
        return _fixture_clips(count)
    return synthetic_clips(count)


def synthetic_clips(count: int, seed: int = 0) -> list[Clip]:
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(count):
        n = int(rng.integers(RATE * 4 // 10, RATE * 9 // 10))
        t = np.arange(n) / RATE
        wave = 0.3 * np.sin(2 * np.pi * rng.uniform(120, 400) * t) + 0.02 * rng.standard_normal(n)
        pcm = np.round(wave * 32767).astype(np.int16)
        text = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 5))))
        clips.append(Clip(speaker=f"spk{i % 3 + 1}", text=text, pcm=pcm))
    return clips


def _fixture_clips(count: int) -> list[Clip]:
    """Round-robin over the fixture's speakers, so that a few clips span several voices."""
    manifest = MINI / "train.jsonl"
    by_speaker: dict[str, list[Utterance]] = {}
    for utt in read_manifest(manifest):
        by_speaker.setdefault(utt.speaker, []).append(utt)
    interleaved = [u for group in zip(*by_speaker.values(), strict=False) for u in group]
    clips = []
    for utt in interleaved[:count]:
        pcm, rate = sf.read(str(manifest.parent / utt.audio), dtype="int16")
        assert rate == RATE and pcm.ndim == 1, "the fixture corpus is 16 kHz mono"
        clips.append(Clip(speaker=utt.speaker, text=utt.text or "", pcm=pcm))
    assert len(clips) == count, f"{manifest} has too few clips for {count}"
    return clips


def write_pcm(path: Path, pcm: np.ndarray, rate: int = RATE, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), pcm, rate, format=fmt, subtype="PCM_16")
    return path


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# --- a small corpus in our manifest format, clean or with seeded faults ---------------------


def build_clean_corpus(root: Path, clips: list[Clip]) -> Path:
    """One FLAC per clip plus one long recording cut into two segments; returns the manifest."""
    utts = []
    for i, clip in enumerate(clips):
        rel = f"audio/{clip.speaker}/utt{i:02d}.flac"
        write_pcm(root / rel, clip.pcm)
        utts.append(_utt(f"utt{i:02d}", rel, clip.seconds, clip.text, clip.speaker))
    first, second = clips[0], clips[1]
    write_pcm(root / "audio/long.flac", np.concatenate([first.pcm, second.pcm]))
    utts.append(_utt("long-a", "audio/long.flac", first.seconds, first.text, "long"))
    utts.append(
        _utt("long-b", "audio/long.flac", second.seconds, second.text, "long", first.seconds)
    )
    return write_manifest(root / "clean.jsonl", utts)


def _utt(
    utt_id: str, audio: str, seconds: float, text: str | None, speaker: str, offset: float = 0.0
) -> Utterance:
    return Utterance(utt_id, audio, round(seconds, 6), RATE, text, speaker, offset)


def build_faulty_corpus(root: Path, clips: list[Clip]) -> tuple[Path, dict[int, str], set[str]]:
    """A manifest with exactly one of each seeded fault.

    Returns (manifest, {line: expected problem kind}, ids of the utterances that stay valid).
    """
    build_clean_corpus(root, clips)
    clip = clips[2]
    write_pcm(root / "audio/rate8k.flac", clip.pcm, rate=8000)
    write_pcm(root / "audio/empty.wav", np.zeros(0, np.int16))
    good_flac = (root / "audio" / clips[3].speaker / "utt03.flac").read_bytes()
    (root / "audio/truncated.flac").write_bytes(good_flac[: len(good_flac) // 2])
    (root / "audio/garbage.flac").write_bytes(b"fLaC" + bytes(range(256)) * 8)
    long_end = clips[0].seconds + clips[1].seconds

    def line(utt_id: str, audio: str | None = None, **changes: object) -> str:
        if audio is None:  # a file of its own: a whole-file utterance, not a segment
            audio = f"audio/copies/{utt_id}.flac"
            write_pcm(root / audio, clip.pcm)
        record = json.loads(_utt(utt_id, audio, clip.seconds, clip.text, clip.speaker).to_json())
        record.update(changes)
        return json.dumps(record)

    lines: list[tuple[str, str | None]] = [
        (line("ok-1"), None),
        ('{"id": "broken", "audio": ', "malformed-json"),
        (
            json.dumps({k: v for k, v in json.loads(line("no-speaker")).items() if k != "speaker"}),
            "bad-field",
        ),
        (line("ok-1"), "duplicate-id"),
        (line("missing", "audio/not-there.flac"), "missing-audio"),
        (line("truncated", "audio/truncated.flac"), "corrupt-audio"),
        (line("garbage", "audio/garbage.flac"), "corrupt-audio"),
        (line("empty", "audio/empty.wav"), "empty-audio"),
        (
            line("past-end", "audio/long.flac", offset=long_end - 0.2, duration=0.5),
            "segment-past-end",
        ),
        (line("too-long", duration=clip.seconds + 0.5), "duration-mismatch"),
        (
            line("rate", "audio/rate8k.flac", sample_rate=8000, duration=clip.seconds * 2),
            "sample-rate",
        ),
        (line("blank-text", text="   "), "empty-transcript"),
        (line("accents", text="café number 42"), "unsupported-chars"),
        (line("untranscribed", text=None), None),
        (
            line(
                "segment-ok", "audio/long.flac", offset=clips[0].seconds, duration=clips[1].seconds
            ),
            None,
        ),
    ]
    body, expected, good = [], {}, set()
    for text, kind in lines:
        body.append(text)
        number = len(body)
        if kind is None:
            good.add(json.loads(text)["id"])
        else:
            expected[number] = kind
        if number == 7:
            body.append("")  # a blank line is skipped, and line numbers still count it
    manifest = root / "faulty.jsonl"
    manifest.write_text("\n".join(body) + "\n", encoding="utf-8")
    return manifest, expected, good


# --- a LibriSpeech split (used by the importer and CLI tests) ------------------------------

SPEAKER_IDS = {"spk1": "19", "spk2": "26", "spk3": "32"}


def build_librispeech(split: Path, clips: list[Clip]) -> dict[str, tuple[Clip, Path]]:
    """SRC/<speaker>/<chapter>/<spk>-<ch>-<n>.flac + .trans.txt; returns id -> (clip, file)."""
    originals: dict[str, tuple[Clip, Path]] = {}
    transcripts: dict[Path, list[str]] = {}
    for i, clip in enumerate(clips):
        speaker = SPEAKER_IDS.get(clip.speaker, clip.speaker)
        chapter = str(100 + i % 2)
        utt_id = f"{speaker}-{chapter}-{i:04d}"
        audio = write_pcm(split / speaker / chapter / f"{utt_id}.flac", clip.pcm)
        originals[utt_id] = (clip, audio)
        trans = split / speaker / chapter / f"{speaker}-{chapter}.trans.txt"
        transcripts.setdefault(trans, []).append(f"{utt_id} {clip.text.upper()}")
    first_trans = sorted(transcripts)[0]
    transcripts[first_trans].append("19-100-9999 A LINE WHOSE AUDIO IS GONE")
    for trans, lines in transcripts.items():
        trans.write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_pcm(first_trans.parent / "19-100-8888.flac", clips[0].pcm)  # audio with no transcript
    return originals


# --- assertions shared by the importer tests -------------------------------------------------


def assert_references_in_place(manifest: Path, utt: Utterance, original: Path) -> None:
    """The manifest points at the original file, by a path relative to the manifest."""
    assert not Path(utt.audio).is_absolute(), utt.audio
    assert (manifest.parent / utt.audio).resolve() == original.resolve()


def assert_same_samples(manifest: Path, utt: Utterance, clip: Clip) -> None:
    """Loading the utterance (segment cut by offset/duration) gives exactly the clip."""
    from fedasr.data.audio import read_audio
    from fedasr.data.manifest import audio_path

    samples, rate = read_audio(audio_path(manifest, utt), utt.offset, utt.duration)
    assert rate == utt.sample_rate
    np.testing.assert_array_equal(samples, clip.samples)
