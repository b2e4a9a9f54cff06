"""The app factory: wires settings, store, tokens, media, hub and the Socket.IO namespace together.

Resources open and close in ``cleanup_ctx`` so a test can start and stop a whole server in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import socketio
from aiohttp import web

from server import heap
from server.api import add_api_routes, api_errors, error_response, require_operator
from server.auth import Tokens
from server.config import Settings
from server.keys import HUB, MEDIA, METRICS, SETTINGS, SIO, STORE, TOKENS
from server.logs import request_id
from server.media_events import SioMediaEvents
from server.memory_store import MemoryStore
from server.metrics import Metrics
from server.timed_store import TimedStore
from signaling import protocol as wire
from signaling.hub import Hub
from signaling.limits import RateLimiter
from signaling.live import HubSettings
from signaling.namespace import HearthNamespace
from signaling.ports import MediaGateway, NodeInfo, NullMedia
from signaling.sockets import FanOut, HearthServer, JsonPacket, SioBus
from signaling.store import SessionStore

log = logging.getLogger("hearth.server")


def make_store(settings: Settings) -> SessionStore:
    if settings.redis_url:
        from server.redis_store import RedisStore

        return RedisStore.from_url(
            settings.redis_url, state_ttl=settings.state_ttl, prefix=settings.redis_prefix, tls=settings.redis_tls
        )
    return MemoryStore(time.time, state_ttl=settings.state_ttl)


def default_origins(settings: Settings) -> list[str]:
    """The node's own public URL, and its loopback names when it serves on this machine only."""
    origins = [settings.public_url]
    if settings.host in ("127.0.0.1", "localhost", "::1"):
        for scheme in ("http", "https"):
            origins += [f"{scheme}://localhost:{settings.port}", f"{scheme}://127.0.0.1:{settings.port}"]
    return origins


def make_sio(settings: Settings) -> socketio.AsyncServer:
    # Emits stay on this node, with no message bus: a session's sockets all live on the node that
    # holds it (a client that reaches another node is told where to go), and what a session says
    # (notes, help, safety plans) never leaves the node that holds it.
    manager = FanOut()
    # A node always answers its own pages; --allowed-origin adds the other origins pages come from
    # (a balancer's, other nodes') when a page loaded elsewhere connects here after a move.
    origins: Any = list(dict.fromkeys([*default_origins(settings), *settings.allowed_origins]))
    return HearthServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=origins,
        max_http_buffer_size=wire.MAX_TRANSPORT_BYTES,
        logger=False,
        engineio_logger=False,
        auth_timeout=settings.auth_timeout,
        unauthenticated_per_address=settings.max_unauthenticated_per_address,
        handshakes_per_second=settings.handshakes_per_second,
        ping_interval=settings.ping_interval,
        ping_timeout=settings.ping_timeout,
        serializer=JsonPacket,
    )


def make_media(settings: Settings, events: SioMediaEvents) -> MediaGateway:
    if not settings.media:
        return NullMedia()
    if settings.media_workers:
        from server.media.workers.proxy import MediaWorkers

        return MediaWorkers(
            events,
            settings.media_workers,
            ice_servers=settings.ice_servers,
            allow_loopback=settings.allow_loopback,
            adapt_bandwidth=settings.adapt_bandwidth,
            log_json=settings.log_json,
            log_level=settings.log_level,
        )
    from server.media.engine import MediaEngine

    engine: MediaGateway = MediaEngine(
        events,
        ice_servers=settings.ice_servers,
        allow_loopback=settings.allow_loopback,
        adapt_bandwidth=settings.adapt_bandwidth,
    )
    return engine


@web.middleware
async def request_ids(request: web.Request, handler: Any) -> web.StreamResponse:
    """Each request gets an id in the logs and the response, never the body or names."""
    rid = request.headers.get("X-Request-Id", "")[:64] or secrets.token_hex(8)
    token = request_id.set(rid)
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:  # 404/405 from the router are raised, not returned
        exc.headers["X-Request-Id"] = rid
        raise
    finally:
        request_id.reset(token)
    response.headers["X-Request-Id"] = rid
    return response


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[request_ids, api_errors], client_max_size=wire.MAX_TRANSPORT_BYTES)
    sio = make_sio(settings)
    metrics = Metrics()
    store: SessionStore = TimedStore(make_store(settings), metrics.store_latency)
    media_events = SioMediaEvents(SioBus(sio))
    media = make_media(settings, media_events)
    hub = Hub(
        SioBus(sio),
        store,
        media,
        time.time,
        NodeInfo(settings.node_id, settings.public_url),
        HubSettings(
            lease_ttl=settings.lease_ttl,
            ended_ttl=settings.ended_ttl,
            max_sessions=settings.max_sessions,
            stop_timeout=settings.stop_timeout,
        ),
    )
    media_events.places = hub.places  # speaking levels reach only the speaker's place
    media_events.on_connection_lost = hub.media_lost  # a lost publisher no longer publishes
    tokens = Tokens(settings.secret, settings.token_ttl)
    namespace = HearthNamespace(
        hub,
        tokens,
        settings.ice_servers,
        RateLimiter(settings.event_rate, settings.event_burst),
        on_error=lambda event, code: metrics.errors.labels(event, code).inc(),
        on_event=lambda event: metrics.events.labels(event).inc(),
    )
    sio.register_namespace(namespace)
    sio.attach(app)
    app[SIO] = sio
    app[SETTINGS], app[STORE], app[TOKENS], app[HUB], app[MEDIA], app[METRICS] = (
        settings,
        store,
        tokens,
        hub,
        media,
        metrics,
    )
    add_api_routes(app)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_endpoint)
    if settings.debug_endpoints:
        app.router.add_post("/debug/stall", debug_stall)
    _add_web(app, settings.allowed_origins)
    app.cleanup_ctx.append(_background)
    app.on_shutdown.append(_tell_clients)
    return app


