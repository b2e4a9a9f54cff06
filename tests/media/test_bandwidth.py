"""Per-subscriber bandwidth with real aiortc peers: a subscriber whose REMB says its link is weak keeps
every audio stream and the floor holder's video, the others' video is paused for it alone (and it is
told), and when its REMB recovers the paused video resumes, starting at a keyframe."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtcpReceiverInfo, RtcpRrPacket, pack_remb_fci

from rooms.model import stream_id_for
from server.media.allocator import AUDIO_RATE
from server.media.engine import MediaEngine
from server.media.estimate import STARTUP_GRACE
from server.media.vp8 import vp8_is_keyframe, vp8_starts_frame
from tests.media.clients import Client, PatternVideo, Recorder, ToneAudio, wait_for
from tests.media.conftest import Room

pytestmark = [pytest.mark.media, pytest.mark.slow]  # real aiortc peers on loopback


@pytest.fixture
async def room() -> AsyncIterator[Room]:
    """Unlike the other media tests' room, this one's engine runs the allocator."""
    events = Recorder()
    room = Room(MediaEngine(events, allow_loopback=True, adapt_bandwidth=True), events)
    yield room
    await room.close()


WEAK = 400_000  # bit/s: two audio streams and one video fit, two do not (aiortc's encoder goes no lower than 250k)
STRONG = 5_000_000


async def send_report(client: Client, bitrate: int, lost: int = 20, queued: float | None = None) -> None:
    """A REMB and a receiver report with ``lost``/256 of the video lost (8%: congestion with a fall).
    ``queued``: the report also echoes each stream's last SR, saying it was held this many seconds less
    than it was (the server then reads a round trip of about ``queued``, as behind a full router queue)."""
    assert client.subscriber is not None
    receiver = next(t.receiver for t in client.subscriber.getTransceivers() if t.kind == "video")
    blocks = []
    for transceiver in client.subscriber.getTransceivers():
        lsrs, arrived = transceiver.receiver._RTCRtpReceiver__lsr, transceiver.receiver._RTCRtpReceiver__lsr_time
        for ssrc in (s.source for s in transceiver.receiver.getSynchronizationSources()):
            lsr = lsrs.get(ssrc, 0) if queued is not None else 0
            held = time.time() - arrived[ssrc] - (queued or 0.0) if lsr else 0.0
            if held < 0:
                lsr = 0  # that SR came too lately to say it waited ``queued``: echo none
            blocks.append(
                RtcpReceiverInfo(
                    ssrc=ssrc,
                    fraction_lost=lost,
                    packets_lost=0,
                    highest_sequence=0,
                    jitter=0,
                    lsr=lsr,
                    dlsr=max(0, int(held * 65536)),
                )
            )
    sender_ssrc = receiver._RTCRtpReceiver__rtcp_ssrc or 1
    await receiver._send_rtcp(RtcpRrPacket(ssrc=sender_ssrc, reports=blocks))
    await send_remb(client, bitrate)


async def send_remb(client: Client, bitrate: int) -> None:
    """The subscriber's browser would send this (goog-remb is negotiated); aiortc's receiver only does
    with abs-send-time on the packets, so the test sends it through the client's own receiver."""
    assert client.subscriber is not None
    receiver = next(t.receiver for t in client.subscriber.getTransceivers() if t.kind == "video")
    ssrcs = [s.source for t in client.subscriber.getTransceivers() for s in t.receiver.getSynchronizationSources()]
    fci = pack_remb_fci(bitrate, ssrcs or [0])
    sender_ssrc = receiver._RTCRtpReceiver__rtcp_ssrc or 1
    await receiver._send_rtcp(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=sender_ssrc, media_ssrc=0, fci=fci))


def silence_receiver_reports(client: Client) -> None:
    """Stop the client's own receiver reports (aiortc's, every second): the test's are then the only
    round trips the server reads."""
    assert client.subscriber is not None
    for transceiver in client.subscriber.getTransceivers():
        task = transceiver.receiver._RTCRtpReceiver__rtcp_task
        if task is not None:
            task.cancel()


