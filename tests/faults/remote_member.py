"""A participant in a process of its own, so a test can freeze it (SIGSTOP) or kill it (SIGKILL).

Usage: ``python -m tests.faults.remote_member URL TOKEN``. It connects with python-socketio's
automatic reconnection (as a browser would), prints one line per happening (``welcome <id>``,
``connect``, ``disconnect``) and stays until killed.
"""

from __future__ import annotations

import asyncio
import sys

import socketio


async def main(url: str, token: str) -> None:
    sio = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1.0)

    @sio.on("welcome")
    async def welcome(data: dict[str, object]) -> None:
        you = data.get("you")
        print("welcome", you.get("id") if isinstance(you, dict) else "?", flush=True)

    @sio.event
    async def connect() -> None:
        print("connect", flush=True)

    @sio.event
    async def disconnect(*_: object) -> None:
        print("disconnect", flush=True)

    await sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=5)
    await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
