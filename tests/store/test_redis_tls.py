"""Redis over TLS (``rediss://``): a node on a Redis that speaks only TLS and wants a client certificate.

The contract suite runs against the same server (the ``tls`` store kind in conftest.py); these tests
show that the node's store uses it and that the checks are real:
without the CA or without the client certificate, no connection.
"""

from __future__ import annotations

import dataclasses

import pytest

from server.redis_store import RedisStore, StoreUnavailable
from tests.harness import running_server
from tests.redis_server import unique_prefix
from tests.store.tls_redis import TlsRedis

pytestmark = pytest.mark.redis


async def test_a_node_on_a_tls_redis_writes_its_sessions_through(tls_redis: TlsRedis) -> None:
    """The node's store connects over TLS with the client certificate: a member's arrival is in Redis
    (read back by another client, as another node would) and /readyz is green."""
    tls, prefix = tls_redis.tls, unique_prefix()
    settings = {"redis_url": tls_redis.url, "redis_tls_ca": tls.ca, "redis_tls_cert": tls.cert}
    settings |= {"redis_tls_key": tls.key, "redis_prefix": prefix, "media": False}
    async with running_server(**settings) as server:
        session = await server.create_session()
        member = await server.join(session["id"], "Robin")
        async with server.http.get(f"{server.url}/readyz") as response:
            assert response.status == 200, await response.text()
        other_node = RedisStore.from_url(tls_redis.url, prefix=prefix, tls=tls)
        try:
            stored = await other_node.load(session["id"])
            assert stored is not None and member.id in stored.participants
        finally:
            await other_node.close()


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
