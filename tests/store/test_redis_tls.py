"""Redis over TLS (``rediss://``): a node on a Redis that speaks only TLS and wants a client certificate.

The contract suite runs against the same server (the ``tls`` store kind in conftest.py); these tests
show that the whole node uses it (store and Socket.IO's Redis manager) and that the checks are real:
without the CA or without the client certificate, no connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
import socketio

from server.redis_store import RedisStore, StoreUnavailable
from tests.harness import running_server
from tests.redis_server import unique_prefix
from tests.store.tls_redis import TlsRedis

pytestmark = pytest.mark.redis


async def test_a_node_on_a_tls_redis_stores_sessions_and_hears_other_nodes_emits(tls_redis: TlsRedis) -> None:
    """The store and the Socket.IO Redis manager both connect over TLS: an emit published to Redis by
    another process (as another node's would be) reaches a member connected here."""
    tls, prefix = tls_redis.tls, unique_prefix()
    settings = {"redis_url": tls_redis.url, "redis_tls_ca": tls.ca, "redis_tls_cert": tls.cert}
    settings |= {"redis_tls_key": tls.key, "redis_prefix": prefix, "media": False}
    async with running_server(**settings) as server:
        session = await server.create_session()
        member = await server.join(session["id"], "Robin")
        async with server.http.get(f"{server.url}/readyz") as response:
            assert response.status == 200, await response.text()
        heard: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        member.sio.on("from-another-node", lambda data: heard.done() or heard.set_result(data))
        other_node = socketio.AsyncRedisManager(
            tls_redis.url, channel=f"{prefix}socketio", write_only=True, redis_options=tls.options()
        )
        async with asyncio.timeout(5):  # published again until heard: this node may still be subscribing
            while not heard.done():
                await other_node.emit("from-another-node", {"n": 1}, room=member.sio.get_sid())
                await asyncio.wait([heard], timeout=0.5)
        assert heard.result() == {"n": 1}
        await other_node.redis.aclose()


@pytest.mark.parametrize("missing", ["ca", "cert"])
async def test_a_store_without_the_ca_or_the_client_certificate_cannot_connect(
    tls_redis: TlsRedis, missing: str
) -> None:
    """No CA: the server's certificate is not trusted. No client certificate: the server hangs up."""
    tls = dataclasses.replace(tls_redis.tls, **({"ca": None} if missing == "ca" else {"cert": None, "key": None}))
    store = RedisStore.from_url(tls_redis.url, prefix=unique_prefix(), tls=tls, retries=0)
    try:
        with pytest.raises(StoreUnavailable):
            await store.ping()
    finally:
        await store.close()
