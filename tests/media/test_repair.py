"""The round-trip rules of repair (``server.media.repair``): pure, no clock."""

from __future__ import annotations

import pytest

from server.media import repair
from server.media.repair import MAX_RETRY_INTERVAL, MIN_RETRY_INTERVAL, RETRY_MARGIN, retry_interval, smooth_rtt
from server.media.seam import compiled, inbound, resend


def test_the_first_round_trip_sample_is_taken_as_it_is() -> None:
    assert smooth_rtt(None, 0.04) == 0.04


def test_a_higher_sample_raises_the_round_trip_by_an_eighth_of_the_difference() -> None:
    """A late sample is often the server's own event loop reading the answer late: one spike moves
    the estimate a little, a link that really got slower moves it over a dozen samples."""
    assert smooth_rtt(0.04, 0.12) == pytest.approx(0.05)
    rtt: float | None = 0.04
    for _ in range(20):
        rtt = smooth_rtt(rtt, 0.3)
    assert rtt == pytest.approx(0.3, abs=0.02)


def test_a_lower_sample_is_taken_at_once() -> None:
    assert smooth_rtt(0.5, 0.01) == 0.01
    assert smooth_rtt(0.04, 0.0) == 0.0


@pytest.mark.parametrize("sample", [-0.001, repair.MAX_RTT_SAMPLE + 1])
def test_a_sample_that_cannot_be_a_round_trip_changes_nothing(sample: float) -> None:
    assert smooth_rtt(0.04, sample) == 0.04
    assert smooth_rtt(None, sample) is None


def test_before_any_round_trip_the_default_interval_stands() -> None:
    assert retry_interval(None, 0.1) == 0.1


def test_a_packet_is_asked_for_again_a_round_trip_and_a_margin_later() -> None:
    assert retry_interval(0.06, 0.1) == pytest.approx(0.06 + RETRY_MARGIN)
    assert retry_interval(0.3, 0.1) == pytest.approx(0.3 + RETRY_MARGIN)  # a long link waits longer than the default


def test_the_retry_interval_is_bounded_both_ways() -> None:
    assert retry_interval(0.0005, 0.1) == MIN_RETRY_INTERVAL
    assert retry_interval(3.0, 0.1) == MAX_RETRY_INTERVAL


def test_the_compiled_round_trip_rules_are_these() -> None:
    built = compiled.BUILT
    for name in ("RTT_GAIN", "RETRY_MARGIN", "MIN_RETRY_INTERVAL", "MAX_RETRY_INTERVAL", "MAX_RTT_SAMPLE"):
        assert getattr(built, name) == getattr(repair, name), name
    assert built.NACK_RETRY_INTERVAL == inbound.NACK_RETRY_INTERVAL
    assert built.RESEND_INTERVAL == resend.RESEND_INTERVAL


def test_each_repeated_nack_waits_twice_as_long_as_the_one_before_up_to_the_bound() -> None:
    assert [repair.backoff(0.02, tries) for tries in range(1, 6)] == pytest.approx([0.02, 0.04, 0.08, 0.16, 0.32])
    assert repair.backoff(0.1, 4) == MAX_RETRY_INTERVAL
