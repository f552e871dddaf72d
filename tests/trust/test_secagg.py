"""SecAgg / SecAgg+: the unmasked sum equals the plain fixed-point sum exactly, with and
without dropouts, with weights and with DP noise; the server never receives an unmasked
individual update."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Sequence

import numpy as np
import pytest
import torch
from cryptography.exceptions import InvalidTag

from fedasr.trust.secagg import (
    SecAggAbort,
    SecAggServer,
    codec_for,
    crypto,
    plain_ring_sum,
    secure_sum,
)
from fedasr.trust.secagg.client import SecAggClient
from fedasr.trust.secagg.messages import (
    KeyAdvert,
    MaskedUpdate,
    SealedShares,
    UnmaskReply,
    UnmaskRequest,
)
from fedasr.trust.secagg.protocol import quantise_rng

D = 300


def inputs(n: int, seed: int = 0) -> dict[int, dict[str, torch.Tensor | float]]:
    g = torch.Generator().manual_seed(seed)
    out: dict[int, dict[str, torch.Tensor | float]] = {}
    for client in range(n):
        weight = (1 + client % 4) / 4  # bounded weights in (0, 1]
        out[client] = {"update": weight * 0.1 * torch.randn(D, generator=g), "weight": weight}
    return out


@pytest.mark.parametrize(
    ("n", "degree", "after_sharing", "after_input"),
    [
        (8, None, set(), set()),  # SecAgg, nobody drops
        (10, None, {1, 4, 7}, set()),  # 30 % drop after masking: their masks are recovered
        (10, None, {2}, {5, 6}),  # and some drop before sending unmasking shares
        (12, 6, {0, 5}, set()),  # SecAgg+ on a 6-regular graph
    ],
)
def test_unmasked_sum_equals_the_plain_fixed_point_sum_exactly(
    n: int, degree: int | None, after_sharing: set[int], after_input: set[int]
) -> None:
    values = inputs(n)
    codec = codec_for(D, n, clip_range=0.6)
    run = secure_sum(
        values,
        codec,
        degree=degree,
        seed=5,
        round_index=3,
        drop_after_sharing=after_sharing,
        drop_after_input=after_input,
    )
    kept = {c: v for c, v in values.items() if c not in after_sharing}
    assert np.array_equal(run.result.ring_sum, plain_ring_sum(kept, codec, 5, 3))
    assert run.result.survivors == tuple(sorted(kept))
    assert run.result.dropped == tuple(sorted(after_sharing))
    # weighted: the decoded sums are Σ w Δ and Σ w within the quantisation bound N / s
    exact = sum(v["update"].double() for v in kept.values()).numpy()  # type: ignore[union-attr]
    bound = len(kept) * codec.resolution("update")
    assert np.abs(run.result.values["update"] - exact).max() < bound
    total_weight = sum(float(v["weight"]) for v in kept.values())  # type: ignore[arg-type]
    assert run.result.values["weight"][0] == pytest.approx(total_weight, abs=1e-6)
    mean = run.result.values["update"] / run.result.values["weight"][0]
    assert np.abs(mean - exact / total_weight).max() < 1e-6


def test_a_64_bit_ring_and_inputs_at_the_bound_never_wrap() -> None:
    n = 6
    for bits in (32, 64):
        codec = codec_for(4, n, bits=bits, clip_range=1.0)
        top = {c: {"update": np.ones(4), "weight": 1.0} for c in range(n)}
        bottom = {c: {"update": -np.ones(4), "weight": 1.0} for c in range(n)}
        assert np.allclose(secure_sum(top, codec).result.values["update"], n, atol=1e-6)
        assert np.allclose(secure_sum(bottom, codec).result.values["update"], -n, atol=1e-6)


def test_values_beyond_the_range_are_clipped_and_counted() -> None:
    codec = codec_for(3, 2, clip_range=1.0)
    run = secure_sum(
        {
            0: {"update": np.array([5.0, 0.5, -3.0]), "weight": 1.0},
            1: {"update": np.zeros(3), "weight": 1.0},
        },
        codec,
    )
    assert run.clipped == 2
    assert np.allclose(run.result.values["update"], [1.0, 0.5, -1.0], atol=1e-7)


def test_too_many_dropouts_abort_the_round() -> None:
    codec = codec_for(D, 10)  # 9 neighbours + itself hold shares; 6 are needed
    with pytest.raises(SecAggAbort, match="survived, fewer than the threshold 6"):
        secure_sum(inputs(10), codec, threshold=0.6, drop_after_sharing={0, 1, 2, 3, 4})
    with pytest.raises(SecAggAbort, match="only 5 shares of client 3's secret arrived; 6 are"):
        secure_sum(inputs(10), codec, drop_after_sharing={0, 1, 2}, drop_after_input={3, 4})


def test_dp_noise_added_before_masking_survives_in_the_sum() -> None:
    """Distributed DP with adaptive clipping: each client clips, noises its update and its
    clipping bit, then masks; the unmasked sums equal the plain sums to the quantisation
    bound, carry the central noise std, and give the server half the same pseudo-gradient."""
    from fedasr.trust.dp import finish_round, privatize
    from fedasr.trust.schema import AdaptiveClipSection, DPSection

    dp = DPSection(mode="distributed", noise_multiplier=1.0, adaptive=AdaptiveClipSection())
    n, length = 16, 20_000
    scales = [0.05 if c % 2 else 5.0 for c in range(n)]  # half the clients get clipped
    where = {"clip_norm": 0.1, "noise_multiplier": 1.0, "expected_clients": n, "round_index": 0}
    noised = {
        c: privatize(
            scales[c] * torch.ones(length) / length**0.5, 10, dp, seed=0, client_index=c, **where
        )
        for c in range(n)
    }
    # update: ±(clip + 6 per-client noise std); unclipped: 0/1 plus 6 std of its noise share
    codec = codec_for(length, n, clip_range=0.1 + 6 * 0.025, count_bound=1 + 6 * 0.2)
    values = {
        c: {"update": p.vector, "weight": p.weight, "unclipped": p.unclipped}
        for c, p in noised.items()
    }
    run = secure_sum(values, codec)
    assert run.clipped == 0
    plain = sum(p.vector.double() for p in noised.values()).numpy()  # type: ignore[union-attr]
    assert np.abs(run.result.values["update"] - plain).max() < n * codec.resolution("update")
    signal = sum(scales[c] for c in range(n) if c % 2) / length**0.5 + 0.1 * n / 2 / length**0.5
    noise = run.result.values["update"] - signal
    assert float(np.std(noise)) == pytest.approx(
        0.1 * (1 - 1 / 1.6**2) ** -0.5, rel=0.03
    )  # z_delta C
    unclipped = sum(p.unclipped for p in noised.values())
    assert run.result.values["unclipped"][0] == pytest.approx(unclipped, abs=n * 1e-6)
    server = {
        "clip_norm": 0.1,
        "noise_multiplier": 1.0,
        "expected_clients": n,
        "expected_total_weight": float(n),
        "seed": 0,
        "round_index": 0,
    }
    secure = finish_round(
        torch.from_numpy(run.result.values["update"]),
        float(run.result.values["unclipped"][0]),
        dp,
        **server,
    )
    clear = finish_round(torch.from_numpy(plain), unclipped, dp, **server)
    assert torch.allclose(secure.pseudo_gradient, clear.pseudo_gradient, atol=1e-6)
    assert secure.next_clip_norm == pytest.approx(clear.next_clip_norm, rel=1e-6)


MESSAGE_TYPES = {KeyAdvert, SealedShares, MaskedUpdate, UnmaskReply}


def test_the_server_accepts_only_protocol_messages_by_signature() -> None:
    methods = [
        m
        for name, m in inspect.getmembers(SecAggServer, inspect.isfunction)
        if not name.startswith("_")
    ]
    assert {m.__name__ for m in methods} == {
        "receive_adverts",
        "route_shares",
        "receive_masked",
        "unmask",
    }
    for method in methods:
        hints = typing.get_type_hints(method)
        hints.pop("return")
        for name, hint in hints.items():
            assert typing.get_origin(hint) is Sequence, (method.__name__, name)
            (element,) = typing.get_args(hint)
            assert element in MESSAGE_TYPES, (method.__name__, name, element)
    assert [f.name for f in MaskedUpdate.__dataclass_fields__.values()] == ["sender", "masked"]


def test_the_server_refuses_anything_but_messages_at_run_time() -> None:
    codec = codec_for(D, 2)
    server = SecAggServer({0: (1,), 1: (0,)}, {0: 2, 1: 2}, codec, b"ctx")
    with pytest.raises(TypeError, match="accepts MaskedUpdate here"):
        server.receive_masked([np.zeros(codec.length, dtype=np.uint32)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="accepts MaskedUpdate here"):
        server.receive_masked([torch.zeros(D)])  # type: ignore[list-item]


def test_no_message_the_server_receives_reveals_an_individual_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    n = 6
    values = inputs(n, seed=1)
    codec = codec_for(D, n, clip_range=0.6)
    encoded = {c: codec.encode(v, quantise_rng(0, 0, c))[0] for c, v in values.items()}
    received: list[object] = []
    for name in ("receive_adverts", "route_shares", "receive_masked", "unmask"):
        original = getattr(SecAggServer, name)

        def spy(self: SecAggServer, items: list, _original=original) -> object:  # type: ignore[no-untyped-def]
            received.extend(items)
            return _original(self, items)

        monkeypatch.setattr(SecAggServer, name, spy)
    run = secure_sum(values, codec, drop_after_sharing={2})
    assert {type(m) for m in received} == MESSAGE_TYPES
    masked = [m for m in received if isinstance(m, MaskedUpdate)]
    for message in masked:
        mine = encoded[message.sender]
        # the masked vector looks uniform in the ring: no coordinate relation to the input
        assert np.count_nonzero(message.masked == mine) <= 2
        diff = (message.masked - mine).astype(np.float64)
        assert (
            abs(np.corrcoef(message.masked.astype(np.float64), mine.astype(np.float64))[0, 1])
            < 0.25
        )
        assert diff.std() > 2**32 / 8  # masks spread over the whole ring
    arrays = [
        np.asarray(x) for m in received for x in vars(m).values() if isinstance(x, np.ndarray)
    ]
    for vector in encoded.values():
        assert not any(np.array_equal(vector, a) for a in arrays)
    assert len(run.result.survivors) == n - 1


def test_sealed_shares_are_unreadable_without_the_pair_key() -> None:
    codec = codec_for(4, 3)
    clients = [SecAggClient(c, [o for o in range(3) if o != c], 2, codec, b"ctx") for c in range(3)]
    adverts = {c.client: c.advertise() for c in clients}
    bundles = {
        c.client: c.share_keys({v: a for v, a in adverts.items() if v != c.client}) for c in clients
    }
    bundle = bundles[0][0]
    assert bundle.recipient == 1
    with pytest.raises(InvalidTag):
        crypto.unseal(crypto.random_seed(), bundle.blob, b"ctx")
    clients[1].receive_shares([bundle])  # the recipient opens it
    with pytest.raises(SecAggAbort, match="misrouted"):
        clients[2].receive_shares([bundle])


def test_clients_refuse_to_reveal_both_shares_of_one_client() -> None:
    codec = codec_for(4, 3)
    clients = [SecAggClient(c, [o for o in range(3) if o != c], 2, codec, b"ctx") for c in range(3)]
    adverts = {c.client: c.advertise() for c in clients}
    bundles = [
        b
        for c in clients
        for b in c.share_keys({v: a for v, a in adverts.items() if v != c.client})
    ]
    for c in clients:
        c.receive_shares([b for b in bundles if b.recipient == c.client])
    greedy = UnmaskRequest(survivors=frozenset({0, 1, 2}), dropped=frozenset({2}))
    with pytest.raises(SecAggAbort, match="both survivor and dropped"):
        clients[0].unmask(greedy)
    reply = clients[0].unmask(UnmaskRequest(frozenset({0, 1}), frozenset({2})))
    assert set(reply.seed_shares) == {0, 1} and set(reply.key_shares) == {2}


def test_traffic_is_counted_per_phase() -> None:
    n = 10
    run = secure_sum(inputs(n), codec_for(D, n), drop_after_sharing={3})
    mask = run.per_client("mask")
    assert mask.bytes_up == 8 + (D + 1) * 4  # id + the ring vector
    share = run.per_client("share_keys")
    assert share.bytes_up == (n - 1) * (16 + 12 + 2 * 37 + 16)  # ids, nonce, two shares, tag
    advertise = run.per_client("advertise")
    assert advertise.bytes_up == 8 + 64 and advertise.bytes_down == (n - 1) * 72
    assert set(run.server_seconds) == {"advertise", "share_keys", "mask", "unmask"}


def test_a_survivor_pays_the_full_upload_whoever_dropped() -> None:
    """The per-client cost a run logs is a survivor's: clients that dropped after sharing keys
    sent no masked vector, and must not dilute it."""
    n = 10
    whole = secure_sum(inputs(n), codec_for(D, n)).per_survivor()
    dropped = secure_sum(inputs(n), codec_for(D, n), drop_after_sharing={3, 4, 5})
    survivor = dropped.per_survivor()
    assert survivor.bytes_up >= 8 + (D + 1) * 4  # the masked ring vector at least
    assert survivor.bytes_up >= whole.bytes_up  # unmasking for the dropped adds key shares
    assert survivor.bytes_up > dropped.per_client().bytes_up  # the all-client mean is lower
