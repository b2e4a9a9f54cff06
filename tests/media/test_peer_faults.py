"""One peer's faults stay that peer's: dead connections are torn down or replaced, refused SDP builds
nothing, one negotiation's exception never reaches another member's request (real aiortc peers)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import pytest
from aiortc import RTCPeerConnection
from aiortc.exceptions import InvalidStateError

from rooms.model import stream_id_for
from server.media import bandwidth, limits
from server.media.engine import retired_sections
from server.media_events import SioMediaEvents
from signaling.ports import MediaError
from tests.media.clients import PatternVideo, ToneAudio, client_config, ice_ufrag, wait_for
from tests.media.conftest import SESSION, Room

pytestmark = [pytest.mark.media, pytest.mark.slow]  # real aiortc peers on loopback

KINDS = ("audio", "video")


async def _real_offer(*kinds: str) -> str:
    pc = RTCPeerConnection(client_config())
    try:
        for kind in kinds:
            pc.addTransceiver(kind, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)
    finally:
        await pc.close()


@pytest.mark.parametrize(
    ("sdp", "says"),
    [
        ("x", "not an SDP"),
        ("v=0\r\ns=-\r\n", "audio or video"),
        ("v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n", "audio or video"),
        ("v=0\r\n" + "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n" * 5, "at most 4 m-lines"),
        ("v=0\r\nm=audio\r\n", "parser"),
    ],
    ids=["garbage", "no-m-lines", "data-only", "five-m-lines", "unparsable"],
)
def test_publisher_offers_outside_the_limits_are_invalid(sdp: str, says: str) -> None:
    with pytest.raises(MediaError) as refused:
        limits.publisher_offer(sdp)
    assert refused.value.code == "invalid" and says in refused.value.message


async def test_a_real_offer_is_within_the_limits() -> None:
    offer = limits.publisher_offer(await _real_offer("audio", "video"))
    assert offer.kinds == ("audio", "video") and offer.ufrag
    assert limits.MAX_PUBLISH_SECTIONS >= 4  # one audio, one video, and room for a data channel and one more


async def test_a_refused_offer_builds_no_connection(room: Room) -> None:
    await room.policy({"a"})
    for sdp in ("x", "v=0\r\n" + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" * 1400):
        with pytest.raises(MediaError) as refused:
            await room.engine.publish(SESSION, "a", sdp)
        assert refused.value.code == "invalid"
    assert room.engine.connections() == []


async def test_an_answer_with_another_number_of_m_lines_is_invalid_and_the_offer_stays_out(room: Room) -> None:
    await room.policy({"a", "b"})
    a, b = room.client("a"), room.client("b")
    b.answered.set()  # b answers by hand below
    room.events.clients.pop("b")
    await a.publish(ToneAudio(), PatternVideo())
    peer = room.engine._rooms[SESSION].peers["b"]
    await wait_for(lambda: peer.awaiting_answer)
    assert peer.subscriber is not None and peer.offered_sections == 2
    with pytest.raises(MediaError) as refused:
        await room.engine.answer(SESSION, "b", await _real_offer("audio"), peer.revision)
    assert refused.value.code == "invalid" and peer.awaiting_answer
    await b.on_offer(peer.subscriber.localDescription.sdp, peer.revision)  # the offer is still there to answer
    await wait_for(lambda: b.received[(stream_id_for("a"), "video")].frames >= 5)


async def test_a_publisher_connection_closed_by_the_far_end_is_torn_down_and_reported(room: Room) -> None:
    await room.policy({"a", "b"})
    a, b = room.client("a"), room.client("b")
    await a.publish(ToneAudio(), PatternVideo())
    await wait_for(lambda: b.received[(stream_id_for("a"), "video")].frames >= 5)
    answered = len(b.revisions)
    assert a.publisher is not None
    await a.publisher.close()  # DTLS close_notify
    await wait_for(lambda: (SESSION, "a", "publish") in room.events.lost)
    live = room.engine._rooms[SESSION]
    peer = live.peers["a"]
    assert peer.publisher is None and peer.sources == {}
    # a is still a member: b's m-lines for a's tracks are parked, not retired, and b is not renegotiated.
    outgoing = live.peers["b"].outgoing
    await wait_for(lambda: all(outgoing[("a", k)].source is None for k in KINDS))
    assert len(b.revisions) == answered


async def test_a_member_who_publishes_again_reaches_the_others_on_their_same_m_lines_without_an_offer(
    room: Room,
) -> None:
    """A phone that lost its network publishes again on a new connection: the others' receiving
    connections carry its new publication on the m-lines they had (SSRC kept), with no offer to
    anyone, however often it happens; before, each republish retired two m-lines in every other
    member's connection and renegotiated it, and every eighth renewed it (a media gap for everyone)."""
    await room.policy({"a", "b"})
    a, b = room.client("a"), room.client("b")
    await a.publish(ToneAudio(), PatternVideo())
    keys = [(stream_id_for("a"), kind) for kind in KINDS]
    await wait_for(lambda: all(b.received[key].frames >= 5 for key in keys))
    answered, ufrag = len(b.revisions), b.subscriber_ufrag
    live = room.engine._rooms[SESSION]
    transceivers = len(live.peers["b"].subscriber.getTransceivers())
    for _ in range(limits.MAX_RETIRED_SECTIONS):  # far past the point where it was renewed before
        assert a.publisher is not None
        await a.publisher.close()
        await wait_for(lambda: live.peers["a"].publisher is None)
        seen = {key: b.received[key].frames for key in keys}
        await a.publish(ToneAudio(), PatternVideo())  # a new connection (a new ICE ufrag)
        await wait_for(lambda seen=seen: all(b.received[key].frames >= seen[key] + 5 for key in keys))
    assert len(b.revisions) == answered and b.subscriber_ufrag == ufrag  # no offer, no new connection
    assert len(live.peers["b"].subscriber.getTransceivers()) == transceivers
    assert retired_sections(live.peers["b"]) == 0


