"""Common Voice TSV + clips/ -> manifest: client_id as speaker, MP3 clips referenced in place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import Clip, assert_references_in_place, files_under, source_clips

import fedasr.data.importers.commonvoice as commonvoice
from fedasr.data.audio import read_audio
from fedasr.data.importers import CorpusImportError, import_commonvoice
from fedasr.data.manifest import audio_path, read_manifest
from fedasr.data.text import normalize_text
from fedasr.data.validate import validate_manifest

CV_RATE = 48000  # Common Voice clips are 48 kHz MP3
HEADER = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale"


def build_release(root: Path, clips: list[Clip]) -> Path:
    """validated.tsv + clips/*.mp3 (+ clip_durations.tsv for the first clip); returns the TSV."""
    rows = [HEADER]
    for i, clip in enumerate(clips):
        name = f"common_voice_en_{1000 + i}.mp3"
        (root / "clips").mkdir(parents=True, exist_ok=True)
        sf.write(str(root / "clips" / name), clip.pcm, CV_RATE, format="MP3")
        sentence = f'"{clip.text.capitalize()}," she said.' if i == 0 else clip.text
        rows.append(f"client{clip.speaker}\t{name}\t{sentence}\t2\t0\tthirties\tfemale\t\ten")
    rows.append("clientX\tcommon_voice_en_9999.mp3\tthe clip is gone\t2\t0\t\t\t\ten")
    rows.append("clientX\tcommon_voice_en_1000.mp3\t\t2\t0\t\t\t\ten")
    rows.append("clientX\tonly-two-columns")
    (root / "validated.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (root / "clip_durations.tsv").write_text("clip\tduration[ms]\ncommon_voice_en_1001.mp3\t777\n")
    return root / "validated.tsv"


@pytest.fixture(scope="module")
def clips():
    return source_clips(4)


def test_imports_rows_with_speakers_texts_and_durations(tmp_path, clips):
    tsv = build_release(tmp_path / "cv" / "en", clips)
    before = files_under(tmp_path / "cv")
    result = import_commonvoice(tsv, tmp_path / "out")
    assert result.manifest.name == "validated.jsonl"
    utts = read_manifest(result.manifest)
    assert [u.id for u in utts] == [f"common_voice_en_{1000 + i}" for i in range(len(clips))]
    assert [u.speaker for u in utts] == [f"client{c.speaker}" for c in clips]
    # quotes are literal text in Common Voice TSVs; normalization then drops them
    assert utts[0].text == normalize_text(f"{clips[0].text} she said")
    assert [u.text for u in utts[1:]] == [normalize_text(c.text) for c in clips[1:]]
    assert utts[1].duration == 0.777  # from clip_durations.tsv
    assert utts[0].duration == pytest.approx(len(clips[0].pcm) / CV_RATE, abs=0.03)
    assert all(u.sample_rate == CV_RATE and u.language == "en" for u in utts)
    assert utts[0].meta == {"gender": "female", "age": "thirties"}
    for utt in utts:
        clip_file = tsv.parent / "clips" / f"{utt.id}.mp3"
        assert_references_in_place(result.manifest, utt, clip_file)
        samples, _ = read_audio(audio_path(result.manifest, utt), utt.offset, None)
        reference, _ = read_audio(clip_file)
        np.testing.assert_array_equal(samples, reference)
    assert files_under(tmp_path / "cv") == before
    assert result.skipped_counts() == {"missing-audio": 1, "no-transcript": 1, "unparsable": 1}
    assert {s.where for s in result.skipped} == {f"{tsv}:{n}" for n in (6, 7, 8)}


def test_validation_of_48k_clips_needs_resample(tmp_path, clips):
    tsv = build_release(tmp_path / "en", clips[:2])
    manifest = import_commonvoice(tsv, tmp_path / "out").manifest
    rejected = validate_manifest(manifest)
    assert rejected.counts()["sample-rate"] == 2
    accepted = validate_manifest(manifest, on_rate_mismatch="resample")
    # clip 1's duration came from clip_durations.tsv (777 ms, not its real length)
    assert [p.kind for p in accepted.problems] == ["duration-mismatch"]
    assert accepted.note_counts() == {"resampled": 2}


def test_missing_column_names_file_and_line(tmp_path):
    (tmp_path / "train.tsv").write_text("client_id\tpath\tup_votes\nx\ty.mp3\t1\n")
    with pytest.raises(CorpusImportError, match=r"train\.tsv:1: missing column\(s\) sentence"):
        import_commonvoice(tmp_path / "train.tsv", tmp_path / "out")


def test_directory_lists_the_tsv_files(tmp_path, clips):
    build_release(tmp_path, clips[:1])
    with pytest.raises(CorpusImportError, match=r"pass one TSV file .*\(validated\.tsv\)"):
        import_commonvoice(tmp_path, tmp_path / "out")


def test_no_mp3_decoder_is_a_clear_error(tmp_path, clips, monkeypatch):
    tsv = build_release(tmp_path, clips[:1])
    monkeypatch.setattr(commonvoice.sf, "available_formats", lambda: {"WAV": "", "FLAC": ""})
    with pytest.raises(CorpusImportError, match="cannot decode MP3"):
        import_commonvoice(tsv, tmp_path / "out")
