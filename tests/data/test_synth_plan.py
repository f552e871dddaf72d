"""The corpus plan: grammar, speaker table, determinism and split hygiene (no engines needed)."""

from __future__ import annotations

import numpy as np
import pytest

from fedasr.data.synth.checks import parse_engines
from fedasr.data.synth.grammar import SENTENCE_MAKERS, number_words
from fedasr.data.synth.plan import SIZES, make_plan, select_speakers
from fedasr.data.synth.render import SAMPLE_RATE, noise, render, trim_silence
from fedasr.data.synth.speakers import DEFAULT_ENGINES, all_speakers, speaker_table
from fedasr.data.tokenizer import CharTokenizer
from fedasr.errors import ConfigError

SPEAKERS = speaker_table(DEFAULT_ENGINES)


def _sentences(vocab: str, count: int = 5000) -> list[str]:
    rng = np.random.default_rng(0)
    return [SENTENCE_MAKERS[vocab](rng) for _ in range(count)]


def test_command_grammar_has_200_words_in_the_tokenizer_alphabet() -> None:
    sentences = _sentences("commands")
    words = {word for sentence in sentences for word in sentence.split()}
    assert len(words) >= 200
    tokenizer = CharTokenizer()
    assert all(tokenizer.unsupported_chars(s) == set() for s in sentences)
    assert all(s == s.strip() and "  " not in s for s in sentences)


def test_digit_strings_use_only_digit_words() -> None:
    words = {word for sentence in _sentences("digits", 500) for word in sentence.split()}
    assert words == {number_words(d) for d in range(10)}


def test_numbers_are_spelled_out() -> None:
    assert number_words(7) == "seven"
    assert number_words(40) == "forty"
    assert number_words(95) == "ninety five"
    assert number_words(105) == "one hundred and five"


def test_default_speaker_table_sizes() -> None:
    train = [s for s in SPEAKERS if s.split == "train"]
    heldout = [s for s in SPEAKERS if s.split == "heldout"]
    assert len(train) >= 28 and len(heldout) >= 5
    assert {s.engine for s in heldout} == set(DEFAULT_ENGINES)
    assert len({s.id for s in all_speakers()}) == len(all_speakers())
    settings = [(s.engine, s.voice, s.pitch, s.tempo, s.shift) for s in SPEAKERS]
    assert len(set(settings)) == len(settings), "two speakers with the same setting"


def test_fixture_size_covers_every_engine_and_a_heldout_speaker() -> None:
    chosen = select_speakers(SPEAKERS, SIZES["fixture"])
    train = [s for s in chosen if s.split == "train"]
    assert {s.engine for s in chosen} == set(DEFAULT_ENGINES)
    assert len(train) >= 3 and len({s.engine for s in train}) >= 2
    assert any(s.split == "heldout" for s in chosen)


@pytest.mark.parametrize("vocab", ["commands", "digits"])
def test_plan_is_a_function_of_the_seed(vocab: str) -> None:
    first = make_plan(SPEAKERS, SIZES["small"], vocab, seed=3)
    assert first == make_plan(SPEAKERS, SIZES["small"], vocab, seed=3)
    other = make_plan(SPEAKERS, SIZES["small"], vocab, seed=4)
    assert [s.text for s in first] != [s.text for s in other]
    assert [s.tempo for s in first] != [s.tempo for s in other]
    assert [s.id for s in first] == [s.id for s in other]  # ids name slots, not content


@pytest.mark.parametrize("size", ["fixture", "small", "default"])
def test_eval_texts_never_occur_in_training(size: str) -> None:
    plan = make_plan(SPEAKERS, SIZES[size], "commands", seed=0)
    train = {s.text for s in plan if s.split == "train"}
    evaluation = {s.text for s in plan if s.split in ("test", "heldout")}
    assert train and evaluation and not train & evaluation
    assert not {s.text for s in plan if s.split == "public"} & evaluation
    assert len({s.id for s in plan}) == len(plan)
    train_speakers = {s.speaker.id for s in plan if s.split == "train"}
    assert {s.speaker.id for s in plan if s.split == "test"} == train_speakers
    assert not {s.speaker.id for s in plan if s.split == "heldout"} & train_speakers


