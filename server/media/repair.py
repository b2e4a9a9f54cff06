"""How often a lost packet is asked for again, and resent: once per round trip of the link (pure).

Both hops repair loss with NACKs (``seam.inbound`` asks the publisher, ``seam.send`` answers a
subscriber). A repeat within a round trip of the last NACK (or resend) is waste: the answer to the
last one cannot have arrived yet. A repeat held back much longer than a round trip is a freeze: at
10% loss on both of a stream's links, about one repair in five is lost again (the NACK or the
resend), and the page's decoder waits for it. Measured in the lab (issue #16, a loaded machine):
with a fixed 100 ms the server refused 40% of subscribers' repeated NACKs as "too soon", and gave up
some 10 upstream gaps a minute per publisher after three NACKs, each a keyframe request (the
publishers encoded 12-18 keyframes a minute, the direct pair 3) and a freeze at every subscriber.

So the interval follows the link's measured round trip (``smooth_rtt``): upstream from each NACK to
the arrival of the packet it asked for (the publisher answers at once), downstream from the
subscriber's receiver reports (LSR/DLSR of our sender reports). Before the first sample, the fixed
default stands (``NACK_RETRY_INTERVAL``, ``RESEND_INTERVAL``). The estimate follows the lower edge
of the samples: it falls to a lower sample at once and rises by an eighth of a higher one (RFC 6298's
gain). A sample is also late by however long the server's event loop took to read the packet, which
on a busy node spikes to hundreds of milliseconds (measured in the lab: 0.01-1.9 s within seconds on
a link whose network round trip was a few ms); a mean would hold every repeat back that long.
"""

from __future__ import annotations

RTT_GAIN = 0.125  # RFC 6298's alpha: a higher sample raises the estimate by an eighth of the difference
RETRY_MARGIN = 0.01  # seconds beyond a round trip before an unanswered NACK counts as lost (pacing, scheduling)
MIN_RETRY_INTERVAL = 0.02  # a repeat never sooner than this (a LAN's round trip is well under it)
MAX_RETRY_INTERVAL = 0.5  # nor later: a worse link's video would be better served by a keyframe
MAX_RTT_SAMPLE = 5.0  # seconds: a sample beyond this is a stale report or a clock jump, not a round trip


def smooth_rtt(previous: float | None, sample: float) -> float | None:
    """The round trip after one more ``sample`` (seconds): a lower sample at once, a higher one by
    ``RTT_GAIN`` of the difference; a sample outside 0..``MAX_RTT_SAMPLE`` is not one (a clock jump, a
    report of an SR we no longer know) and changes nothing."""
    if not 0.0 <= sample <= MAX_RTT_SAMPLE:
        return previous
    if previous is None or sample <= previous:
        return sample
    return previous + RTT_GAIN * (sample - previous)


def retry_interval(rtt: float | None, default: float) -> float:
    """Seconds before a packet is NACKed (or resent) again: a round trip and a margin, within bounds;
    ``default`` while no round trip has been measured."""
    if rtt is None:
        return default
    return min(MAX_RETRY_INTERVAL, max(MIN_RETRY_INTERVAL, rtt + RETRY_MARGIN))


def backoff(interval: float, tries: int) -> float:
    """Seconds from a packet's ``tries``-th NACK (1 or more) to its next, or to giving it up: the retry
    interval doubled with each NACK, at most ``MAX_RETRY_INTERVAL``. Early repeats come a round trip
    apart; later ones wait out what the round trip does not show: the publisher's browser resends a
    packet at most once per round trip as it measures it, which includes our own event loop's lag (in
    the lab at a load of 20, five NACKs a measured round trip apart still gave up some ten gaps a
    minute per publisher, each a keyframe)."""
    return min(MAX_RETRY_INTERVAL, interval * (1 << (tries - 1)))
