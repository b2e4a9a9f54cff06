"""The lab itself: namespaces joined only by the emulator, links applied to real traffic, changed at
runtime, and nothing left behind. Needs root (network namespaces, TUN devices)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest

from tests.net.emulator import EARLY
from tests.net.lab import SUBNET, Lab, alive, pids_in, sweep_dead_labs
from tests.net.links import Conditions

pytestmark = pytest.mark.slow

PORT = 5004
SLACK = 0.3  # seconds a packet may take to reach the emulator on a loaded machine (0.1 was too little)
# The emulator reports an outage's end through its own reading of the wall clock against its loop's: a
# process preempted between the two readings shifts it; 1 ms is far below the 5 ms between packets.
CLOCKS = 0.001
OUTAGE_PACKETS = 400  # 2 s of sending at 5 ms: a 1 s cut inside it, and time after it
SO_RCVBUFFORCE = 33  # Linux (root): a receive buffer above net.core.rmem_max; Python's socket module lacks the name


class Listener:
    """A UDP socket in a lab namespace that counts what arrives and when (wall clock)."""

    def __init__(self, lab: Lab, role: str) -> None:
        self.sock = lab.inside(role).run(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)  # a starved reader loses nothing
        self.sock.bind((lab.address(role), PORT))
        self.sock.settimeout(0.2)
        self.arrivals: list[float] = []
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while self.running:
            try:
                self.sock.recv(2048)
            except TimeoutError:
                continue
            self.arrivals.append(time.time())  # the clock ``send`` and the emulator's answers use

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


def send(lab: Lab, role: str, to: str, count: int, gap: float) -> list[float]:
    """Send ``count`` datagrams ``gap`` seconds apart; when each left (wall clock)."""
    sock = lab.inside(role).run(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    sent = []
    with sock:
        for _ in range(count):
            sent.append(time.time())
            sock.sendto(bytes(200), (lab.address(to), PORT))
            time.sleep(gap)
    return sent


def settled(listener: Listener, expected: int, timeout: float = 3.0) -> int:
    """How many arrived, once no more are coming (or ``expected`` did)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(listener.arrivals) < expected:
        time.sleep(0.05)
    return len(listener.arrivals)


def test_packets_cross_between_namespaces_through_both_links_conditions() -> None:
    with Lab(["server", "home"], seed=3) as lab:
        listener = Listener(lab, "server")
        try:
            send(lab, "home", "server", 200, 0.001)
            assert settled(listener, 200) == 200
            lab.set("home", up=Conditions(loss=0.3))
            lab.set("server", down=Conditions(loss=0.3))
            listener.arrivals.clear()
            send(lab, "home", "server", 1000, 0.001)
            arrived = settled(listener, 1000, timeout=1.0)
        finally:
            listener.close()
        counts = lab.counts("home")
        assert arrived / 1000 == pytest.approx(0.7 * 0.7, abs=0.05)
        assert counts["up"]["lost"] == pytest.approx(300, abs=50)


def test_an_outage_cut_at_runtime_drops_everything_until_it_ends() -> None:
    with Lab(["server", "home"]) as lab:
        listener = Listener(lab, "server")
        try:
            start, end = lab.cut(["home"], 1.0)
            sent = send(lab, "home", "server", OUTAGE_PACKETS, 0.005)
            # Once the emulator has decided every packet (delivered or cut), every delivered one arrives.
            deadline = time.monotonic() + 10.0
            while sum(lab.counts("home")["up"][k] for k in ("delivered", "outage")) < len(sent):
                assert time.monotonic() < deadline, lab.counts("home")
                time.sleep(0.05)
            up = lab.counts("home")["up"]
            settled(listener, up["delivered"], timeout=10.0)
        finally:
            listener.close()
        arrived = listener.arrivals
        # The cut applies when a packet reaches the emulator: allow it a scheduler's delay either side.
        inside = sum(start + SLACK <= t < end - SLACK for t in sent)
        after = sum(t >= end + SLACK for t in sent)
        assert end - start == pytest.approx(1.0)
        assert inside > 20 and after > 20, "the sender was too slow to test anything"
        # Nothing got through before the end (a due packet may leave EARLY, with those due now).
        assert min(arrived) >= end - EARLY - CLOCKS, min(arrived) - end
        assert len(arrived) == up["delivered"] and up["delivered"] + up["outage"] == len(sent), up
        assert up["delivered"] >= after  # what was sent well after it went through
        assert up["outage"] >= inside  # what was sent well inside it was cut


def test_a_firewall_drops_udp_except_to_the_endpoints_it_lets_through() -> None:
    with Lab(["server", "home"]) as lab:
        listener = Listener(lab, "server")
        try:
            lab.set_both("home", Conditions(udp_only=(f"{lab.address('server')}:{PORT + 1}",)))
            send(lab, "home", "server", 20, 0.001)
            assert settled(listener, 20, timeout=0.5) == 0
            lab.set_both("home", Conditions(udp_only=(f"{lab.address('server')}:{PORT}",)))
            send(lab, "home", "server", 20, 0.001)
            assert settled(listener, 20) == 20
        finally:
            listener.close()
        assert lab.counts("home")["up"]["filtered"] == 20


def test_the_lab_leaves_nothing_behind_even_when_the_test_fails() -> None:
    lab = Lab(["server", "home"])
    with pytest.raises(RuntimeError, match="a test failed"), lab:
        sleeper = lab.popen("home", ["sleep", "600"])
        started = lab.command("home", "sh", "-c", "sleep 600 >/dev/null 2>&1 & echo $!")  # not ours to wait for
        orphan = int(subprocess.run(started, capture_output=True, text=True, check=True).stdout)
        namespaces = [lab.namespace(role) for role in lab.roles]
        emulator = lab.emulator
        assert pids_in(namespaces[1])
        raise RuntimeError("a test failed")
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(ns in listed for ns in namespaces)
    assert emulator is not None
    assert sleeper.poll() is not None and emulator.poll() is not None
    assert not alive(orphan)
    assert not lab.dir.exists()


def test_the_root_namespace_gets_no_lab_address_or_device() -> None:
    with Lab(["server", "home"]):
        addresses = subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True).stdout
        links = subprocess.run(["ip", "link"], capture_output=True, text=True).stdout
    assert f"{SUBNET}." not in addresses
    assert "lab0" not in links


def test_namespaces_of_a_killed_run_are_swept_by_the_next() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    name = f"nl-{dead.pid}-beef-home"  # as a run with that pid would have named it
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        assert name in sweep_dead_labs()
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
    assert name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
