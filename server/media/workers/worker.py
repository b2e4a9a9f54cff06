"""One media worker process: a ``MediaEngine`` driven by the node over a unix socket (``wire``).

Started by ``proxy.MediaWorkers`` as ``python -m server.media.workers.worker --fd N --parent PID
--config JSON``: ``N`` is this end of a socket pair the node made, ``--config`` the engine's settings
(ICE servers, loopback, log format). It dies with the node, whichever way the node goes:

- the node closes the socket (a clean stop) or dies (the kernel closes it): the read loop ends, the
  engine closes its connections (at most ``CLOSE_SECONDS``) and the process exits;
- the node is killed while this process is too busy to read: ``PR_SET_PDEATHSIG`` has the kernel
  send this process SIGKILL when its parent goes (checked once after it is set, in case the parent
  went first).

SIGINT is ignored: a Ctrl-C reaches the whole process group, and the node, which also gets it, stops
its workers in order. Logs carry ids only, like the engine's, and go to the node's stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import sys
from typing import Any

from server import heap, logs
from server.heap import quiet_gc
from server.media.workers import wire
from signaling.ports import MediaError

log = logging.getLogger("hearth.media.worker")

PUSH_SECONDS = 0.5  # spoken seconds and forwarding totals go to the node this often (a crash loses at most this)
CLOSE_SECONDS = 1.0  # the engine's close when the node has gone
PR_SET_PDEATHSIG = 1


class WireEvents:
    """``signaling.ports.MediaEvents`` as messages to the node. Writes never wait: the node reads
    continuously, and the messages are small and few (offers, 5 Hz levels, two pushes a second)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    def send(self, message: wire.Message) -> None:
        if not self.writer.is_closing():
            self.writer.write(wire.encode(message))

    async def send_offer(self, session_id: str, participant_id: str, sdp: str, revision: int) -> None:
        self.send(wire.Offer(session_id, participant_id, sdp, revision))

    async def speaking(self, session_id: str, levels: dict[str, float], active: str | None) -> None:
        self.send(wire.Speaking(session_id, levels, active))

    async def connection_lost(self, session_id: str, participant_id: str, leg: str) -> None:
        self.send(wire.Lost(session_id, participant_id, leg))

    async def video_layers(self, session_id: str, participant_id: str, rids: list[str]) -> None:
        self.send(wire.Layers(session_id, participant_id, list(rids)))

    async def video_paused(self, session_id: str, participant_id: str, paused: list[str], audio_only: bool) -> None:
        self.send(wire.Paused(session_id, participant_id, list(paused), audio_only))


async def handle(engine: Any, request: wire.Request, out: WireEvents) -> None:
    """Run one gateway call and answer it: ``Done`` or, for a ``MediaError``, ``Refused``."""
    sdp = ""
    try:
        match request:
            case wire.Publish(session=s, participant=p, sdp=offer):
                sdp = await engine.publish(s, p, offer)
            case wire.Answer(session=s, participant=p, sdp=answer, revision=revision):
                await engine.answer(s, p, answer, revision)
            case wire.Subscribe(session=s, participant=p):
                await engine.subscribe(s, p)
            case wire.SetPolicy(session=s):
                await engine.set_policy(s, request.policy())
            case wire.SetView(session=s, participant=p, sizes=sizes):
                await engine.set_view(s, p, sizes)
            case wire.CloseParticipant(session=s, participant=p):
                await engine.close_participant(s, p)
            case wire.CloseSession(session=s):
                await engine.close_session(s)
    except MediaError as err:
        out.send(wire.Refused(request.id, err.code, err.message))
        return
    except Exception as exc:
        log.exception("media call failed")
        out.send(wire.Refused(request.id, "internal", f"media call failed: {type(exc).__name__}"))
        return
    out.send(wire.Done(request.id, sdp))


async def push(engine: Any, out: WireEvents) -> None:
    """Spoken seconds of each session and the forwarding totals, every ``PUSH_SECONDS``."""
    while True:
        await asyncio.sleep(PUSH_SECONDS)
        for session_id in engine.sessions():
            seconds = engine.take_spoke_seconds(session_id)
            if seconds:
                out.send(wire.Spoke(session_id, seconds))
        figures = engine.stats()
        out.send(
            wire.Stats(
                figures["packets"], figures["bytes"], figures["latency"], figures["dropped"], figures["connections"]
            )
        )


async def serve(sock: socket.socket, config: dict[str, Any]) -> None:
    from server.media.engine import MediaEngine  # after logging is set up: aiortc logs at import

    reader, writer = await asyncio.open_unix_connection(sock=sock)
    out = WireEvents(writer)
    engine = MediaEngine(
        out,
        ice_servers=config["ice_servers"],
        allow_loopback=config["allow_loopback"],
        adapt_bandwidth=config["adapt_bandwidth"],
    )
    out.send(wire.Ready(os.getpid()))
    tasks: set[asyncio.Task[None]] = set()
    pusher = asyncio.create_task(push(engine, out))
    reclaimer = asyncio.create_task(reclaim_now_and_then())
    try:
        while True:
            request = await wire.read(reader)
            if not isinstance(request, wire.REQUESTS):
                log.warning("unexpected message from the node: %s", type(request).__name__)
                continue
            task = asyncio.create_task(handle(engine, request, out))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the node closed its end, or is gone
    finally:
        pusher.cancel()
        reclaimer.cancel()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_SECONDS):
                await engine.close()
        writer.close()


async def reclaim_now_and_then() -> None:
    """As the node does (``server.heap``): closed connections are cyclic garbage holding C memory."""
    while True:
        await asyncio.sleep(heap.RECLAIM_SECONDS)
        await heap.reclaim()


def die_with(parent: int) -> None:
    """Have the kernel kill this process when the node goes (Linux), and exit if it already has."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hearth-media-worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    die_with(args.parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    config = json.loads(args.config)
    logs.setup(config["log_json"], config["log_level"])
    sock = socket.socket(fileno=args.fd)
    quiet_gc()  # as the node does: GC pauses are pauses of every packet this worker forwards
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(sock, config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
