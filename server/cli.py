"""``hearth serve`` runs a node; ``hearth token`` mints a join token from the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import ssl
import sys
import time

from aiohttp import web

from rooms.model import Session
from server import logs
from server.app import create_app, forwarding_path
from server.auth import Tokens, new_id
from server.config import Settings, add_arguments, environment_settings, from_env_and_args
from server.heap import quiet_gc
from server.keys import STORE

log = logging.getLogger("hearth.cli")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hearth", description="Live online group therapy server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a node")
    add_arguments(serve)
    token = sub.add_parser("token", help="mint a join token")
    token.add_argument("--session", required=True)
    token.add_argument("--participant", default=None)
    token.add_argument("--name", required=True)
    token.add_argument("--role", default="member", choices=["member", "cofacilitator", "facilitator"])
    token.add_argument("--secret", default=None, help="the server's secret (HEARTH_SECRET)")
    token.add_argument("--ttl", type=float, default=12 * 3600.0)
    args = parser.parse_args(argv)
    if args.command == "token":
        return _token(args)
    return _serve(from_env_and_args(args))


def _token(args: argparse.Namespace) -> int:
    secret = args.secret or environment_settings().secret
    if not secret:
        print("hearth token needs --secret or HEARTH_SECRET", file=sys.stderr)
        return 2
    pid = args.participant or new_id("m-" if args.role == "member" else "f-")
    print(Tokens(secret, args.ttl).mint(args.session, pid, args.name, args.role))
    return 0


def _serve(settings: Settings) -> int:
    logs.setup(settings.log_json, settings.log_level)
    if not settings.compiled_forwarding:  # the media package reads this switch when it is first imported
        os.environ["HEARTH_COMPILED_FORWARDING"] = "0"
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    app = create_app(settings)
    quiet_gc()
    if settings.demo:
        app.on_startup.append(_demo)
    if "operator_key" in settings.generated:
        print(f"operator key (generated for this run): {settings.operator_key}", flush=True)
    ssl_context = None
    if settings.tls_cert:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(settings.tls_cert, settings.tls_key)
    forwarding = forwarding_path(settings)
    print(
        f"Hearth listening on {settings.public_url} (node {settings.node_id}, "
        f"store {'redis' if settings.redis_url else 'memory'}, "
        f"media workers {settings.media_workers if settings.media else 0}, forwarding {forwarding})",
        flush=True,
    )
    if settings.debug_endpoints:
        log.warning("test-only debug endpoints are on (--debug-endpoints): never run a clinic like this")
    log.info("started; forwarding through the %s path", forwarding, extra={"node": settings.node_id})
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        ssl_context=ssl_context,
        print=None,
        access_log=None,
        shutdown_timeout=1.0,  # sockets were told and closed by the hub's stop (``stop_timeout``)
        handle_signals=True,
    )
    return 0


async def _demo(app: web.Application) -> None:
    from server.keys import SETTINGS, TOKENS

    settings, tokens = app[SETTINGS], app[TOKENS]
    session = Session(id=new_id("s-"), title="Demo group", created_at=time.time())
    await app[STORE].create(session)
    token = tokens.mint(session.id, new_id("f-"), "Facilitator", "facilitator")
    member = tokens.mint(session.id, new_id("m-"), "Guest", "member")
    print(f"demo facilitator URL: {settings.public_url}/s/{session.id}#token={token}", flush=True)
    print(f"demo member URL:      {settings.public_url}/s/{session.id}#token={member}", flush=True)
    await asyncio.sleep(0)


if __name__ == "__main__":
    sys.exit(main())