def has_sender_reports(client: Client) -> bool:
    """Whether an SR of every stream the client receives has come (a report can echo each)."""
    assert client.subscriber is not None
    receivers = [t.receiver for t in client.subscriber.getTransceivers()]
    return all(s.source in r._RTCRtpReceiver__lsr for r in receivers for s in r.getSynchronizationSources()) and any(
        r.getSynchronizationSources() for r in receivers
    )


def without_abs_send_time(sdp: str) -> str:
    """An answer that declines abs-send-time: aiortc's receiver then sends no REMB of its own, and the
    test's REMBs are the subscriber's only ones."""
    return "\r\n".join(line for line in sdp.split("\r\n") if "abs-send-time" not in line)


def target_bitrate(client: Client) -> int | None:
    """What the publisher's VP8 encoder aims at: the REMB the server sent it last (aiortc applies it)."""
    assert client.publisher is not None
    sender = next(s for s in client.publisher.getSenders() if s.track is not None and s.track.kind == "video")
    encoder = sender._RTCRtpSender__encoder
    return None if encoder is None else int(encoder.target_bitrate)


async def without_a_queue(client: Client, bitrate: int) -> None:
    """From now the client's reports are the test's alone; the first say the link has no queue in its
    path, for long enough (2 s) that the allocator's rounds read that round trip. Without a queue the
    server takes what a link carries as proof it can, whatever a REMB says."""
    silence_receiver_reports(client)
    await wait_for(lambda: has_sender_reports(client), timeout=10)
    for _ in range(10):
        await send_report(client, bitrate, lost=0, queued=0.0)
        await asyncio.sleep(0.2)


async def three_members(room: Room) -> tuple[Client, Client, Client]:
    """Alex (holding the floor), Lee and Sam, each publishing; Sam's REMBs are the test's alone."""
    await room.policy({"alex", "lee", "sam"}, floor="alex")
    alex, lee, sam = room.client("alex"), room.client("lee"), room.client("sam")
    sam.answer_filter = without_abs_send_time
    for client in (alex, lee, sam):
        await client.publish(ToneAudio(), PatternVideo())
    return alex, lee, sam


