"""One participant's two peer connections and the bookkeeping of the server-offered subscriber side.

The client offers its publisher connection; the server offers the subscriber connection and is the
only side that ever offers there, so renegotiation cannot collide (no glare). While an offer is out,
further changes only mark the peer ``dirty``; the next offer goes out when the answer arrives.

Closing never raises: a connection the far end (or a broken negotiation) already closed must not stop
the engine from closing the rest. The engine drops its reference before the close starts, so the
``connectionstatechange`` this fires is not mistaken for a connection lost. Nothing waits for a close
either (``Closer``): closing awaits aiortc's transports, which takes seconds on a loaded node, and a
close awaited under a peer's lock or in a session's media queue made every other member wait that long.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)

from server import heap
from server.media.forwarder import Source
from server.media.limits import media_sections
from server.media.seam import LeanReceiver, SubscriberRtcp
from server.media.sink import Sink
from signaling.tasks import Background

log = logging.getLogger("hearth.media")

CODEC_MIME = {"audio": "audio/opus", "video": "video/VP8"}


def rtc_configuration(ice_servers: list[dict[str, Any]]) -> RTCConfiguration:
    """Always explicit ICE servers (the default is a public STUN host) and MAX_BUNDLE (aiortc #868)."""
    servers = [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential")) for s in ice_servers
    ]
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def prefer_single_codec(transceiver: RTCRtpTransceiver) -> None:
    """One codec per kind on both legs, without RTX: a forwarded payload must decode on the other leg."""
    mime = CODEC_MIME[transceiver.kind].lower()
    codecs = [c for c in RTCRtpSender.getCapabilities(transceiver.kind).codecs if c.mimeType.lower() == mime]
    transceiver.setCodecPreferences(codecs)


def is_dead(pc: RTCPeerConnection) -> bool:
    """Closed (by us, by the far end's DTLS close_notify) or failed (ICE failed, consent lost)."""
    return pc.connectionState in ("failed", "closed") or pc.signalingState == "closed"


async def close_quietly(pc: RTCPeerConnection, what: str, session_id: str, participant_id: str) -> None:
    """aiortc fails to close a connection whose offer it half-applied: log it (ids only) and go on.

    Shielded: when aiortc is closing the connection itself (the far end closed DTLS), a second
    ``close()`` awaits aiortc's own future, and cancelling the caller then would cancel that future
    under aiortc's close, which fails setting it ("Task exception was never retrieved").
    """
    try:
        await asyncio.shield(pc.close())
    except Exception:
        log.warning("%s connection did not close cleanly", what, extra=ids(session_id, participant_id))
    finally:
        heap.expect_garbage()  # a closed connection is freed by the cyclic collector only


class Closer:
    """Connections being closed in the background, so that ``drain`` can wait for them at shutdown.

    A connection handed here is already out of every map: nothing forwards to or from it, and its
    sockets are freed when aiortc's close ends. The soak measured closes of 4-15 s on a loaded node,
    which, awaited in a renegotiation, held every member's ``rtc.answer`` behind them.
    """

    def __init__(self) -> None:
        self._closing = Background()

    def close(self, pc: RTCPeerConnection, what: str, session_id: str, participant_id: str) -> None:
        self._closing.start(close_quietly(pc, what, session_id, participant_id))

    @property
    def pending(self) -> int:
        return self._closing.pending

    async def drain(self) -> None:
        await self._closing.drain()


def ids(session_id: str, participant_id: str) -> dict[str, str]:
    """What a log line about one participant's media carries: ids, never names."""
    return {"session": session_id, "participant": participant_id}


@dataclass
class Outgoing:
    """One forwarded track inside a subscriber connection.

    ``source`` is None while the track is parked: its publisher is still a member but publishes
    nothing now (its connection dropped); the m-line stays as it is and the publisher's next
    publication takes it over (``Source.take_over``), so no other member renegotiates for it."""

    transceiver: RTCRtpTransceiver
    sink: Sink
    source: Source | None


@dataclass
class Peer:
    session_id: str
    participant_id: str
    publisher: RTCPeerConnection | None = None
    publisher_ufrag: str | None = None
    subscriber: RTCPeerConnection | None = None
    rtcp: SubscriberRtcp | None = None
    sources: dict[str, Source] = field(default_factory=dict)
    receivers: dict[str, RTCRtpReceiver] = field(default_factory=dict)
    inbound: LeanReceiver | None = None
    outgoing: dict[tuple[str, str], Outgoing] = field(default_factory=dict)
    revision: int = 0  # continues from the participant's previous Peer in the session (``Room.revisions``)
    offered_sections: int = 0  # m-lines of the outstanding offer: its answer must have as many
    awaiting_answer: bool = False
    dirty: bool = False
    report_failed: bool = False  # RTCP reports raised once: logged then, not every second after
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closer: Closer = field(default_factory=Closer)  # the engine's, shared by every peer

    async def make_offer(self) -> tuple[str, int]:
        """Create and apply the next subscriber offer; the caller sends it outside the lock."""
        assert self.subscriber is not None
        offer = await self.subscriber.createOffer()
        await self.subscriber.setLocalDescription(offer)
        if self.rtcp is not None:  # its ICE sockets exist now: guard them before anyone can reach them
            self.rtcp.install(self.subscriber.getTransceivers()[0].sender.transport)
        sdp: str = self.subscriber.localDescription.sdp
        self.revision += 1
        self.offered_sections = media_sections(sdp)
        self.awaiting_answer = True
        self.dirty = False
        return sdp, self.revision

    async def apply_answer(self, sdp: str) -> None:
        assert self.subscriber is not None
        await self.subscriber.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        self.awaiting_answer = False

    async def close_publisher(self) -> None:
        pc, self.publisher, self.publisher_ufrag = self.publisher, None, None
        if self.inbound is not None:
            self.inbound.close()
            self.inbound = None
        sources = list(self.sources.values())
        self.sources.clear()
        self.receivers.clear()
        for source in sources:
            for layer in source.layers:  # a simulcast video's every layer; else the source itself
                await layer.close()
        if pc is not None:
            self.closer.close(pc, "publisher", self.session_id, self.participant_id)

    async def close(self) -> None:
        """Close both connections; sinks are detached from their sources first so nothing sends."""
        self._detach_sinks()
        await self.close_publisher()
        await self.close_subscriber()

    async def close_subscriber(self) -> None:
        """Detach this participant's sinks and close the receiving connection (a reconnect starts afresh)."""
        self._detach_sinks()
        if self.rtcp is not None:
            self.rtcp.close()
            self.rtcp = None
        pc, self.subscriber = self.subscriber, None
        self.awaiting_answer = self.dirty = False  # a new connection starts with a new offer
        if pc is not None:
            self.closer.close(pc, "subscriber", self.session_id, self.participant_id)

    def _detach_sinks(self) -> None:
        for out in self.outgoing.values():
            if out.source is not None:
                out.source.remove_sink(out.sink)
            out.sink.lean.unlink()
        self.outgoing.clear()
