"""Open many Engine.IO connections that never authenticate, from several loopback addresses.

Usage: ``python -m tests.faults.flood URL COUNT ADDRESSES SECONDS``. Each connection completes the
Engine.IO handshake over WebSocket (the server's open packet arrives) and then says nothing: no
Socket.IO CONNECT, no token. Connections are spread round-robin over 127.0.0.1, 127.0.0.2, ...
(``ADDRESSES`` of them). Each waits ``SECONDS`` from its own handshake for the server to close it;
then it prints one JSON line: how many were accepted and refused, the most that were open at once
per address, and how long the server let each one live.
It runs in its own process so the flood's own work does not slow the member a test measures.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter

import aiohttp


class Flood:
    def __init__(self, url: str, addresses: int) -> None:
        ws = url.replace("http://", "ws://").rstrip("/")
        self.target = f"{ws}/socket.io/?EIO=4&transport=websocket"
        self.sessions = [
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(f"127.0.0.{i + 1}", 0), limit=0))
            for i in range(addresses)
        ]
        self.accepted = 0
        self.refused = 0
        self.open: Counter[str] = Counter()
        self.most_open: Counter[str] = Counter()
        self.lifetimes: list[float] = []

    async def one(self, index: int, seconds: float) -> None:
        http = self.sessions[index % len(self.sessions)]
        address = f"127.0.0.{index % len(self.sessions) + 1}"
        try:
            ws = await http.ws_connect(self.target, timeout=aiohttp.ClientWSTimeout(ws_close=1.0))
        except (aiohttp.ClientError, OSError):
            self.refused += 1
            return
        opened = time.monotonic()
        until = opened + seconds  # from its own handshake: a thousand take seconds on a busy machine
        self.accepted += 1
        self.open[address] += 1
        self.most_open[address] = max(self.most_open[address], self.open[address])
        try:
            while time.monotonic() < until:
                try:
                    message = await asyncio.wait_for(ws.receive(), timeout=max(0.01, until - time.monotonic()))
                except TimeoutError:
                    break
                if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    self.lifetimes.append(time.monotonic() - opened)
                    break
                if message.type == aiohttp.WSMsgType.TEXT and message.data == "2":
                    await ws.send_str("3")  # answer pings: alive, only never authenticated
        finally:
            self.open[address] -= 1
            await ws.close()

    async def run(self, count: int, seconds: float, per_second: float) -> dict[str, object]:
        tasks = []
        for i in range(count):
            tasks.append(asyncio.ensure_future(self.one(i, seconds)))
            if per_second and i % 10 == 9:
                await asyncio.sleep(10 / per_second)
        await asyncio.gather(*tasks)
        for http in self.sessions:
            await http.close()
        lifetimes = sorted(self.lifetimes)
        return {
            "accepted": self.accepted,
            "refused": self.refused,
            "most_open_per_address": max(self.most_open.values(), default=0),
            "closed_by_server": len(lifetimes),
            "longest_life": lifetimes[-1] if lifetimes else None,
        }


async def main(url: str, count: int, addresses: int, seconds: float, per_second: float) -> None:
    print(json.dumps(await Flood(url, addresses).run(count, seconds, per_second)), flush=True)


if __name__ == "__main__":
    rate = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), rate))
