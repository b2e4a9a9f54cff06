"""The direct baseline's web server: serves the peer-to-peer page and passes offers and answers between
its two sides over a WebSocket. It carries no media; the pages connect to each other directly.

Runs in the lab's server namespace (``python -m tests.net.relay --host ADDR --port P``) so the pages
load it across their own links, as they load Hearth. Serves ``/p2p.html``, ``/p2p.js`` and the Hearth
client's ``/web/devices.js`` and ``/web/rtc.js`` (the same capture and connection code as in a room).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from aiohttp import WSMsgType, web

HERE = Path(__file__).resolve().parent
WEB = HERE.parents[1] / "web"
FILES = {"/p2p.html": HERE / "p2p.html", "/p2p.js": HERE / "p2p.js"}
CLIENT_MODULES = ("devices.js", "rtc.js")


def make_app() -> web.Application:
    sockets: dict[str, web.WebSocketResponse] = {}

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(FILES[request.path])

    async def client_module(request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in CLIENT_MODULES:
            raise web.HTTPNotFound()
        return web.FileResponse(WEB / name)

    async def present() -> None:
        for ws in sockets.values():
            await ws.send_str(json.dumps({"kind": "present", "names": sorted(sockets)}))

    async def relay(request: web.Request) -> web.WebSocketResponse:
        name = request.query["name"]
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets[name] = ws
        await present()
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                break
            to = sockets.get(json.loads(message.data).get("to", ""))
            if to is not None:
                await to.send_str(message.data)
        if sockets.get(name) is ws:
            del sockets[name]
        return ws

    app = web.Application()
    for path in FILES:
        app.router.add_get(path, page)
    app.router.add_get("/web/{name}", client_module)
    app.router.add_get("/ws", relay)
    return app


async def serve(host: str, port: int) -> None:
    runner = web.AppRunner(make_app())
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
