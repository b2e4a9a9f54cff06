"""Once a second, per room: each subscriber's estimate from its RTCP, the allocator's share, applied.

The decisions are ``server.media.allocator``'s (pure); this module feeds it what the room's
connections reported (``SubscriberRtcp.remb`` and ``take_losses``, less what the publishers'
uplinks lost; what reached each subscriber; each source's arrival rate), opens and closes
the forwarder's gates for the videos it pauses (a gate that reopens restarts that copy at a
keyframe, asked of the publisher at once: ``Source.gate``), tells the subscriber
(``MediaEvents.video_paused``) when what is paused changes, and returns the REMB each publisher is
to be sent (``allocator.publisher_rate``). It runs in the room loop, on the RTCP second, so it adds
no timer and nothing to the per-packet path.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from server.media import allocator, sent_layers, stalls
from server.media.estimate import Estimate
from server.media.forwarder import Source
from server.media.peers import Peer, ids
from server.media.sink import Sink
from signaling.ports import ForwardingPolicy, MediaEvents

log = logging.getLogger(__name__)

# Bytes a packet takes on the wire beyond the RTP payload a sender counts: RTP header and extensions
# (~20), SRTP's tag (10), UDP (8), IPv4 (20). At 50 audio packets a second that is 24 kbit/s.
WIRE_OVERHEAD = 60
MIN_LOSS_SAMPLE = 20  # video packets a round's overall loss is read from (fewer: no figure)


@dataclass
class Link:
    """One subscriber's link as the allocator sees it between rounds."""

    estimate: Estimate = field(default_factory=Estimate)
    pacer: allocator.Pacer = field(default_factory=allocator.Pacer)
    paused: frozenset[str] = frozenset()  # what the forwarder's gates hold back now
    limits: dict[str, float] = field(default_factory=dict)  # publisher id -> what this link lets it send
    told: tuple[frozenset[str], bool] = (frozenset(), False)  # what the subscriber was last told
    # (wire bytes, packets) sent by each of our SSRCs, and when, at the last round
    sent: tuple[dict[int, tuple[int, int]], float] | None = None


@dataclass
class Rates:
    """Each source's arrival rate (bit/s), from its byte count at the last round."""

    octets: dict[int, int] = field(default_factory=dict)  # id(source) -> octets at the last round
    at: float = 0.0


@dataclass
class Bandwidth:
    """A room's allocation state: a ``Link`` per subscriber, source rates, and the last active speaker."""

    links: dict[str, Link] = field(default_factory=dict)
    rates: Rates = field(default_factory=Rates)
    speaker: str | None = None
    # Tile sizes each subscriber's page shows the others' videos at (``signaling.ports.TILE_SIZES``), by
    # subscriber then publisher: the hint ``allocator.choose_layer`` takes for simulcast layers.
    views: dict[str, dict[str, str]] = field(default_factory=dict)
    layer_rates: dict[int, int] = field(default_factory=dict)  # id(layer source) -> bit/s at the last round
    # Step-up waits of each (subscriber, publisher) simulcast copy (``allocator.hold_layer``).
    holds: dict[tuple[str, str], allocator.LayerHold] = field(default_factory=dict)
    # Each simulcast publisher's layers as the 5 Hz look saw them (``drop_stalled``), by publisher id.
    clocks: dict[str, stalls.LayerClock] = field(default_factory=dict)
    # The layers each simulcast publisher is asked to send (``ask_layers``), by publisher id, with the
    # lowest layer of the publication asked (a new publication starts sending all its layers again).
    sent: dict[str, tuple[Source, sent_layers.SentLayers]] = field(default_factory=dict)

    def paused(self, subscriber_id: str, publisher_id: str) -> bool:
        """Whether the allocator holds back ``publisher_id``'s video from ``subscriber_id`` now."""
        link = self.links.get(subscriber_id)
        return link is not None and publisher_id in link.paused

    def forget(self, participant_id: str) -> None:
        self.links.pop(participant_id, None)
        self.views.pop(participant_id, None)
        self.clocks.pop(participant_id, None)
        self.sent.pop(participant_id, None)
        for pair in [pair for pair in self.holds if participant_id in pair]:
            del self.holds[pair]


