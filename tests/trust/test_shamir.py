"""Shamir t-of-n secret sharing over GF(2^256 + 297)."""

from __future__ import annotations

import itertools
import os

import pytest
import sympy

from fedasr.trust.secagg.shamir import PRIME, Share, combine, interpolate_at_zero, split


def test_the_field_is_prime_and_holds_every_32_byte_secret() -> None:
    assert sympy.isprime(PRIME)
    assert PRIME > 2**256


def test_any_threshold_shares_reconstruct_the_secret() -> None:
    secret = os.urandom(32)
    shares = split(secret, threshold=3, holders=[1, 2, 5, 9, 11])
    for subset in itertools.combinations(shares, 3):
        assert combine(list(subset), 3) == secret
    assert combine(shares, 3) == secret  # more than enough: the first three are used
    edge = bytes([255]) * 32  # the largest secret
    assert combine(split(edge, 2, [1, 2])[::-1], 2) == edge


def test_fewer_shares_are_refused_or_reveal_nothing() -> None:
    secret = os.urandom(32)
    shares = split(secret, threshold=4, holders=[1, 2, 3, 4, 5, 6])
    with pytest.raises(ValueError, match="3 shares cannot reconstruct a 4-of-n secret"):
        combine(shares[:3], 4)
    # interpolating t - 1 shares gives some field element, not the secret
    assert interpolate_at_zero(shares[:3]) != int.from_bytes(secret, "little")


def test_shares_travel_as_bytes_and_inputs_are_checked() -> None:
    share = split(os.urandom(32), 2, [7, 8])[0]
    assert Share.from_bytes(share.to_bytes()) == share
    with pytest.raises(ValueError, match="32 bytes"):
        split(b"short", 2, [1, 2])
    with pytest.raises(ValueError, match="distinct"):
        split(os.urandom(32), 2, [1, 1])
    with pytest.raises(ValueError, match="threshold 3"):
        split(os.urandom(32), 3, [1, 2])
