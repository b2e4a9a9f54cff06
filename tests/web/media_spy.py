"""A participant that sees what the server forwards: real python-socketio signaling and a real aiortc
receiving connection, recording every reassembled (still encoded) video frame before aiortc's own
decoder gets it. It tells the server its browser "cannot encrypt" (``e2ee.key`` with ``null``), so
under ``required`` no facilitator grants it a key: what it records is exactly what the server and
anyone on the path between server and browsers can get. With ``says_cannot_encrypt=False`` it says
nothing of e2ee at all (no ``auth.e2ee``, no ``e2ee.key``), as an outside client that knows nothing of
it: the server counts it as one that cannot encrypt.

It runs in its own thread with its own event loop: the browser tests drive Playwright synchronously.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from concurrent.futures import Future
from typing import Any

import socketio
from aiortc import RTCPeerConnection, RTCSessionDescription

from tests.media.clients import client_config, ice_ufrag, mid_to_stream


class MediaSpy:
    def __init__(self, base_url: str, token: str, *, says_cannot_encrypt: bool = True) -> None:
        self.base_url, self.token = base_url, token
        self.says_cannot_encrypt = says_cannot_encrypt
        self.frames: dict[str, list[bytes]] = defaultdict(list)  # msid stream id -> encoded video frames
        self.state: dict[str, Any] = {}
        self.id = ""
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._pc: RTCPeerConnection | None = None
        self._ufrag: str | None = None
        self._streams: dict[str, str] = {}
        self._sio = socketio.AsyncClient(reconnection=False)
        self._call(self._connect()).result(timeout=15)

    def _call(self, coro: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _connect(self) -> None:
        welcomed = asyncio.Event()

        @self._sio.on("welcome")
        async def welcome(data: dict[str, Any]) -> None:
            self.id = data["you"]["id"]
            self.state = data["session"]
            welcomed.set()

        @self._sio.on("session.state")
        async def state(data: dict[str, Any]) -> None:
            self.state = data

        @self._sio.on("rtc.offer")
        async def offer(data: dict[str, Any]) -> None:
            await self._answer(data["sdp"], data["revision"])

        await self._sio.connect(self.base_url, auth={"token": self.token}, transports=["websocket"], wait_timeout=5)
        await asyncio.wait_for(welcomed.wait(), 10)
        if self.says_cannot_encrypt:
            reply = await self._sio.call("e2ee.key", {"jwk": None}, timeout=10)
            assert reply["ok"], reply

    async def _answer(self, sdp: str, revision: int) -> None:
        self._streams.update(mid_to_stream(sdp))
        if self._pc is not None and ice_ufrag(sdp) != self._ufrag:
            await self._pc.close()
            self._pc = None
        if self._pc is None:
            self._pc = RTCPeerConnection(client_config())
            self._pc.on("track", self._on_track)
            self._ufrag = ice_ufrag(sdp)
        await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self._pc.setLocalDescription(await self._pc.createAnswer())
        answer = {"sdp": self._pc.localDescription.sdp, "type": "answer", "revision": revision}
        await self._sio.call("rtc.answer", answer, timeout=10)

    def _on_track(self, track: Any) -> None:
        assert self._pc is not None
        if track.kind != "video":
            return
        transceiver = next(t for t in self._pc.getTransceivers() if t.receiver.track is track)
        stream = self._streams.get(transceiver.mid or "", "?")
        buffer = transceiver.receiver._RTCRtpReceiver__jitter_buffer  # test-only: see tests/media/clients.py
        add = buffer.add

        def recording_add(packet: Any) -> Any:
            pli, frame = add(packet)
            if frame is not None:
                with self._lock:
                    self.frames[stream].append(bytes(frame.data))
            return pli, frame

        buffer.add = recording_add
        # aiortc's own decoder gets the frames too (and fails on ciphertext): keep the track drained.
        self._loop.create_task(self._drain(track))

    @staticmethod
    async def _drain(track: Any) -> None:
        try:
            while True:
                await track.recv()
        except Exception:
            return

    def stream_of(self, name: str) -> str:
        """The msid stream id of a participant's video, by name (from the session state)."""
        for p in self.state.get("participants", []):
            if p["name"] == name and p.get("stream_ids"):
                return str(p["stream_ids"][0])
        raise AssertionError(f"no stream for {name}")

    def count(self, stream: str) -> int:
        with self._lock:
            return len(self.frames[stream])

    def since(self, stream: str, start: int) -> list[bytes]:
        with self._lock:
            return list(self.frames[stream][start:])

    def wait_frames(self, stream: str, n: int, start: int = 0, timeout: float = 30.0) -> list[bytes]:
        """At least ``n`` frames recorded from index ``start`` on (polls: frames are not events here)."""
        deadline = time.monotonic() + timeout
        while self.count(stream) - start < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.count(stream) - start} of {n} frames of {stream} within {timeout} s")
            time.sleep(0.05)
        return self.since(stream, start)

    def close(self) -> None:
        """Disconnect (once: a test may close it midway and again on its way out)."""
        if not self._thread.is_alive():
            return

        async def shut() -> None:
            await self._sio.disconnect()
            if self._pc is not None:
                await self._pc.close()

        try:
            self._call(shut()).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
