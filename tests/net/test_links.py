"""The link emulator's rules and the figures' arithmetic, without namespaces, browsers or a clock."""

from __future__ import annotations

import itertools
import random
import socket
import struct

import pytest

from tests.net.figures import Cell, burst, received, recovery
from tests.net.links import Bursts, Conditions, Datagram, Fate, Link, RtpTally

PACKETS = 20_000


def link(conditions: Conditions, seed: int = 7) -> Link:
    return Link(conditions, rng=random.Random(seed))


def test_random_loss_drops_about_the_configured_share() -> None:
    lossy = link(Conditions(loss=0.1))
    lost = sum(lossy.admit(1000, i * 0.001) is None for i in range(PACKETS))
    assert lost / PACKETS == pytest.approx(0.1, abs=0.01)


def test_bursty_loss_loses_packets_in_runs_at_the_gilbert_elliott_mean() -> None:
    bursts = Bursts(enter=0.01, leave=0.25)
    one = link(Conditions(bursts=bursts))
    fates = [one.admit(1000, i * 0.001) is None for i in range(PACKETS)]
    runs = [len(run) for run in "".join("x" if f else "." for f in fates).split(".") if run]
    assert sum(fates) / PACKETS == pytest.approx(bursts.enter / (bursts.enter + bursts.leave), abs=0.01)
    assert sum(runs) / len(runs) == pytest.approx(1 / bursts.leave, rel=0.2)


def test_rate_cap_spaces_packets_out_and_drops_the_tail_of_a_full_queue() -> None:
    capped = link(Conditions(rate_kbps=400, queue_bytes=10_000))  # 1000 bytes take 20 ms at 400 kbit/s
    exits = [capped.admit(1000, 0.0) for _ in range(12)]
    assert exits[:10] == pytest.approx([0.02 * (i + 1) for i in range(10)])
    assert exits[10:] == [None, None]
    assert capped.counts[Fate.QUEUE_FULL] == 2
    assert capped.admit(1000, 0.2) == pytest.approx(0.22)  # the queue drained meanwhile


def test_jitter_reorders_packets_only_when_allowed() -> None:
    for reorder in (True, False):
        jittery = link(Conditions(delay_ms=30, jitter_ms=20, reorder=reorder))
        exits = [jittery.admit(1000, i * 0.005) for i in range(1000)]
        delays = [out - i * 0.005 for i, out in enumerate(exits) if out is not None]
        overtaken = sum(b < a for a, b in itertools.pairwise(exits) if a is not None and b is not None)
        assert min(delays) >= 0.010 - 1e-9
        assert (overtaken > 100) is reorder
        assert max(delays) <= 0.050 + (0 if reorder else 0.045)


def test_an_outage_drops_what_enters_it_and_what_would_leave_during_it() -> None:
    delayed = link(Conditions(delay_ms=100))
    before = delayed.admit(1000, 0.95)  # would leave at 1.05, inside the outage
    delayed.cut(1.0, 3.0)
    assert delayed.in_outage(before or 0.0)
    assert delayed.admit(1000, 2.0) is None
    assert delayed.admit(1000, 3.95) is None  # enters during it, though it would leave after
    assert delayed.admit(1000, 4.0) == pytest.approx(4.1)
    assert delayed.counts[Fate.OUTAGE] == 2


def test_firewall_lets_udp_through_only_to_the_listed_endpoints() -> None:
    walled = link(Conditions(udp_only=("10.77.0.2:3478",)))
    assert not walled.filters(("10.77.0.2", 3478))
    assert walled.filters(("10.77.0.2", 3479))
    assert walled.filters(("10.77.0.1", 3478))
    assert not link(Conditions()).filters(("10.77.0.1", 5000))
    assert link(Conditions(udp_only=())).filters(("10.77.0.2", 3478))