def allowed(policy: ForwardingPolicy, subscriber_id: str, publisher_id: str, kind: str) -> bool:
    """Whether the policy lets this pair's packets flow: same place (video), audible there too (audio)."""
    if kind == "video":
        return policy.sees(subscriber_id, publisher_id)
    return policy.hears(subscriber_id, publisher_id)


def allocate_room(
    bandwidth: Bandwidth, policy: ForwardingPolicy, peers: dict[str, Peer], cap: int, now: float | None = None
) -> tuple[dict[str, int], list[tuple[str, list[str], bool]]]:
    """One round: returns the REMB for each publisher (by participant id) and the subscribers to
    tell of a change (id, paused publishers, audio only). Gates are applied here."""
    now = time.monotonic() if now is None else now
    video_rates: dict[str, int] = {}
    layered: set[str] = set()
    measure_layers(bandwidth, peers, now)
    for peer in peers.values():
        source = peer.sources.get("video")
        if source is None:
            continue
        if len(source.layers) > 1:
            layered.add(peer.participant_id)
        video_rates[peer.participant_id] = bandwidth.layer_rates.get(id(source), 0)
    floor = policy.floor or bandwidth.speaker
    allowances: dict[str, list[int]] = {}
    changes: list[tuple[str, list[str], bool]] = []
    for peer in peers.values():
        if peer.rtcp is None or not peer.outgoing:
            continue
        sid = peer.participant_id
        link = bandwidth.links.setdefault(sid, Link())
        link.estimate.on_heard(peer.rtcp.heard_at, now)
        if peer.rtcp.remb is not None:
            link.estimate.on_remb(peer.rtcp.remb, now, peer.rtcp.remb_fell)
            peer.rtcp.remb_fell = False
        link.estimate.on_rtt(peer.rtcp.rtt, now)
        losses = own_losses(peer, peer.rtcp.take_losses())
        delivered, overall = delivered_rate(link, peer, losses, now)
        loss = max(losses.values()) if losses else None
        if loss is not None:
            link.estimate.on_loss(loss, now, delivered, overall)
        audio = sum(1 for (pub, kind) in peer.outgoing if kind == "audio" and allowed(policy, sid, pub, kind))
        videos = [
            allocator.Video(pub, layer_rate(bandwidth, out.sink) if pub in layered else video_rates.get(pub, 0))
            for (pub, kind), out in peer.outgoing.items()
            if kind == "video" and allowed(policy, sid, pub, kind)
        ]
        congested = link.estimate.congested(now)
        share = allocator.allocate(
            link.estimate.rate_at(now),
            audio,
            videos,
            floor,
            link.pacer,
            now,
            link.estimate.loss if loss is not None else 0.0,
            congested,
            link.estimate.proven(now),
            link.estimate.queued(),
        )
        for video in videos:
            pub = video.publisher_id
            limit = allocator.relax(link.limits.get(pub), share.allowances.get(pub), congested, cap)
            if limit is None:
                link.limits.pop(pub, None)
            else:
                link.limits[pub] = limit
                if pub in share.allowances:
                    allowances.setdefault(pub, []).append(int(limit))
        choose_layers(bandwidth, peer, share.allowances, now)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "round: remb %s, rtt %s, loss %s, overall %s, delivered %s, congested %s, overflowing %s,"
                " estimate %d, proven %d, paused %d, probing %s, video resent/repeats/over budget/stale %s",
                peer.rtcp.remb,
                None if peer.rtcp.rtt is None else round(peer.rtcp.rtt, 3),
                None if loss is None else round(loss, 3),
                None if overall is None else round(overall, 3),
                delivered,
                congested,
                link.estimate.overflowing(now),
                link.estimate.rate_at(now),
                link.estimate.proven(now),
                len(share.paused),
                link.pacer.probing is not None,
                resend_counts(peer),
                extra=ids(peer.session_id, sid),
            )
        if share.paused != link.paused:
            link.paused = share.paused
            for (pub, kind), out in peer.outgoing.items():
                if kind == "video" and out.source is not None:
                    out.source.gate(out.sink, allowed(policy, sid, pub, kind) and pub not in share.paused)
        told = (share.paused, share.audio_only)
        if told != link.told:
            link.told = told
            changes.append((sid, sorted(share.paused), share.audio_only))
            log.info(
                "video paused for %d, audio only %s (estimate %d bit/s)",
                len(share.paused),
                share.audio_only,
                link.estimate.rate_at(now),
                extra=ids(peer.session_id, sid),
            )
    # A simulcast publisher is never held down for one weak link: that link gets a lower layer.
    rates = {pub: cap if pub in layered else allocator.publisher_rate(allowances.get(pub, []), cap) for pub in peers}
    return rates, changes