async def test_a_receiving_connection_closed_by_the_far_end_is_replaced_by_a_fresh_offer(room: Room) -> None:
    await room.policy({"a", "b"})
    a, b = room.client("a"), room.client("b")
    await a.publish(ToneAudio(), PatternVideo())
    key = (stream_id_for("a"), "video")
    await wait_for(lambda: b.received[key].frames >= 5)
    assert b.subscriber is not None
    old_ufrag, old_revision = b.subscriber_ufrag, b.revisions[-1]
    await b.subscriber.close()
    await wait_for(lambda: (SESSION, "b", "receive") in room.events.lost)
    await wait_for(lambda: b.subscriber_ufrag != old_ufrag and b.revisions[-1] > old_revision)
    seen = b.received[key].frames
    await wait_for(lambda: b.received[key].frames >= seen + 5)
    assert ice_ufrag(room.engine._rooms[SESSION].peers["b"].subscriber.localDescription.sdp) == b.subscriber_ufrag


async def test_revisions_go_on_growing_when_a_member_is_let_in_again(room: Room) -> None:
    await room.policy({"a", "b"})
    a, b = room.client("a"), room.client("b")
    await a.publish(ToneAudio())
    await wait_for(lambda: bool(b.revisions) and b.answered.is_set())
    last = b.revisions[-1]
    await room.policy({"a"})  # sent back to the waiting room
    await room.policy({"a", "b"})  # and let in again: a new receiving connection
    await wait_for(lambda: b.revisions[-1] > last)


async def test_one_members_failed_renegotiation_never_reaches_another_members_publish(room: Room) -> None:
    await room.policy({"a", "b", "c"})
    a, b, c = room.client("a"), room.client("b"), room.client("c")
    await a.publish(ToneAudio())
    await wait_for(lambda: b.answered.is_set() and c.answered.is_set())
    peer = room.engine._rooms[SESSION].peers["b"]
    failing = peer.make_offer

    async def fails_once() -> tuple[str, int]:
        peer.make_offer = failing  # type: ignore[method-assign]
        raise InvalidStateError("RTCPeerConnection is closed")  # what aiortc raises mid-offer

    peer.make_offer = fails_once  # type: ignore[method-assign]
    await c.publish(ToneAudio(), PatternVideo())  # answered: b's trouble is b's alone
    for receiver, sender in ((a, "c"), (b, "c"), (c, "a")):
        await wait_for(lambda r=receiver, s=sender: r.received[(stream_id_for(s), "audio")].frames >= 5)


