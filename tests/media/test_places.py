"""Places in the media: a member hears and sees only the people of their place (main room, side room,
breakout group), gated at the source from the next packet on, with no renegotiation.

Attributed per stream: what the forwarder sends each receiver of each publisher and kind in a window
is counted where it is decided (the receiver's sender for that track, on the server), and "nothing"
means no packet at all, not silence. Counting at the receivers instead would blur the moment of a
move: seven aiortc clients in one test process fall behind in reading their sockets on a busy
machine, and packets sent before the gates moved are still being read seconds later. That the
packets sent really arrive is checked at the receivers, as frames reassembled, after each move.
"""

from __future__ import annotations

import asyncio

import av
import pytest

from rooms.model import stream_id_for
from tests.media.clients import Client, PacketVideo, ToneAudio, encode_vp8, wait_for
from tests.media.conftest import Room

pytestmark = [pytest.mark.media, pytest.mark.slow]

WINDOW = 1.5  # seconds in which a closed gate must let nothing through, and an open one plenty


@pytest.fixture(scope="module")
def clip() -> list[av.Packet]:
    return encode_vp8(frames=60, keyframe_every=30)


def frames(receiver: Client, publisher: str, kind: str) -> int:
    """Frames reassembled on arrival (before any decoding, which may lag behind on a busy machine)."""
    return len(receiver.encoded[(stream_id_for(publisher), kind)])


def sent(room: Room) -> dict[tuple[str, str, str], int]:
    """Packets the server has sent so far, per (receiver, publisher, kind)."""
    peers = room.engine._rooms["s1"].peers
    return {
        (receiver, publisher, kind): out.sink.lean.packets_sent
        for receiver, peer in peers.items()
        for (publisher, kind), out in peer.outgoing.items()
    }


async def window(room: Room, clients: dict[str, Client]) -> dict[tuple[str, str, str], int]:
    """Packets sent to each receiver of each publisher and kind during one window, and at the end a
    look at the receivers: every stream that flowed reaches them."""
    keys = [(r, p, k) for r in clients for p in clients if p != r for k in ("audio", "video")]
    before, arrived = sent(room), {key: frames(clients[key[0]], key[1], key[2]) for key in keys}
    await asyncio.sleep(WINDOW)
    after = sent(room)
    got = {key: after.get(key, 0) - before.get(key, 0) for key in keys}
    for r, p, k in (key for key in keys if got[key]):
        await wait_for(lambda r=r, p=p, k=k: frames(clients[r], p, k) > arrived[(r, p, k)], timeout=15)
    return got


def together(place_of: dict[str, str], receiver: str, publisher: str) -> bool:
    return place_of.get(receiver, "main") == place_of.get(publisher, "main")


async def start(room: Room, names: list[str], video: set[str], clip: list[av.Packet]) -> dict[str, Client]:
    await room.policy(set(names))
    clients = {name: room.client(name) for name in names}
    for name, client in clients.items():
        await client.publish(ToneAudio(), *([PacketVideo(clip)] if name in video else []))
    for r, receiver in clients.items():
        for p in names:
            if p != r:
                await wait_for(lambda receiver=receiver, p=p: frames(receiver, p, "audio") >= 5, timeout=15)
            if p != r and p in video:
                await wait_for(lambda receiver=receiver, p=p: frames(receiver, p, "video") >= 5, timeout=15)
    return clients


def assert_only_their_place(got: dict[tuple[str, str, str], int], place_of: dict[str, str], video: set[str]) -> None:
    leaks = {key: n for key, n in got.items() if n and not together(place_of, key[0], key[1])}
    assert not leaks, f"packets crossed places: {leaks}"
    for (r, p, kind), n in got.items():
        if together(place_of, r, p) and (kind == "audio" or p in video):
            assert n > 0, f"{r} got nothing of {p}'s {kind} in the same place"


async def test_a_side_room_pair_hears_and_sees_only_each_other(room: Room, clip: list[av.Packet]) -> None:
    names = ["f", "a", "b", "c"]
    video = {"f", "a", "b"}
    clients = await start(room, names, video, clip)
    aside = {"f": "side:a", "a": "side:a"}
    await room.policy(set(names), places=aside)
    assert_only_their_place(await window(room, clients), aside, video)
    revisions = {name: list(c.revisions) for name, c in clients.items()}
    await room.policy(set(names))  # back to the group: everyone again, at once
    assert_only_their_place(await window(room, clients), {}, video)
    assert {name: c.revisions for name, c in clients.items()} == revisions, "a move must not renegotiate"


async def test_breakouts_of_two_and_three_keep_each_group_apart(room: Room, clip: list[av.Packet]) -> None:
    names = ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]
    video = {"m0", "m2", "m4"}  # one video per group (decoding 42 streams would starve the machine)
    clients = await start(room, names, video, clip)
    groups = {"m0": "group:0", "m1": "group:0", "m2": "group:1", "m3": "group:1"}
    groups |= {"m4": "group:2", "m5": "group:2", "m6": "group:2"}
    await room.policy(set(names), places=groups)
    assert_only_their_place(await window(room, clients), groups, video)
    await room.policy(set(names))
    assert_only_their_place(await window(room, clients), {}, video)


async def test_a_facilitator_visiting_to_listen_hears_the_group_and_is_heard_by_nobody(
    room: Room, clip: list[av.Packet]
) -> None:
    names = ["f", "a", "b", "c"]
    clients = await start(room, names, set(), clip)
    visiting = {"f": "group:0", "a": "group:0", "b": "group:0"}
    await room.policy(set(names), audible={"a", "b", "c"}, places=visiting)  # f listens only
    got = await window(room, clients)
    assert got[("f", "a", "audio")] > 0 and got[("f", "b", "audio")] > 0  # f hears the group
    assert got[("a", "f", "audio")] == got[("b", "f", "audio")] == 0  # nobody hears f
    assert got[("f", "c", "audio")] == got[("c", "a", "audio")] == got[("c", "f", "audio")] == 0


async def test_a_member_on_audio_only_is_sent_no_video_and_gets_it_back(room: Room, clip: list[av.Packet]) -> None:
    """A weak link: the member asked for audio only (``media.receive``), so no video packet is spent
    on them; everyone else's video to everyone else is untouched, and it comes back when asked."""
    names = ["f", "a", "b"]
    clients = await start(room, names, {"f", "b"}, clip)
    await room.policy(set(names), audio_only={"a"})
    got = await window(room, clients)
    assert got[("a", "f", "video")] == got[("a", "b", "video")] == 0
    assert got[("a", "f", "audio")] > 0 and got[("a", "b", "audio")] > 0
    assert got[("b", "f", "video")] > 0 and got[("f", "b", "video")] > 0
    await room.policy(set(names))
    got = await window(room, clients)
    assert got[("a", "f", "video")] > 0 and got[("a", "b", "video")] > 0
