"""Config of what clients train on: `partition.corrupt` (unequal client quality),
`partition.hide_transcripts` and `client.pseudo_labels` (the semi-supervised pipeline).
Kept apart from fedasr.config, which only embeds these sections."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ClientChoice(_Strict):
    """Which clients: a `share` of all clients (drawn with the seed) or a list of client ids."""

    share: float | None = Field(None, ge=0, le=1)
    clients: list[str] | None = None

    @model_validator(mode="after")
    def _one_way_to_choose(self) -> ClientChoice:
        if (self.share is None) == (self.clients is None):
            raise ValueError("give exactly one of `share` (0..1) or `clients` (a list of ids)")
        return self


class CorruptGroup(ClientChoice):
    """Clients of poor quality. Features are cached as log-mel, so every corruption is applied
    at batch time, identically every round, seeded by (seed, client, utterance)."""

    # Noise added in the mel-power domain at this SNR relative to the utterance's mean power
    # (-30 dB: noise 1000x the speech; beyond 100 dB it changes nothing).
    noise_snr_db: float | None = Field(None, ge=-30, le=100)
    # Tempo change: the feature sequence resampled along time (1.2 = 20 % faster speech).
    speed: float | None = Field(None, gt=0.2, le=5)
    # Wrong transcripts: "shuffle" swaps them among the client's own utterances,
    # "random_words" replaces each by as many words drawn from the corpus vocabulary.
    transcripts: Literal["shuffle", "random_words"] | None = None
    transcript_share: float = Field(1.0, ge=0, le=1)  # of the client's utterances

    @model_validator(mode="after")
    def _does_something(self) -> CorruptGroup:
        if self.noise_snr_db is None and self.speed is None and self.transcripts is None:
            raise ValueError("set at least one of noise_snr_db, speed, transcripts")
        return self


class HideTranscripts(ClientChoice):
    """Simulated unlabelled clients: their transcripts never reach a worker's training data;
    they are kept on the side only to score the pseudo-labels (pseudo_label_wer)."""


class PseudoLabelSection(_Strict):
    """Untranscribed utterances are labelled by the current global model (greedy CTC) at the
    start of each client update; those scoring at least `threshold` are trained on. Without
    this section untranscribed utterances are never trained on, and clients that have none
    with a transcript are not sampled."""

    threshold: float = Field(0.9, ge=0, le=1)
    # confidence: mean over frames of the best path's probability (asr.decode.confidence);
    # token_confidence: the same over the frames whose best symbol is not blank, so long
    # stretches of confident silence do not hide uncertain words.
    score: Literal["confidence", "token_confidence"] = "confidence"
