"""The speaker table: a speaker is one engine x voice x pitch/tempo setting.

The table is fixed (not drawn from the seed) so that speaker ids mean the same thing in every
corpus; the seed only changes what each speaker says and the per-utterance jitter.

Units, per engine (see engines.py for how each is passed on):
  pitch  espeak: its 0-99 pitch scale; flite and festival diphone voices: target F0 mean in Hz;
         None for voices whose engine ignores pitch settings (flite rms, festival HTS), which
         get `shift` instead.
  tempo  speaking-rate factor, > 1 is faster (espeak words/minute = 175 x tempo, flite and
         festival duration stretch = 1 / tempo, festival HTS speed = tempo).
  shift  resampling factor applied after synthesis: > 1 raises pitch and formants together
         (a shorter vocal tract); the engine's tempo is divided by it so the rate is kept.
Held-out speakers are whole speakers never seen in training: unseen accents or variants for
espeak, unseen voices or settings for flite and festival. Public speakers (the `public` split:
data a server may hold and share, e.g. FedMD's public set) are neither clients nor held-out:
espeak variants no other speaker uses, flite's `kal` voice, an unused festival setting. They
come last in each engine's list, so adding them renumbered no existing speaker.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DEFAULT_ENGINES = ("espeak", "flite", "festival")
EXTRA_ENGINES = ("mbrola", "pico")
TRAIN, HELDOUT, PUBLIC = "train", "heldout", "public"


@dataclass(frozen=True)
class Speaker:
    id: str
    engine: str
    voice: str
    pitch: float | None
    tempo: float
    split: str
    shift: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# (voice, pitch, tempo, shift, split) per engine; ids are numbered in this order.
_TABLE: dict[str, list[tuple[str, float | None, float, float, str]]] = {
    "espeak": [
        ("en-us+m1", 45, 1.00, 1.0, TRAIN),
        ("en-us+f3", 55, 0.95, 1.0, TRAIN),
        ("en-us+klatt", 40, 1.05, 1.0, TRAIN),
        ("en-us+m7", 35, 0.90, 1.0, TRAIN),
        ("en+m3", 50, 1.00, 1.0, TRAIN),
        ("en+f2", 60, 1.05, 1.0, TRAIN),
        ("en+klatt2", 45, 0.92, 1.0, TRAIN),
        ("en-gb-scotland+m2", 40, 0.95, 1.0, TRAIN),
        ("en-gb-scotland+f4", 65, 1.00, 1.0, TRAIN),
        ("en-gb-x-rp+m4", 50, 1.08, 1.0, TRAIN),
        ("en-gb-x-rp+f1", 55, 0.90, 1.0, TRAIN),
        ("en-029+m1", 35, 1.00, 1.0, TRAIN),
        ("en-029+f5", 60, 0.95, 1.0, TRAIN),
        ("en-gb-x-gbclan+m5", 45, 1.05, 1.0, TRAIN),
        ("en-gb-x-gbclan+klatt3", 55, 1.00, 1.0, TRAIN),
        ("en-us+f2", 70, 1.10, 1.0, TRAIN),
        ("en-us-nyc+f4", 60, 1.00, 1.0, HELDOUT),
        ("en-gb-x-gbcwmd+m6", 40, 0.95, 1.0, HELDOUT),
        ("en-us+m8", 50, 1.00, 1.0, PUBLIC),
        ("en-gb-x-rp+klatt4", 45, 0.95, 1.0, PUBLIC),
        ("en-gb-scotland+klatt5", 55, 1.05, 1.0, PUBLIC),
    ],
    "flite": [
        ("kal16", 95, 1.00, 1.0, TRAIN),
        ("kal16", 130, 0.90, 1.0, TRAIN),
        ("awb", 115, 1.00, 1.0, TRAIN),
        ("awb", 150, 1.10, 1.0, TRAIN),
        ("slt", 175, 1.00, 1.0, TRAIN),
        ("slt", 210, 0.90, 1.0, TRAIN),
        ("rms", None, 1.00, 1.0, TRAIN),
        ("rms", None, 1.08, 0.92, TRAIN),
        ("awb", 95, 0.92, 1.0, HELDOUT),
        ("slt", 150, 1.12, 1.0, HELDOUT),
        ("kal", 100, 1.00, 1.0, PUBLIC),
        ("kal", 125, 0.92, 1.0, PUBLIC),
    ],
    "festival": [
        ("kal_diphone", 105, 1.00, 1.0, TRAIN),
        ("kal_diphone", 140, 0.90, 1.0, TRAIN),
        ("ked_diphone", 100, 1.05, 1.0, TRAIN),
        ("ked_diphone", 135, 0.95, 1.0, TRAIN),
        ("cmu_us_slt_arctic_hts", None, 1.00, 1.0, TRAIN),
        ("cmu_us_slt_arctic_hts", None, 0.92, 0.90, TRAIN),
        ("kal_diphone", 85, 1.12, 1.0, HELDOUT),
        ("cmu_us_slt_arctic_hts", None, 1.08, 1.08, HELDOUT),
        ("ked_diphone", 118, 1.10, 1.0, PUBLIC),
    ],
    # Opt-in (--extra-voices): Debian contrib/non-free, non-commercial voice licences.
    "mbrola": [
        ("mb-us1", 50, 1.00, 1.0, TRAIN),
        ("mb-us2", 45, 0.95, 1.0, TRAIN),
        ("mb-en1", 50, 1.05, 1.0, TRAIN),
        ("mb-us3", 50, 1.00, 1.0, HELDOUT),
    ],
    "pico": [
        ("en-US", 100, 1.00, 1.0, TRAIN),
        ("en-GB", 100, 0.95, 1.0, TRAIN),
        ("en-US", 120, 1.10, 1.0, HELDOUT),
    ],
}


def all_speakers() -> list[Speaker]:
    """Every speaker of every engine, default and opt-in, in table order."""
    speakers = []
    for engine, rows in _TABLE.items():
        for number, (voice, pitch, tempo, shift, split) in enumerate(rows, start=1):
            speaker_id = f"{engine}-{number:02d}"
            speakers.append(Speaker(speaker_id, engine, voice, pitch, tempo, split, shift))
    return speakers


def speaker_table(engines: tuple[str, ...]) -> list[Speaker]:
    """The speakers of the given engines, in table order."""
    return [speaker for speaker in all_speakers() if speaker.engine in engines]
