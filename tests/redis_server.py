"""Redis for tests: the shared server with a per-test key prefix, or a private throwaway one.

Tests that only read and write use the shared Redis (``HEARTH_TEST_REDIS_URL``, default
127.0.0.1:6379) under a unique prefix, and delete their keys afterwards, so parallel runs never see
each other. Tests that kill and restart Redis get a ``PrivateRedis`` of their own on a free port:
the shared one is never restarted. When no Redis answers, the helpers raise: a store test that
cannot reach Redis fails, it never skips.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from urllib.parse import urlsplit

from server.redis_keys import RedisKeys
from server.redis_store import Client

SHARED_URL = os.environ.get("HEARTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """A raw PING, so the check needs no event loop and no client configuration."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def shared_url() -> str:
    """The shared Redis' URL, or an error that says how to get one (tests must not skip)."""
    parts = urlsplit(SHARED_URL)
    if not answers(parts.hostname or "127.0.0.1", parts.port or 6379):
        raise RuntimeError(f"no Redis at {SHARED_URL}: start redis-server or set HEARTH_TEST_REDIS_URL")
    return SHARED_URL


def unique_prefix() -> str:
    return f"hearth-test-{uuid.uuid4().hex}:"


async def delete_prefix(client: Client, prefix: str) -> int:
    """Delete every key under ``prefix``; returns how many there were."""
    keys = [key async for key in client.scan_iter(match=RedisKeys(prefix).pattern(), count=500)]
    return int(await client.delete(*keys)) if keys else 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A ``redis-server`` of one's own, with no persistence, that a test may SIGKILL and restart.

    ``restart`` reuses the port, as a restarted Redis behind a fixed address would; with
    ``--save ""`` and no AOF the data is gone afterwards, which is what a node must survive.
    """

    def __init__(self, port: int | None = None) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed")
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 5.0) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not answers("127.0.0.1", self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private redis-server on port {self.port} did not start")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: no goodbye to clients, nothing saved."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=5)
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.kill()


class PrivateSentinel:
    """A Sentinel watching a ``PrivateRedis`` as ``mymaster``, to prove ``redis+sentinel://`` URLs work."""

    def __init__(self, master: PrivateRedis, config_dir: str, service: str = "mymaster") -> None:
        self.master, self.service, self.port = master, service, free_port()
        self.config = os.path.join(config_dir, f"sentinel-{self.port}.conf")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.service}"

    def __enter__(self) -> PrivateSentinel:
        with open(self.config, "w") as config:
            config.write(f"port {self.port}\nbind 127.0.0.1\n")
            config.write(f"sentinel monitor {self.service} 127.0.0.1 {self.master.port} 1\n")
        args = ["redis-server", self.config, "--sentinel", "--loglevel", "warning"]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while not answers("127.0.0.1", self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private sentinel on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=5)


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 < 65536:
            try:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port + 10000))
                return port
            except OSError:
                continue


class PrivateCluster:
    """Three empty primaries joined into a Redis Cluster, to prove each script stays in one slot."""

    def __init__(self, config_dir: str, size: int = 3) -> None:
        self.config_dir = config_dir
        self.ports = [free_cluster_port() for _ in range(size)]
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def __enter__(self) -> PrivateCluster:
        for port in self.ports:
            args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
            args += ["--appendonly", "no", "--cluster-enabled", "yes", "--dir", self.config_dir]
            args += ["--cluster-config-file", f"nodes-{port}.conf", "--loglevel", "warning"]
            self.processes.append(spawn(args))
        for port in self.ports:
            wait_until(functools.partial(answers, "127.0.0.1", port), f"cluster node {port} did not start")
        create = ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports)]
        subprocess.run([*create, "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True)
        for port in self.ports:
            wait_until(functools.partial(self._state_ok, port), "cluster did not converge", timeout=10)
        return self

    @staticmethod
    def _state_ok(port: int) -> bool:
        info = subprocess.run(["redis-cli", "-p", str(port), "cluster", "info"], capture_output=True)
        return b"cluster_state:ok" in info.stdout

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for process in self.processes:
            process.kill()
            process.wait(timeout=5)


def spawn(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_until(ready: Callable[[], bool], failure: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(0.05)