def ipv4_udp(payload: bytes, source: str = "10.77.0.3", destination: str = "10.77.0.1") -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        28 + len(payload),
        0,
        0,
        64,
        17,
        0,
        socket.inet_aton(source),
        socket.inet_aton(destination),
    )
    return header + struct.pack("!HHHH", 40000, 3478, 8 + len(payload), 0) + payload


def rtp(seq: int, ssrc: int = 1234, payload_type: int = 96) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type, seq, 0, ssrc) + b"payload"


def test_datagram_names_addresses_ports_and_the_rtp_header_srtp_leaves_clear() -> None:
    seen = Datagram.parse(ipv4_udp(rtp(77)))
    assert seen == Datagram("10.77.0.3", "10.77.0.1", (40000, 3478), (1234, 77))
    rtcp = struct.pack("!BBHI", 0x80, 200, 6, 1234) + bytes(20)  # a sender report
    assert Datagram.parse(ipv4_udp(rtcp)).rtp is None  # type: ignore[union-attr]
    assert Datagram.parse(ipv4_udp(b"\x00\x01" + bytes(18))).rtp is None  # type: ignore[union-attr]  # STUN
    assert Datagram.parse(b"\x60" + bytes(39)) is None  # IPv6


def test_rtp_tally_counts_packets_sent_again_as_repeats() -> None:
    tally = RtpTally()
    for seq in (1, 2, 3, 2, 4, 3):
        tally.observe((1234, seq))
    tally.observe((999, 1))  # another stream's sequence numbers are its own
    assert (tally.packets, tally.repeats) == (7, 2)


def test_conditions_cross_the_control_socket_unchanged() -> None:
    conditions = Conditions(loss=0.02, bursts=Bursts(0.01, 0.3), rate_kbps=400, udp_only=("10.77.0.2:3478",))
    assert Conditions.from_json(conditions.to_json()) == conditions


def stream(key: str, kind: str, name: str, **counters: float) -> dict[str, object]:
    return {"key": key, "type": "inbound-rtp", "kind": kind, "name": name, **counters}


def test_a_rejoin_mid_window_adds_the_new_connections_counters_to_the_old_ones() -> None:
    start = {"at": 0, "streams": [stream("1:v", "video", "Sam", freezeCount=2, framesDecoded=100, packetsReceived=90)]}
    end = {
        "at": 30_000,
        "streams": [
            stream("1:v", "video", "Sam", freezeCount=3, framesDecoded=300, packetsReceived=300),
            stream("2:v", "video", "Sam", freezeCount=1, framesDecoded=200, packetsReceived=180),
        ],
    }
    (sam,) = received("Alex", start, end)
    assert (sam.sender, sam.kind, sam.connections) == ("Sam", "video", 2)
    assert sam.freezes_per_minute == pytest.approx(4.0)  # (1 + 1) in half a minute
    assert sam.fps == pytest.approx(400 / 30)
    assert Cell("hearth", "test", [sam]).freezes_per_minute == pytest.approx(4.0)


def test_video_is_back_at_the_first_frame_of_a_run_not_at_a_lone_stale_frame() -> None:
    end = 100.0
    shown = [97.0, 100.3] + [101.0 + i * 0.05 for i in range(10)]  # one stale frame, a freeze, then flowing
    back = recovery("Sam", "Alex", shown, end, within=5, requests=1)
    assert back.first == pytest.approx(0.3)
    assert back.back == pytest.approx(1.0)
    assert recovery("Sam", "Alex", [97.0], end, within=5, requests=0).back is None
    assert recovery("Sam", "Alex", shown, end, within=0.5, requests=1).back is None  # not watched long enough


def test_burst_is_the_peak_rate_after_an_outage_over_the_rate_before() -> None:
    bins = [(95.0 + i * 0.05, 5, 5000) for i in range(100)]  # 100 packets a second before
    bins += [(103.5, 200, 200_000)]  # 200 packets in one 250 ms step after: 800 a second
    assert burst(bins, start=100.0, end=103.0) == pytest.approx(8.0)