def resend_counts(peer: Peer) -> list[int]:
    """The subscriber's video copies' NACK answers since they began, summed (for the debug log): packets
    resent, refused as repeats within a round trip, over the budget, and too stale to resend."""
    leans = [out.sink.lean for (_, kind), out in peer.outgoing.items() if kind == "video"]
    return [
        sum(lean.retransmitted for lean in leans),
        sum(lean.resend_repeats for lean in leans),
        sum(lean.resend_over_budget for lean in leans),
        sum(lean.resend_stale for lean in leans),
    ]


def own_losses(peer: Peer, reported: dict[int, float]) -> dict[int, float]:
    """The fraction lost on the subscriber's own link of each video its receiver reports named
    (``reported``: by our sender's SSRC). A report counts what the publisher's uplink lost too (the
    forwarder keeps upstream gaps); that share (``Source.upstream_loss``) is taken out, so one
    member's weak uplink never reads as congestion on everybody else's downlink."""
    own: dict[int, float] = {}
    for (_, kind), out in peer.outgoing.items():
        fraction = reported.get(out.sink.lean.ssrc) if kind == "video" else None
        if fraction is None:
            continue
        upstream = out.sink.source.upstream_loss if out.sink.source is not None else 0.0
        own[out.sink.lean.ssrc] = max(0.0, 1.0 - (1.0 - fraction) / (1.0 - upstream)) if upstream < 1.0 else 0.0
    return own


def delivered_rate(link: Link, peer: Peer, losses: dict[int, float], now: float) -> tuple[int | None, float | None]:
    """What reached the subscriber since the last round, bit/s on the wire: each of our senders'
    rate less its own loss (video: ``losses``; audio: the subscriber's report of it this round); while
    its queue overflows that is what its link carries. And the share of our video packets lost on
    its link this round (``losses`` weighed by the packets each video sent), when at least
    ``MIN_LOSS_SAMPLE`` were sent: one stream's fraction over a dozen packets is noise (read so, 10%
    random loss passed for an overflow in the lab). (None, None) on the first round."""
    senders = peer.rtcp.senders if peer.rtcp is not None else {}
    counts = {
        ssrc: (lean.octets + lean.packets_sent * WIRE_OVERHEAD, lean.packets_sent) for ssrc, lean in senders.items()
    }
    before, link.sent = link.sent, (counts, now)
    if before is None or now <= before[1]:
        return None, None
    span = now - before[1]
    delivered = lost_packets = video_packets = 0.0
    for ssrc, (count, packets) in counts.items():
        prior = before[0].get(ssrc)
        if prior is None or count < prior[0] or packets < prior[1]:
            continue  # a sender added since: counted from the next round
        lean = senders[ssrc]
        if lean.kind == "video":
            lost = losses.get(ssrc, 0.0)
            if ssrc in losses:
                lost_packets += lost * (packets - prior[1])
                video_packets += packets - prior[1]
        else:
            fraction, at = lean.reported_loss
            lost = fraction / 256.0 if now - at <= span else 0.0
        delivered += (count - prior[0]) * 8 / span * (1.0 - lost)
    overall = lost_packets / video_packets if video_packets >= MIN_LOSS_SAMPLE else None
    return int(delivered), overall


