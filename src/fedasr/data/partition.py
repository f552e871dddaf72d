"""Partitioners: pure, seeded functions from utterances to {client_id: [utterance ids]}.

Clients are speakers unless a partitioner says otherwise (shared/ALGORITHMS.md). Every function
returns clients in a stable order and utterance ids in manifest order within a client, so the
same seed always gives the same partition.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fedasr.data.manifest import Utterance
from fedasr.errors import ConfigError

Partition = dict[str, list[str]]


def by_speaker(utts: Sequence[Utterance], seed: int = 0) -> Partition:
    """The natural partition: one client per speaker (mild non-IID on the embedded corpus)."""
    return by_meta(utts, key="speaker", seed=seed)


def by_meta(utts: Sequence[Utterance], key: str = "engine", seed: int = 0) -> Partition:
    """One client per value of a field or `meta` tag, e.g. per TTS engine (strong non-IID)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for utt in utts:
        value = getattr(utt, key, None) if key in ("speaker", "language") else utt.meta.get(key)
        if value is None:
            raise ConfigError(f"partition.params.key: utterance {utt.id} has no {key!r}")
        groups[str(value)].append(utt.id)
    return {client: groups[client] for client in sorted(groups)}


def iid(utts: Sequence[Utterance], num_clients: int, seed: int = 0) -> Partition:
    """Shuffle everything and deal it into equal-sized clients."""
    _require_positive("partition.params.num_clients", num_clients)
    order = np.random.default_rng(seed).permutation(len(utts))
    return _ordered(
        {f"client{c:05d}": [utts[i].id for i in order[c::num_clients]] for c in range(num_clients)},
        utts,
    )


def noniid_knob(utts: Sequence[Utterance], p: float, seed: int = 0) -> Partition:
    """ALGORITHMS.md §2: each speaker-client keeps its size; a share p comes from the pool.

    A fraction p of every speaker's utterances goes into a shared pool, which is shuffled and
    dealt back so each client receives exactly what it gave. p=0 is one speaker per client,
    p=1 draws every client from the pooled distribution of all speakers (IID).
    """
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"partition.params.p: got {p}; accepted: a number in [0, 1]")
    rng = np.random.default_rng(seed)
    own: Partition = {}
    pool: list[str] = []
    quota: dict[str, int] = {}
    for client, ids in by_speaker(utts).items():
        shuffled = [ids[i] for i in rng.permutation(len(ids))]
        given = round(p * len(ids))
        own[client], quota[client] = shuffled[given:], given
        pool.extend(shuffled[:given])
    pool = [pool[i] for i in rng.permutation(len(pool))]
    cursor = 0
    for client in own:
        own[client] = own[client] + pool[cursor : cursor + quota[client]]
        cursor += quota[client]
    return _ordered(own, utts)


def k_speakers(utts: Sequence[Utterance], k: int, seed: int = 0) -> Partition:
    """Merge k randomly grouped speakers into each client (the last client may hold fewer)."""
    _require_positive("partition.params.k", k)
    speakers = by_speaker(utts)
    names = [list(speakers)[i] for i in np.random.default_rng(seed).permutation(len(speakers))]
    clients = {
        f"client{c:05d}": [u for name in names[start : start + k] for u in speakers[name]]
        for c, start in enumerate(range(0, len(names), k))
    }
    return _ordered(clients, utts)


def dirichlet(
    utts: Sequence[Utterance], num_clients: int, alpha: float, seed: int = 0
) -> Partition:
    """Speakers play the role of labels: each speaker's utterances are split over the clients
    with proportions drawn from Dir(alpha). Small alpha: each client sees few speakers."""
    _require_positive("partition.params.num_clients", num_clients)
    if alpha <= 0:
        raise ConfigError(f"partition.params.alpha: got {alpha}; accepted: a number > 0")
    rng = np.random.default_rng(seed)
    clients: dict[str, list[str]] = {f"client{c:05d}": [] for c in range(num_clients)}
    names = list(clients)
    for ids in by_speaker(utts).values():
        shares = rng.dirichlet(np.full(num_clients, alpha))
        cuts = (np.cumsum(shares)[:-1] * len(ids)).round().astype(int)
        shuffled = [ids[i] for i in rng.permutation(len(ids))]
        for name, part in zip(names, np.split(np.array(shuffled, dtype=object), cuts), strict=True):
            clients[name].extend(part.tolist())
    return _ordered({name: ids for name, ids in clients.items() if ids}, utts)


