"""Settings from environment variables and command-line flags, with safe defaults.

In development a secret and an operator key are generated at start (and the operator key printed
once); with ``--production`` both must be given, so a clinic never runs on throwaway keys by accident.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
from dataclasses import dataclass, field
from typing import Any

MIN_OPERATOR_KEY_BYTES = 24  # an operator key guards every session: no short, guessable keys in production


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    secret: str = ""
    operator_key: str = ""
    redis_url: str | None = None
    redis_prefix: str = "hearth:"
    public_url: str = ""
    node_id: str = ""
    production: bool = False
    demo: bool = False
    allow_loopback: bool = False
    ice_servers: list[dict[str, Any]] = field(default_factory=list)
    allowed_origins: list[str] = field(default_factory=list)
    tls_cert: str | None = None
    tls_key: str | None = None
    token_ttl: float = 12 * 3600.0
    grace_seconds: float = 60.0
    max_sessions: int = 200
    max_participants: int = 12
    state_ttl: float = 24 * 3600.0
    ended_ttl: float = 3600.0
    lease_ttl: float = 3.0
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    auth_timeout: float = 5.0
    max_unauthenticated_per_address: int = 20
    stop_timeout: float = 6.0
    tick_seconds: float = 0.25
    event_rate: float = 20.0
    event_burst: float = 40.0
    media: bool = True
    log_json: bool = True
    generated: list[str] = field(default_factory=list)

    def finish(self) -> Settings:
        """Fill derived defaults and refuse unsafe production settings."""
        if self.production and (not self.secret or not self.operator_key):
            raise SystemExit("--production needs --secret and --operator-key (or HEARTH_SECRET/...)")
        if self.production and len(self.secret.encode()) < 32:
            raise SystemExit("--secret must be at least 32 bytes for HS256 join tokens")
        if self.production and len(self.operator_key.encode()) < MIN_OPERATOR_KEY_BYTES:
            raise SystemExit(f"--operator-key must be at least {MIN_OPERATOR_KEY_BYTES} bytes in production")
        if not self.secret:
            self.secret = secrets.token_urlsafe(32)
            self.generated.append("secret")
        if not self.operator_key:
            self.operator_key = secrets.token_urlsafe(24)
            self.generated.append("operator_key")
        scheme = "https" if self.tls_cert else "http"
        if not self.public_url:
            self.public_url = f"{scheme}://{self.host}:{self.port}"
        self.public_url = self.public_url.rstrip("/")
        if not self.node_id:
            self.node_id = f"{socket.gethostname()}-{self.port}-{secrets.token_hex(3)}"
        return self


_ENV: dict[str, tuple[str, Any]] = {
    "host": ("HEARTH_HOST", str),
    "port": ("HEARTH_PORT", int),
    "secret": ("HEARTH_SECRET", str),
    "operator_key": ("HEARTH_OPERATOR_KEY", str),
    "redis_url": ("HEARTH_REDIS_URL", str),
    "redis_prefix": ("HEARTH_REDIS_PREFIX", str),
    "public_url": ("HEARTH_PUBLIC_URL", str),
    "node_id": ("HEARTH_NODE_ID", str),
    "tls_cert": ("HEARTH_TLS_CERT", str),
    "tls_key": ("HEARTH_TLS_KEY", str),
    "max_sessions": ("HEARTH_MAX_SESSIONS", int),
    "max_participants": ("HEARTH_MAX_PARTICIPANTS", int),
    "grace_seconds": ("HEARTH_GRACE_SECONDS", float),
    "state_ttl": ("HEARTH_STATE_TTL", float),
    "ended_ttl": ("HEARTH_ENDED_TTL", float),
    "lease_ttl": ("HEARTH_LEASE_TTL", float),
    "ping_interval": ("HEARTH_PING_INTERVAL", float),
    "ping_timeout": ("HEARTH_PING_TIMEOUT", float),
    "auth_timeout": ("HEARTH_AUTH_TIMEOUT", float),
    "max_unauthenticated_per_address": ("HEARTH_MAX_UNAUTHENTICATED_PER_ADDRESS", int),
    "stop_timeout": ("HEARTH_STOP_TIMEOUT", float),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to bind (HEARTH_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to bind (HEARTH_PORT, default 8080)")
    p.add_argument("--secret", help="token signing secret (HEARTH_SECRET)")
    p.add_argument("--operator-key", help="bearer key for the HTTP API (HEARTH_OPERATOR_KEY)")
    p.add_argument("--redis-url", help="run on Redis for several nodes (HEARTH_REDIS_URL)")
    p.add_argument("--redis-prefix", help="key prefix in Redis (HEARTH_REDIS_PREFIX, default hearth:)")
    p.add_argument("--public-url", help="URL this node advertises to clients (HEARTH_PUBLIC_URL)")
    p.add_argument("--node-id", help="stable node id (HEARTH_NODE_ID)")
    p.add_argument("--production", action="store_true", help="require explicit secrets")
    p.add_argument("--demo", action="store_true", help="create a demo session and print its URL")
    p.add_argument(
        "--allow-loopback",
        action="store_true",
        help="offer 127.0.0.1 ICE candidates (tests and single-machine demos only)",
    )
    p.add_argument("--ice-servers", help="JSON list of RTCIceServer dicts (HEARTH_ICE_SERVERS)")
    p.add_argument("--allowed-origin", action="append", help="allowed browser origin (repeatable)")
    p.add_argument("--tls-cert", help="PEM certificate: serve HTTPS directly (HEARTH_TLS_CERT)")
    p.add_argument("--tls-key", help="PEM private key (HEARTH_TLS_KEY)")
    p.add_argument("--lease-ttl", type=float, help="seconds a session lease lasts unrenewed (3)")
    p.add_argument("--ping-interval", type=float, help="seconds between Engine.IO pings (10)")
    p.add_argument("--ping-timeout", type=float, help="seconds a client may take to answer a ping (5)")
    p.add_argument("--auth-timeout", type=float, help="seconds a connection may stay unauthenticated (5)")
    p.add_argument(
        "--max-unauthenticated-per-address",
        type=int,
        help="open unauthenticated connections per client address (20)",
    )
    p.add_argument(
        "--stop-timeout",
        type=float,
        help="seconds the sessions' graceful stop may take at most (6; the process exits within 10)",
    )
    p.add_argument("--max-sessions", type=int, help="live sessions this node holds at most")
    p.add_argument("--max-participants", type=int, help="participants per session at most (12)")
    p.add_argument("--grace-seconds", type=float, help="seat kept after a drop (60)")
    p.add_argument("--no-media", action="store_true", help="signaling only (no WebRTC)")
    p.add_argument("--log-text", action="store_true", help="human-readable logs instead of JSON")


def from_env_and_args(args: argparse.Namespace | None = None, env: dict[str, str] | None = None) -> Settings:
    """Flags win over environment variables, which win over defaults."""
    env = dict(os.environ) if env is None else env
    s = Settings()
    for name, (var, kind) in _ENV.items():
        if var in env and env[var] != "":
            setattr(s, name, kind(env[var]))
    if "HEARTH_ICE_SERVERS" in env:
        s.ice_servers = json.loads(env["HEARTH_ICE_SERVERS"])
    if "HEARTH_ALLOWED_ORIGINS" in env:
        s.allowed_origins = [o for o in env["HEARTH_ALLOWED_ORIGINS"].split(",") if o]
    if args is not None:
        _apply_args(s, args)
    return s.finish()


def _apply_args(s: Settings, args: argparse.Namespace) -> None:
    for name in _ENV:
        value = getattr(args, name, None)
        if value is not None:
            setattr(s, name, value)
    s.production = s.production or bool(getattr(args, "production", False))
    s.demo = bool(getattr(args, "demo", False))
    s.allow_loopback = s.allow_loopback or bool(getattr(args, "allow_loopback", False))
    if getattr(args, "ice_servers", None):
        s.ice_servers = json.loads(args.ice_servers)
    if getattr(args, "allowed_origin", None):
        s.allowed_origins = list(args.allowed_origin)
    if getattr(args, "no_media", False):
        s.media = False
    if getattr(args, "log_text", False):
        s.log_json = False
