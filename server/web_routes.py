"""Serve the browser client: the page, its modules, and the vendored Socket.IO client.

Everything the page needs comes from Hearth itself, so a member's browser makes no third-party
request; the headers below make the browser enforce that.
"""

from __future__ import annotations

import logging
import pathlib
import re
from collections.abc import Sequence

from aiohttp import web

from server.webclient import VENDOR_FILES, WebClient, is_served

log = logging.getLogger(__name__)

# The modules have no content hash in their names (no build step), so the browser revalidates every
# load; aiohttp's FileResponse answers If-None-Match / If-Modified-Since with a cheap 304.
CACHE_CONTROL = "no-cache"


def content_security_policy(connect_sources: Sequence[str] = ()) -> str:
    """The page may load and connect only to its own origin (plus other Hearth nodes, if given).

    Another node is listed with its WebSocket scheme too: CSP lets an ``http(s)`` source cover
    ``https`` only, not ``ws(s)``, and Socket.IO connects over WebSocket first.
    """
    sockets = [re.sub(r"^http", "ws", source) for source in connect_sources if source.startswith("http")]
    connect = " ".join(dict.fromkeys(("'self'", *connect_sources, *sockets)))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob: mediastream:",
            f"connect-src {connect}",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        )
    )


def security_headers(connect_sources: Sequence[str] = ()) -> dict[str, str]:
    """Headers every client response carries: no referrer (join links hold a token), no framing."""
    return {
        "Content-Security-Policy": content_security_policy(connect_sources),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": "camera=(self), microphone=(self), geolocation=(), display-capture=()",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cache-Control": CACHE_CONTROL,
    }


def _static_path(web_dir: pathlib.Path, relative: str) -> pathlib.Path | None:
    """Resolve a request path inside the client's directory, refusing traversal and what is not served."""
    wanted = pathlib.PurePosixPath(relative)
    if not is_served(wanted):
        return None
    root = web_dir.resolve()
    path = (root / pathlib.Path(*wanted.parts)).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def add_web_routes(app: web.Application, client: WebClient, *, connect_sources: Sequence[str] = ()) -> None:
    """Add `GET /`, `GET /s/{id}`, `/web/...` and `/web/vendor/...` to `app`, served from `client`
    (the checkout's web/ or the copy inside an installed wheel, see ``server.webclient.locate``).

    `connect_sources` lists other nodes' origins the page may connect to after a `moved` refusal.
    """
    headers = security_headers(connect_sources)
    web_dir, vendor_dir = client.root, client.vendor
    index = web_dir / "index.html"
    if not (vendor_dir / VENDOR_FILES[0]).is_file():
        log.warning("web client: %s missing; run `npm ci` in %s", vendor_dir / VENDOR_FILES[0], web_dir)

    async def page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(index, headers=headers)

    async def static(request: web.Request) -> web.StreamResponse:
        path = _static_path(web_dir, request.match_info["path"])
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers=headers)

    async def vendor(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = vendor_dir / name
        if name not in VENDOR_FILES or not path.is_file():
            raise web.HTTPNotFound(text="socket.io-client is not installed: run `npm ci` in web/")
        return web.FileResponse(path, headers=headers)

    app.router.add_get("/", page)
    app.router.add_get("/s/{id}", page)
    app.router.add_get("/web/vendor/{name}", vendor)
    app.router.add_get("/web/{path:.+}", static)
