"""``Room``: one session's media state in the engine, and its 5 Hz loop (speaking levels, stalled layers, RTCP reports).

A room is keyed by session id and lives while the session has media on this node. Its loop is the
one timer a session's media has: on the measured machine (nested virtualisation) every wake-up of
the process costs tens of microseconds, more than the report it sends, so RTCP both ways rides the
speaking-level tick instead of one timer per sender and receiver.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from server.media import bandwidth
from server.media.levels import SpeakingMeter
from server.media.peers import Peer, ids
from signaling.ports import ForwardingPolicy, MediaEvents

log = logging.getLogger(__name__)

SPEAKING_INTERVAL = 0.2  # at most 5 speaking events per second per session
REMB_EVERY = 5  # ticks: the allocator runs and publishers get their REMB once a second


@dataclass
class Room:
    session_id: str
    policy: ForwardingPolicy = field(default_factory=ForwardingPolicy)
    peers: dict[str, Peer] = field(default_factory=dict)
    departed: set[str] = field(default_factory=set)
    revisions: dict[str, int] = field(default_factory=dict)  # a dropped Peer's last offer revision
    meter: SpeakingMeter = field(default_factory=SpeakingMeter)
    speaking_task: asyncio.Task[None] | None = None
    bandwidth: bandwidth.Bandwidth = field(default_factory=bandwidth.Bandwidth)
    adapt: bool = True  # the allocator runs (``MediaEngine(adapt_bandwidth=...)``)


async def room_loop(room: Room, events: MediaEvents, video_cap: int) -> None:
    """5 Hz: speaking levels and stalled simulcast layers; once a second, the allocator's round, RTCP
    reports both ways and the simulcast layers each publisher is asked to send."""
    tick = 0
    while True:
        await asyncio.sleep(SPEAKING_INTERVAL)
        tick += 1
        drop_stalled(room)
        if tick % REMB_EVERY == 0:
            rates, changes = allocate(room, video_cap) if room.adapt else layers_only(room)
            send_reports(room, video_cap, rates)
            if changes:
                await bandwidth.tell(events, room.session_id, changes)
            asks = ask_layers(room)
            if asks:
                await bandwidth.tell_layers(events, room.session_id, asks)
        update = room.meter.flush()
        if update is not None and update[1] is not None:
            room.bandwidth.speaker = update[1]
        if update is not None:
            try:
                await events.speaking(room.session_id, *update)
            except Exception:
                log.exception("speaking callback failed", extra={"session": room.session_id})


def allocate(room: Room, video_cap: int) -> tuple[dict[str, int], list[tuple[str, list[str], bool]]]:
    """The allocator's round (``bandwidth.allocate_room``); a failure is logged and leaves every
    publisher at the cap and every gate as it was, for this second."""
    try:
        return bandwidth.allocate_room(room.bandwidth, room.policy, room.peers, video_cap)
    except Exception:
        log.exception("bandwidth allocation failed", extra={"session": room.session_id})
        return {}, []


def drop_stalled(room: Room) -> None:
    """Copies on a simulcast layer that stopped move down now, not at the next round
    (``bandwidth.drop_stalled``); a failure is logged and leaves every copy where it is for this tick."""
    try:
        bandwidth.drop_stalled(room.bandwidth, room.peers)
    except Exception:
        log.exception("stalled layer check failed", extra={"session": room.session_id})


def ask_layers(room: Room) -> list[tuple[str, list[str]]]:
    """The simulcast layers each publisher is to send (``bandwidth.ask_layers``); a failure is logged
    and leaves every publisher sending what it was asked to, for this second."""
    try:
        return bandwidth.ask_layers(room.bandwidth, room.policy, room.peers)
    except Exception:
        log.exception("asking simulcast layers failed", extra={"session": room.session_id})
        return []


def layers_only(room: Room) -> tuple[dict[str, int], list[tuple[str, list[str], bool]]]:
    """Without the allocator, simulcast layers are still chosen (tile sizes, what flows); a failure
    is logged and leaves every sink on its layer for this second."""
    try:
        bandwidth.choose_room_layers(room.bandwidth, room.peers)
    except Exception:
        log.exception("simulcast layer choice failed", extra={"session": room.session_id})
    return {}, []


def send_reports(room: Room, video_cap: int, rates: dict[str, int] | None = None) -> None:
    """Receiver reports with a REMB to publishers (instead of aiortc's per-packet estimator: cheaper,
    and what the publisher's subscribers can take, ``rates``, within the cap), sender reports to
    subscribers. One peer's failure (a connection torn down under it) skips that peer's reports for
    this second only, logged once."""
    for peer in list(room.peers.values()):
        try:
            if peer.inbound is not None:
                peer.inbound.send_reports((rates or {}).get(peer.participant_id, video_cap))
            if peer.rtcp is not None:
                peer.rtcp.send_reports()
        except Exception:
            if not peer.report_failed:
                log.exception("RTCP reports failed", extra=ids(room.session_id, peer.participant_id))
            peer.report_failed = True
