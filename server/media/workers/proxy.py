"""``MediaWorkers``: the node's ``MediaGateway`` when the media engine runs in worker processes.

Pinning: a session is pinned to one worker the first time it needs media (its first policy), the
worker with the fewest sessions pinned then (the lowest index on a tie), and stays there until the
session's media is closed. Load is counted in sessions, not members or packets: sessions are alike
(one group of up to 12), and a session never moves, so its connections never do.

A worker that dies (a crash, kill -9) is noticed at once (its socket reaches end of stream) and:

- every gateway call in flight to it fails with ``MediaError("internal", ...)``; none hangs (and a
  worker that stops answering fails a call after ``CALL_SECONDS``);
- its members' publishing connections are reported lost (``MediaEvents.connection_lost``, as the
  engine reports a connection that died): signaling marks them not publishing, which tells their
  clients to publish again (``web/media-link.js``); their receiving connections come back by
  themselves, as a fresh offer with a new ICE ufrag once anyone publishes again;
- a new process takes its place (after ``RESTART_BACKOFF`` when it died young), and is given the
  last policy of each of its sessions, then each participant's last view (``media.view``: the tile
  sizes that choose simulcast layers), before any other call, so a republish finds its room as it was
  (a page sends its view only when its tiles change, and nothing changed on the page);
- offer revisions go on growing across the restart: the new engine counts from 1 again, so the
  proxy adds the last revision each participant was sent (and takes it off their answers).

Calls made while a worker is starting wait for it (at most ``READY_SECONDS``). ``take_spoke_seconds``
is answered from what the workers pushed (every ``worker.PUSH_SECONDS``): a crash loses at most that.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import os
import socket
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from server.media.sink import MAX_LATENCY_SAMPLES
from server.media.workers import wire
from signaling.ports import ForwardingPolicy, MediaError, MediaEvents

log = logging.getLogger("hearth.media.workers")

START_SECONDS = 60.0  # the node's start waits this long for its workers (importing aiortc on a busy machine)
READY_SECONDS = 8.0  # a call waits this long for a restarting worker, then fails
# A worker alive but not answering one call for this long is taken for stuck and the call fails. The
# hub abandons a media job sooner (``signaling.live.HubSettings.media_job_timeout``); this bounds other
# callers. Not shorter: on a starved machine a publish into a busy room took over 10 s (media_rooms_bench).
CALL_SECONDS = 60.0
STOP_SECONDS = 1.0  # a stopping worker closes its connections within this, or is killed
RESTART_BACKOFF = 1.0  # seconds before restarting a worker that died within ``YOUNG_SECONDS`` of starting
YOUNG_SECONDS = 5.0

Key = tuple[str, str]  # (session id, participant id)


@dataclass
class Slot:
    """One worker's place: the process of the moment, and what the node knows of its sessions."""

    index: int
    process: asyncio.subprocess.Process | None = None
    writer: asyncio.StreamWriter | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    pending: dict[int, asyncio.Future[wire.Message]] = field(default_factory=dict)
    sessions: set[str] = field(default_factory=set)
    started: float = 0.0
    restarts: int = 0
    totals: tuple[int, int] = (0, 0)  # packets, bytes forwarded by processes of this slot that died
    stats: wire.Stats = field(default_factory=lambda: wire.Stats(0, 0))
    task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.returncode is None else None


