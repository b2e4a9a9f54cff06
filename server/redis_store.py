"""``RedisStore``: the ``SessionStore`` that lets several Hearth nodes share sessions.

It passes the same contract tests as ``server.memory_store.MemoryStore``. Every multi-step change is one Lua
script, so a version check and its write, or a lease's compare and its expiry, can never interleave
with another node's; each script touches only the keys of one session (one Cluster slot, see
``server.redis_keys``). Every key gets a TTL, so nothing outlives its purpose even if a node dies.

Redis' own clock decides lease and revocation expiry (PTTL, ``TIME`` in scripts), so nodes with
skewed clocks still agree on who holds what; ``Lease.expires_at`` is translated into the caller's
clock from the remaining PTTL.

Connection loss surfaces as ``StoreUnavailable`` after a bounded retry with backoff (see
``from_url``), never as a hang: a Redis restart of a second or two is survived transparently. A
retried call whose first attempt did reach Redis (the reply was lost) can come back as ``Conflict``
(create) or ``StaleVersion`` (save), which callers already handle by reloading; an audit record can
then appear twice. After Redis lost its data (restart without persistence, failover lag), the lease
holder writes its sessions back with ``restore`` and takes its leases again with ``acquire_lease``.

Sentinel: pass ``redis+sentinel://[:password@]host:26379[,host:26379...]/<service>[/<db>]`` to
``from_url``, or build the client yourself, ``Sentinel([...]).master_for("mymaster", retry=...)``,
and hand it to the constructor. Cluster: ``redis.asyncio.RedisCluster`` clients work the same way
(every command and script names keys of a single slot), or use ``redis+cluster://`` URLs.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import unquote, urlsplit

import orjson
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import EqualJitterBackoff
from redis.exceptions import ClusterDownError, ReadOnlyError, RedisClusterUnreachableError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from rooms.codec import session_from_dict, session_to_dict
from rooms.errors import Conflict
from rooms.model import Session
from server.redis_keys import DEFAULT_PREFIX, RedisKeys
from server.redis_tls import RedisTls
from signaling.store import DEFAULT_STATE_TTL, MAX_AUDIT_RECORDS, AuditRecord, Lease, LeaseLost, StaleVersion

DEFAULT_OP_TIMEOUT = 8.0
MIN_SAVE_TTL_MS = 1000

Client = aioredis.Redis | RedisCluster
P = ParamSpec("P")
T = TypeVar("T")


class StoreUnavailable(Exception):
    """Redis could not be reached (down, restarting, failing over) within the retry budget.

    Callers treat it as "try again later": readiness fails, a command is answered with an error,
    nothing is half-written (each change is one atomic script that ran or did not).
    """


# What "Redis cannot be reached" looks like from redis-py: a lost or refused connection, a timeout, a
# replica that was a primary (failover), and for a Cluster no reachable node at all or CLUSTERDOWN.
UNAVAILABLE = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    TimeoutError,
    RedisClusterUnreachableError,
    ClusterDownError,
)


def _unavailable_on_connection_loss(
    method: Callable[P, Awaitable[T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    """Turn redis-py's transport errors, and a blown op deadline, into one store-level exception."""

    @functools.wraps(method)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
        store = cast("RedisStore", args[0])
        try:
            async with asyncio.timeout(store.op_timeout):
                return await method(*args, **kwargs)
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"redis unavailable: {exc!r}") from exc

    return guarded


# KEYS[1] session; ARGV version, body, ttl_ms. Refuses an existing id.
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'body', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS[1] lease; ARGV[1] holder ('' for no fencing). Returns early with {0, 'lease'} unless the holder
# holds the lease: the version check and the write happen in the same script, so fencing is atomic.
_FENCE = """
if ARGV[1] ~= '' then
  local lease = redis.call('GET', KEYS[1])
  local ok, held = false, nil
  if lease then ok, held = pcall(cjson.decode, lease) end
  if not ok or type(held) ~= 'table' or held.node_id ~= ARGV[1] then return {0, 'lease'} end
end
"""

# KEYS[1] lease, KEYS[2] session; ARGV holder, expected, version, body, min_ttl_ms, ttl_ms.
# Returns {1} or {0, stored-or-''} or {0, 'lease'}. Keeps the key's TTL, but at least min_ttl_ms (as
# MemoryStore); a key without one gets ttl_ms.
SAVE = (
    _FENCE
    + """
local stored = redis.call('HGET', KEYS[2], 'version')
if stored ~= ARGV[2] then return {0, stored or ''} end
redis.call('HSET', KEYS[2], 'version', ARGV[3], 'body', ARGV[4])
local pttl = redis.call('PTTL', KEYS[2])
if pttl < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[6])
elseif pttl < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
return {1}
"""
)

