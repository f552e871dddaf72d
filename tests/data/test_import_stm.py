"""TED-LIUM style STM -> segments of long talks, cut by offset/duration, one client per talk."""

from __future__ import annotations

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

from fedasr.data.importers import CorpusImportError, import_stm
from fedasr.data.importers.stm import clean_transcript, parse_stm_line
from fedasr.data.manifest import read_manifest
from fedasr.data.text import normalize_text
from fedasr.data.validate import validate_manifest

GAP = np.zeros(RATE * 3 // 10, np.int16)  # 0.3 s between segments, like pauses in a talk


def write_talk(tree: Path, talk: str, clips: list[Clip]) -> list[tuple[Clip, float, float]]:
    """One long recording (SPHERE, as TED-LIUM) of the clips with gaps; their true times."""
    pieces, times, cursor = [], [], len(GAP)
    pieces.append(GAP)
    for clip in clips:
        times.append((clip, cursor / RATE, (cursor + len(clip.pcm)) / RATE))
        pieces += [clip.pcm, GAP]
        cursor += len(clip.pcm) + len(GAP)
    write_pcm(tree / "sph" / f"{talk}.sph", np.concatenate(pieces), fmt="NIST")
    return times


def stm_line(talk: str, start: float, end: float, text: str, label: str = "<o,f0,male>") -> str:
    return f"{talk} 1 {talk} {start:.7f} {end:.7f} {label} {text}".replace("  ", " ")


@pytest.fixture(scope="module")
def clips():
    return source_clips(5)


@pytest.fixture
def tedlium(tmp_path, clips):
    """A TED-LIUM-like tree: stm/ and sph/ side by side, two talks and seeded bad lines."""
    tree = tmp_path / "TEDLIUM" / "test"
    talk_a = write_talk(tree, "TalkA_2010", clips[:3])
    talk_b = write_talk(tree, "TalkB_2012", clips[3:])
    (clip0, s0, e0), (clip1, s1, e1), (clip2, s2, e2) = talk_a
    a_lines = [
        ';; CATEGORY "0" "" ""',
        stm_line("TalkA_2010", s0, e0, f"{{NOISE}} {clip0.text} {{BREATH}}"),
        stm_line("TalkA_2010", e0, s1, "ignore_time_segment_in_scoring"),
        stm_line("TalkA_2010", s1, e1, f"{clip1.text} it 's"),
        stm_line("TalkA_2010", s2, e2, f"{clip2.text} <unk>"),
    ]
    (clip3, s3, e3), (clip4, s4, e4) = talk_b
    b_lines = [
        stm_line("TalkB_2012", s3, e3, clip3.text, label=""),
        "TalkB_2012 1 TalkB_2012 not-a-time 2.0 <o,f0,male> hello",
        stm_line("TalkB_2012", s4, e4, clip4.text).replace(" 1 TalkB_2012 ", " 1 guest "),
        stm_line("TalkB_2012", e4, e4 + 5.0, "past the end"),
        stm_line("TalkC_2013", 0.0, 1.0, "no such talk"),
        stm_line("TalkB_2012", s3, s3, "zero length"),
        stm_line("TalkB_2012", s3, e3, "{SMACK} <sil>"),
    ]
    (tree / "stm").mkdir(parents=True)
    (tree / "stm" / "TalkA_2010.stm").write_text("\n".join(a_lines) + "\n")
    (tree / "stm" / "TalkB_2012.stm").write_text("\n".join(b_lines) + "\n")
    return tree, talk_a + talk_b


def test_segments_are_cut_in_place_with_true_offsets(tmp_path, tedlium):
    tree, times = tedlium
    before = files_under(tree)
    result = import_stm(tree / "stm", tmp_path / "out")
    assert result.manifest.name == "test.jsonl"  # named after the split dir holding stm/
    utts = {u.id: u for u in read_manifest(result.manifest)}
    kept = [times[i] for i in (0, 1, 3, 4)]  # clip 2 has <unk>: skipped by default
    assert len(utts) == len(kept)
    assert {u.speaker for u in utts.values()} == {"TalkA_2010", "TalkB_2012"}
    for (clip, start, end), utt in zip(
        kept, sorted(utts.values(), key=lambda u: u.id), strict=True
    ):
        talk = utt.speaker
        assert utt.id == f"{talk}-{round(start * 100):07d}-{round(end * 100):07d}"
        assert utt.offset == pytest.approx(start, abs=1e-6)
        assert utt.duration == pytest.approx(end - start, abs=1e-6)
        assert utt.meta["segment"] is True
        assert_references_in_place(result.manifest, utt, tree / "sph" / f"{talk}.sph")
        assert_same_samples(result.manifest, utt, clip)
    texts = sorted(u.text for u in utts.values())
    clip0, clip1 = times[0][0], times[1][0]
    assert normalize_text(clip0.text) in texts  # {NOISE} and {BREATH} removed
    assert normalize_text(f"{clip1.text} it's") in texts  # TED-LIUM contraction joined
    guest = next(u for u in utts.values() if u.meta.get("stm_speaker") == "guest")
    assert guest.speaker == "TalkB_2012"  # one client per talk, whoever speaks
    assert files_under(tree) == before
    assert validate_manifest(result.manifest).ok


def test_every_skipped_line_is_reported(tmp_path, tedlium):
    tree, _ = tedlium
    result = import_stm(tree, tmp_path / "out", name="ted")
    assert result.skipped_counts() == {
        "ignored-segment": 1,
        "unk": 1,
        "unparsable": 1,
        "segment-past-end": 1,
        "missing-audio": 1,
        "bad-times": 1,
        "no-speech": 1,
    }
    where = {s.kind: s.where for s in result.skipped}
    stm_b = tree / "stm" / "TalkB_2012.stm"
    assert where["unparsable"] == f"{stm_b}:2"
    assert where["missing-audio"] == f"{stm_b}:5"
    assert where["ignored-segment"] == f"{tree / 'stm' / 'TalkA_2010.stm'}:3"


@pytest.mark.parametrize("policy", ["drop", "keep"])
def test_unk_policy(tmp_path, tedlium, policy):
    tree, times = tedlium
    result = import_stm(tree, tmp_path / "out", unk=policy)
    clip2 = times[2][0]
    unk_utt = next(u for u in result.utterances if u.offset == pytest.approx(times[2][1]))
    expected = normalize_text(clip2.text) + (" <unk>" if policy == "keep" else "")
    assert unk_utt.text == expected
    assert "unk" not in result.skipped_counts()


def test_parse_and_clean():
    seg = parse_stm_line("talk 1 spk 1.5 2.25 <o,f0,female> hello {NOISE} world")
    assert (seg.file_id, seg.start, seg.end, seg.label) == ("talk", 1.5, 2.25, "<o,f0,female>")
    assert parse_stm_line("talk 1 spk 1 2 <unk> is first").text == "<unk> is first"
    with pytest.raises(ValueError, match="fields"):
        parse_stm_line("talk 1 spk 1.0")
    assert clean_transcript("i do n't know [laughter] it 's <sil> fine", "skip") == (
        "i don't know it's fine"
    )
    assert clean_transcript("what <unk> said", "skip") is None
    assert clean_transcript("what <unk> said", "drop") == "what said"


def test_no_stm_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusImportError, match=r"no \.stm file"):
        import_stm(tmp_path, tmp_path / "out")
    with pytest.raises(CorpusImportError, match="allowed"):
        import_stm(tmp_path, tmp_path / "out", unk="ignore")  # type: ignore[arg-type]


def test_non_utf8_stm_names_file_and_line(tmp_path):
    (tmp_path / "talk.stm").write_bytes(b"talk 1 talk 0 1 fine\ntalk 1 talk 1 2 caf\xe9\n")
    with pytest.raises(CorpusImportError, match=r"talk\.stm:2: not UTF-8"):
        import_stm(tmp_path / "talk.stm", tmp_path / "out")
