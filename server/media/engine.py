"""``MediaEngine``: the ``signaling.ports.MediaGateway`` implemented with aiortc and the forwarder.

Rooms are keyed by session id. Each admitted member gets a ``Peer`` (publisher + subscriber
connection); every publisher track becomes a ``Source`` and every (subscriber, track) pair a ``Sink``.
The policy decides who takes part at all (``members``) and whose audio flows (``audible``).

Faults are one peer's alone. The engine watches every connection's state: a publisher connection
that dies (closed by the far end, DTLS closed, ICE failed, consent lost) is torn down and its
subscribers renegotiated without it; a subscriber connection that dies is replaced by a fresh one
(new offer, higher revision). Either way ``MediaEvents.connection_lost`` is told. An exception in one
peer's negotiation is logged (ids only) and contained: that peer's receiving connection starts
over, and the request or room change that caused it goes on for everyone else. Gateway calls raise
``MediaError`` only to the member whose own request is refused; the others never raise.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from rooms.model import stream_id_for
from server.media import bandwidth, limits, seam, simulcast, transport_cc
from server.media.forwarder import Source
from server.media.opus import with_opus_parameters
from server.media.peers import Closer, Outgoing, Peer, ids, is_dead, prefer_single_codec, rtc_configuration
from server.media.room import Room, room_loop
from server.media.sink import Sink, Totals
from signaling.ports import TILE_SIZES, ForwardingPolicy, MediaError, MediaEvents
from signaling.tasks import Background

log = logging.getLogger(__name__)

RECEIVE_BUFFER = 2 * 1024 * 1024  # bytes of socket buffer for each publisher connection
DEFAULT_VIDEO_CAP = 600_000  # bit/s; no simulcast, so every subscriber gets what the publisher sends
PUBLISH, RECEIVE = "publish", "receive"  # a participant's two legs, as ``MediaEvents.connection_lost`` names them


class MediaEngine:
    """Selective forwarding for Hearth sessions; see ``signaling.ports.MediaGateway`` for the contract.

    Beyond the gateway: ``subscribe()`` restarts a participant's receiving connection (a reconnecting
    receive-only client), and ``close()`` shuts everything down.
    """

    def __init__(
        self,
        events: MediaEvents,
        ice_servers: list[dict[str, Any]] | None = None,
        allow_loopback: bool = False,
        video_bitrate_cap: int = DEFAULT_VIDEO_CAP,
        adapt_bandwidth: bool = True,
    ) -> None:
        """``adapt_bandwidth=False`` keeps every gate the policy opens open and publishers at the cap
        (no allocator): for tests of forwarding itself, whose seven aiortc clients on two busy cores
        drop packets the allocator would rightly take for a congested link."""
        self._events = events
        self._video_cap = video_bitrate_cap
        self._adapt = adapt_bandwidth
        self._ice_servers = list(ice_servers or [])
        self._rooms: dict[str, Room] = {}
        self._totals = Totals()
        self._drops = seam.Drops()
        self._tasks = Background()  # connection-lost handling and refreshes in flight
        self._closer = Closer()  # connections being closed: nobody waits for a close
        self._closing = False
        seam.install_consent_freshness()  # a member whose answers are slow keeps its connection
        if allow_loopback:
            seam.enable_loopback_candidates()

    def ice_servers(self) -> list[dict[str, Any]]:
        return list(self._ice_servers)

    # --- the gateway ------------------------------------------------------------------------------

    async def publish(self, session_id: str, participant_id: str, sdp: str) -> str:
        """Answer a publisher offer; ``MediaError`` goes to this member only, never to the room."""
        room = self._member_room(session_id, participant_id)
        offer = limits.publisher_offer(sdp)  # before anything is built: a refusal leaves nothing behind
        room.departed.discard(participant_id)
        peer = self._peer(room, participant_id)
        async with peer.lock:
            answer = await self._answer_publisher(room, peer, sdp, offer)
        # The others' new offers follow in the background: the publisher's answer (and the session's
        # media queue behind it) never waits for seven renegotiations, one of them maybe a slow peer's.
        self._tasks.start(self._refresh_all(room))
        return answer

    async def answer(self, session_id: str, participant_id: str, sdp: str, revision: int) -> None:
        room = self._rooms.get(session_id)
        peer = room.peers.get(participant_id) if room else None
        if room is None or peer is None:
            raise MediaError("not_found", "no receiving connection for this participant")
        async with peer.lock:
            if not peer.awaiting_answer or revision != peer.revision:
                raise MediaError("conflict", f"stale revision {revision}, current is {peer.revision}")
            limits.subscriber_answer(sdp, peer.offered_sections)  # the offer stays out, to be answered again
            try:
                await peer.apply_answer(sdp)
            except Exception as exc:
                raise MediaError("invalid", f"answer refused: {type(exc).__name__}") from exc
        await self._refresh(room, peer)  # changes made while the offer was out

    async def subscribe(self, session_id: str, participant_id: str) -> None:
        """Start the receiving connection afresh (new offer, growing revision), e.g. after a reconnect."""
        room = self._member_room(session_id, participant_id)
        room.departed.discard(participant_id)
        peer = self._peer(room, participant_id)
        async with peer.lock:
            await peer.close_subscriber()
        await self._refresh(room, peer)

    async def set_policy(self, session_id: str, policy: ForwardingPolicy) -> None:
        room = self._room(session_id)
        room.policy = policy
        for pid in [p for p in room.peers if p not in policy.members]:
            await self._drop_peer(room, pid)
        for pid in policy.members:
            if pid not in room.peers and pid not in room.departed:
                self._peer(room, pid)
        for peer in room.peers.values():
            audio = peer.sources.get("audio")
            if audio is not None:
                audio.audible = peer.participant_id in policy.audible
            for (publisher_id, kind), out in peer.outgoing.items():
                if out.source is not None:
                    out.source.gate(out.sink, _open(room, peer.participant_id, publisher_id, kind))
        await self._refresh_all(room)

    async def set_view(self, session_id: str, participant_id: str, sizes: dict[str, str]) -> None:
        """The tile size the participant's page shows each other participant's video at
        (``TILE_SIZES``; one not named keeps no hint): simulcast layers follow it at the
        next round. Sizes outside ``TILE_SIZES`` are ignored (the signaling layer validates them)."""
        room = self._rooms.get(session_id)
        if room is None:
            return
        room.bandwidth.views[participant_id] = {pid: size for pid, size in sizes.items() if size in TILE_SIZES}

    async def close_participant(self, session_id: str, participant_id: str) -> None:
        room = self._rooms.get(session_id)
        if room is None:
            return
        room.departed.add(participant_id)
        await self._drop_peer(room, participant_id)
        await self._refresh_all(room)

    async def close_session(self, session_id: str) -> None:
        room = self._rooms.pop(session_id, None)
        if room is None:
            return
        if room.speaking_task is not None:
            room.speaking_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await room.speaking_task
        peers = list(room.peers.values())
        room.peers.clear()
        for peer in peers:
            async with peer.lock:  # a refresh under way finishes first; any later one finds the peer gone
                await _close_peer(peer)

    def take_spoke_seconds(self, session_id: str) -> dict[str, float]:
        room = self._rooms.get(session_id)
        return room.meter.take_spoke_seconds() if room else {}

    async def close(self) -> None:
        """Close everything; connection-lost handling already under way finishes first (cancelled,
        it would leave aiortc's own close of that connection running on)."""
        self._closing = True
        await self._tasks.drain()
        for session_id in list(self._rooms):
            await self.close_session(session_id)
        await self._closer.drain()

    # --- introspection for tests and metrics --------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Forwarded packets and bytes since start, the fan-out time samples taken since last asked, the
        datagrams the socket guards refused since start, by reason (``seam.guard``), and the WebRTC
        connections held now that are not closed (the gauge a leak shows in)."""
        samples, self._totals.latency = self._totals.latency, []
        return {
            "packets": self._totals.packets,
            "bytes": self._totals.bytes,
            "latency": samples,
            "dropped": self._drops.by_reason(),
            "connections": sum(pc.connectionState != "closed" for pc in self.connections()),
        }

    def sessions(self) -> list[str]:
        return list(self._rooms)

    def connections(self) -> list[RTCPeerConnection]:
        return [
            pc
            for room in self._rooms.values()
            for peer in room.peers.values()
            for pc in (peer.publisher, peer.subscriber)
            if pc is not None
        ]

    # --- internals --------------------------------------------------------------------------------

    def _room(self, session_id: str) -> Room:
        room = self._rooms.get(session_id)
        if room is None:
            room = self._rooms[session_id] = Room(session_id, adapt=self._adapt)
            room.speaking_task = asyncio.create_task(room_loop(room, self._events, self._video_cap))
        return room

    def _member_room(self, session_id: str, participant_id: str) -> Room:
        room = self._rooms.get(session_id)
        if room is None or participant_id not in room.policy.members:
            raise MediaError("conflict", "only admitted members may publish or receive media")
        return room

    def _peer(self, room: Room, participant_id: str) -> Peer:
        """The participant's Peer, made if need be; its offers continue the revisions of any before it,
        so a client that kept its last revision never takes a new connection's offer for a stale one."""
        peer = room.peers.get(participant_id)
        if peer is None:
            revision = room.revisions.get(participant_id, 0)
            peer = Peer(room.session_id, participant_id, revision=revision, closer=self._closer)
            room.peers[participant_id] = peer
        return peer

    async def _answer_publisher(self, room: Room, peer: Peer, sdp: str, offer: limits.Offer) -> str:
        """A new ICE ufrag is a new client connection (it replaces the old one, as does any offer
        when the old one is dead); the same ufrag is a renegotiation, and one aiortc refuses leaves
        the connection as it was (``limits`` and ``seam.sdp_refusal`` parsed the offer already)."""
        old = peer.publisher
        fresh = old is None or is_dead(old) or offer.ufrag != peer.publisher_ufrag
        if fresh:
            await peer.close_publisher()
            peer.publisher = RTCPeerConnection(rtc_configuration(self._ice_servers))
            peer.publisher_ufrag = offer.ufrag
            peer.inbound = seam.LeanReceiver(drops=self._drops)
            self._watch(room, peer, peer.publisher, PUBLISH)
        pc, inbound = peer.publisher, peer.inbound
        assert pc is not None and inbound is not None
        try:
            for kind in offer.kinds[len(pc.getTransceivers()) :]:
                if kind in limits.MEDIA_KINDS:
                    prefer_single_codec(pc.addTransceiver(kind, direction="recvonly"))
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            if (tcc_id := transport_cc.offered_extension_id(sdp)) is not None:  # again at each renegotiation
                for transceiver in pc.getTransceivers():
                    seam.accept_transport_cc(transceiver, tcc_id)
            layers = self._tap_new_receivers(room, peer, pc, simulcast.offered_layers(sdp))
            await pc.setLocalDescription(await pc.createAnswer())
            seam.enlarge_receive_buffers(pc, RECEIVE_BUFFER)
            inbound.install(pc.getTransceivers()[0].receiver.transport)  # the ICE sockets exist now
        except Exception as exc:
            log.warning("publisher offer refused by aiortc", extra=ids(room.session_id, peer.participant_id))
            if fresh or pc.signalingState != "stable":
                await peer.close_publisher()
            raise MediaError("invalid", f"publisher offer refused: {type(exc).__name__}") from exc
        return simulcast.accept_layers(with_opus_parameters(str(pc.localDescription.sdp)), layers)

    def _tap_new_receivers(
        self, room: Room, peer: Peer, pc: RTCPeerConnection, layers: dict[str, simulcast.Layers]
    ) -> dict[str, simulcast.Layers]:
        """One source per kind; later tracks of a kind already published are not forwarded. A video
        offered in simulcast ``layers`` gets a source per layer (``Source.layers``, lowest first).
        Returns the layers the answer accepts: those of a video tapped in layers, now or before (a
        video tapped as one stream stays one: a second SSRC would have no source to go to)."""
        assert peer.inbound is not None
        accepted: dict[str, simulcast.Layers] = {}
        for transceiver in pc.getTransceivers():
            kind = transceiver.kind
            offered = layers.get(transceiver.mid or "") if kind == "video" else None
            tapped = peer.sources.get(kind)
            if offered is not None and (tapped is None or len(tapped.layers) == len(offered.rids)):
                accepted[offered.mid] = offered  # again at each renegotiation: aiortc recomputes extensions
                seam.accept_rid_extension(transceiver, offered.extension_id)
            if tapped is not None or transceiver.receiver.track is None:
                continue
            receiver = transceiver.receiver

            async def pli(ssrc: int, receiver: Any = receiver) -> None:
                await seam.request_keyframe(receiver, ssrc)

            if offered is not None:
                sources = [
                    Source(
                        peer.participant_id,
                        kind,
                        pli,
                        totals=self._totals,
                        repair=functools.partial(peer.inbound.repair_layer, receiver, rid),
                    )
                    for rid in offered.rids
                ]
                for layer, rid in zip(sources, offered.rids, strict=True):
                    layer.layers, layer.rid = sources, rid
                peer.inbound.tap(receiver, sources[0], False, dict(zip(offered.rids, sources, strict=True)))
                peer.sources[kind] = sources[0]
                peer.receivers[kind] = receiver
                continue
            repair = functools.partial(peer.inbound.repair, receiver)
            source = Source(peer.participant_id, kind, pli, room.meter.observe, self._totals, repair)
            source.audible = kind == "video" or peer.participant_id in room.policy.audible
            peer.inbound.tap(receiver, source, estimate_bandwidth=False)
            peer.sources[kind] = source
            peer.receivers[kind] = receiver
        return accepted

    async def _refresh_all(self, room: Room) -> None:
        """Every subscriber at once: each refresh holds only its own peer's lock and never raises, so a
        peer whose renegotiation is slow (a fresh connection gathering, a loaded node) delays no other."""
        await asyncio.gather(*(self._refresh(room, peer) for peer in list(room.peers.values())))

    async def _refresh(self, room: Room, peer: Peer) -> None:
        """Bring one subscriber connection in line with what its room publishes; offer if it changed.

        Never raises: a failure is this peer's alone. It is logged, the receiving connection starts
        over (a fresh offer), and if that fails too the peer waits for the next change.
        """
        try:
            offer = await self._renegotiate(room, peer)
        except Exception:
            if room.peers.get(peer.participant_id) is not peer:  # left (its connection closed) meanwhile
                log.info("receiving connection closed while renegotiating: the peer left", extra=_ids(room, peer))
                return
            if peer.subscriber is not None and is_dead(peer.subscriber):  # closed under us: a fault, not a bug
                log.warning("receiving connection died while renegotiating: starting it afresh", extra=_ids(room, peer))
            else:
                log.exception("receiving connection failed to renegotiate: starting it afresh", extra=_ids(room, peer))
            try:
                async with peer.lock:
                    await peer.close_subscriber()
                offer = await self._renegotiate(room, peer)
            except Exception:
                log.exception("a fresh receiving connection failed too", extra=_ids(room, peer))
                return
        if offer is not None:
            await self._deliver_offer(room.session_id, peer.participant_id, offer)

    async def _renegotiate(self, room: Room, peer: Peer) -> tuple[str, int] | None:
        async with peer.lock:
            if room.peers.get(peer.participant_id) is not peer:
                return None
            if peer.subscriber is not None and is_dead(peer.subscriber):
                await peer.close_subscriber()  # died before its watcher ran: replaced below
            wanted = {
                (other.participant_id, kind): source
                for other in room.peers.values()
                if other is not peer and other.participant_id in room.policy.members
                for kind, source in other.sources.items()
            }
            for key, out in list(peer.outgoing.items()):
                source = wanted.get(key)
                if source is out.source:
                    continue
                if source is not None:  # its publisher published again: the m-line carries on
                    self._take_over(room, peer, key, source)
                elif key[0] in room.policy.members:  # still a member, publishing nothing now
                    self._park(peer, key)
                else:
                    await self._stop_outgoing(peer, key)
            if peer.subscriber is not None and retired_sections(peer) > limits.MAX_RETIRED_SECTIONS:
                log.info("receiving connection renewed: too many retired m-lines", extra=_ids(room, peer))
                await peer.close_subscriber()  # every wanted track starts below, on a fresh connection
            for key, source in wanted.items():
                if key not in peer.outgoing:
                    self._start_outgoing(room, peer, key, source)
            if peer.subscriber is None or not peer.dirty or peer.awaiting_answer:
                return None
            return await peer.make_offer()

    async def _deliver_offer(self, session_id: str, participant_id: str, offer: tuple[str, int]) -> None:
        """One participant's unreachable socket must not fail the publish or policy change that caused it.

        The offer stays outstanding; ``subscribe()`` (on reconnect) starts that connection afresh.
        """
        try:
            await self._events.send_offer(session_id, participant_id, *offer)
        except Exception:
            log.exception("could not deliver offer %d", offer[1], extra=ids(session_id, participant_id))

    def _start_outgoing(self, room: Room, peer: Peer, key: tuple[str, str], source: Source) -> None:
        publisher_id, kind = key
        if peer.subscriber is None:
            peer.subscriber = RTCPeerConnection(rtc_configuration(self._ice_servers))
            peer.rtcp = seam.SubscriberRtcp(self._drops)
            self._watch(room, peer, peer.subscriber, RECEIVE)
        assert peer.rtcp is not None
        transceiver = peer.subscriber.addTransceiver(seam.IdleTrack(kind), direction="sendonly")
        seam.drop_receiving_state(transceiver.receiver)
        prefer_single_codec(transceiver)
        stream_id = stream_id_for(publisher_id)
        # A track id unique within the connection: a member who left and came back gets a new m-line
        # beside the old inactive one, and browsers refuse two m-lines with the same stream and track ids.
        slot = len(peer.subscriber.getTransceivers())
        seam.set_msid(transceiver.sender, stream_id, f"{stream_id}-{kind}-{slot}")
        lean = seam.LeanSender(transceiver.sender, peer.rtcp)
        sink = Sink(peer.participant_id, kind, lean, self._totals)  # takes the sender's requests
        sink.open = _open(room, peer.participant_id, publisher_id, kind)
        source.add_sink(sink)
        peer.outgoing[key] = Outgoing(transceiver, sink, source)
        peer.dirty = True

    def _park(self, peer: Peer, key: tuple[str, str]) -> None:
        """The publisher's connection is gone but it is still a member: its tracks' m-lines in this
        subscriber's connection wait, unchanged, for its next publication (no renegotiation now, none
        then), instead of retiring and growing the connection by two m-lines per reconnect."""
        out = peer.outgoing[key]
        if out.source is not None:
            out.source.remove_sink(out.sink)
            out.source = None

    def _take_over(self, room: Room, peer: Peer, key: tuple[str, str], source: Source) -> None:
        """The publisher published again: this subscriber's m-line for the track carries the new
        publication from its first keyframe on, with its SSRC, sequence and timeline continued."""
        out = peer.outgoing[key]
        out.source = source
        source.take_over(out.sink)
        source.gate(out.sink, _open(room, peer.participant_id, *key))

    async def _stop_outgoing(self, peer: Peer, key: tuple[str, str]) -> None:
        """The m-line stays (inactive) so later offers keep their order; the sender stops sending."""
        out = peer.outgoing.pop(key)
        if out.source is not None:
            out.source.remove_sink(out.sink)
        out.transceiver.direction = "inactive"
        out.sink.lean.unlink()
        try:
            await out.transceiver.sender.stop()
        finally:
            out.sink.lean.release()  # the inactive m-line must not keep the publisher's side alive
        peer.dirty = True

    async def _drop_peer(self, room: Room, participant_id: str) -> None:
        peer = room.peers.pop(participant_id, None)
        room.meter.forget(participant_id)
        room.bandwidth.forget(participant_id)
        if peer is None:
            return
        room.revisions[participant_id] = peer.revision
        async with peer.lock:
            await _close_peer(peer)

    # --- connections that die -------------------------------------------------------------------------

    def _watch(self, room: Room, peer: Peer, pc: RTCPeerConnection, leg: str) -> None:
        """When ``pc`` fails or closes while it is still the peer's (the engine drops its reference
        before closing one itself), hand it to ``_lost``."""

        def changed() -> None:
            current = peer.publisher if leg == PUBLISH else peer.subscriber
            if current is pc and pc.connectionState in ("failed", "closed") and not self._closing:
                self._tasks.start(self._lost(room, peer, pc, leg))

        pc.on("connectionstatechange", changed)

    async def _lost(self, room: Room, peer: Peer, pc: RTCPeerConnection, leg: str) -> None:
        """Tear a dead connection down; subscribers renegotiate without a dead publisher's tracks, a
        dead subscriber connection is replaced by a fresh offer. Logged once, ids only."""
        async with peer.lock:
            current = peer.publisher if leg == PUBLISH else peer.subscriber
            if current is not pc or room.peers.get(peer.participant_id) is not peer:
                return  # closed by the engine meanwhile, or replaced
            if self._rooms.get(room.session_id) is not room or self._closing:
                return
            log.warning("%s connection lost (%s): torn down", leg, pc.connectionState, extra=_ids(room, peer))
            try:
                await (peer.close_publisher() if leg == PUBLISH else peer.close_subscriber())
            except Exception:
                log.exception("tearing down a lost connection failed", extra=_ids(room, peer))
        if leg == PUBLISH:
            await self._refresh_all(room)
        else:
            await self._refresh(room, peer)
        try:
            await self._events.connection_lost(room.session_id, peer.participant_id, leg)
        except Exception:
            log.exception("connection_lost callback failed", extra=_ids(room, peer))


def _open(room: Room, subscriber_id: str, publisher_id: str, kind: str) -> bool:
    """Whether this pair's gate is open: the policy allows it (``bandwidth.allowed``) and, for
    video, the allocator has not paused it for this subscriber's link."""
    if kind == "video" and room.bandwidth.paused(subscriber_id, publisher_id):
        return False
    return bandwidth.allowed(room.policy, subscriber_id, publisher_id, kind)


def retired_sections(peer: Peer) -> int:
    """The subscriber connection's m-lines of tracks that stopped (inactive, never removed)."""
    assert peer.subscriber is not None
    return len(peer.subscriber.getTransceivers()) - len(peer.outgoing)


def _ids(room: Room, peer: Peer) -> dict[str, str]:
    return ids(room.session_id, peer.participant_id)


async def _close_peer(peer: Peer) -> None:
    """Close both connections; one peer's failure to close never stops the others closing."""
    try:
        await peer.close()
    except Exception:
        log.exception("closing a participant's media failed", extra=ids(peer.session_id, peer.participant_id))
