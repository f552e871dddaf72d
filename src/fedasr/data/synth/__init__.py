"""The embedded multi-speaker corpus, synthesized with text-to-speech engines.

`build_corpus(SynthConfig(out=...))` is what `fedasr data synth` runs; see docs/data.md.
"""

from __future__ import annotations

from fedasr.data.synth.corpus import BuiltCorpus, SynthConfig, build_corpus, plan_corpus
from fedasr.data.synth.plan import SIZES, UtteranceSpec, make_plan
from fedasr.data.synth.speakers import DEFAULT_ENGINES, Speaker, speaker_table

__all__ = [
    "DEFAULT_ENGINES",
    "SIZES",
    "BuiltCorpus",
    "Speaker",
    "SynthConfig",
    "UtteranceSpec",
    "build_corpus",
    "make_plan",
    "plan_corpus",
    "speaker_table",
]