async def test_a_member_who_leaves_mid_renegotiation_is_not_logged_as_an_error_or_reconnected(
    room: Room, caplog: pytest.LogCaptureFixture
) -> None:
    """Seen in the K-rooms bench: a member's publish connection torn down while its receiving one was
    making an offer; the closed connection raised from ``createOffer``, was logged with a traceback
    as a bug, and a fresh receiving connection was attempted for a member no longer there."""
    caplog.set_level(logging.INFO)
    await room.policy({"a", "b", "c"})
    a, c = room.client("a"), room.client("c")
    room.client("b")
    await a.publish(ToneAudio())
    live = room.engine._rooms[SESSION]
    await wait_for(lambda: live.peers["b"].subscriber is not None and c.answered.is_set())
    peer = live.peers["b"]

    leaving: list[asyncio.Task[None]] = []

    async def leaves_mid_offer() -> tuple[str, int]:
        # It leaves while its offer is being made: the leave takes it out of the room at once and then
        # waits for the peer's lock, which the renegotiation holds.
        leaving.append(asyncio.ensure_future(room.engine.close_participant(SESSION, "b")))
        while "b" in live.peers:
            await asyncio.sleep(0)
        raise InvalidStateError("RTCPeerConnection is closed")  # what aiortc raises then

    peer.make_offer = leaves_mid_offer  # type: ignore[method-assign]
    peer.dirty = True
    await room.engine._refresh(live, peer)
    await leaving[0]
    assert "b" not in live.peers and peer.subscriber is None  # nothing rebuilt for a member who left
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    await c.publish(ToneAudio())  # the rest of the session goes on
    await wait_for(lambda: a.received[(stream_id_for("c"), "audio")].frames >= 5)


async def test_a_lost_connection_reaches_the_listener_signaling_gave_the_media_events() -> None:
    heard: list[tuple[str, str, str]] = []

    async def listener(session_id: str, participant_id: str, leg: str) -> None:
        heard.append((session_id, participant_id, leg))

    no_bus = cast(Any, None)  # a lost connection is not emitted to clients: no socket is touched
    await SioMediaEvents(no_bus).connection_lost("s1", "a", "publish")  # nobody listening: nothing happens
    await SioMediaEvents(no_bus, on_connection_lost=listener).connection_lost("s1", "a", "publish")
    assert heard == [("s1", "a", "publish")]


@pytest.mark.parametrize(
    ("step", "logged"),
    [("drop_stalled", "stalled layer check failed"), ("ask_layers", "asking simulcast layers failed")],
    ids=["stalled-layer-check", "layer-asks"],
)
async def test_a_failing_layer_step_of_the_room_loop_is_logged_and_the_sessions_media_goes_on(
    room: Room, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, step: str, logged: str
) -> None:
    """The room loop's 5 Hz look at simulcast layers, or its once-a-second asks of their publishers,
    raising (a peer torn down under it, say) costs that step alone: video still flows and the
    once-a-second reports still go out."""

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError(f"{step} broke")

    monkeypatch.setattr(bandwidth, step, broken)
    _a, b, _seen = await room.video_from_a_to_b()
    peer = room.engine._rooms[SESSION].peers["b"]
    assert peer.rtcp is not None
    reports = peer.rtcp.reports_sent
    frames = b.received[(stream_id_for("a"), "video")].frames
    await wait_for(lambda: peer.rtcp is not None and peer.rtcp.reports_sent >= reports + 2, timeout=10)
    await wait_for(lambda: b.received[(stream_id_for("a"), "video")].frames >= frames + 30, timeout=10)
    assert logged in caplog.text