def _add_web(app: web.Application, other_nodes: list[str]) -> None:
    """The browser client; its pages may connect to the other origins an operator allowed, so a
    member whose session moves to another node follows it without reloading the page."""
    try:
        from server.web_routes import add_web_routes
    except ImportError:  # the web client is optional for a signaling-only deployment
        return
    from server.webclient import locate

    add_web_routes(app, locate(), connect_sources=other_nodes)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.Response:
    """Ready only when the store answers: a load balancer then stops sending new sessions here."""
    try:
        await asyncio.wait_for(request.app[STORE].ping(), timeout=2.0)
    except Exception:
        return error_response("internal", "store unreachable")
    settings = request.app[SETTINGS]
    return web.json_response({"ok": True, "node": settings.node_id, "forwarding": forwarding_path(settings)})


def forwarding_path(settings: Settings) -> str:
    """Which packet path forwards media here: "compiled" (server/media/_fastpath.c was built and is on),
    "python" (not built on this machine, or HEARTH_COMPILED_FORWARDING=0), or "off" (--no-media)."""
    if not settings.media:
        return "off"
    from server.media.sink import COMPILED

    return "compiled" if COMPILED else "python"


async def debug_stall(request: web.Request) -> web.Response:
    """Test-only (``--debug-endpoints``): block this node's event loop for ``seconds`` (at most 5), as
    a GC pause or a slow handler would; answers with the ``time.monotonic()`` readings around the block
    (one clock for every process of the machine), so a test can look at what happened meanwhile."""
    require_operator(request)
    seconds = min(5.0, max(0.0, float((await request.json()).get("seconds", 0.5))))
    started = time.monotonic()
    time.sleep(seconds)  # blocking the loop is the point
    return web.json_response({"started": started, "ended": time.monotonic()})


async def metrics_endpoint(request: web.Request) -> web.Response:
    require_operator(request)
    hub, metrics = request.app[HUB], request.app[METRICS]
    metrics.sessions.set(len(hub.live))
    metrics.participants.set(len(hub.sockets))
    metrics.transport_sockets.set(len(request.app[SIO].eio.sockets))
    metrics.tasks.set(len(asyncio.all_tasks()))
    stats = getattr(request.app[MEDIA], "stats", None)
    if callable(stats):
        figures = stats()
        metrics.peer_connections.set(figures.get("connections", 0))
        metrics.forwarded_packets.set(figures.get("packets", 0))
        metrics.forwarded_bytes.set(figures.get("bytes", 0))
        for reason, count in figures.get("dropped", {}).items():
            metrics.dropped_packets.labels(reason).set(count)
        for seconds in figures.get("latency", []):
            metrics.forward_latency.observe(seconds)
    return web.Response(body=metrics.render(), content_type="text/plain")


async def _tell_clients(app: web.Application) -> None:
    """While sockets are still open (on_shutdown runs before aiohttp closes connections), tell every
    client to reconnect (to another node, when there is one) and hand the sessions back to the store."""
    await app[HUB].shutdown()


async def _background(app: web.Application) -> AsyncIterator[None]:
    hub, settings = app[HUB], app[SETTINGS]
    start = getattr(app[MEDIA], "start", None)
    if start is not None:  # media workers: running before the first session needs one
        await start()
    tasks = [
        asyncio.create_task(_every(settings.tick_seconds, hub.tick_all)),
        asyncio.create_task(_every(settings.lease_ttl / 3, hub.renew_leases)),
        asyncio.create_task(_every(heap.RECLAIM_SECONDS, heap.reclaim)),
    ]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    close = getattr(app[MEDIA], "close", None)
    for closing in (close() if close is not None else None, app[STORE].close()):
        if closing is not None:
            try:
                async with asyncio.timeout(1.0):  # the process stops within 10 s, whatever hangs
                    await closing
            except Exception:
                log.warning("resource did not close in time")


async def _every(seconds: float, job: Any) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:
            log.exception("background job failed")
