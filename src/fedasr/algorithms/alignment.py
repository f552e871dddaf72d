"""Frame labels from CTC posteriors: the best path, or a Viterbi forced alignment.

FedKAD (shared/ALGORITHMS.md §3) needs a label for every top-level frame to aggregate
features per output label. Two ways, both batched over utterances (one loop over frames):

- `best_path`: the argmax of each frame's posterior — no transcript needed, but early in
  training (or on a hard utterance) it labels frames with symbols the transcript does not hold;
- `forced_alignment`: the most likely CTC path that spells the transcript (Viterbi over the
  blank-interleaved label sequence: stay, advance, or skip a blank between two different
  labels), so every frame is labelled with a symbol of the transcript or blank.

Both return (B, T) int64 labels, -1 past an utterance's length; a forced alignment that does
not exist (fewer frames than the transcript needs) labels the whole utterance -1.
"""

from __future__ import annotations

import torch

BLANK = 0
NO_LABEL = -1


def best_path(log_probs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, V) log-posteriors, (B,) valid frames -> (B, T) argmax labels, -1 past the end."""
    labels = log_probs.argmax(dim=-1)
    frames = torch.arange(log_probs.shape[1], device=log_probs.device)
    return labels.masked_fill(frames[None, :] >= lengths[:, None], NO_LABEL)


def _extended(targets: torch.Tensor, target_lens: torch.Tensor) -> torch.Tensor:
    """(B, S) blank-interleaved label sequences, S = 2 * max(U) + 1, blank-padded."""
    batch = target_lens.numel()
    longest = int(target_lens.max()) if batch else 0
    padded = torch.full((batch, longest), BLANK, dtype=torch.int64, device=targets.device)
    offsets = torch.cumsum(target_lens, 0) - target_lens
    for b in range(batch):  # B small copies; the frame loop below is the real work
        n = int(target_lens[b])
        padded[b, :n] = targets[int(offsets[b]) : int(offsets[b]) + n]
    extended = torch.full((batch, 2 * longest + 1), BLANK, dtype=torch.int64, device=padded.device)
    extended[:, 1::2] = padded
    return extended


def forced_alignment(
    log_probs: torch.Tensor,
    lengths: torch.Tensor,
    targets: torch.Tensor,
    target_lens: torch.Tensor,
) -> torch.Tensor:
    """Viterbi CTC alignment of (B, T, V) log-posteriors against the concatenated `targets`
    (as F.ctc_loss takes them) -> (B, T) frame labels, -1 past the end or where none exists."""
    log_probs = log_probs.detach()
    batch, frames, _ = log_probs.shape
    device = log_probs.device
    ext = _extended(targets.to(device), target_lens.to(device))
    states = ext.shape[1]
    target_lens = target_lens.to(device)
    valid_state = torch.arange(states, device=device)[None, :] < (2 * target_lens + 1)[:, None]
    can_skip = torch.zeros_like(valid_state)
    can_skip[:, 2:] = (ext[:, 2:] != BLANK) & (ext[:, 2:] != ext[:, :-2])
    emissions = log_probs.gather(2, ext[:, None, :].expand(batch, frames, states))
    minus_inf = torch.tensor(float("-inf"), device=device, dtype=log_probs.dtype)
    score = torch.full((batch, states), float("-inf"), device=device, dtype=log_probs.dtype)
    score[:, 0] = emissions[:, 0, 0]
    if states > 1:
        score[:, 1] = torch.where(target_lens > 0, emissions[:, 0, 1], minus_inf)
    back = torch.zeros((batch, frames, states), dtype=torch.int64, device=device)
    lengths = lengths.to(device)
    for t in range(1, frames):
        step = torch.cat([score.new_full((batch, 1), float("-inf")), score[:, :-1]], dim=1)
        skip = torch.cat([score.new_full((batch, 2), float("-inf")), score[:, :-2]], dim=1)
        skip = torch.where(can_skip, skip, minus_inf)
        best, move = torch.stack([score, step, skip]).max(dim=0)
        moved = torch.where(valid_state, best + emissions[:, t], minus_inf)
        active = (t < lengths)[:, None]  # past an utterance's end its scores stay as they were
        score = torch.where(active, moved, score)
        back[:, t] = torch.where(active, move, torch.zeros_like(move))
    return _backtrack(score, back, ext, lengths, target_lens)


def _backtrack(
    score: torch.Tensor,
    back: torch.Tensor,
    ext: torch.Tensor,
    lengths: torch.Tensor,
    target_lens: torch.Tensor,
) -> torch.Tensor:
    batch, frames, _ = back.shape
    rows = torch.arange(batch, device=ext.device)
    last = 2 * target_lens  # the final blank; the last label is one before it
    end_blank = score[rows, last]
    end_label = torch.where(target_lens > 0, score[rows, (last - 1).clamp(min=0)], end_blank)
    state = torch.where(end_label > end_blank, last - 1, last)
    reachable = torch.isfinite(torch.maximum(end_blank, end_label))
    path = torch.full((batch, frames), NO_LABEL, dtype=torch.int64, device=ext.device)
    for t in range(frames - 1, -1, -1):
        inside = t < lengths
        path[:, t] = torch.where(inside, ext[rows, state], path[:, t])
        state = torch.where(inside, state - back[rows, t, state], state)
    return path.masked_fill(~reachable[:, None], NO_LABEL)


def frame_labels(
    kind: str,
    log_probs: torch.Tensor,
    lengths: torch.Tensor,
    targets: torch.Tensor,
    target_lens: torch.Tensor,
) -> torch.Tensor:
    """The labels of `kind` ("forced" or "best_path") for a batch's last-exit posteriors."""
    if kind == "forced":
        return forced_alignment(log_probs, lengths, targets, target_lens)
    return best_path(log_probs.detach(), lengths.to(log_probs.device))
