"""Every setting of a node, in one typed place, from command-line flags, ``HEARTH_*`` variables and defaults.

``Settings`` (pydantic-settings) is the only list: each field has a flag (``--`` and its name with
dashes, or the flag ``FLAG_NAMES`` gives) and a variable (``HEARTH_`` and its name in capitals), and
both are derived from it, so none can be missing. Flags win over variables, which win over defaults.
Values are validated by type, so ``HEARTH_PORT=80a`` stops the start with a message naming it.
A default that another layer also needs (grace, participants, TTLs, lease, sessions, rate limits) is
imported from the module that owns it, never typed again here.

In development a secret and an operator key are generated at start (and the operator key printed
once); with ``--production`` both must be given, so a clinic never runs on throwaway keys by accident.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from rooms.model import DEFAULT_GRACE_SECONDS, MAX_PARTICIPANTS
from server.redis_tls import RedisTls
from signaling.limits import EVENT_BURST, EVENT_RATE
from signaling.live import DEFAULT_LEASE_TTL, DEFAULT_MAX_SESSIONS, DEFAULT_STOP_TIMEOUT
from signaling.store import DEFAULT_ENDED_TTL, DEFAULT_STATE_TTL

MIN_OPERATOR_KEY_BYTES = 24  # an operator key guards every session: no short, guessable keys in production
MIN_SECRET_BYTES = 32  # HS256 join tokens
ENV_PREFIX = "HEARTH_"
# Flags that are not `--` + the field's name: switches that turn a default-on setting off, and the one
# repeatable flag (one origin each time).
FLAG_NAMES = {
    "media": "--no-media",
    "log_json": "--log-text",
    "compiled_forwarding": "--python-forwarding",
    "adapt_bandwidth": "--fixed-bandwidth",
    "allowed_origins": "--allowed-origin",
}


class Settings(BaseSettings):
    """A node's settings. ``Settings(...)`` takes exactly what it is given (tests build one in process);
    ``from_env_and_args`` adds the environment and the command line."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid")

    host: str = Field("127.0.0.1", description="address to bind")
    port: int = Field(8080, ge=0, le=65535, description="port to bind")
    secret: str = Field("", description="join-token signing secret (generated for the run unless given)")
    operator_key: str = Field("", description="bearer key for the HTTP API (generated for the run unless given)")
    redis_url: str | None = Field(
        None,
        description="run on Redis for several nodes: redis://, rediss:// (TLS), redis+sentinel://, redis+cluster://",
    )
    redis_prefix: str = Field("hearth:", description="key prefix in Redis")
    redis_tls_ca: str | None = Field(None, description="PEM file of the CA that signed Redis' certificate (rediss://)")
    redis_tls_cert: str | None = Field(None, description="PEM client certificate for Redis (rediss://, mutual TLS)")
    redis_tls_key: str | None = Field(None, description="PEM private key of the Redis client certificate")
    public_url: str = Field("", description="URL this node advertises to clients (default http(s)://host:port)")
    node_id: str = Field("", description="stable node id (default hostname-port-random)")
    production: bool = Field(False, description="refuse to start without explicit, long enough secrets")
    demo: bool = Field(False, description="create a demo session at start and print its URLs")
    allow_loopback: bool = Field(
        False, description="offer 127.0.0.1 ICE candidates (tests and single-machine demos only)"
    )
    ice_servers: Annotated[list[dict[str, Any]], NoDecode] = Field(
        default_factory=list, description="JSON list of RTCIceServer dicts (the operator's STUN/TURN)"
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="an origin pages may also come from (balancer, other nodes); repeat the flag, or comma-separate",
    )
    tls_cert: str | None = Field(None, description="PEM certificate: serve HTTPS directly")
    tls_key: str | None = Field(None, description="PEM private key of --tls-cert")
    token_ttl: float = Field(12 * 3600.0, gt=0, description="seconds a join token stays valid")
    grace_seconds: float = Field(DEFAULT_GRACE_SECONDS, ge=0, description="seconds a seat is kept after a drop")
    max_sessions: int = Field(DEFAULT_MAX_SESSIONS, ge=1, description="live sessions this node holds at most")
    max_participants: int = Field(MAX_PARTICIPANTS, ge=1, description="participants per session at most")
    state_ttl: float = Field(DEFAULT_STATE_TTL, gt=0, description="seconds a session's state outlives its last change")
    ended_ttl: float = Field(DEFAULT_ENDED_TTL, gt=0, description="seconds an ended session's state is kept")
    lease_ttl: float = Field(DEFAULT_LEASE_TTL, gt=0, description="seconds a session lease lasts unrenewed")
    ping_interval: float = Field(10.0, gt=0, description="seconds between Engine.IO pings")
    ping_timeout: float = Field(5.0, gt=0, description="seconds a client may take to answer a ping")
    auth_timeout: float = Field(5.0, gt=0, description="seconds a connection may stay unauthenticated")
    max_unauthenticated_per_address: int = Field(
        20, ge=1, description="open unauthenticated connections per client address"
    )
    handshakes_per_second: float = Field(
        400.0, gt=0, description="new connections taken on per second in all; a burst beyond waits its turn"
    )
    stop_timeout: float = Field(
        DEFAULT_STOP_TIMEOUT,
        gt=0,
        description="seconds the sessions' graceful stop may take at most (the process exits within 10)",
    )
    tick_seconds: float = Field(0.25, gt=0, description="seconds between timer checks (turn timers, holds)")
    event_rate: float = Field(EVENT_RATE, gt=0, description="client events a second per connection, sustained")
    event_burst: float = Field(EVENT_BURST, gt=0, description="client events per connection in a burst")
    media: bool = Field(True, description="forward media (off: signaling only, no WebRTC)")
    media_workers: int | None = Field(
        None,
        ge=0,
        description=(
            "media engine processes beside the node, sessions pinned to them (0: media in the node's own"
            " process; default: one per core with --production, else 0)"
        ),
    )
    debug_endpoints: bool = Field(
        False, description="tests only: POST /debug/stall (operator key) blocks the node's event loop; never in service"
    )
    compiled_forwarding: bool = Field(
        True, description="forward through the compiled packet path when it is built (off: the Python path)"
    )
    adapt_bandwidth: bool = Field(
        True,
        description=(
            "fit each member's video to what their link carries (off: every gate the floor opens stays open,"
            " publishers at the cap; tests of other features on a starved machine)"
        ),
    )
    log_json: bool = Field(True, description="JSON logs (off: human-readable text)")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="the least severe log line kept (debug adds the media allocator's round per member)"
    )

    _generated: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what the constructor is given: the environment is read by ``from_env_and_args``."""
        return (init_settings,)

    @field_validator("ice_servers", mode="before")
    @classmethod
    def _ice_servers_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins_comma_separated(cls, value: Any) -> Any:
        return [origin.strip() for origin in value.split(",") if origin.strip()] if isinstance(value, str) else value

    @property
    def generated(self) -> list[str]:
        """Which of secret and operator_key ``finish`` generated for this run."""
        return self._generated

    @property
    def redis_tls(self) -> RedisTls | None:
        """The TLS files for a ``rediss://`` Redis, when any is given."""
        if not (self.redis_tls_ca or self.redis_tls_cert or self.redis_tls_key):
            return None
        return RedisTls(ca=self.redis_tls_ca, cert=self.redis_tls_cert, key=self.redis_tls_key)

    def finish(self) -> Settings:
        """Fill derived defaults and refuse unsafe production settings."""
        if self.production and (not self.secret or not self.operator_key):
            raise SystemExit("--production needs --secret and --operator-key (or HEARTH_SECRET/...)")
        if self.production and len(self.secret.encode()) < MIN_SECRET_BYTES:
            raise SystemExit(f"--secret must be at least {MIN_SECRET_BYTES} bytes for HS256 join tokens")
        if self.production and len(self.operator_key.encode()) < MIN_OPERATOR_KEY_BYTES:
            raise SystemExit(f"--operator-key must be at least {MIN_OPERATOR_KEY_BYTES} bytes in production")
        if self.media_workers is None:
            self.media_workers = default_media_workers(self.production)
        if self.redis_tls is not None and not (self.redis_url or "").startswith("rediss://"):
            raise SystemExit("--redis-tls-ca/--redis-tls-cert/--redis-tls-key need a rediss:// --redis-url")
        if not self.secret:
            self.secret = secrets.token_urlsafe(32)
            self._generated.append("secret")
        if not self.operator_key:
            self.operator_key = secrets.token_urlsafe(24)
            self._generated.append("operator_key")
        scheme = "https" if self.tls_cert else "http"
        if not self.public_url:
            self.public_url = f"{scheme}://{self.host}:{self.port}"
        self.public_url = self.public_url.rstrip("/")
        if not self.node_id:
            self.node_id = f"{socket.gethostname()}-{self.port}-{secrets.token_hex(3)}"
        return self


def cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container's cpuset narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_media_workers(production: bool) -> int:
    """One media worker per core in production, so packets use every core and a signaling stall never
    stops them; none in development and tests (the engine in the node's process: one process to debug,
    and tests can look inside it)."""
    return cores() if production else 0


def flag(name: str) -> str:
    return FLAG_NAMES.get(name, "--" + name.replace("_", "-"))


def variable(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _flag_options(name: str, field: FieldInfo) -> dict[str, Any]:
    """argparse options for a field: a switch for booleans, a typed value otherwise; never a default
    (None means "not given", so the environment and the field's default stay in force)."""
    default = field.get_default(call_default_factory=True)
    help_text = f"{field.description} ({variable(name)}{_default_text(default)})"
    if field.annotation is bool:
        return {"action": "store_const", "const": not default, "dest": name, "help": help_text}
    if name == "allowed_origins":
        return {"action": "append", "dest": name, "metavar": "ORIGIN", "help": help_text}
    kind = field.annotation if field.annotation in (int, float) else int if field.annotation == int | None else str
    return {"type": kind, "dest": name, "help": help_text}


def _default_text(default: Any) -> str:
    if isinstance(default, bool):
        return ", default on" if default else ", default off"
    return "" if default in ("", None, []) else f", default {default}"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """One flag per setting (see ``flag``), each naming its variable in its help."""
    for name, field in Settings.model_fields.items():
        p.add_argument(flag(name), **_flag_options(name, field))


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (``os.environ`` or a test's dict)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(Settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def _validated(values: dict[str, Any]) -> Settings:
    try:
        return Settings(**values)
    except ValidationError as exc:  # the value itself is not repeated: it may be a secret or a TURN credential
        problems = [f"{flag(str(e['loc'][0]))} / {variable(str(e['loc'][0]))}: {e['msg']}" for e in exc.errors()]
        raise SystemExit("invalid settings:\n  " + "\n  ".join(problems)) from None


def environment_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Defaults and ``HEARTH_*`` variables only, not finished (``hearth token`` needs just the secret)."""
    return _validated(_Environment(os.environ if env is None else env)())


def from_env_and_args(args: argparse.Namespace | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Flags win over environment variables, which win over defaults."""
    values = _Environment(os.environ if env is None else env)()
    if args is not None:
        given = {name: getattr(args, name, None) for name in Settings.model_fields}
        values.update({name: value for name, value in given.items() if value is not None})
    return _validated(values).finish()