def test_default_plan_counts() -> None:
    plan = make_plan(SPEAKERS, SIZES["default"], "commands", seed=0)
    per_split = {split: sum(s.split == split for s in plan) for split in ("train", "test")}
    n_train_speakers = sum(s.split == "train" for s in SPEAKERS)
    assert per_split["train"] == 100 * n_train_speakers
    assert per_split["test"] == 16 * n_train_speakers


def test_jitter_stays_near_the_speaker_setting() -> None:
    for spec in make_plan(SPEAKERS, SIZES["small"], "digits", seed=1):
        assert 0.85 < spec.tempo / spec.speaker.tempo < 1.15
        if spec.speaker.pitch is not None:
            assert 0.9 < spec.pitch / spec.speaker.pitch < 1.1  # type: ignore[operator]
        assert spec.noise_dbfs is not None and -55 <= spec.noise_dbfs <= -45


def test_bad_options_name_what_is_allowed() -> None:
    with pytest.raises(ConfigError, match="commands"):
        make_plan(SPEAKERS, SIZES["small"], "poems", seed=0)
    with pytest.raises(ConfigError, match="allowed"):
        parse_engines("espeak,say", extra_voices=False)
    assert parse_engines("festival,espeak", extra_voices=True) == (
        "espeak", "festival", "mbrola", "pico",
    )  # fmt: skip


def test_render_trims_levels_and_adds_noise() -> None:
    rate = 22_050
    tone = 0.5 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate).astype(np.float32)
    padded = np.concatenate([np.zeros(rate), tone, np.zeros(rate)]).astype(np.float32)
    assert len(trim_silence(padded, rate)) < 1.2 * rate
    spec = make_plan(SPEAKERS, SIZES["fixture"], "digits", seed=0)[0]
    clip = render(padded, rate, spec)
    expected = (1.0 + 2 * 0.05 + spec.lead_s + spec.tail_s) * SAMPLE_RATE
    assert abs(len(clip) - expected) < 0.02 * SAMPLE_RATE
    speech_peak = np.max(np.abs(clip))
    assert abs(20 * np.log10(speech_peak) - spec.peak_dbfs) < 0.5
    lead = clip[: round(spec.lead_s * SAMPLE_RATE) - 10]
    lead_dbfs = 10 * np.log10(np.mean(lead.astype(np.float64) ** 2))
    assert lead.min() != lead.max() and abs(lead_dbfs - spec.noise_dbfs) < 3  # type: ignore[operator]
    assert np.array_equal(clip, render(padded, rate, spec))


def test_pink_noise_has_more_low_than_high_frequency_power() -> None:
    pink = noise(16_000, -50.0, "pink", np.random.default_rng(0))
    power = np.abs(np.fft.rfft(pink)) ** 2
    assert power[10:200].mean() > 10 * power[4000:8000].mean()
    assert abs(10 * np.log10(np.mean(pink.astype(np.float64) ** 2)) + 50.0) < 0.1


@pytest.mark.parametrize("vocab", ["commands", "digits"])
def test_public_split_has_its_own_speakers_and_leaves_the_other_clips_alone(vocab: str) -> None:
    plan = make_plan(SPEAKERS, SIZES["small"], vocab, seed=0)
    public = [s for s in plan if s.split == "public"]
    others = [s for s in plan if s.split != "public"]
    assert len(public) == 12 * sum(s.split == "public" for s in SPEAKERS) and len(public) >= 72
    assert not {s.speaker.id for s in public} & {s.speaker.id for s in others}
    assert {s.speaker.engine for s in public} == set(DEFAULT_ENGINES)
    assert plan[: len(others)] == others  # public clips come after every other clip
    without = [s for s in SPEAKERS if s.split != "public"]
    assert make_plan(without, SIZES["small"], vocab, seed=0) == others  # nothing else moved
    assert not [s for s in make_plan(SPEAKERS, SIZES["fixture"], vocab, 0) if s.split == "public"]
