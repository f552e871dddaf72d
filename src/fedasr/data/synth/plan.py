"""The synthesis plan: one fully specified UtteranceSpec per clip, a pure function of the seed.

Workers only execute specs, so the corpus cannot depend on how many workers ran or in which
order they finished. Texts come from one seeded draw of unique sentences, shuffled and split:
some for evaluation (test and held-out), the rest for training, so no evaluation text is ever
heard in training. Jitter comes from a generator keyed by (seed, utterance index).
Public clips (speakers of neither the clients nor the held-out set) come after every other
clip, with texts from a stream of their own that never yields an evaluation text: adding them
changed no earlier clip of any corpus.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fedasr.data.synth.grammar import SENTENCE_MAKERS
from fedasr.data.synth.speakers import HELDOUT, PUBLIC, TRAIN, Speaker
from fedasr.errors import ConfigError

TEXT_STREAM = 1  # keys of the seeded streams, so that adding one never shifts another
PARAM_STREAM = 2
PUBLIC_STREAM = 3


@dataclass(frozen=True)
class SizeSpec:
    name: str
    train_per_speaker: int
    test_per_speaker: int
    heldout_per_speaker: int
    speaker_ids: tuple[str, ...] | None = None  # None: every speaker of the chosen engines
    max_words: int | None = None
    public_per_speaker: int = 0  # clips of each public speaker (0: no public split)


SIZES = {
    "fixture": SizeSpec(
        "fixture", 3, 1, 4,
        speaker_ids=("espeak-01", "espeak-06", "flite-05", "festival-01", "flite-09"),
        max_words=5,
    ),
    "small": SizeSpec("small", 20, 5, 12, public_per_speaker=12),
    "default": SizeSpec("default", 100, 16, 40, public_per_speaker=40),
}  # fmt: skip


@dataclass(frozen=True)
class UtteranceSpec:
    index: int
    id: str
    speaker: Speaker
    split: str  # train | test | heldout | public
    text: str
    pitch: float | None  # the speaker's setting with this utterance's jitter applied
    tempo: float
    shift: float
    peak_dbfs: float  # level the clip is normalized to
    lead_s: float  # silence added before and after the trimmed speech
    tail_s: float
    noise_dbfs: float | None  # None: no added noise
    noise_color: str  # white | pink
    seed: int  # for the noise generator of this clip


def select_speakers(speakers: list[Speaker], size: SizeSpec) -> list[Speaker]:
    """The size's speakers; an engine it lists none of (an opt-in one) gets its first train
    and first held-out speaker, so every requested engine is in every size."""
    if size.speaker_ids is None:
        return speakers
    listed = [s for s in speakers if s.id in size.speaker_ids]
    covered = {s.engine for s in listed}
    firsts: dict[tuple[str, str], Speaker] = {}
    for speaker in speakers:
        if speaker.engine not in covered:
            firsts.setdefault((speaker.engine, speaker.split), speaker)
    return [s for s in speakers if s in listed or s in firsts.values()]


def make_plan(
    speakers: list[Speaker], size: SizeSpec, vocab: str, seed: int, noise: bool = True
) -> list[UtteranceSpec]:
    """Every clip of the corpus: train and test clips of training speakers, then held-out."""
    if vocab not in SENTENCE_MAKERS:
        raise ConfigError(f"--vocab: got {vocab!r}; allowed: {', '.join(SENTENCE_MAKERS)}")
    slots = _split_slots(select_speakers(speakers, size), size)
    n_eval = sum(split != TRAIN for _, split in slots)
    eval_texts, train_texts = _text_pools(
        SENTENCE_MAKERS[vocab], seed, n_eval, len(slots) - n_eval, size.max_words
    )
    eval_iter, train_iter = iter(eval_texts), iter(train_texts)
    plan, per_speaker = [], dict.fromkeys((s.id for s, _ in slots), 0)
    for index, (speaker, split) in enumerate(slots):
        per_speaker[speaker.id] += 1
        utt_id = f"{speaker.id}-{per_speaker[speaker.id]:04d}"
        text = next(train_iter) if split == TRAIN else next(eval_iter)
        plan.append(_jittered_spec(index, utt_id, speaker, split, text, seed, noise))
    return plan + _public_clips(speakers, size, vocab, seed, noise, len(plan), set(eval_texts))


def _public_clips(
    speakers: list[Speaker],
    size: SizeSpec,
    vocab: str,
    seed: int,
    noise: bool,
    first_index: int,
    eval_texts: set[str],
) -> list[UtteranceSpec]:
    """The public split: `public_per_speaker` clips of every public speaker, after all others."""
    public = [s for s in speakers if s.split == PUBLIC] if size.public_per_speaker else []
    count = len(public) * size.public_per_speaker
    if not count:
        return []
    texts = _public_texts(SENTENCE_MAKERS[vocab], seed, count, eval_texts, size.max_words)
    clips = []
    for number, text in enumerate(texts):
        speaker = public[number // size.public_per_speaker]
        utt_id = f"{speaker.id}-{number % size.public_per_speaker + 1:04d}"
        index = first_index + number
        clips.append(_jittered_spec(index, utt_id, speaker, PUBLIC, text, seed, noise))
    return clips


def _public_texts(
    make: Callable[[np.random.Generator], str],
    seed: int,
    count: int,
    eval_texts: set[str],
    max_words: int | None,
) -> list[str]:
    """`count` texts, none of them an evaluation text (distinct while the grammar allows)."""
    rng = np.random.default_rng([seed, PUBLIC_STREAM])
    unique: list[str] = []
    seen = set(eval_texts)
    for _ in range(50 * count + 1000):
        if len(unique) == count:
            break
        text = make(rng)
        if text not in seen and (max_words is None or len(text.split()) <= max_words):
            seen.add(text)
            unique.append(text)
    if not unique:
        raise ConfigError("the grammar produced no public text outside the evaluation texts")
    return _cycle(unique, count)


def _split_slots(speakers: list[Speaker], size: SizeSpec) -> list[tuple[Speaker, str]]:
    slots = []
    for speaker in speakers:
        if speaker.split == HELDOUT:
            slots += [(speaker, "heldout")] * size.heldout_per_speaker
        elif speaker.split == PUBLIC:
            continue  # after every other clip (_public_clips)
        else:
            slots += [(speaker, "train")] * size.train_per_speaker
            slots += [(speaker, "test")] * size.test_per_speaker
    return slots


def _text_pools(
    make: Callable[[np.random.Generator], str],
    seed: int,
    n_eval: int,
    n_train: int,
    max_words: int | None,
) -> tuple[list[str], list[str]]:
    """Disjoint eval and train texts; when the grammar runs dry, texts repeat within a pool."""
    rng = np.random.default_rng([seed, TEXT_STREAM])
    wanted, seen, unique = n_eval + n_train, set(), list[str]()
    for _ in range(50 * wanted + 1000):
        if len(unique) == wanted:
            break
        text = make(rng)
        if text in seen or (max_words is not None and len(text.split()) > max_words):
            continue
        seen.add(text)
        unique.append(text)
    # Shuffle before splitting: the grammar's small rules run dry early, so the first unique
    # sentences are shorter on average than the later ones.
    unique = [unique[i] for i in rng.permutation(len(unique))]
    n_eval_unique = n_eval if len(unique) == wanted else round(len(unique) * n_eval / wanted)
    eval_pool, train_pool = unique[:n_eval_unique], unique[n_eval_unique:]
    if (n_eval and not eval_pool) or (n_train and not train_pool):
        raise ConfigError("the grammar produced too few distinct sentences for this size")
    return _cycle(eval_pool, n_eval), _cycle(train_pool, n_train)


def _cycle(pool: list[str], count: int) -> list[str]:
    return [pool[i % len(pool)] for i in range(count)]


def _jittered_spec(
    index: int, utt_id: str, speaker: Speaker, split: str, text: str, seed: int, noise: bool
) -> UtteranceSpec:
    rng = np.random.default_rng([seed, PARAM_STREAM, index])
    pitch = None if speaker.pitch is None else speaker.pitch * rng.uniform(0.92, 1.08)
    # Voices without pitch control get their per-clip pitch jitter through the shift.
    shift_jitter = rng.uniform(0.97, 1.03) if speaker.pitch is None else 1.0
    return UtteranceSpec(
        index=index,
        id=utt_id,
        speaker=speaker,
        split=split,
        text=text,
        pitch=None if pitch is None else round(pitch, 2),
        tempo=round(speaker.tempo * rng.uniform(0.9, 1.1), 3),
        shift=round(speaker.shift * shift_jitter, 3),
        peak_dbfs=round(rng.uniform(-10.0, -1.0), 2),
        lead_s=round(rng.uniform(0.05, 0.15), 3),
        tail_s=round(rng.uniform(0.05, 0.15), 3),
        noise_dbfs=round(rng.uniform(-55.0, -45.0), 2) if noise else None,
        noise_color="pink" if rng.random() < 0.5 else "white",
        seed=int(rng.integers(2**31)),
    )
