"""How one subscriber's link figure is read from its RTCP (``server.media.estimate``): pure, plain values in and out."""

from __future__ import annotations

from server.media.estimate import (
    CONGESTION_HOLD,
    DEFAULT_ESTIMATE,
    DELAY_BACKOFF,
    OUTAGE_GRACE,
    RECOVERY_GROWTH,
    Estimate,
)


def test_the_estimate_is_the_subscribers_remb_and_a_lossy_round_does_not_lower_it() -> None:
    estimate = Estimate()
    assert estimate.rate_at(0.0) == DEFAULT_ESTIMATE
    estimate.on_remb(1_000_000)
    estimate.on_loss(0.3, delivered=900_000)  # random loss on a home Wi-Fi is no reason to take anyone's picture away
    assert estimate.rate_at(0.0) == 1_000_000 and estimate.loss == 0.3


def test_a_queue_that_overflows_round_after_round_is_congestion_and_the_estimate_is_what_got_through() -> None:
    """The lab's member capped at 400 kbit/s: 20-83 % of its video lost for 20 s while its starved
    browser's REMB sat low and flat (no fall, so no congestion by the REMB rule): nothing was paused."""
    estimate = Estimate()
    estimate.on_remb(90_000, now=0.0)
    estimate.on_remb(95_000, now=20.0)
    estimate.on_rtt(0.05, now=0.0)
    estimate.on_rtt(0.65, now=19.0)
    estimate.on_rtt(0.65, now=20.0)  # the router's queue full: 0.6 s, round after round
    for now in (21.0, 22.0):
        estimate.on_loss(0.5, now=now, delivered=300_000, overall=0.4)
        assert not estimate.congested(now) and estimate.rate_at(now) == 95_000  # not yet: it may be chance
    estimate.on_loss(0.5, now=23.0, delivered=300_000, overall=0.4)
    assert estimate.congested(23.0) and estimate.rate_at(23.0) == 270_000  # what got through, less a margin
    estimate.on_loss(0.0, now=24.0, delivered=250_000, overall=0.0)  # what does not fit was paused
    assert estimate.congested(24.0) and estimate.rate_at(24.0) == 270_000
    over = 23.0 + CONGESTION_HOLD
    assert not estimate.congested(over) and estimate.rate_at(over) == 95_000
    # Severe rounds that are not in a row are no overflow; nor is one stream's fraction over a few
    # packets (no ``overall``: too small a sample), however high.
    for now, overall in ((40.0, 0.5), (41.0, 0.5), (42.0, 0.01), (43.0, 0.5), (44.0, None), (45.0, 0.5)):
        estimate.on_loss(0.5, now=now, delivered=300_000, overall=overall)
    assert not estimate.overflowing(45.0)


def test_heavy_loss_without_a_queue_in_the_path_is_not_an_overflow() -> None:
    """In the lab at 10% random loss receiver reports read 30-70% lost in some rounds; taken for an
    overflow, every member went audio only in turn. A full queue shows in the round trip; random loss
    leaves it where it was."""
    estimate = Estimate()
    estimate.on_remb(300_000, now=0.0)
    for second in range(20, 30):
        estimate.on_rtt(0.05, now=float(second))
        estimate.on_loss(0.5, now=float(second), delivered=300_000, overall=0.5)
    assert not estimate.overflowing(29.0) and estimate.rate_at(29.0) == 300_000


def test_congestion_is_a_falling_remb_after_the_start_with_loss_and_it_passes() -> None:
    estimate = Estimate()
    estimate.on_remb(300_000, now=0.0)
    estimate.on_loss(0.08, now=1.0)
    estimate.on_remb(200_000, now=1.0)  # a new link's first REMBs settle: no congestion yet
    assert not estimate.congested(1.0)
    estimate.on_remb(900_000, now=20.0)
    assert not estimate.congested(20.0)  # rising is no congestion
    estimate.on_remb(500_000, now=21.0)
    assert not estimate.congested(21.0)  # a fall without loss: a browser short of CPU, not a full queue
    estimate.on_loss(0.08, now=22.0)
    assert estimate.congested(22.0) and estimate.congested(25.0)
    assert not estimate.congested(21.0 + CONGESTION_HOLD)


