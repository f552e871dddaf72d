"""The simulated clock on hand examples: client time, deadline, over-selection."""

from __future__ import annotations

import pytest

from fedasr.devices.clock import attempt_seconds, client_seconds, cut_round
from fedasr.devices.schema import DeviceTier

PHONE = DeviceTier(flops_per_s=2e9, downlink_bytes_per_s=1e6, uplink_bytes_per_s=2.5e5)


def test_client_time_is_compute_plus_download_plus_upload() -> None:
    # 10 GFLOP / 2 GFLOP/s + 3 MB / 1 MB/s + 0.5 MB / 0.25 MB/s = 5 + 3 + 2
    assert client_seconds(PHONE, 10e9, 3_000_000, 500_000) == pytest.approx(10.0)


def test_without_options_the_round_waits_for_the_slowest() -> None:
    cut = cut_round([4.0, 9.0, 2.0], deadline=None, keep_first=None)
    assert (cut.kept, cut.dropped, cut.seconds) == ([0, 1, 2], [], 9.0)


def test_deadline_drops_stragglers_and_the_round_lasts_until_the_deadline() -> None:
    cut = cut_round([4.0, 9.0, 2.0, 6.0], deadline=5.0, keep_first=None)
    assert (cut.kept, cut.dropped, cut.seconds) == ([0, 2], [1, 3], 5.0)
    assert cut.waited_for_deadline and not cut.closed_early
    # everyone in time: the round ends with the slowest, not at the deadline
    assert cut_round([4.0, 2.0], deadline=5.0, keep_first=None).seconds == 4.0


def test_over_selection_keeps_the_first_k_to_finish() -> None:
    cut = cut_round([4.0, 9.0, 2.0, 6.0, 4.0], deadline=None, keep_first=3)
    assert cut.kept == [0, 2, 4] and cut.dropped == [1, 3]  # ties: sampled order
    assert cut.seconds == 4.0 and cut.closed_early


def test_over_selection_with_a_deadline_that_cuts_below_k() -> None:
    cut = cut_round([4.0, 9.0, 2.0, 6.0], deadline=5.0, keep_first=3)
    assert (cut.kept, cut.seconds) == ([0, 2], 5.0)  # only two finish: wait until the deadline
    cut = cut_round([4.0, 9.0, 2.0, 3.0], deadline=5.0, keep_first=3)
    assert (cut.kept, cut.seconds, cut.waited_for_deadline) == ([0, 2, 3], 4.0, False)


def test_measured_attempt_time_follows_the_cut() -> None:
    deadline = cut_round([4.0, 9.0], deadline=5.0, keep_first=None)
    assert attempt_seconds(deadline, [4.0], 5.0) == 5.0
    fastest = cut_round([4.0, 9.0, 2.0], deadline=None, keep_first=2)
    assert attempt_seconds(fastest, [4.0, 2.0], None) == 4.0
    assert attempt_seconds(cut_round([], None, None), [], None) == 0.0
