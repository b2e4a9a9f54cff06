"""Hearth's per-packet forwarding code in a hot loop: what it costs when nothing else runs between packets.

One received RTP packet goes through ``InboundTrack.on_srtp`` (header, statistics, NACK bookkeeping,
audio level) into its ``Source`` and out through 7 ``Sink``s (N = 8) and their ``LeanSender``s (RTP
header, real libsrtp protect), in one process, in a tight loop. The socket is a stand-in whose
``sendto`` does nothing, so the figures are the Python and libsrtp only. Three variants per kind:
the whole path, with libsrtp's protect stubbed (the Python alone), and with ``Sink.forward`` or
``LeanSender.send`` stubbed (to split the Python between receive + fan-out, the sinks' sequence
rewriting and the sender). That split is of the Python path (``HEARTH_COMPILED_FORWARDING=0``);
a last pair of rows sends for real (``sendto`` to a socket on loopback that never reads) through
the Python path and through the compiled outlets (``server/media/_fastpath.c``) that the server uses
by default. ``media_bench.py --breakdown`` measures the same parts in place, where
every packet finds the caches cold; the gap between the two is what waking per packet costs.

The senders are built without a connection (their fields set as ``LeanSender.link`` would set them
once DTLS is up), so this breaks when ``LeanSender`` changes shape; ``tests/bench`` runs it.

    .venv/bin/python bench/forward_loop.py [--packets 20000]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pylibsrtp._binding as _srtp  # type: ignore[import-not-found]
from aiortc.rtcrtpreceiver import StreamStatistics
from media_probe import replaced  # bench/, this script's own folder
from pylibsrtp import Policy, Session

from server.media import seam
from server.media.forwarder import Source
from server.media.levels import SpeakingMeter
from server.media.seam import compiled as seam_compiled
from server.media.seam import send
from server.media.seam.inbound import InboundTrack
from server.media.seam.receive import LeanReceiver
from server.media.seam.resend import HISTORY_SIZE
from server.media.seam.send import SRTP_TRAILER, LeanSender
from server.media.seam.transport import srtp_internals
from server.media.sink import Sink, Totals

COPIES = 7  # N = 8
WIRE = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # where wired copies go; it never reads them
WIRE.bind(("127.0.0.1", 0))
TX = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
TX.setblocking(False)
MID = bytes.fromhex("bede0001") + bytes([0x10, 0x31, 0, 0])  # a one-byte mid extension, as negotiated


class NoSocket:
    def sendto(self, data: bytes, addr: Any) -> None:
        return None


def sender(ssrc: int, sock: Any = None) -> LeanSender:
    """A ``LeanSender`` with a real SRTP session, fields as ``link()`` sets them once DTLS is up.

    ``sock``: a real UDP socket (to the discard wire) instead of the stand-in that sends nothing.
    """
    lean: Any = object.__new__(LeanSender)
    session = Session(
        policy=Policy(
            key=os.urandom(28),
            ssrc_type=Policy.SSRC_ANY_OUTBOUND,
            srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_128_GCM,
        )
    )
    internals = srtp_internals(session)
    assert internals is not None, "pylibsrtp moved its internals"
    lean._srtp, lean._cdata, lean._buffer = internals
    lean._limit = len(lean._cdata) - SRTP_TRAILER
    lean._length = _srtp.ffi.new("int *")
    lean._protect = session.protect
    lean.session = session
    lean.ssrc, lean._octets, lean._sent, lean._sr_rtp, lean._sr_ntp = ssrc, 0, 0, 0, 0
    lean.ready, lean.retired, lean.outlet = True, False, None
    lean.sock, lean._addr, lean._buffered = sock or NoSocket(), WIRE.getsockname(), None
    lean._ext, lean._payload_at, lean._first, lean._pt, lean._abs_at = MID, 12 + len(MID), 0x90, 96, 0
    lean._history = [None] * HISTORY_SIZE
    lean.upstream, lean.on_missing = None, None
    lean.reset_repair()
    return lean  # type: ignore[no-any-return]


async def no_pli(ssrc: int) -> None:
    return None


def inbound(kind: str, wired: bool = False, compiled: bool = False) -> InboundTrack:
    """A tapped receiver's track feeding a source with ``COPIES`` subscribed sinks.

    ``wired``: the senders send on a real UDP socket (to ``WIRE``); ``compiled``: through the
    compiled outlets (``_fastpath.c``), attached as ``LeanSender.link`` attaches them.
    """
    meter = SpeakingMeter()
    source = Source("p0", kind, no_pli, meter.observe, Totals())
    for i in range(COPIES):
        lean = sender(1000 + i, TX if wired or compiled else None)
        sink = Sink(f"s{i}", kind, lean, source._totals, compiled=compiled)
        sink.waiting_keyframe = False
        if compiled:
            context = seam_compiled.context_capsule(lean.session)
            host, port = WIRE.getsockname()
            sink.outlet.attach(lean.session, context, TX.fileno(), host, port, lean.ssrc, lean._pt, lean._ext)
            sink.outlet.forward(b"", 0, 0, 0, True)  # started: the loop's video is not at a keyframe
        source.add_sink(sink)
    # Its owner (the connection's receiver) is replaced when the whole path is timed; transport-cc off.
    track = InboundTrack(LeanReceiver(compiled_path=False), None, source, kind == "video")  # type: ignore[arg-type]
    track.stats = StreamStatistics(90000 if kind == "video" else 48000)
    track.stats.max_seq, track.stats._last_arrival, track.stats._last_timestamp = 0, 0, 0
    track.level_id = 1
    return track


def packets(kind: str, count: int) -> list[bytes]:
    """Plain RTP as the receive path sees it after unprotect: 1,100-byte VP8 or 100-byte Opus + level."""
    if kind == "video":
        payload = bytes([0x90, 0x80, 0x01]) + b"\x55" * 1097  # VP8 descriptor, not a frame start
        return [struct.pack("!BBHII", 0x80, 96, s & 0xFFFF, s * 1500, 42) + payload for s in range(1, count + 1)]
    level = bytes.fromhex("bede0001") + bytes([0x10, 0x20, 0, 0])  # ssrc-audio-level, -32 dBov
    return [
        struct.pack("!BBHII", 0x90, 111, s & 0xFFFF, s * 960, 43) + level + b"\x66" * 100 for s in range(1, count + 1)
    ]


def us_per_packet(kind: str, count: int, rounds: int = 5, wired: bool = False, compiled: bool = False) -> float:
    """Median over rounds (after one warm-up round) of thread CPU per received packet."""
    track, stream = inbound(kind, wired, compiled), packets(kind, count * (rounds + 1))
    on_srtp: Callable[[bytes], None] = track.on_srtp
    times = []
    for r in range(rounds + 1):
        batch = stream[r * count : (r + 1) * count]
        start = time.thread_time()
        for data in batch:
            on_srtp(data)
        if r:
            times.append((time.thread_time() - start) / count * 1e6)
    return statistics.median(times)


def us_per_received_srtp(kind: str, count: int, compiled: bool, rounds: int = 5) -> float:
    """As ``us_per_packet``, from the ICE socket callback: SRTP packets, as ``LeanReceiver`` wires them."""
    track = inbound(kind, wired=True, compiled=compiled)
    receiver = LeanReceiver(compiled_path=compiled)
    track.owner = receiver
    key = os.urandom(28)
    profile = Policy.SRTP_PROFILE_AEAD_AES_128_GCM
    tx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
    rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
    stream = [tx.protect(plain) for plain in packets(kind, count * (rounds + 1))]
    ssrc = int.from_bytes(stream[0][8:12], "big")
    track.ssrc = ssrc
    receiver._unprotect = seam.fast_srtp(rx, unprotect=True)
    receiver._by_ssrc[ssrc.to_bytes(4, "big")] = track
    if compiled:
        stats = track.stats
        receiver._inlet.set_session(rx, seam_compiled.context_capsule(rx))
        receiver._inlet.add(
            ssrc, track.consumer.on_rtp, lambda lost: None, lambda: None, kind == "video", 1, float(stats._clockrate),
            1, 0, 0, 0, 0, 0, track._high, [],
        )  # fmt: skip
    addr = ("127.0.0.1", 9)
    receiver.validated.add(addr)  # as ICE's checks would have proven it: the guard drops the unproven
    hook = receiver._hook(lambda data, addr: None)
    times = []
    for r in range(rounds + 1):
        batch = stream[r * count : (r + 1) * count]
        start = time.thread_time()
        for data in batch:
            hook(data, addr)
        if r:
            times.append((time.thread_time() - start) / count * 1e6)
    assert track.lean_packets >= count * rounds, "the packets did not take the lean path"
    return statistics.median(times)


def main(count: int) -> None:
    print(f"hot loop, one received packet forwarded to {COPIES} subscribers, sendto stubbed; us per received packet")
    for kind in ("video", "audio"):
        whole = us_per_packet(kind, count)
        with replaced(send, "_srtp_protect", lambda srtp, cdata, length: 0):
            python = us_per_packet(kind, count)
            with replaced(LeanSender, "send", lambda self, payload, marker, timestamp, seq: True):
                no_send = us_per_packet(kind, count)
            with replaced(Sink, "forward", lambda self, payload, seq, timestamp, marker, starts_keyframe: True):
                no_forward = us_per_packet(kind, count)
        protect, rewrite, sender_python = (
            (whole - python) / COPIES,
            (no_send - no_forward) / COPIES,
            (python - no_send) / COPIES,
        )
        print(
            f"{kind}: whole {whole:.2f} | libsrtp protect {protect:.2f} per copy | Python {python:.2f} = receive +"
            f" fan-out {no_forward:.2f}, sequence rewriting {rewrite:.2f} per copy, LeanSender.send {sender_python:.2f}"
            " per copy"
        )
    print(
        "the whole path from the socket callback (SRTP unprotect included) with real sendto (to a socket on"
        " loopback that never reads), Python path against the compiled one"
    )
    for kind in ("video", "audio"):
        python = us_per_received_srtp(kind, count, compiled=False)
        compiled = us_per_received_srtp(kind, count, compiled=True)
        ratio = python / compiled
        print(f"{kind}: Python {python:.2f} | compiled {compiled:.2f} us per received packet ({ratio:.1f}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packets", type=int, default=20000, help="packets per round (6 rounds per variant)")
    main(parser.parse_args().packets)