def size_skew(
    utts: Sequence[Utterance], num_clients: int, exponent: float = 1.0, seed: int = 0
) -> Partition:
    """IID content, power-law sizes: client of rank r gets a share proportional to r^-exponent
    (at least one utterance each)."""
    _require_positive("partition.params.num_clients", num_clients)
    if num_clients > len(utts):
        raise ConfigError(f"partition.params.num_clients: {num_clients} > {len(utts)} utterances")
    rng = np.random.default_rng(seed)
    shares = np.arange(1, num_clients + 1, dtype=float) ** -exponent
    sizes = 1 + np.floor(shares / shares.sum() * (len(utts) - num_clients)).astype(int)
    sizes[0] += len(utts) - sizes.sum()
    order = rng.permutation(len(utts))
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return _ordered(
        {
            f"client{c:05d}": [utts[i].id for i in order[bounds[c] : bounds[c + 1]]]
            for c in range(num_clients)
        },
        utts,
    )


def draw(utts: Sequence[Utterance], num_clients: int, per_client: int, seed: int = 0) -> Partition:
    """A population larger than the corpus (scale simulations): every client draws
    `per_client` distinct utterances at random; different clients may share utterances."""
    _require_positive("partition.params.num_clients", num_clients)
    _require_positive("partition.params.per_client", per_client)
    if per_client > len(utts):
        raise ConfigError(f"partition.params.per_client: {per_client} > {len(utts)} utterances")
    rng = np.random.default_rng(seed)
    clients = {
        f"client{c:05d}": [utts[i].id for i in rng.choice(len(utts), per_client, replace=False)]
        for c in range(num_clients)
    }
    return _ordered(clients, utts)


def _ordered(clients: Partition, utts: Sequence[Utterance]) -> Partition:
    """Utterance ids in manifest order within each client: stable, readable, seed-independent."""
    position = {utt.id: i for i, utt in enumerate(utts)}
    return {name: sorted(ids, key=position.__getitem__) for name, ids in clients.items()}


def _require_positive(key: str, value: int) -> None:
    if int(value) != value or value < 1:
        raise ConfigError(f"{key}: got {value!r}; accepted: a positive integer")


PARTITIONERS: dict[str, Callable[..., Partition]] = {
    "speaker": by_speaker,
    "meta": by_meta,
    "iid": iid,
    "knob": noniid_knob,
    "k_speakers": k_speakers,
    "dirichlet": dirichlet,
    "size_skew": size_skew,
    "draw": draw,
}


def partition(utts: Sequence[Utterance], scheme: str, seed: int = 0, **params: Any) -> Partition:
    """Dispatch by name; unknown schemes or parameters fail naming what is accepted."""
    if scheme not in PARTITIONERS:
        raise ConfigError(f"partition.scheme: got {scheme!r}; allowed: {', '.join(PARTITIONERS)}")
    func = PARTITIONERS[scheme]
    accepted = set(func.__code__.co_varnames[1 : func.__code__.co_argcount]) - {"seed"}
    unknown = set(params) - accepted
    if unknown:
        raise ConfigError(
            f"partition: {scheme!r} does not take {', '.join(sorted(unknown))}; "
            f"it takes: {', '.join(sorted(accepted)) or 'nothing'}"
        )
    required = [name for name in _required_params(func) if name not in params]
    if required:
        raise ConfigError(
            f"partition.params.{required[0]}: partition.scheme={scheme} needs it "
            f"(needs: {', '.join(_required_params(func))}), e.g. "
            f"partition.params.{required[0]}=8"
        )
    return func(utts, seed=seed, **params)


def _required_params(func: Callable[..., Partition]) -> list[str]:
    """Parameters without a default, besides the utterances."""
    names = func.__code__.co_varnames[1 : func.__code__.co_argcount]
    defaults = len(func.__defaults__ or ())
    return list(names[: len(names) - defaults])


def summary(clients: Partition, utts: Sequence[Utterance]) -> dict[str, tuple[float, float, float]]:
    """min / median / max over clients of utterances, audio minutes and distinct speakers."""
    by_id = {utt.id: utt for utt in utts}
    rows: dict[str, list[float]] = {
        "utterances": [len(ids) for ids in clients.values()],
        "audio minutes": [sum(by_id[i].duration for i in ids) / 60 for ids in clients.values()],
        "speakers": [len({by_id[i].speaker for i in ids}) for ids in clients.values()],
    }
    return {name: (min(v), float(np.median(v)), max(v)) for name, v in rows.items() if v}