def measure_layers(bandwidth: Bandwidth, peers: dict[str, Peer], now: float) -> None:
    """Each published video's arrival rate per layer (a single stream is its one layer), from the
    byte counts since the last round (the first round has none); ``now`` starts the next."""
    span = now - bandwidth.rates.at if bandwidth.rates.at else 0.0
    bandwidth.rates.at = now
    rates: dict[int, int] = {}
    for peer in peers.values():
        source = peer.sources.get("video")
        for layer in source.layers if source is not None else []:
            before = bandwidth.rates.octets.get(id(layer))
            bandwidth.rates.octets[id(layer)] = layer.octets
            if before is not None and span > 0:
                rates[id(layer)] = int((layer.octets - before) * 8 / span)
    bandwidth.layer_rates = rates


def layer_rate(bandwidth: Bandwidth, sink: Sink) -> int:
    """The rate of the layer ``sink`` receives (or is moving to), bit/s."""
    source = sink.joining or sink.source
    return bandwidth.layer_rates.get(id(source), 0) if source is not None else 0


def choose_layers(bandwidth: Bandwidth, peer: Peer, allowances: dict[str, int] | None, now: float) -> None:
    """Move each of ``peer``'s simulcast videos to the layer ``allocator.choose_layer`` picks, from
    its allowance (None: no limit, the allocator is off) and the tile size its page shows it at, a
    step up held back after a step down and a step down for the tile alone held back a while
    (``allocator.hold_layer``); the move happens at the new layer's keyframe (``Source.join``)."""
    view = bandwidth.views.get(peer.participant_id, {})
    for (pub, kind), out in peer.outgoing.items():
        if out.source is None:
            continue  # parked: its publisher publishes nothing now
        layers = out.source.layers
        sink = out.sink
        if kind != "video" or len(layers) < 2 or not sink.open:
            continue  # a paused video moves when it resumes: no keyframe is asked for nothing
        if allowances is not None and pub not in allowances:
            continue  # paused by this round's allocation: it moves when it resumes
        measured = [bandwidth.layer_rates.get(id(layer), 0) for layer in layers]
        if not any(measured):
            continue  # nothing flows (a camera off, an outage): its return, a keyframe on each layer, finds it here
        at = sink.joining or sink.source
        current = layers.index(at) if at in layers else None
        clock = bandwidth.clocks.get(pub)
        rates = [0 if clock is not None and clock.resting(index, now) else rate for index, rate in enumerate(measured)]
        allowance = None if allowances is None else allowances[pub]
        hold = bandwidth.holds.setdefault((peer.participant_id, pub), allocator.LayerHold())
        fits = allocator.choose_layer(rates, allowance, None, current)
        target = allocator.hold_layer(
            allocator.choose_layer(rates, allowance, view.get(pub), current), current, hold, now, fits
        )
        if target != current:
            log.debug(
                "layer %s -> %d of %s (layer rates %s, allowance %s, tile %s)",
                current,
                target,
                pub,
                rates,
                allowance,
                view.get(pub),
                extra=ids(peer.session_id, peer.participant_id),
            )
            layers[target].join(sink)


def drop_stalled(bandwidth: Bandwidth, peers: dict[str, Peer], now: float | None = None) -> None:
    """The 5 Hz look at each simulcast video's layers (``stalls``): each copy on a layer that stalled
    joins the highest lower layer still flowing, at its keyframe, a step down as the round's are
    (``allocator.hold_layer``: the next step up waits, longer each time an up did not last); copies
    waiting to move up to it stay where they are. A paused copy moves when it resumes (the round's
    ``choose_layers``), which reads a layer as not flowing while it rests after a stall
    (``stalls.LayerClock.resting``)."""
    now = time.monotonic() if now is None else now
    videos: dict[str, tuple[stalls.LayerClock, list[Source]]] = {}
    for peer in peers.values():
        source = peer.sources.get("video")
        if source is None or len(source.layers) < 2:
            continue
        clock = bandwidth.clocks.setdefault(peer.participant_id, stalls.LayerClock())
        clock.observe([layer.octets for layer in source.layers], now)
        videos[peer.participant_id] = (clock, source.layers)
        for index, layer in enumerate(source.layers):
            if clock.stalled(index, now):
                for sink in layer.waiting:
                    layer.cancel_join(sink)
    for peer in peers.values():
        for (pub, kind), out in peer.outgoing.items():
            if kind != "video" or pub not in videos or not out.sink.open:
                continue
            clock, layers = videos[pub]
            sink = out.sink
            on = layers.index(sink.source) if sink.source in layers else None
            if on is None or not clock.stalled(on, now):
                continue
            going = layers.index(sink.joining) if sink.joining in layers else None
            if going is not None and going < on and clock.flowing(going, now):
                continue  # already on its way down to a layer that flows
            target = clock.fallback(on, now)
            if target is None:
                continue
            allocator.hold_layer(
                target, on, bandwidth.holds.setdefault((peer.participant_id, pub), allocator.LayerHold()), now
            )
            log.debug(
                "layer %d -> %d of %s (layer %d stalled)",
                on,
                target,
                pub,
                on,
                extra=ids(peer.session_id, peer.participant_id),
            )
            layers[target].join(sink)


