"""The lab's link emulator: a process that joins network namespaces through TUN devices and forwards
IP packets between them, each through the sender's uplink and the receiver's downlink.

This kernel has no netem qdisc, so loss, delay, jitter, reordering, rate caps and outages are applied
here in user space (rules in ``tests/net/links.py``). Every namespace gets one TUN device; the
emulator reads what the namespace sends, routes it by destination address to the namespace that owns
that address, and writes it there when both links let it through. Nothing is routed anywhere else:
a packet to an address outside the lab is dropped.

Run by ``tests/net/lab.py`` as ``python -m tests.net.emulator --device D --namespace NAME=ADDR ...``
with a control socket (JSON lines; see ``Control``) so a test changes conditions or cuts a link at
the moment it chooses. It prints one ``ready`` line when its devices exist and exits when its stdin
closes (the lab ended, or the test process died): the devices vanish with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import json
import os
import random
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tests.net.links import Conditions, Datagram, Fate, Link, Path, RtpTally
from tests.net.netns import open_tun

BIN_SECONDS = 0.05  # resolution of the delivery timeline a test reads back
KEPT_BINS = int(180 / BIN_SECONDS)  # three minutes of it
MAX_BATCH = 256  # packets read from one device before the loop serves the others
PRIORITY = -15  # nice value (root only)
EARLY = 0.0005  # seconds before its time a due packet may go out with those due now (one timer, not one per packet)


@dataclass
class Timeline:
    """Packets and bytes that came out of a link, per BIN_SECONDS, on the monotonic clock."""

    bins: deque[tuple[int, int, int]] = field(default_factory=lambda: deque(maxlen=KEPT_BINS))

    def add(self, t: float, size: int) -> None:
        index = int(t / BIN_SECONDS)
        if self.bins and self.bins[-1][0] == index:
            _, packets, octets = self.bins[-1]
            self.bins[-1] = (index, packets + 1, octets + size)
        else:
            self.bins.append((index, 1, size))

    def between(self, start: float, end: float) -> list[tuple[float, int, int]]:
        return [(i * BIN_SECONDS, p, b) for i, p, b in self.bins if start <= i * BIN_SECONDS < end]


@dataclass
class Member:
    """A namespace on the emulator: its device, its addresses and its path."""

    name: str
    fd: int
    addresses: tuple[str, ...]
    path: Path
    out_up: Timeline = field(default_factory=Timeline)
    out_down: Timeline = field(default_factory=Timeline)
    sent_rtp: RtpTally = field(default_factory=RtpTally)


class Emulator:
    """Forwards between members; all times are ``loop.time()`` (monotonic), reported as wall-clock."""

    def __init__(self, members: list[Member], seed: int | None) -> None:
        self.loop = asyncio.get_running_loop()
        self.members = {m.name: m for m in members}
        self.owner = {address: m for m in members for address in m.addresses}
        rng = random.Random(seed)
        for m in members:  # one generator per link, so one link's traffic never shifts another's draws
            m.path.up.rng = random.Random(rng.random())
            m.path.down.rng = random.Random(rng.random())
        self.queue: list[tuple[float, int, int, bytes, Member, Member]] = []
        self.order = 0
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = float("inf")
        self.unroutable = 0
        for m in members:
            self.loop.add_reader(m.fd, self._read, m)

    def wall(self, t: float) -> float:
        return t + (time.time() - self.loop.time())

    def mono(self, wall: float) -> float:
        return wall - (time.time() - self.loop.time())

    def _read(self, sender: Member) -> None:
        now = self.loop.time()
        for _ in range(MAX_BATCH):
            try:
                packet = os.read(sender.fd, 65536)
            except BlockingIOError:
                break
            self._route(sender, packet, now)
        self._arm()

    def _route(self, sender: Member, packet: bytes, now: float) -> None:
        datagram = Datagram.parse(packet)
        receiver = self.owner.get(datagram.destination) if datagram else None
        if datagram is None or receiver is None or receiver is sender:
            self.unroutable += 1
            return
        up, down = sender.path.up, receiver.path.down
        if datagram.rtp is not None:
            sender.sent_rtp.observe(datagram.rtp)
        if datagram.udp is not None:
            if up.filters((datagram.destination, datagram.udp[1])):
                return up.refuse()
            if down.filters((datagram.source, datagram.udp[0])):
                return down.refuse()
        out = up.admit(len(packet), now)
        if out is not None:
            self._push(out, 1, packet, sender, receiver)

    def _push(self, t: float, stage: int, packet: bytes, sender: Member, receiver: Member) -> None:
        self.order += 1
        heapq.heappush(self.queue, (t, self.order, stage, packet, sender, receiver))

    def _arm(self) -> None:
        if not self.queue:
            return
        first = self.queue[0][0]
        if first < self.timer_at:
            if self.timer is not None:
                self.timer.cancel()
            self.timer_at = first
            self.timer = self.loop.call_at(first, self._due)

    def _due(self) -> None:
        self.timer, self.timer_at = None, float("inf")
        now = self.loop.time()
        while self.queue and self.queue[0][0] <= now + EARLY:
            t, _, stage, packet, sender, receiver = heapq.heappop(self.queue)
            if stage == 1:  # out of the sender's uplink, into the receiver's downlink
                if sender.path.up.in_outage(t):  # cut after it was scheduled
                    sender.path.up.counts[Fate.OUTAGE] += 1
                    continue
                sender.out_up.add(t, len(packet))
                out = receiver.path.down.admit(len(packet), t)
                if out is not None:
                    self._push(out, 2, packet, sender, receiver)
            elif receiver.path.down.in_outage(t):
                receiver.path.down.counts[Fate.OUTAGE] += 1
            else:
                receiver.out_down.add(t, len(packet))
                with contextlib.suppress(OSError):
                    os.write(receiver.fd, packet)
        self._arm()


class Control:
    """The control socket: one JSON object a line in, one a line out.

    - ``{"op": "set", "member": M, "up": {...}, "down": {...}}`` sets conditions (either or both);
    - ``{"op": "cut", "members": [M, ...], "seconds": S, "up": true, "down": true}`` starts an outage
      now on those members' links and answers its wall-clock ``start`` and ``end``;
    - ``{"op": "counts", "member": M}`` answers what happened to packets on each link, and the RTP
      packets M sent (``repeats``: in-band retransmissions);
    - ``{"op": "timeline", "member": M, "link": "down", "since": W, "until": W}`` answers
      ``[[wall, packets, bytes], ...]`` per 50 ms that came out of that link.
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            try:
                answer = {"ok": True, **self.handle(json.loads(line))}
            except Exception as exc:  # a bad request is answered, never fatal to the lab
                answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        writer.close()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        e = self.emulator
        op = request["op"]
        if op == "cut":  # several members at the same instant
            now, seconds = e.loop.time(), float(request["seconds"])
            for name in request["members"]:
                for side in ("up", "down"):
                    if request.get(side, True):
                        self._link(e.members[name], side).cut(now, seconds)
            start = e.wall(now)
            return {"start": start, "end": start + seconds}
        member = e.members[request["member"]]
        if op == "set":
            for side in ("up", "down"):
                if side in request:
                    self._link(member, side).set(Conditions.from_json(request[side]))
            return {}
        if op == "counts":
            links = {side: self._link(member, side).counts for side in ("up", "down")}
            counts = {side: {fate.value: n for fate, n in c.items()} for side, c in links.items()}
            return {**counts, "rtp": {"packets": member.sent_rtp.packets, "repeats": member.sent_rtp.repeats}}
        if op == "timeline":
            timeline = member.out_up if request["link"] == "up" else member.out_down
            rows = timeline.between(e.mono(request["since"]), e.mono(request["until"]))
            return {"bins": [[e.wall(t), p, b] for t, p, b in rows], "bin_seconds": BIN_SECONDS}
        raise ValueError(f"unknown op {op!r}")

    @staticmethod
    def _link(member: Member, side: str) -> Link:
        return member.path.up if side == "up" else member.path.down


async def run(args: argparse.Namespace) -> None:
    # The emulator is the network: on shared cores a scheduler's pause must not pass for queueing
    # delay or loss. It needs a few percent of a core, so its priority costs the others nothing.
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, PRIORITY)
    members = []
    for spec in args.namespace:
        name, addresses = spec.split("=", 1)
        members.append(Member(name, open_tun(name, args.device), tuple(addresses.split(",")), Path()))
    emulator = Emulator(members, args.seed)
    server = await asyncio.start_unix_server(Control(emulator).serve, path=args.control)
    print(json.dumps({"ready": True, "device": args.device}), flush=True)
    stdin_closed = asyncio.Event()
    emulator.loop.add_reader(sys.stdin.fileno(), lambda: stdin_closed.set() if not os.read(0, 4096) else None)
    await stdin_closed.wait()
    server.close()
    for m in members:
        os.close(m.fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--control", required=True, help="Unix socket path for the control connection")
    parser.add_argument("--device", default="lab0", help="name of the TUN device in every namespace")
    parser.add_argument("--namespace", action="append", required=True, help="NAME=ADDR[,ADDR...]")
    parser.add_argument("--seed", type=int, default=None, help="seed for the links' random draws")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(run(args))
    except ImportError:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