async def test_a_weak_subscriber_keeps_audio_and_the_floor_holder_and_gets_the_rest_back_at_a_keyframe(
    room: Room,
) -> None:
    alex, lee, sam = await three_members(room)
    alex_video = sam.received[(stream_id_for("alex"), "video")]
    lee_video = sam.received[(stream_id_for("lee"), "video")]
    alex_audio = sam.received[(stream_id_for("alex"), "audio")]
    lee_audio = sam.received[(stream_id_for("lee"), "audio")]
    await wait_for(lambda: lee_video.frames >= 20 and alex_video.frames >= 20, timeout=15)

    await without_a_queue(sam, STRONG)

    async def weak() -> bool:
        # A fall each time, as a browser's estimate falls when its queue grows (past a new link's grace),
        # and the queue shows in the round trip.
        await send_remb(sam, WEAK * 6 // 5)  # neither carries Lee's video beside Alex's
        await send_report(sam, WEAK, queued=0.6)
        return bool(room.events.paused) and room.events.paused[-1] == ("sam", ["lee"], False)

    await wait_until(weak)
    lee_heads = sam.heads[(stream_id_for("lee"), "video")]
    alex_frames = alex_video.frames
    await wait_for(lambda: alex_video.frames >= alex_frames + 15, timeout=10)  # what was on the wire has landed
    paused_at, alex_frames, heard = len(lee_heads), alex_video.frames, (alex_audio.frames, lee_audio.frames)
    await wait_for(lambda: alex_video.frames >= alex_frames + 30, timeout=10)
    assert len(lee_heads) == paused_at, f"the paused video kept flowing: {room.events.paused}"
    assert alex_audio.frames >= heard[0] + 30 and lee_audio.frames >= heard[1] + 30, "audio was dropped for video"
    lee_frames = lee_video.frames
    # The floor holder is asked for what Sam can take (the audio paid for first); Lee, paused at Sam, is not.
    floor_rate = WEAK - 2 * AUDIO_RATE
    await wait_for(lambda: (target_bitrate(alex) or 0) <= floor_rate, timeout=10)
    assert (target_bitrate(lee) or 0) > floor_rate
    # Nobody else is affected: Lee still sees Sam and Alex.
    seen = lee.received[(stream_id_for("sam"), "video")].frames
    await wait_for(lambda: lee.received[(stream_id_for("sam"), "video")].frames >= seen + 10, timeout=20)

    async def strong() -> bool:
        await send_remb(sam, STRONG)
        return room.events.paused[-1] == ("sam", [], False)

    await wait_until(strong)
    await wait_for(lambda: lee_video.frames >= lee_frames + 10, timeout=10)
    await wait_for(lambda: (target_bitrate(alex) or 0) > floor_rate, timeout=10)  # never pinned
    first = lee_heads[paused_at]
    assert vp8_starts_frame(first) and vp8_is_keyframe(first), "the paused video resumed without a keyframe"


async def test_a_link_that_carries_no_video_is_audio_only_and_keeps_its_audio(room: Room) -> None:
    members = {"alex", "sam"}
    await room.policy(members, floor="alex")
    alex, sam = room.client("alex"), room.client("sam")
    sam.answer_filter = without_abs_send_time
    for client in (alex, sam):
        await client.publish(ToneAudio(), PatternVideo())
    alex_video, alex_audio = (sam.received[(stream_id_for("alex"), kind)] for kind in ("video", "audio"))
    await wait_for(lambda: alex_video.frames >= 20, timeout=15)

    await without_a_queue(sam, 100_000)

    async def starved() -> bool:  # the REMB falls, video is lost, and a queue stands in the path
        await send_remb(sam, 100_000)
        await send_report(sam, 80_000, queued=0.6)
        return bool(room.events.paused) and room.events.paused[-1] == ("sam", ["alex"], True)

    await wait_until(starved)
    heard = alex_audio.frames
    await wait_for(lambda: alex_audio.frames >= heard + 30, timeout=10)


async def test_a_queue_that_overflows_under_a_steady_remb_pauses_what_does_not_fit_for_that_subscriber_alone(
    room: Room,
) -> None:
    """The lab's member capped at 400 kbit/s: its receiver reports lost half its video round after round
    while its starved browser's REMB held still, so the REMB rule saw no congestion and nothing was
    paused. That loss, sustained behind a full queue (the round trip grown by 0.6 s), now pauses the
    video that does not fit beside the floor holder's, for that subscriber alone; once the queue
    drains the floor holder's video stays. The same loss with no queue in the path pauses nothing."""
    _, lee, sam = await three_members(room)
    alex_video = sam.received[(stream_id_for("alex"), "video")]
    lee_video = sam.received[(stream_id_for("lee"), "video")]
    await wait_for(lambda: lee_video.frames >= 20 and alex_video.frames >= 20, timeout=15)

    await without_a_queue(sam, STRONG)
    for _ in range(30):  # random loss: half lost, the round trip as it was (6 s: twice the rounds an overflow takes)
        await send_report(sam, STRONG, lost=128, queued=0.0)
        await asyncio.sleep(0.2)
    assert room.events.paused == []

    async def overflowing() -> bool:
        await send_report(sam, STRONG, lost=128, queued=0.6)  # half lost behind a full queue; the REMB holds
        return bool(room.events.paused) and room.events.paused[-1] == ("sam", ["lee"], False)

    await wait_until(overflowing)
    for _ in range(3):  # the queue drained: clean reports, the same REMB
        await send_report(sam, STRONG, lost=0, queued=0.0)
    alex_frames = alex_video.frames
    await wait_for(lambda: alex_video.frames >= alex_frames + 30, timeout=15)
    assert room.events.paused[-1] == ("sam", ["lee"], False)
    assert all(subscriber == "sam" for subscriber, _, _ in room.events.paused), room.events.paused
    for publisher in ("alex", "sam"):  # nobody else is affected: Lee still sees both
        seen = lee.received[(stream_id_for(publisher), "video")].frames
        await wait_for(lambda p=publisher, n=seen: lee.received[(stream_id_for(p), "video")].frames >= n + 10, 20)


async def wait_until(check: object, timeout: float = 15.0 + STARTUP_GRACE) -> None:
    """Await ``check()`` (an async predicate) every 200 ms until it holds."""

    async def loop() -> None:
        while not await check():  # type: ignore[operator]
            await asyncio.sleep(0.2)

    await asyncio.wait_for(loop(), timeout)
