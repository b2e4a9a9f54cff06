"""Start a real Hearth server as a subprocess on a free loopback port, and talk to its HTTP API."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


def direct(call: Callable[[], T]) -> T:
    """Reach a server from here (the default); tests/net passes a thread inside the server's namespace."""
    return call()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class HearthServer:
    """A running `python -m server serve`; `log` collects its output for failure messages."""

    base: str
    operator_key: str
    process: subprocess.Popen[bytes]
    log_path: Path
    sessions: list[str] = field(default_factory=list)
    reach: Callable[[Callable[[], Any]], Any] = direct

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token or self.operator_key}")
        if data is not None:
            req.add_header("Content-Type", "application/json")

        def call() -> Any:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read() or b"null")

        return self.reach(call)

    def create_session(
        self,
        title: str,
        *,
        requires_agreement: bool = True,
        admission: str = "lobby",
        requires_safety_plan: bool = False,
        e2ee: str | None = None,
        starts_at: str | None = None,
    ) -> Any:
        """`starts_at`: ISO 8601 with a time zone, when the session is scheduled to start."""
        body = {
            "title": title,
            "requires_agreement": requires_agreement,
            "requires_safety_plan": requires_safety_plan,
            "admission": admission,
        }
        if e2ee is not None:
            body["e2ee"] = e2ee
        if starts_at is not None:
            body["starts_at"] = starts_at
        return self.request("POST", "/api/sessions", body)

    def invite(self, session_id: str, name: str, role: str = "member") -> Any:
        return self.request("POST", f"/api/sessions/{session_id}/invites", {"name": name, "role": role})

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start_server(
    log_dir: Path,
    extra_args: tuple[str, ...] = (),
    *,
    secret: str | None = None,
    operator_key: str | None = None,
    port: int | None = None,
    hearth: Sequence[str] = (sys.executable, "-m", "server"),
    cwd: Path = ROOT,
    host: str = "127.0.0.1",
    prefix: Sequence[str] = (),
    loopback: bool = True,
    reach: Callable[[Callable[[], Any]], Any] = direct,
    adapt_bandwidth: bool = False,
) -> HearthServer:
    """Launch the server and wait until /healthz answers (or fail with its log).

    `port` is for nodes that must know each other's address before they start; by default a free one.
    `hearth` and `cwd` run another installation (tests/install: the `hearth` script of a wheel's venv).
    `prefix` runs it through another command, and `reach` makes its HTTP calls where it can be reached
    (tests/net: `ip netns exec <ns>` and a thread inside that namespace, with `host` the lab address
    and `loopback` off, since a lab server has a real interface to offer ICE candidates on).
    """
    port = port or free_port()
    key = operator_key or secrets.token_urlsafe(16)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"hearth-{port}.log"
    cmd = [
        *prefix,
        *hearth,
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        # "--flag=value": a random key may begin with "-", which argparse would take for a flag.
        f"--secret={secret or secrets.token_urlsafe(32)}",
        f"--operator-key={key}",
        *(["--allow-loopback"] if loopback else []),
        *extra_args,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if not adapt_bandwidth:  # pages starving on two cores are not congested links (tests/net runs it)
        env["HEARTH_ADAPT_BANDWIDTH"] = "0"  # Settings.adapt_bandwidth (--fixed-bandwidth)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = HearthServer(f"http://{host}:{port}", key, proc, log_path, reach=reach)

    def healthy() -> None:
        with urllib.request.urlopen(server.base + "/healthz", timeout=1):
            pass

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"hearth exited with {proc.returncode}:\n{server.logs()}")
        try:
            reach(healthy)
            return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"hearth did not answer /healthz within 20 s:\n{server.logs()}")


def start_redis(log_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A throwaway redis-server on a free loopback port, without persistence."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"redis-{port}.log").open("wb") as log:
        proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")
