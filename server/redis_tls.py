"""TLS to Redis (``rediss://``): the CA to trust and an optional client certificate, as redis-py options.

A clinic's Redis is often managed and remote, reached over TLS with the provider's CA and sometimes a
client certificate. The same options go to the store's client and to python-socketio's Redis manager,
so both connections verify the server alike (redis-py checks the certificate and the host name by
default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RedisTls:
    ca: str | None = None  # PEM file of the CA that signed Redis' certificate (default: the system's CAs)
    cert: str | None = None  # PEM client certificate, when Redis asks for one (tls-auth-clients)
    key: str | None = None  # its private key (unless it is in the certificate's file)

    def options(self) -> dict[str, Any]:
        """Keyword arguments for ``redis.asyncio.Redis.from_url`` (and ``RedisCluster.from_url``)."""
        given = {"ssl_ca_certs": self.ca, "ssl_certfile": self.cert, "ssl_keyfile": self.key}
        return {name: value for name, value in given.items() if value}