class MediaWorkers:
    """``signaling.ports.MediaGateway`` over ``count`` worker processes; ``start()`` before use,
    ``close()`` at the end (the workers exit with it, and with the node however it ends)."""

    def __init__(
        self,
        events: MediaEvents,
        count: int,
        ice_servers: list[dict[str, Any]] | None = None,
        allow_loopback: bool = False,
        adapt_bandwidth: bool = True,
        log_json: bool = True,
        log_level: str = "info",
    ) -> None:
        if count < 1:
            raise ValueError("MediaWorkers needs at least one worker")
        self._events = events
        self._ice_servers = list(ice_servers or [])
        self._config = {
            "ice_servers": self._ice_servers,
            "allow_loopback": allow_loopback,
            "adapt_bandwidth": adapt_bandwidth,
            "log_json": log_json,
            "log_level": log_level,
        }
        self._slots = [Slot(i) for i in range(count)]
        self._pins: dict[str, Slot] = {}
        self._policies: dict[str, ForwardingPolicy] = {}
        self._publishers: dict[str, set[str]] = defaultdict(set)  # who published on the current worker
        self._views: dict[Key, dict[str, str]] = {}  # each participant's last ``media.view`` sizes
        self._sent: dict[Key, int] = {}  # the last offer revision each participant was sent
        self._offsets: dict[Key, int] = {}  # added to the current worker's revisions
        self._spoke: dict[str, dict[str, float]] = {}
        self._ids = itertools.count(1)
        self._closing = False
        self._background: set[asyncio.Task[None]] = set()

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every worker and wait until each is ready."""
        for slot in self._slots:
            slot.task = asyncio.create_task(self._keep(slot))
        async with asyncio.timeout(START_SECONDS):
            await asyncio.gather(*(slot.ready.wait() for slot in self._slots))

    async def close(self) -> None:
        """Close each worker's socket (it closes its connections and exits); kill any still running
        after ``STOP_SECONDS``, or at once if this close is itself cut short."""
        self._closing = True
        for slot in self._slots:
            if slot.writer is not None:
                slot.writer.close()
        running = [slot.process for slot in self._slots if slot.process is not None]
        try:
            async with asyncio.timeout(STOP_SECONDS):
                await asyncio.gather(*(process.wait() for process in running))
        except TimeoutError:
            pass
        finally:
            for process in running:
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            for slot in self._slots:
                if slot.task is not None:
                    slot.task.cancel()

    def pids(self) -> list[int]:
        """The live workers' process ids, by slot (for tests and benches)."""
        return [pid for slot in self._slots if (pid := slot.pid) is not None]

    def worker_of(self, session_id: str) -> int | None:
        """The process id of the worker a session is pinned to, if any."""
        slot = self._pins.get(session_id)
        return slot.pid if slot is not None else None

    # --- the gateway --------------------------------------------------------------------------------

    def ice_servers(self) -> list[dict[str, Any]]:
        return list(self._ice_servers)

    async def publish(self, session_id: str, participant_id: str, sdp: str) -> str:
        slot = self._pins.get(session_id)
        if slot is None:  # no policy yet: the engine would refuse a non-member the same way
            raise MediaError("conflict", "only admitted members may publish or receive media")
        done = await self._call(slot, lambda i: wire.Publish(i, session_id, participant_id, sdp))
        self._publishers[session_id].add(participant_id)
        return done.sdp

    async def answer(self, session_id: str, participant_id: str, sdp: str, revision: int) -> None:
        slot = self._pins.get(session_id)
        if slot is None:
            raise MediaError("not_found", "no receiving connection for this participant")
        offset = self._offsets.get((session_id, participant_id), 0)
        if revision <= offset:
            raise MediaError("conflict", f"stale revision {revision}: the media worker restarted since")
        await self._call(slot, lambda i: wire.Answer(i, session_id, participant_id, sdp, revision - offset))

    async def subscribe(self, session_id: str, participant_id: str) -> None:
        slot = self._pins.get(session_id)
        if slot is None:
            raise MediaError("conflict", "only admitted members may publish or receive media")
        await self._call(slot, lambda i: wire.Subscribe(i, session_id, participant_id))

    async def set_policy(self, session_id: str, policy: ForwardingPolicy) -> None:
        """Never raises: the policy is kept, and given to a worker that restarts before anything else."""
        self._policies[session_id] = policy
        publishers = self._publishers.get(session_id)
        if publishers:
            publishers &= policy.members
        slot = self._pin(session_id)
        if slot.ready.is_set():
            await self._quietly(slot, lambda i: wire.SetPolicy.of(i, session_id, policy))

    async def set_view(self, session_id: str, participant_id: str, sizes: dict[str, str]) -> None:
        """Never raises: the view is kept, and given to a worker that restarts after the policies."""
        view = self._views[(session_id, participant_id)] = dict(sizes)
        slot = self._pins.get(session_id)
        if slot is not None and slot.ready.is_set():
            await self._quietly(slot, lambda i: wire.SetView(i, session_id, participant_id, view))

    async def close_participant(self, session_id: str, participant_id: str) -> None:
        self._publishers.get(session_id, set()).discard(participant_id)
        self._views.pop((session_id, participant_id), None)
        slot = self._pins.get(session_id)
        if slot is not None and slot.ready.is_set():
            await self._quietly(slot, lambda i: wire.CloseParticipant(i, session_id, participant_id))

    async def close_session(self, session_id: str) -> None:
        slot = self._pins.pop(session_id, None)
        self._policies.pop(session_id, None)
        self._publishers.pop(session_id, None)
        tables: tuple[dict[Key, Any], ...] = (self._sent, self._offsets, self._views)
        for table in tables:
            for key in [k for k in table if k[0] == session_id]:
                del table[key]
        if slot is None:
            return
        slot.sessions.discard(session_id)
        if slot.ready.is_set():
            await self._quietly(slot, lambda i: wire.CloseSession(i, session_id))

    def take_spoke_seconds(self, session_id: str) -> dict[str, float]:
        return self._spoke.pop(session_id, {})

    def stats(self) -> dict[str, Any]:
        """The engine's ``stats()`` summed over the workers (totals include workers that died; the
        connections are those of the live workers' last report)."""
        latency: list[float] = []
        dropped: dict[str, int] = defaultdict(int)
        packets = bytes_ = connections = 0
        for slot in self._slots:
            packets += slot.totals[0] + slot.stats.packets
            bytes_ += slot.totals[1] + slot.stats.bytes
            connections += slot.stats.connections
            latency += slot.stats.latency
            slot.stats = replace(slot.stats, latency=[])
            for reason, count in slot.stats.dropped.items():
                dropped[reason] += count
        return {
            "packets": packets,
            "bytes": bytes_,
            "latency": latency,
            "dropped": dict(dropped),
            "connections": connections,
        }

    # --- calls --------------------------------------------------------------------------------------

    def _pin(self, session_id: str) -> Slot:
        slot = self._pins.get(session_id)
        if slot is None:
            slot = min(self._slots, key=lambda s: (len(s.sessions), s.index))
            self._pins[session_id] = slot
            slot.sessions.add(session_id)
        return slot

    async def _call(self, slot: Slot, make: Any) -> wire.Done:
        """Send one request and wait for its answer; a dead, starting-too-long or stuck worker is a
        ``MediaError("internal")`` for this call, never a hang."""
        if not slot.ready.is_set():
            try:
                async with asyncio.timeout(READY_SECONDS):
                    await slot.ready.wait()
            except TimeoutError:
                raise MediaError("internal", "the media worker is not running; try again") from None
        request_id = next(self._ids)
        future: asyncio.Future[wire.Message] = asyncio.get_running_loop().create_future()
        slot.pending[request_id] = future
        try:
            assert slot.writer is not None
            slot.writer.write(wire.encode(make(request_id)))
            async with asyncio.timeout(CALL_SECONDS):
                reply = await future
        except TimeoutError:
            raise MediaError("internal", "the media worker did not answer in time") from None
        finally:
            slot.pending.pop(request_id, None)
        if isinstance(reply, wire.Refused):
            raise MediaError(reply.code, reply.message)
        assert isinstance(reply, wire.Done)
        return reply

    async def _quietly(self, slot: Slot, make: Any) -> None:
        """A call whose failure is nobody's to handle (a policy, a close): logged, not raised."""
        try:
            await self._call(slot, make)
        except MediaError as err:
            log.warning("media worker call failed: %s", err.message, extra={"worker": slot.index})

    # --- the workers --------------------------------------------------------------------------------

    async def _keep(self, slot: Slot) -> None:
        """Run the slot's worker, and start a new one each time it dies, until ``close()``."""
        while not self._closing:
            young = time.monotonic() - slot.started < YOUNG_SECONDS
            if slot.restarts and young:
                await asyncio.sleep(RESTART_BACKOFF)
            try:
                await self._run(slot)
            except Exception:
                log.exception("media worker failed to start", extra={"worker": slot.index})
            if self._closing:
                return
            self._lost_worker(slot)
            slot.restarts += 1

    async def _run(self, slot: Slot) -> None:
        """Start one worker process and read what it sends until its socket ends."""
        slot.started = time.monotonic()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            slot.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "server.media.workers.worker",
                "--fd",
                str(theirs.fileno()),
                "--parent",
                str(os.getpid()),
                "--config",
                json.dumps(self._config),
                pass_fds=[theirs.fileno()],
            )
        finally:
            theirs.close()
        reader, slot.writer = await asyncio.open_unix_connection(sock=ours)
        try:
            while True:
                message = await wire.read(reader)
                await self._received(slot, message)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except wire.WireError:
            log.exception("media worker sent an undecodable message: restarting it", extra={"worker": slot.index})
        finally:
            slot.ready.clear()
            slot.writer.close()
            if slot.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    slot.process.kill()
            await slot.process.wait()

    async def _received(self, slot: Slot, message: wire.Message) -> None:
        match message:
            case wire.Done(id=i) | wire.Refused(id=i):
                future = slot.pending.get(i)
                if future is not None and not future.done():
                    future.set_result(message)
            case wire.Offer(session=s, participant=p, sdp=sdp, revision=revision):
                visible = revision + self._offsets.get((s, p), 0)
                self._sent[(s, p)] = visible
                await self._tell(self._events.send_offer(s, p, sdp, visible))
            case wire.Speaking(session=s, levels=levels, active=active):
                await self._tell(self._events.speaking(s, levels, active))
            case wire.Lost(session=s, participant=p, leg=leg):
                if leg == "publish":
                    self._publishers.get(s, set()).discard(p)
                await self._tell(self._events.connection_lost(s, p, leg))
            case wire.Paused(session=s, participant=p, paused=paused, audio_only=audio_only):
                await self._tell(self._events.video_paused(s, p, paused, audio_only))
            case wire.Layers(session=s, participant=p, rids=rids):
                await self._tell(self._events.video_layers(s, p, rids))
            case wire.Spoke(session=s, seconds=seconds):
                if s in self._pins:
                    spoke = self._spoke.setdefault(s, {})
                    for pid, more in seconds.items():
                        spoke[pid] = spoke.get(pid, 0.0) + more
            case wire.Stats():
                latency = slot.stats.latency + message.latency  # samples not yet taken by ``stats()``
                slot.stats = replace(message, latency=latency[-MAX_LATENCY_SAMPLES:])
            case wire.Ready():
                self._restore(slot)
                slot.ready.set()
                log.info("media worker ready", extra={"worker": slot.index, "pid": message.pid})
            case _:
                log.warning("unexpected message from a media worker: %s", type(message).__name__)

    async def _tell(self, event: Any) -> None:
        try:
            await event
        except Exception:
            log.exception("media event failed")

    def _restore(self, slot: Slot) -> None:
        """Before a restarted worker takes any call: the last policy of each of its sessions (which
        makes the session's room), then each of its participants' last view, written in order ahead of
        anything else (their answers are not waited for)."""
        restore: list[Any] = []
        for session_id in sorted(slot.sessions):
            policy = self._policies.get(session_id)
            if policy is not None:
                restore.append(functools.partial(wire.SetPolicy.of, session=session_id, policy=policy))
        for (session_id, participant_id), sizes in sorted(self._views.items()):
            if session_id in slot.sessions and session_id in self._policies:
                restore.append(
                    functools.partial(wire.SetView, session=session_id, participant=participant_id, sizes=sizes)
                )
        for make in restore:
            request_id = next(self._ids)
            future: asyncio.Future[wire.Message] = asyncio.get_running_loop().create_future()
            slot.pending[request_id] = future
            future.add_done_callback(functools.partial(_forget, slot, request_id))
            assert slot.writer is not None
            slot.writer.write(wire.encode(make(request_id)))

    def _lost_worker(self, slot: Slot) -> None:
        """The worker is gone: fail its calls, carry revisions over, and report its members'
        publishing connections lost (they publish again; their receiving side follows)."""
        code = slot.process.returncode if slot.process is not None else None
        log.warning(
            "media worker died (exit %s): restarting it; %d sessions lose media until members publish again",
            code,
            len(slot.sessions),
            extra={"worker": slot.index},
        )
        for future in slot.pending.values():
            if not future.done():
                future.set_exception(MediaError("internal", "the media worker stopped; try again"))
        slot.pending.clear()
        packets, bytes_ = slot.totals
        slot.totals = (packets + slot.stats.packets, bytes_ + slot.stats.bytes)
        slot.stats = wire.Stats(0, 0)
        for key, revision in self._sent.items():
            if key[0] in slot.sessions:
                self._offsets[key] = revision
        for session_id in sorted(slot.sessions):
            for participant_id in sorted(self._publishers.pop(session_id, set())):
                lost = self._events.connection_lost(session_id, participant_id, "publish")
                task = asyncio.create_task(self._tell(lost))
                self._background.add(task)
                task.add_done_callback(self._background.discard)


def _forget(slot: Slot, request_id: int, future: asyncio.Future[wire.Message]) -> None:
    """A restore call is answered (or failed with its worker): nobody waits for it."""
    slot.pending.pop(request_id, None)
    if not future.cancelled():
        future.exception()
