"""Frame labels for FedKAD's knowledge: the Viterbi forced alignment on a hand example, its
optimality against every path of small random cases, and the best path."""

from __future__ import annotations

import itertools

import pytest
import torch

from fedasr.algorithms.alignment import best_path, forced_alignment

A, B = 1, 2  # labels; 0 is blank


def frames(*rows: tuple[float, float, float]) -> torch.Tensor:
    """(1, T, 3) log-posteriors from per-frame probabilities of (blank, a, b)."""
    return torch.tensor(rows).log()[None]


def test_forced_alignment_by_hand() -> None:
    # the transcript "a a" needs a blank between the two a's; the last frame looks like b,
    # which the transcript does not hold
    log_probs = frames(
        (0.10, 0.80, 0.10),
        (0.30, 0.60, 0.10),
        (0.70, 0.20, 0.10),
        (0.20, 0.50, 0.30),
        (0.15, 0.05, 0.80),
    )
    lengths, targets, target_lens = torch.tensor([5]), torch.tensor([A, A]), torch.tensor([2])
    assert forced_alignment(log_probs, lengths, targets, target_lens).tolist() == [[A, A, 0, A, 0]]
    assert best_path(log_probs, lengths).tolist() == [[A, A, 0, A, B]]  # "aab": not the text
    # two frames cannot spell "a a" (a blank must separate them): no alignment at all
    short = forced_alignment(log_probs[:, :2], torch.tensor([2]), targets, target_lens)
    assert short.tolist() == [[-1, -1]]


def _collapse(path: tuple[int, ...]) -> list[int]:
    out, previous = [], None
    for label in path:
        if label != previous and label != 0:
            out.append(label)
        previous = label
    return out


@pytest.mark.parametrize("seed", range(40))
def test_forced_alignment_is_the_best_path_that_spells_the_transcript(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    length = int(torch.randint(1, 6, (1,), generator=generator))
    units = int(torch.randint(0, 4, (1,), generator=generator))
    target = torch.randint(1, 3, (units,), generator=generator)
    # a batch of two, the first padded by two frames, the second with a one-label transcript
    log_probs = torch.randn(2, length + 2, 3, generator=generator).log_softmax(-1)
    got = forced_alignment(
        log_probs, torch.tensor([length, length + 2]), torch.cat([target, torch.tensor([B])]),
        torch.tensor([units, 1]),
    )[0]  # fmt: skip
    scores = {
        path: float(sum(log_probs[0, t, label] for t, label in enumerate(path)))
        for path in itertools.product(range(3), repeat=length)
        if _collapse(path) == target.tolist()
    }
    assert got[length:].tolist() == [-1, -1]  # past the utterance's end
    if not scores:
        assert got.tolist() == [-1] * (length + 2)
        return
    path = tuple(got[:length].tolist())
    assert _collapse(path) == target.tolist()
    assert scores[path] == pytest.approx(max(scores.values()), abs=1e-5)