# KEYS[1] lease, KEYS[2] session; ARGV holder, version, body, ttl_ms. Writes when missing or older;
# keeps an existing TTL. Returns {1} (written), {0} (newer or same there) or {0, 'lease'}.
RESTORE = (
    _FENCE
    + """
local stored = redis.call('HGET', KEYS[2], 'version')
if stored and tonumber(stored) >= tonumber(ARGV[2]) then return {0} end
redis.call('HSET', KEYS[2], 'version', ARGV[2], 'body', ARGV[3])
if redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
return {1}
"""
)

# KEYS[1] lease; ARGV node_id, value, ttl_ms. SET NX PX, except that our own lease is re-taken.
ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and type(held) == 'table' and held.node_id ~= ARGV[1] then
    return {current, redis.call('PTTL', KEYS[1])}
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return {ARGV[2], tonumber(ARGV[3])}
"""

_HOLDER = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, held = pcall(cjson.decode, current)
if not ok or type(held) ~= 'table' or held.node_id ~= ARGV[1] then return 0 end
"""
# KEYS[1] lease; ARGV node_id, ttl_ms.
RENEW = _HOLDER + "return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
# KEYS[1] lease; ARGV node_id.
RELEASE = _HOLDER + "return redis.call('DEL', KEYS[1])\n"

# KEYS[1] lease. Value and PTTL read together, so the expiry belongs to the value returned.
READ_LEASE = """
local current = redis.call('GET', KEYS[1])
if not current then return false end
return {current, redis.call('PTTL', KEYS[1])}
"""

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS[1] revoked; ARGV participant, ttl_ms. The key lives as long as its longest revocation.
REVOKE = (
    _NOW_MS
    + """
local until_ms = now + tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], until_ms, ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local need = math.max(1, tonumber(last[2]) - now)
if redis.call('PTTL', KEYS[1]) < need then redis.call('PEXPIRE', KEYS[1], need) end
return 1
"""
)

# KEYS[1] revoked; ARGV participant.
IS_REVOKED = (
    _NOW_MS
    + """
local until_ms = redis.call('ZSCORE', KEYS[1], ARGV[1])
if until_ms and tonumber(until_ms) > now then return 1 end
return 0
"""
)

# KEYS session, lease (untouched, it has its own short TTL), revoked, audit; ARGV ttl_ms.
# As MemoryStore: state and audit get exactly the new life; revocations are only ever shortened.
EXPIRE = (
    _NOW_MS
    + """
local ttl = tonumber(ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[4], ttl)
local cap = now + ttl
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. cap, '+inf')) do
  redis.call('ZADD', KEYS[3], 'XX', cap, member)
end
redis.call('PEXPIRE', KEYS[3], ttl, 'LT')
return 1
"""
)

# KEYS[1] audit; ARGV maxlen, ttl_ms, at, actor, action[, target].
APPEND_AUDIT = """
local fields = {'at', ARGV[3], 'actor', ARGV[4], 'action', ARGV[5]}
if ARGV[6] then table.insert(fields, 'target'); table.insert(fields, ARGV[6]) end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


def _ms(seconds: float) -> int:
    """Redis wants whole milliseconds, and at least one: ``PX 0`` is an error, not "expire now"."""
    return max(1, round(seconds * 1000))


def _text(value: bytes | str) -> str:
    """Replies are bytes or str depending on the client's ``decode_responses``; accept either."""
    return value.decode() if isinstance(value, bytes) else value


def _dumps(data: object) -> str:
    """Compact UTF-8 JSON; orjson takes about a tenth of the standard library's time for a session
    of twelve (15 against 99 us for the 6 KB of twelve here), and every change of state is one such save."""
    return orjson.dumps(data).decode()


