"""The Lab: network namespaces made for one run, joined by the link emulator, and everything started in them.

Each role (the server, each member's home) gets a namespace of its own with one TUN device and one
address in 10.77.0.0/24; the emulator (``tests/net/emulator.py``) is the only thing between them,
so every packet between two roles crosses the sender's uplink and the receiver's downlink. The root
namespace gets no address and no route: the lab's traffic stays inside the namespaces it made, and
a test reaches a server in the lab through a thread that has entered its namespace (``InNamespace``).

Names are unique per run (``nl-<pid>-<random>-<role>``), so parallel runs never collide, and
``close`` removes what the run made (processes, the emulator and with it the devices, namespaces)
even after a failure. Namespaces left by a run that was killed outright are swept by the next run:
their owner's pid is in their name.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.net.links import CLEAN, Conditions
from tests.net.netns import NETNS_DIR, InNamespace

ROOT = Path(__file__).resolve().parents[2]
SUBNET = "10.77.0"  # only ever inside the lab's own namespaces
DEVICE = "lab0"
NAME = re.compile(r"^nl-(\d+)-[0-9a-f]{4}-")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class Lab:
    """Namespaces by role, the emulator between them, and the processes started inside them."""

    def __init__(self, roles: Sequence[str], *, seed: int | None = None) -> None:
        assert len(set(roles)) == len(roles), roles
        self.tag = f"nl-{os.getpid()}-{secrets.token_hex(2)}"
        self.roles = list(roles)
        self.seed = seed
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.tag}-"))
        self.processes: list[subprocess.Popen[Any]] = []
        self.emulator: subprocess.Popen[str] | None = None
        self.control: socket.socket | None = None
        self._control_lines: Any = None
        self._threads: dict[str, InNamespace] = {}
        self._made: list[str] = []

    def namespace(self, role: str) -> str:
        return f"{self.tag}-{role}"

    def address(self, role: str) -> str:
        return f"{SUBNET}.{self.roles.index(role) + 1}"

    # -- life --------------------------------------------------------------------------------------

    def start(self) -> Lab:
        if os.geteuid() != 0:
            raise AssertionError("the network lab needs root (network namespaces, TUN devices)")
        sweep_dead_labs()
        try:
            for role in self.roles:
                ns = self.namespace(role)
                ip("netns", "add", ns)
                self._made.append(ns)
                # IPv4 only: no link-local IPv6 candidates or router solicitations to route.
                self._sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
                ip("-n", ns, "link", "set", "lo", "up")
            self._start_emulator()
            for role in self.roles:
                ns = self.namespace(role)
                ip("-n", ns, "addr", "add", f"{self.address(role)}/24", "dev", DEVICE)
                ip("-n", ns, "link", "set", DEVICE, "up")
        except BaseException:
            self.close()
            raise
        return self

    def _sysctl(self, ns: str, *settings: str) -> None:
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", *settings], check=True, capture_output=True)

    def _start_emulator(self) -> None:
        control = self.dir / "control.sock"
        cmd = [sys.executable, "-m", "tests.net.emulator", "--control", str(control), "--device", DEVICE]
        cmd += [arg for role in self.roles for arg in ("--namespace", f"{self.namespace(role)}={self.address(role)}")]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
        log = (self.dir / "emulator.log").open("w")
        self.emulator = subprocess.Popen(
            cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
        )
        assert self.emulator.stdout is not None
        line = self.emulator.stdout.readline()
        if not line.startswith('{"ready"'):
            raise RuntimeError(f"the emulator did not start: {line}{(self.dir / 'emulator.log').read_text()}")
        self.control = socket.socket(socket.AF_UNIX)
        self.control.connect(str(control))
        self._control_lines = self.control.makefile("rwb")

    def close(self) -> None:
        """Stop what runs in the lab, then the emulator (its devices go with it), then the namespaces."""
        for process in reversed(self.processes):
            stop(process)
        for ns in self._made:  # whatever they started there (a browser's children)
            for pid in pids_in(ns):
                _kill(pid)
        for where in self._threads.values():
            where.close()
        if self._control_lines is not None:
            self._control_lines.close()
        if self.control is not None:
            self.control.close()
        if self.emulator is not None:
            if self.emulator.stdin:
                self.emulator.stdin.close()  # its signal to exit
            stop(self.emulator)
            if self.emulator.stdout:
                self.emulator.stdout.close()
        for ns in self._made:
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        self._made.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Lab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- links -------------------------------------------------------------------------------------

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        self._control_lines.write(json.dumps(request).encode() + b"\n")
        self._control_lines.flush()
        answer: dict[str, Any] = json.loads(self._control_lines.readline())
        if not answer.pop("ok"):
            raise RuntimeError(f"emulator refused {request}: {answer['error']}")
        return answer

    def set(self, role: str, up: Conditions | None = None, down: Conditions | None = None) -> None:
        """Change a role's uplink and/or downlink now."""
        request: dict[str, Any] = {"op": "set", "member": self.namespace(role)}
        if up is not None:
            request["up"] = up.to_json()
        if down is not None:
            request["down"] = down.to_json()
        self._ask(request)

    def set_both(self, role: str, conditions: Conditions) -> None:
        self.set(role, up=conditions, down=conditions)

    def reset(self) -> None:
        for role in self.roles:
            self.set_both(role, CLEAN)

    def cut(self, roles: Sequence[str], seconds: float, *, up: bool = True, down: bool = True) -> tuple[float, float]:
        """An outage of ``seconds`` from now on the links of ``roles``, at one instant; its wall-clock start, end."""
        members = [self.namespace(role) for role in roles]
        answer = self._ask({"op": "cut", "members": members, "seconds": seconds, "up": up, "down": down})
        return answer["start"], answer["end"]

    def counts(self, role: str) -> dict[str, dict[str, int]]:
        """Per link ("up", "down"): packets delivered, lost, dropped by the queue, the outage, the firewall;
        and "rtp": RTP packets the role sent, and how many of them were repeats (in-band retransmissions)."""
        answer = self._ask({"op": "counts", "member": self.namespace(role)})
        return {"up": answer["up"], "down": answer["down"], "rtp": answer["rtp"]}

    def timeline(self, role: str, link: str, since: float, until: float) -> list[tuple[float, int, int]]:
        """(wall time, packets, bytes) per 50 ms that came out of a role's ``link`` between two wall times."""
        answer = self._ask(
            {"op": "timeline", "member": self.namespace(role), "link": link, "since": since, "until": until}
        )
        return [(t, p, b) for t, p, b in answer["bins"]]

    # -- processes ---------------------------------------------------------------------------------

    def command(self, role: str, *cmd: str) -> list[str]:
        """``cmd`` as run inside a role's namespace."""
        return ["ip", "netns", "exec", self.namespace(role), *cmd]

    def popen(self, role: str, cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``cmd`` in a role's namespace; ``close`` stops it."""
        process = subprocess.Popen(self.command(role, *cmd), **kwargs)
        self.processes.append(process)
        return process

    def inside(self, role: str) -> InNamespace:
        """A thread in a role's namespace, for sockets this process opens there (HTTP to a lab server)."""
        if role not in self._threads:
            self._threads[role] = InNamespace(self.namespace(role))
        return self._threads[role]

    def browser_executable(self, role: str, chromium: Path = Path("/usr/bin/chromium")) -> Path:
        """A script that runs Chromium in a role's namespace, for Playwright's ``executable_path``.

        Playwright talks to the browser over a pipe, which crosses namespaces; only the browser's
        own sockets are in the role's namespace.
        """
        script = self.dir / f"chromium-{role}"
        script.write_text(f'#!/bin/sh\nexec ip netns exec {self.namespace(role)} {chromium} "$@"\n')
        script.chmod(0o755)
        return script


def stop(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def pids_in(ns: str) -> list[int]:
    done = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False)
    return [int(pid) for pid in done.stdout.split()]


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """Running (a zombie has finished; its parent reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def sweep_dead_labs() -> list[str]:
    """Remove namespaces of lab runs whose process is gone (killed before ``close`` could run)."""
    swept = []
    for path in NETNS_DIR.glob("nl-*") if NETNS_DIR.exists() else ():
        match = NAME.match(path.name)
        if match and not alive(int(match.group(1))):
            for pid in pids_in(path.name):
                _kill(pid)
            subprocess.run(["ip", "netns", "del", path.name], check=False, capture_output=True)
            swept.append(path.name)
    return swept