def choose_room_layers(bandwidth: Bandwidth, peers: dict[str, Peer], now: float | None = None) -> None:
    """The layers alone, for a room without the allocator (``adapt_bandwidth`` off): no estimate
    limits them, tile sizes and what flows still do."""
    now = time.monotonic() if now is None else now
    measure_layers(bandwidth, peers, now)
    for peer in peers.values():
        choose_layers(bandwidth, peer, None, now)


def ask_layers(
    bandwidth: Bandwidth, policy: ForwardingPolicy, peers: dict[str, Peer], now: float | None = None
) -> list[tuple[str, list[str]]]:
    """Once a round, the layers each simulcast publisher is to send (``sent_layers``): returns the
    publishers whose ask changed, with the RTP stream ids they are to send now. A layer asked off is
    not read as a stall while it is off (``stalls.LayerClock.ask``)."""
    now = time.monotonic() if now is None else now
    asks: list[tuple[str, list[str]]] = []
    for peer in peers.values():
        source = peer.sources.get("video")
        if source is None or len(source.layers) < 2:
            continue
        pub, layers = peer.participant_id, source.layers
        copies = []
        for sub, other in peers.items():
            out = other.outgoing.get((pub, "video"))
            if sub == pub or out is None or out.source is None or not allowed(policy, sub, pub, "video"):
                continue
            on = [layers.index(at) for at in (out.sink.source, out.sink.joining) if at in layers]
            tile = bandwidth.views.get(sub, {}).get(pub)
            copies.append(sent_layers.Copy(max(on, default=None), tile, not out.sink.open))
        known = bandwidth.sent.get(pub)
        if known is None or known[0] is not layers[0]:
            known = bandwidth.sent[pub] = (layers[0], sent_layers.SentLayers(len(layers)))
            if pub in bandwidth.clocks:  # a publication before it was asked off some: this one sends all
                bandwidth.clocks[pub].ask(len(layers))
        asked = known[1]
        if asked.update(sent_layers.wanted(len(layers), copies), now):
            bandwidth.clocks.setdefault(pub, stalls.LayerClock()).ask(asked.count)
            asks.append((pub, [layer.rid for layer in layers[: asked.count] if layer.rid is not None]))
            log.debug("layers asked of %s: %d of %d", pub, asked.count, len(layers), extra=ids(peer.session_id, pub))
    return asks


async def tell_layers(events: MediaEvents, session_id: str, asks: list[tuple[str, list[str]]]) -> None:
    """Deliver the round's asks to their publishers; one unreachable socket never stops the others'."""
    for participant_id, rids in asks:
        try:
            await events.video_layers(session_id, participant_id, rids)
        except Exception:
            log.exception("video_layers callback failed", extra=ids(session_id, participant_id))


async def tell(events: MediaEvents, session_id: str, changes: list[tuple[str, list[str], bool]]) -> None:
    """Deliver the round's changes; one participant's unreachable socket never stops the others'."""
    for participant_id, paused, audio_only in changes:
        try:
            await events.video_paused(session_id, participant_id, paused, audio_only)
        except Exception:
            log.exception("video_paused callback failed", extra=ids(session_id, participant_id))