def test_the_reports_that_end_an_outage_are_not_taken_for_congestion() -> None:
    """A phone cut off for seconds: its first receiver report after it counts what was lost while it
    was away and its browser's estimate restarts low. Neither is its link now: taken for congestion,
    every video to it was paused for a probe's wait (seen in the lab: 16 of 40 recoveries not back at
    10 fps within 10 s). Later congestion still counts."""
    estimate = Estimate()
    for second in range(30):  # a settled link, reporting every second
        estimate.on_heard(float(second), now=float(second))
        estimate.on_remb(900_000, now=float(second))
    estimate.on_heard(29.0, now=33.0)  # nothing read for four seconds: the outage
    estimate.on_heard(33.5, now=34.0)  # reports again
    estimate.on_loss(0.6, now=34.0)  # what was lost during the outage
    estimate.on_remb(150_000, now=34.0)  # the browser's estimate restarting
    assert estimate.resumed_at == 34.0 and not estimate.congested(34.0)
    after = 34.0 + OUTAGE_GRACE
    for second in range(35, int(after) + 1):  # reporting every second again
        estimate.on_heard(float(second), now=float(second))
    estimate.on_remb(900_000, now=after)
    estimate.on_remb(400_000, now=after + 1)
    estimate.on_loss(0.08, now=after + 1)
    assert estimate.congested(after + 1)  # past the grace, a fall with loss is congestion again


def test_reports_a_second_apart_are_no_outage() -> None:
    estimate = Estimate()
    for second in range(20):
        estimate.on_heard(second + 0.9, now=float(second + 1))
    assert estimate.resumed_at is None


def test_with_no_queue_in_the_path_the_estimate_is_at_least_what_the_link_carried() -> None:
    """A starved browser's REMB dipped to 12-70 kbit/s at 10% random loss (every round lossy, so each dip
    read as congestion) and paused every video the floor holder saw. What got through with no queue in
    the path is then the floor of the estimate; a queue hands the estimate back to the REMB."""
    estimate = Estimate()
    for second in range(20, 25):
        estimate.on_rtt(0.04, now=float(second))
        estimate.on_remb(30_000, now=float(second))
        estimate.on_loss(0.1, now=float(second), delivered=300_000)
    assert estimate.rate_at(24.0) == int(300_000 * DELAY_BACKOFF)
    estimate.on_rtt(0.5, now=25.0)
    assert estimate.rate_at(25.0) == int(300_000 * DELAY_BACKOFF)  # one high round trip is no queue
    estimate.on_rtt(0.5, now=26.0)
    assert estimate.rate_at(26.0) == 30_000


def overflowed() -> Estimate:
    """A link with an 800 kbit/s REMB whose queue (0.6 s) overflowed at 21-23 s: 200 kbit/s got through."""
    estimate = Estimate()
    estimate.on_remb(800_000, now=0.0)
    estimate.on_rtt(0.05, now=0.0)
    estimate.on_rtt(0.65, now=19.0)
    estimate.on_rtt(0.65, now=20.0)
    for now in (21.0, 22.0, 23.0):
        estimate.on_loss(0.5, now=now, delivered=200_000, overall=0.4)
    return estimate


def test_after_an_overflow_the_estimate_grows_back_from_what_got_through_not_to_the_remb_at_once() -> None:
    """In the lab a capped member's estimate went from 174 kbit/s back to a REMB of 827 kbit/s (one
    that never fell while the queue overflowed) when the overflow's hold ended: every video resumed
    and overflowed the queue again a second later."""
    estimate = overflowed()
    assert estimate.rate_at(23.0) == 180_000
    end = 23.0 + CONGESTION_HOLD
    estimate.on_rtt(0.05, now=end)  # the queue drained
    assert estimate.rate_at(end) == 180_000  # not the REMB of 800 kbit/s
    assert estimate.rate_at(end + 5) == int(180_000 * RECOVERY_GROWTH**5)
    assert estimate.rate_at(end + 30) == 800_000  # grown past the REMB: the REMB again


def test_after_an_overflow_what_the_link_carried_cleanly_since_lifts_the_bound() -> None:
    estimate = overflowed()
    end = 23.0 + CONGESTION_HOLD
    estimate.on_rtt(0.05, now=end)
    estimate.on_loss(0.0, now=end, delivered=400_000, overall=0.0)  # carried with no queue in the path
    assert estimate.rate_at(end) == int(400_000 * DELAY_BACKOFF)
