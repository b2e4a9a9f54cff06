"""The floor under the media figures: what a bare uvloop UDP forwarder costs per packet on this machine.

A sender process sends 1,100-byte datagrams at a fixed rate to a server process that only echoes each
one on to a receiver process (no SRTP, no RTP, nothing else), as Hearth's forwarder does at N = 2. The
server's whole CPU per packet is what any Python forwarder pays here before doing any work of its own:
its wake-up for each packet, the ``sendto`` and, on loopback, the receiver's wake-up, which the kernel
charges to the sender. ``bench/media_bench.py``'s per-packet figures sit on top of this.

    .venv/bin/python bench/udp_floor.py [--rates 220 880 6000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import cast

import psutil
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe

PAYLOAD = 1100


class Echo(asyncio.DatagramProtocol):
    def __init__(self, to: tuple[str, int] | None) -> None:
        self.to = to
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's is not a subclass

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.to is not None and self.transport is not None:
            self.transport.sendto(data, self.to)


async def endpoint(to: tuple[str, int] | None) -> None:
    """Bind, print the port, then echo to ``to`` (the server) or just receive (the receiver)."""
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: Echo(to), local_addr=("127.0.0.1", 0)
    )
    print(transport.get_extra_info("sockname")[1], flush=True)
    await asyncio.sleep(3600)


def send(port: int, rate: float, seconds: float) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        data = os.urandom(PAYLOAD)
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            s.sendto(data, ("127.0.0.1", port))
            n += 1
            time.sleep(max(0.0, start + n / rate - time.perf_counter()))


def spawn(*args: str) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def measure(rate: float, seconds: float) -> str:
    receiver, receiver_port = spawn("--receive")
    server, server_port = spawn("--echo-to", str(receiver_port))
    sender = threading.Thread(target=send, args=(server_port, rate, seconds + 3))
    sender.start()
    try:
        time.sleep(2)
        process = psutil.Process(server.pid)
        cpu0, t0 = process.cpu_times(), time.perf_counter()
        time.sleep(seconds)
        cpu1, t1 = process.cpu_times(), time.perf_counter()
    finally:
        sender.join()
        server.kill()
        receiver.kill()
    # Field by field: psutil reads 10 ms ticks, and when none passed, the sum-then-difference form
    # gave -0.0 ("-0.0000 core", which the bench smoke test once caught) instead of 0.0.
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    kernel = 100 * (cpu1.system - cpu0.system) / max(cpu, 1e-9)
    return (
        f"{rate:>6.0f} packets/s: server {cpu / (t1 - t0):.4f} core, "
        f"{1e6 * cpu / (rate * (t1 - t0)):.1f} us per packet ({kernel:.0f} % in the kernel)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", type=float, nargs="+", default=[220.0, 880.0, 6000.0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--receive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--echo-to", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receive:
        uvloop.run(endpoint(None))
    elif args.echo_to:
        uvloop.run(endpoint(("127.0.0.1", args.echo_to)))
    else:
        print(describe())
        print(f"bare uvloop UDP echo, {PAYLOAD}-byte datagrams, sender and receiver in other processes")
        for rate in args.rates:
            print(measure(rate, args.seconds), flush=True)


if __name__ == "__main__":
    main()
