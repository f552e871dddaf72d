"""The client-data plan, made once in the main process: which clients are corrupted and how,
whose transcripts are hidden, and which clients have nothing transcribed.

Hidden transcripts are removed from the data bundle itself before any worker is told about
the training split, so no worker can train on them; the truth travels separately, keyed by
row, only to score the pseudo-labels (asr.wer), never to build a batch.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from fedasr.client_data.schema import ClientChoice
from fedasr.errors import ConfigError

if TYPE_CHECKING:
    from fedasr.config import ExperimentConfig
    from fedasr.data.bundle import DataBundle
    from fedasr.engine.cohort import ClientRegistry

log = logging.getLogger(__name__)
CORRUPT_SALT, HIDE_SALT = 0xC0DE, 0x41DE  # independent seeded client orders


@dataclass(frozen=True)
class Quality:
    """How one client's data is corrupted (see client_data/corrupt.py)."""

    noise_snr_db: float | None = None
    speed: float | None = None
    transcripts: str | None = None
    transcript_share: float = 1.0


@dataclass
class ClientDataPlan:
    quality: dict[str, Quality] = field(default_factory=dict)  # corrupted clients by id
    hidden: frozenset[str] = frozenset()  # clients whose transcripts are hidden
    truth: dict[int, str] = field(default_factory=dict)  # train row -> hidden transcript
    untranscribed: frozenset[int] = frozenset()  # client indices with no transcript at all


def client_order(ids: Sequence[str], seed: int, salt: int) -> list[str]:
    """A seeded order of the clients; shares are taken from its front."""
    rng = np.random.default_rng([seed, salt])
    return [ids[i] for i in rng.permutation(len(ids))]


def choose_clients(
    choice: ClientChoice, ids: Sequence[str], order: Sequence[str], taken: set[str], key: str
) -> list[str]:
    """The clients a `share` or a `clients` list names, never one already `taken`."""
    if choice.clients is not None:
        known = set(ids)
        unknown = [c for c in choice.clients if c not in known]
        if unknown:
            raise ConfigError(
                f"{key}.clients: unknown client id(s) {', '.join(unknown)}; "
                f"clients look like: {', '.join(ids[:3])}"
            )
        twice = [c for c in choice.clients if c in taken]
        if twice:
            raise ConfigError(f"{key}.clients: {', '.join(twice)} already in an earlier group")
        return list(dict.fromkeys(choice.clients))
    count = round(float(choice.share or 0.0) * len(ids))
    return [c for c in order if c not in taken][:count]


def corrupted_clients(config: ExperimentConfig, ids: Sequence[str]) -> dict[str, Quality]:
    """Groups take disjoint clients from one seeded order, in the order they are listed."""
    order = client_order(ids, config.seed, CORRUPT_SALT)
    quality: dict[str, Quality] = {}
    for index, group in enumerate(config.partition.corrupt):
        chosen = choose_clients(group, ids, order, set(quality), f"partition.corrupt.{index}")
        spec = Quality(group.noise_snr_db, group.speed, group.transcripts, group.transcript_share)
        quality.update({client: spec for client in chosen})
    return quality


def hide_transcripts(bundle: DataBundle, rows: Iterable[int]) -> dict[int, str]:
    """Remove the transcripts of `rows` from the training split; returns them by row."""
    train = bundle.train
    truth: dict[int, str] = {}
    for row in rows:
        text = train.texts[row]
        if text is not None:
            truth[row] = text
            train.texts[row], train.targets[row] = None, None
    hidden_ids = {train.store.ids[row] for row in truth}
    bundle.utterances["train"] = [
        dataclasses.replace(utt, text=None) if utt.id in hidden_ids else utt
        for utt in bundle.utterances["train"]
    ]
    return truth


def plan_client_data(
    config: ExperimentConfig, registry: ClientRegistry, bundle: DataBundle
) -> ClientDataPlan:
    ids = list(registry.ids)
    quality = corrupted_clients(config, ids)
    hidden: list[str] = []
    choice = config.partition.hide_transcripts
    if choice is not None:
        order = client_order(ids, config.seed, HIDE_SALT)
        hidden = choose_clients(choice, ids, order, set(), "partition.hide_transcripts")
    index_of = {client: i for i, client in enumerate(ids)}
    rows = (int(r) for c in hidden for r in registry.rows_of(index_of[c]))
    truth = hide_transcripts(bundle, rows)
    targets = bundle.train.targets
    untranscribed = frozenset(
        i for i in range(len(ids)) if all(targets[int(r)] is None for r in registry.rows_of(i))
    )
    if quality or hidden:
        log.info(
            "client data: %d corrupted client(s), %d with hidden transcripts (%d utterances), "
            "%d with no transcript at all",
            len(quality), len(hidden), len(truth), len(untranscribed),
        )  # fmt: skip
    return ClientDataPlan(quality, frozenset(hidden), truth, untranscribed)
