"""lhotse recordings + supervisions JSONL(.gz) -> one utterance per supervision, offset = start."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    RATE,
    Clip,
    assert_references_in_place,
    assert_same_samples,
    files_under,
    source_clips,
    write_pcm,
)

from fedasr.data.importers import CorpusImportError, import_lhotse
from fedasr.data.manifest import read_manifest
from fedasr.data.text import normalize_text
from fedasr.data.validate import validate_manifest


def recording(rec_id: str, source: str, frames: int, channels: list[int] | None = None) -> dict:
    channels = channels or [0]
    return {
        "id": rec_id,
        "sources": [{"type": "file", "channels": channels, "source": source}],
        "sampling_rate": RATE,
        "num_samples": frames,
        "duration": frames / RATE,
        "channel_ids": channels,
    }


def supervision(sup_id: str, rec_id: str, start: float, duration: float, **extra) -> dict:
    record = {"id": sup_id, "recording_id": rec_id, "start": start, "duration": duration}
    record.update({"channel": 0, "language": "English", **extra})
    return record


def write_jsonl_gz(path: Path, records: list[dict | str]) -> None:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def build_lhotse(root: Path, clips: list[Clip]) -> dict[str, tuple[Clip, Path]]:
    """A long two-speaker recording, a whole-file one, and seeded unusable entries."""
    first, second, third = clips[:3]
    long_pcm = np.concatenate([first.pcm, np.zeros(RATE // 4, np.int16), second.pcm])
    long_file = write_pcm(root / "audio" / "meeting.flac", long_pcm)
    single = write_pcm(root / "audio" / "single.wav", third.pcm)
    write_pcm(root / "audio" / "stereo.wav", np.stack([third.pcm, third.pcm], axis=1))
    second_start = (len(first.pcm) + RATE // 4) / RATE
    recordings: list[dict | str] = [
        recording("meeting", "audio/meeting.flac", len(long_pcm)),
        recording("single", str(single.resolve()), len(third.pcm)),  # absolute paths work too
        recording("stereo", "audio/stereo.wav", len(third.pcm), channels=[0, 1]),
        {
            **recording("remote", "x", RATE),
            "sources": [{"type": "url", "channels": [0], "source": "https://example.org/a.flac"}],
        },
        '{"id": "broken-recording"',
    ]
    supervisions: list[dict | str] = [
        supervision(
            "meeting-a", "meeting", 0.0, first.seconds, text=first.text.upper(), speaker="alice"
        ),
        supervision(
            "meeting-b", "meeting", second_start, second.seconds, text=second.text, speaker="bob"
        ),
        supervision("single-1", "single", 0.0, third.seconds, speaker="carol"),  # no text
        supervision("stereo-left", "stereo", 0.0, third.seconds, text="left", speaker="dan"),
        supervision("remote-1", "remote", 0.0, 1.0, text="far away", speaker="eve"),
        supervision("orphan", "broken-recording", 0.0, 1.0, text="lost", speaker="x"),
        supervision("late", "meeting", second_start, 10.0, text="too long", speaker="bob"),
        "not json",
    ]
    write_jsonl_gz(root / "mini_recordings_dev.jsonl.gz", recordings)
    write_jsonl_gz(root / "mini_supervisions_dev.jsonl.gz", supervisions)
    return {
        "meeting-a": (first, long_file),
        "meeting-b": (second, long_file),
        "single-1": (third, single),
    }


@pytest.fixture(scope="module")
def clips():
    return source_clips(3)


def test_supervisions_become_utterances(tmp_path, clips):
    originals = build_lhotse(tmp_path / "lhotse", clips)
    before = files_under(tmp_path / "lhotse")
    # relative sources resolve against the recordings file's directory, not the cwd
    result = import_lhotse(tmp_path / "lhotse", tmp_path / "out")
    assert result.manifest.name == "mini_dev.jsonl"
    utts = {u.id: u for u in read_manifest(result.manifest)}
    assert sorted(utts) == sorted(originals)
    a, b, single = utts["meeting-a"], utts["meeting-b"], utts["single-1"]
    assert (a.speaker, b.speaker, single.speaker) == ("alice", "bob", "carol")
    assert a.text == normalize_text(clips[0].text) and single.text is None
    assert b.offset == pytest.approx((len(clips[0].pcm) + RATE // 4) / RATE)
    assert a.meta == {"recording": "meeting", "segment": True}
    assert single.meta == {"recording": "single"}  # covers its whole recording
    assert a.language == "English" and a.sample_rate == RATE
    for utt_id, (clip, original) in originals.items():
        assert_references_in_place(result.manifest, utts[utt_id], original)
        assert_same_samples(result.manifest, utts[utt_id], clip)
    assert files_under(tmp_path / "lhotse") == before
    assert validate_manifest(result.manifest).ok


def test_unusable_entries_are_reported(tmp_path, clips):
    build_lhotse(tmp_path, clips)
    result = import_lhotse(tmp_path / "mini_supervisions_dev.jsonl.gz", tmp_path / "out")
    assert result.skipped_counts() == {
        "unparsable": 2,  # the broken recording line and the "not json" supervision line
        "multi-channel": 1,
        "unsupported-source": 1,
        "unknown-recording": 1,
        "segment-past-end": 1,
    }
    sups = tmp_path / "mini_supervisions_dev.jsonl.gz"
    where = {s.kind: s.where for s in result.skipped if s.kind != "unparsable"}
    assert where == {
        "multi-channel": f"{sups}:4",
        "unsupported-source": f"{sups}:5",
        "unknown-recording": f"{sups}:6",
        "segment-past-end": f"{sups}:7",
    }
    recs = tmp_path / "mini_recordings_dev.jsonl.gz"
    assert {s.where for s in result.skipped if s.kind == "unparsable"} == {
        f"{recs}:5",
        f"{sups}:8",
    }


def test_missing_partner_file_is_a_clear_error(tmp_path, clips):
    build_lhotse(tmp_path, clips)
    (tmp_path / "mini_recordings_dev.jsonl.gz").rename(tmp_path / "elsewhere.jsonl.gz")
    with pytest.raises(CorpusImportError, match="recordings manifest not found"):
        import_lhotse(tmp_path, tmp_path / "out")
    result = import_lhotse(tmp_path, tmp_path / "out", recordings=tmp_path / "elsewhere.jsonl.gz")
    assert {u.id for u in result.utterances} == {"meeting-a", "meeting-b", "single-1"}


def test_cut_gzip_is_a_clear_error(tmp_path, clips):
    build_lhotse(tmp_path, clips)
    sups = tmp_path / "mini_supervisions_dev.jsonl.gz"
    sups.write_bytes(sups.read_bytes()[:-20])
    with pytest.raises(CorpusImportError, match="unreadable after line"):
        import_lhotse(sups, tmp_path / "out")