class RedisStore:
    """``SessionStore`` on Redis (standalone, Sentinel or Cluster client). See the module docstring."""

    def __init__(
        self,
        client: Client,
        *,
        state_ttl: float = DEFAULT_STATE_TTL,
        prefix: str = DEFAULT_PREFIX,
        audit_maxlen: int = MAX_AUDIT_RECORDS,
        op_timeout: float | None = DEFAULT_OP_TIMEOUT,
        clock: Callable[[], float] = time.time,
        sentinel: Sentinel | None = None,
    ) -> None:
        self.client = client
        self.keys = RedisKeys(prefix)
        self.op_timeout = op_timeout
        self._ttl_ms = _ms(state_ttl)
        self._audit_maxlen = audit_maxlen
        self._clock = clock
        register = client.register_script
        self._create, self._save, self._restore = register(CREATE), register(SAVE), register(RESTORE)
        self._acquire, self._renew, self._release = register(ACQUIRE), register(RENEW), register(RELEASE)
        self._read_lease, self._expire = register(READ_LEASE), register(EXPIRE)
        self._revoke, self._is_revoked = register(REVOKE), register(IS_REVOKED)
        self._append_audit = register(APPEND_AUDIT)
        self._sentinel = sentinel  # closed with the client (``from_url`` makes it for a sentinel URL)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        state_ttl: float = DEFAULT_STATE_TTL,
        prefix: str = DEFAULT_PREFIX,
        audit_maxlen: int = MAX_AUDIT_RECORDS,
        op_timeout: float | None = DEFAULT_OP_TIMEOUT,
        clock: Callable[[], float] = time.time,
        socket_timeout: float = 2.0,
        retries: int = 10,
        backoff_cap: float = 0.5,
        tls: RedisTls | None = None,
    ) -> RedisStore:
        """A store with a client tuned to fail fast and retry briefly, so restarts are ridden out.

        ``retries`` attempts with equal-jitter exponential backoff (50 ms doubling, capped at
        ``backoff_cap``) give a Redis restart about 2 to 4 s before callers see ``StoreUnavailable``.
        Accepts ``redis://``, ``rediss://``, ``unix://``, ``redis+sentinel://`` (see the module
        docstring) and ``redis+cluster://host:port`` (any one node of a Redis Cluster) URLs; ``tls``
        gives a ``rediss://`` connection its CA and client certificate.
        """
        client_kw: dict[str, Any] = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_timeout,
            "retry": Retry(EqualJitterBackoff(cap=backoff_cap, base=0.05), retries),
            "health_check_interval": 30,
            **(tls.options() if tls else {}),
        }
        client: Client
        sentinel = None
        if url.startswith("redis+sentinel://"):
            sentinel, client = _sentinel_client(url, client_kw)
        elif url.startswith("redis+cluster://"):
            client = RedisCluster.from_url("redis://" + url.removeprefix("redis+cluster://"), **client_kw)
        else:
            client = aioredis.Redis.from_url(url, **client_kw)
        return cls(
            client,
            state_ttl=state_ttl,
            prefix=prefix,
            audit_maxlen=audit_maxlen,
            op_timeout=op_timeout,
            clock=clock,
            sentinel=sentinel,
        )

    @_unavailable_on_connection_loss
    async def create(self, session: Session) -> None:
        args: list[str | int] = [session.version, _dumps(session_to_dict(session)), self._ttl_ms]
        if not await self._create(keys=[self.keys.session(session.id)], args=args):
            raise Conflict(f"session {session.id} exists")

    @_unavailable_on_connection_loss
    async def load(self, session_id: str) -> Session | None:
        body = await self.client.hget(self.keys.session(session_id), "body")
        return None if body is None else session_from_dict(json.loads(body))

    @_unavailable_on_connection_loss
    async def save(self, session: Session, expected_version: int, holder: str | None = None) -> None:
        body = _dumps(session_to_dict(session))
        args: list[str | int] = [holder or "", expected_version, session.version, body, MIN_SAVE_TTL_MS, self._ttl_ms]
        reply = await self._save(keys=self._fenced(session.id), args=args)
        if not int(reply[0]):
            stored = _text(reply[1]) or None
            if stored == "lease":
                raise LeaseLost(f"node {holder} does not hold session {session.id}")
            raise StaleVersion(f"session {session.id} is at version {stored}, not {expected_version}")

    @_unavailable_on_connection_loss
    async def restore(self, session: Session, holder: str | None = None) -> bool:
        """Write ``session`` back if Redis lost it (restart without persistence, failover lag).

        Writes when the key is missing or holds an older version; never overwrites a newer one.
        Returns whether it wrote. The lease holder re-acquires its lease after a reconnect, then
        calls this: a plain ``save`` would see no stored version and raise ``StaleVersion``.
        """
        args: list[str | int] = [holder or "", session.version, _dumps(session_to_dict(session)), self._ttl_ms]
        reply = await self._restore(keys=self._fenced(session.id), args=args)
        if len(reply) > 1 and _text(reply[1]) == "lease":
            raise LeaseLost(f"node {holder} does not hold session {session.id}")
        return bool(int(reply[0]))

    def _fenced(self, session_id: str) -> list[str]:
        """The keys of a fenced write: the lease first (checked), then the session (written)."""
        return [self.keys.lease(session_id), self.keys.session(session_id)]

    @_unavailable_on_connection_loss
    async def expire(self, session_id: str, ttl_seconds: float) -> None:
        ttl_ms = max(0, round(ttl_seconds * 1000))
        await self._expire(keys=self.keys.of_session(session_id), args=[ttl_ms])

    @_unavailable_on_connection_loss
    async def acquire_lease(self, session_id: str, node_id: str, url: str, ttl_seconds: float) -> Lease:
        value = _dumps({"node_id": node_id, "url": url})
        args: list[str | int] = [node_id, value, _ms(ttl_seconds)]
        reply = await self._acquire(keys=[self.keys.lease(session_id)], args=args)
        return self._lease(session_id, reply[0], int(reply[1]))

    @_unavailable_on_connection_loss
    async def renew_lease(self, session_id: str, node_id: str, ttl_seconds: float) -> bool:
        return bool(await self._renew(keys=[self.keys.lease(session_id)], args=[node_id, _ms(ttl_seconds)]))

    @_unavailable_on_connection_loss
    async def release_lease(self, session_id: str, node_id: str) -> None:
        await self._release(keys=[self.keys.lease(session_id)], args=[node_id])

    @_unavailable_on_connection_loss
    async def lease(self, session_id: str) -> Lease | None:
        reply = await self._read_lease(keys=[self.keys.lease(session_id)])
        return None if reply is None else self._lease(session_id, reply[0], int(reply[1]))

    def _lease(self, session_id: str, value: bytes | str, pttl_ms: int) -> Lease:
        held = json.loads(_text(value))
        expires_at = self._clock() + max(pttl_ms, 0) / 1000
        return Lease(session_id, str(held["node_id"]), str(held["url"]), expires_at)

    @_unavailable_on_connection_loss
    async def revoke(self, session_id: str, participant_id: str, ttl_seconds: float) -> None:
        await self._revoke(keys=[self.keys.revoked(session_id)], args=[participant_id, _ms(ttl_seconds)])

    @_unavailable_on_connection_loss
    async def is_revoked(self, session_id: str, participant_id: str) -> bool:
        return bool(await self._is_revoked(keys=[self.keys.revoked(session_id)], args=[participant_id]))

    @_unavailable_on_connection_loss
    async def append_audit(self, record: AuditRecord, ttl_seconds: float) -> None:
        args: list[str | int] = [self._audit_maxlen, _ms(ttl_seconds), repr(record.at), record.actor]
        args.append(record.action)
        if record.target is not None:
            args.append(record.target)
        await self._append_audit(keys=[self.keys.audit(record.session_id)], args=args)

    @_unavailable_on_connection_loss
    async def audit(self, session_id: str) -> list[AuditRecord]:
        entries = await self.client.xrange(self.keys.audit(session_id)) or []
        return [_audit_record(session_id, fields or {}) for _, fields in entries]

    @_unavailable_on_connection_loss
    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` when Redis cannot be reached: the node's readiness probe."""
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()
        if self._sentinel is not None:
            for sentinel in self._sentinel.sentinels:
                await sentinel.aclose()


def _audit_record(session_id: str, fields: dict[Any, Any]) -> AuditRecord:
    data = {_text(k): _text(v) for k, v in fields.items()}
    return AuditRecord(session_id, float(data["at"]), data["actor"], data["action"], data.get("target"))


def _host_port(text: str, default_port: int = 26379) -> tuple[str, int]:
    host, _, port = text.partition(":")
    return host or "localhost", int(port) if port else default_port


def _sentinel_client(url: str, client_kw: dict[str, Any]) -> tuple[Sentinel, aioredis.Redis]:
    """``redis+sentinel://[:pw@]h1:26379,h2:26379/<service>[/<db>]`` -> a master client via Sentinel.

    The password is the data nodes' (Sentinels often run without one); for a Sentinel password
    build the client yourself and pass it to ``RedisStore``.
    """
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")
    password = unquote(netloc[0].partition(":")[2]) or None
    sentinels = [_host_port(h) for h in netloc[2].split(",") if h]
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ValueError("a redis+sentinel:// URL names its service: redis+sentinel://host:26379/mymaster")
    db = int(path[1]) if len(path) > 1 else 0
    sentinel_kw = {k: client_kw[k] for k in ("socket_timeout", "socket_connect_timeout")}
    sentinel = Sentinel(sentinels, sentinel_kwargs=sentinel_kw, **client_kw)
    master = sentinel.master_for(path[0], password=password, db=db)
    return sentinel, cast(aioredis.Redis, master)
