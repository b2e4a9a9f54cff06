"""Fuzz the compiled packet path (``server/media/_fastpath.c``) against its Python twin.

Each input drives one of four targets, always through both paths at once, and any difference is a
finding (so is an exception from either path; a memory error ends the process, and under
``scripts/sanitize.sh --exec`` AddressSanitizer says where):

- ``guard``: raw datagrams (RTP, RTCP, STUN, DTLS, junk; from the address ICE proved, from a
  stranger, over IPv6) into both receive hooks (``seam.guard.admit`` + ``LeanReceiver`` against
  ``Inlet``): the same drops by reason, the same datagrams handed to aioice (or to aioice's STUN parser).
- ``srtp``: RTP packets built from the input, SRTP-protected with a fixed key (so they decrypt and
  reach the header, extension, padding, statistics and NACK code), some tampered with after
  protection, replayed, unprotected or of an unknown SSRC, on a clock the input moves, with
  subscribers' NACKs to repair upstream between them, into both receive paths as
  ``tests/media/test_inlet.py`` wires them: the same packets handed on, statistics, NACKs and
  keyframe requests for gaps beyond repair.
- ``outlet``: forward / restart / layer switch (VP8 indexes re-based, then shifted) / budget window / NACK
  sequences (on a clock the input moves) into a
  ``Sink`` + ``LeanSender`` and into a compiled ``Outlet`` (``tests/media/test_outlet.py``'s ``Pair``,
  real UDP sockets on loopback, libsrtp sessions keyed alike): the same answers, the same bytes on the
  wire (resends included), the same numbers NACKed upstream, sender report and resend counts.
- ``vp8``: ``is_vp8_keyframe`` against ``vp8_starts_frame and vp8_is_keyframe``.

Engines: ``atheris`` (libFuzzer's mutations, guided by coverage of the Python twin, which follows the
C code's branches rule for rule; the C module itself is built by gcc without coverage hooks) where it
is installed (the test lock has it on Linux), else ``random``: a mutation fuzzer with a fixed seed.
Under ``scripts/sanitize.sh`` the default is ``random``: gcc's preloaded ASan runtime provides the
coverage hooks atheris's libFuzzer needs, so libFuzzer sees no coverage at all there and shrinks its
corpus to one byte, where the random engine keeps mutating the seeds. Both start from seeds that
reach every target's deep paths. Prints executions and findings; each
finding's input is saved under ``artifacts/fuzz/`` (replay one: ``--replay FILE``). Exits 1 on findings.

    .venv/bin/python bench/fuzz_fastpath.py --seconds 60 [--engine random] [--seed 1]
    bash scripts/sanitize.sh --exec .venv/bin/python bench/fuzz_fastpath.py --seconds 600
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import socket
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = ("guard", "srtp", "outlet", "vp8")
KEY = bytes(range(28))  # fixed: AES-128-GCM key and salt for every session, so inputs replay exactly
MAX_RECORDS = 48
FINDINGS_DIR = ROOT / "artifacts" / "fuzz"


class Finding(Exception):
    """The two paths disagree."""


class Reader:
    """Consumes an input as bytes and small integers; past its end, zeros."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def more(self) -> bool:
        return self.at < len(self.data)

    def take(self, count: int) -> bytes:
        chunk = self.data[self.at : self.at + count]
        self.at += count
        return chunk

    def byte(self) -> int:
        chunk = self.take(1)
        return chunk[0] if chunk else 0

    def int(self, size: int) -> int:
        return int.from_bytes(self.take(size).ljust(size, b"\0"), "big")


def load(instrument: Callable[[], contextlib.AbstractContextManager[Any]]) -> None:
    """Import the paths under test (the Python twin instrumented for coverage when atheris runs)."""
    global aioice_stun, pylibsrtp, compiled, vp8, inlet_tests, outlet_tests
    if os.environ.get("HEARTH_SANITIZED_FASTPATH"):  # scripts/sanitize.sh --exec: its build, not the in-place one
        sys.path.insert(0, str(ROOT / "scripts"))
        import sanitized_fastpath  # noqa: F401  # puts its finder first on sys.meta_path
    with instrument():
        import pylibsrtp
        from aioice import stun as aioice_stun

        from server.media import vp8
        from server.media.seam import compiled
        from tests.media import test_inlet as inlet_tests
        from tests.media import test_outlet as outlet_tests
    if compiled.BUILT is None:
        raise SystemExit("server/media/_fastpath.c is not built: pip install -e . (or scripts/setup.sh) builds it")


aioice_stun: Any
pylibsrtp: Any
compiled: Any
vp8: Any
inlet_tests: Any
outlet_tests: Any


def agree(what: str, python: Any, native: Any) -> None:
    if python != native:
        raise Finding(f"{what}: Python {python!r:.300} != compiled {native!r:.300}")


def aioice_parser(data: bytes, addr: Any) -> None:
    aioice_stun.parse_message(data)


def fuzz_guard(r: Reader) -> None:
    """Raw datagrams into both guarded hooks; an SSRC known, so RTP of it is unprotected (and refused)."""
    original = aioice_parser if r.byte() & 1 else None
    sources = [inlet_tests.PEER, inlet_tests.STRANGER, ("::1", 1, 0, 0), ("::1", 1)]
    datagrams = []
    while r.more() and len(datagrams) < MAX_RECORDS:
        flags, size = r.byte(), r.byte()
        data = r.take(size)
        if flags & 4:
            data = data * 8  # past the 1500 bytes any packet of ours fits in
        datagrams.append((data, sources[flags & 3]))
    python, native = inlet_tests.guarded(datagrams, original)
    agree("guard", python.seen(), native.seen())


def fuzz_srtp(r: Reader) -> None:
    """RTP packets protected with the fixed key (some tampered with, replayed, plain) into both receive paths."""
    head = r.byte()
    video, first_seq = bool(head & 1), r.int(2)
    tx = inlet_tests.session(KEY, outbound=True)
    clock = inlet_tests.Clock()  # both paths time gaps by it (reorder allowance, NACK retries): the input moves it
    python = inlet_tests.Path(KEY, video, False, first_seq, clock=clock)
    native = inlet_tests.Path(KEY, video, True, first_seq, clock=clock)
    ssrc = inlet_tests.SSRC.to_bytes(4, "big")
    for _ in range(MAX_RECORDS):
        if not r.more():
            break
        control, size = r.byte(), r.byte()
        plain = bytearray(r.take(size).ljust(12, b"\0"))
        plain[0] = 0x80 | (plain[0] & 0x3F)  # RTP version 2, any padding, extension and CSRC count
        plain[1] &= 0xFF if control & 0x40 else 0x7F  # an RTP payload type (or, 0x40, maybe RTCP's)
        if not control & 0x01:
            plain[8:12] = ssrc  # the track the inlet knows (0x01: whatever SSRC the input says)
        data = bytes(plain)
        if not control & 0x02:  # 0x02: sent without SRTP
            try:
                data = tx.protect(data)
            except pylibsrtp.Error:
                continue  # libsrtp will not protect it (an extension past the end): it never arrives
        if control & 0x04:  # tampered with on the way
            spot, value = r.byte(), r.byte() or 1
            tampered = bytearray(data)
            tampered[spot % len(tampered)] ^= value
            data = bytes(tampered)
        if control & 0x20:  # time passes before it arrives
            clock.now += r.byte() / 1000
        if control & 0x80:  # a subscriber NACKs packets of ours that never came: repair upstream
            high = python.track.stats.max_seq
            lost = [(high - d) & 0xFFFF for d in r.take(r.byte() % 8)]
            for path in (python, native):
                path.receiver.repair(path.handle, lost)
        addr = inlet_tests.STRANGER if control & 0x10 else inlet_tests.PEER
        for _ in range(2 if control & 0x08 else 1):  # 0x08: the network duplicates it (a replay)
            python.hook(data, addr)
            native.hook(data, addr)
    agree("srtp", python.seen(), native.seen())


def drain(sock: socket.socket) -> list[bytes]:
    """Everything that has arrived (loopback delivers within the sendto call)."""
    sock.setblocking(False)
    got = []
    with contextlib.suppress(BlockingIOError):
        while True:
            got.append(sock.recv(2048))
    return got


def fuzz_outlet(r: Reader) -> None:
    """forward / restart / layer switch / retransmit into a Python sink and a compiled outlet: same
    answers, same wire."""
    head = r.byte()
    pair = outlet_tests.Pair("video" if head & 1 else "audio", seed=head >> 1)
    last_out, now = 0, 1000.0
    try:
        for step in range(MAX_RECORDS):
            if not r.more():
                break
            op = r.byte()
            if op & 3 == 2 and op & 4 and op & 8:  # a simulcast layer switch: its keyframe's timestamp
                timestamp = r.int(4)
                for sink in pair.sinks:
                    sink.switch(timestamp)
            elif op & 3 == 2 and op & 4:
                for sink in pair.sinks:
                    sink.restart()
            elif op & 3 == 2:  # a sender report goes out: a new retransmission budget window
                for lean in pair.leans:
                    lean.roll_budget()
            elif op & 3 == 3:  # a NACK: mostly of what went out lately (history is by outgoing number)
                now += r.byte() / 200  # up to 1.3 s on: across the resend interval or within it
                asked = [r.int(2) if d & 0x80 else (last_out - d) & 0xFFFF for d in r.take(r.byte() % 8)]
                upstream = [lean.retransmit(asked, now) for lean in pair.leans]
                agree(f"NACKed upstream #{step}", *upstream)
            else:
                seq, timestamp, size = r.int(2), r.int(4), r.int(2) % 1600
                chunk = r.take(min(size, 64)) or b"\x90"
                payload = (chunk * (size // len(chunk) + 1))[:size]  # up to past what SRTP can protect
                agree(f"forward #{step}", *pair.forward(payload, seq, timestamp, op >> 7))
            python, native = (drain(wire.sock) for wire in pair.wires)
            agree(f"wire after #{step}", python, native)
            if native:
                last_out = int.from_bytes(native[-1][2:4], "big")
        reports = [lean.sender_report()[20:28] for lean in pair.leans]  # packet and octet counts
        agree("sender report", *reports)
        counts = [
            (lean.retransmitted, lean.resend_repeats, lean.resend_over_budget, lean.resend_stale) for lean in pair.leans
        ]
        agree("resend counts", *counts)
    finally:
        pair.close()


def fuzz_vp8(r: Reader) -> None:
    payload = r.take(64)
    python = vp8.vp8_starts_frame(payload) and vp8.vp8_is_keyframe(payload)
    agree("vp8 keyframe", python, compiled.BUILT.is_vp8_keyframe(payload))


RUN: dict[str, Callable[[Reader], None]] = {
    "guard": fuzz_guard,
    "srtp": fuzz_srtp,
    "outlet": fuzz_outlet,
    "vp8": fuzz_vp8,
}


def seeds() -> Iterator[bytes]:
    """Inputs that reach each target's deep paths, for the engines to start from."""
    rng = random.Random(0)
    yield bytes([0, 1]) + b"".join(bytes([f, len(d)]) + d for f, d in enumerate(_junk()))
    for video in (0, 1):
        records = b""
        for i, seq in enumerate([10, 11, 13, 12, 12, 40, 9, 65535, 0, 2]):
            level = 0x10 if not video else 0
            header = struct.pack("!BBHII", 0x80 | level | (0x20 if i == 4 else 0), 96 | (0x80 if i == 3 else 0),
                                 seq, seq * 960, 0)  # fmt: skip
            extension = bytes([0xBE, 0xDE, 0, 1, 0x10, 0x80 | i, 0, 0]) if level else b""
            payload = bytes([0x90, 0x80, i, 0]) + rng.randbytes(20) + (b"\0\0\x03" if i == 4 else b"")
            plain = header + extension + payload
            control = [0, 0, 0x20, 0x08, 0x20, 0x04, 0x22, 0x01, 0x90, 0x40][i]
            extra = (b"\x05\x20" if control & 0x04 else b"") + (b"\x1e" if control & 0x20 else b"")
            extra += b"\x03\x01\x02\x04" if control & 0x80 else b""  # 30 ms on; a NACK of three
            records += bytes([control, len(plain)]) + plain + extra
        yield bytes([1, video]) + (8).to_bytes(2, "big") + records
    for video in (0, 1):
        steps = b""
        for seq in range(65530, 65530 + 12):
            payload = bytes([0x90, 0x80, seq & 0x7F, 0x01 if seq % 5 else 0x00]) + b"\x11" * 20  # keyframe or not
            steps += bytes([0x80]) + struct.pack("!HIH", seq & 0xFFFF, seq * 3000, len(payload)) + payload
        steps += bytes([3, 0, 3, 0, 3, 0x80]) + (12345).to_bytes(2, "big")  # a NACK: recent, older, never sent
        steps += bytes([2, 3, 10, 2, 0, 3])  # a budget window rolled, the NACK again 50 ms on: repeats
        steps += bytes([6, 0]) + struct.pack("!HIH", 70, 5, 1500) + b"\x10" * 64  # restart, then past SRTP's limit
        yield bytes([2, video | 6]) + steps
    # Simulcast layers with VP8 running indexes (PictureID 15- and 7-bit, TL0PICIDX, KEYIDX): two switches
    steps = b""
    layers = [(0x1234, 250, 30, True, 1000, 50_000), (0x05, 9, 3, False, 7000, 900_000), (0x7FF0, 2, 31, True, 10, 7)]
    for picture, tl0, keyidx, wide, first_seq, first_ts in layers:
        if first_seq != 1000:  # a switch to this layer, at its keyframe's timestamp
            steps += bytes([14]) + first_ts.to_bytes(4, "big")
        for n in range(4):
            pid = (picture + n) & 0x7FFF
            field = bytes([0x80 | pid >> 8, pid & 0xFF]) if wide else bytes([pid & 0x7F])
            payload = bytes([0x90, 0xF0]) + field + bytes([(tl0 + n) & 0xFF, 0x20 | keyidx, 0x10 if n == 0 else 0x11])
            steps += (
                bytes([0x80]) + struct.pack("!HIH", first_seq + n, first_ts + 3000 * n, 40 + len(payload)) + payload
            )
    yield bytes([2, 7]) + steps
    yield bytes([3, 0x90, 0x80, 0x80, 0x00])


def _junk() -> list[bytes]:
    return [
        b"",
        bytes([0x80, 0xC8]) + bytes(26),  # an RTCP SR
        struct.pack("!HH", 1, 8) + bytes.fromhex("2112a442") + bytes(12) + b"\x00\x03\x00\x02\x00\x00\x00\x00",
        bytes([0x16, 0xFE, 0xFD]) + bytes(10),
        bytes([0x80, 0x60, 0, 1, 0, 0, 0, 0]) + (0x1234ABCD).to_bytes(4, "big") + bytes(20),
    ]


class Campaign:
    """Counts executions per target and keeps each distinct finding (printed once, its input saved)."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.started = time.monotonic()
        self.executions: Counter[str] = Counter()
        self.findings: dict[str, int] = {}

    def one(self, data: bytes) -> None:
        if not data:
            return
        target = TARGETS[data[0] % len(TARGETS)]
        self.executions[target] += 1
        try:
            RUN[target](Reader(data[1:]))
        except Exception as exc:  # a difference, or an exception from either path: both are findings
            kind = f"{target}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:400]
            if kind not in self.findings:
                FINDINGS_DIR.mkdir(parents=True, exist_ok=True)
                saved = FINDINGS_DIR / f"finding-{hashlib.sha1(data).hexdigest()[:12]}.bin"
                saved.write_bytes(data)
                print(f"finding {len(self.findings) + 1}: {kind} (input: {saved})", flush=True)
                self.findings[kind] = 0
            self.findings[kind] += 1

    def done(self) -> bool:
        return time.monotonic() >= self.deadline

    def report(self) -> int:
        seconds = time.monotonic() - self.started
        total = sum(self.executions.values())
        by_target = ", ".join(f"{t} {self.executions[t]}" for t in TARGETS)
        print(f"executions: {total} in {seconds:.0f} s ({total / max(seconds, 1e-9):.0f}/s; {by_target})")
        print(f"findings: {len(self.findings)} distinct, {sum(self.findings.values())} inputs")
        for kind, count in self.findings.items():
            print(f"  {count} x {kind}")
        sys.stdout.flush()
        return 1 if self.findings else 0


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    """A few of libFuzzer's simpler mutations: flip, set, insert, erase, copy, splice."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        choice = rng.randrange(6)
        at = rng.randrange(len(out) + 1)
        if choice == 0 and out:
            out[at % len(out)] ^= 1 << rng.randrange(8)
        elif choice == 1 and out:
            out[at % len(out)] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        elif choice == 2:
            out[at:at] = rng.randbytes(rng.randint(1, 8))
        elif choice == 3 and out:
            del out[at : at + rng.randint(1, 8)]
        elif choice == 4 and out:
            start = rng.randrange(len(out))
            out[at:at] = out[start : start + rng.randint(1, 16)]
        else:
            other = rng.choice(pool)
            out[at:] = other[rng.randrange(len(other) + 1) :]
    return bytes(out[:4096])


def run_random(campaign: Campaign, seed: int) -> None:
    rng = random.Random(seed)
    pool = list(seeds())
    for data in pool:
        campaign.one(data)
    while not campaign.done():
        data = rng.randbytes(rng.randrange(64)) if rng.random() < 0.05 else mutate(rng, rng.choice(pool), pool)
        campaign.one(data)
        if len(pool) < 4096 and rng.random() < 0.01:
            pool.append(data)  # no coverage to guide it: keep a few mutants to mutate further


def run_atheris(campaign: Campaign, seed: int, seconds: float) -> None:
    import atheris

    corpus = tempfile.mkdtemp(prefix="hearth-fuzz-corpus-")
    for i, data in enumerate(seeds()):
        Path(corpus, f"seed-{i}").write_bytes(data)

    def test_one_input(data: bytes) -> None:
        if campaign.done():
            os._exit(campaign.report())  # libFuzzer would exit without Python's atexit: report first
        campaign.one(data)

    argv = [sys.argv[0], f"-seed={seed}", f"-max_total_time={int(seconds) + 60}", "-max_len=4096", corpus]
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="how long to fuzz")
    parser.add_argument("--engine", choices=["auto", "atheris", "random"], default="auto")
    parser.add_argument("--seed", type=int, default=1, help="the engine's random seed")
    parser.add_argument("--replay", type=Path, help="run one saved input and say what it finds")
    args = parser.parse_args()
    engine = args.engine
    sanitized = os.environ.get("HEARTH_SANITIZED_FASTPATH")
    if engine == "auto":
        try:
            import atheris
        except ImportError:
            engine = "random"
        else:
            engine = "random" if sanitized else "atheris"  # see the module's docstring
    instrument: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext
    if engine == "atheris" and args.replay is None:
        import atheris

        def instrument() -> contextlib.AbstractContextManager[Any]:
            return atheris.instrument_imports(include=["server.media"])  # type: ignore[no-any-return]

    load(instrument)
    module = compiled.BUILT.__file__
    if sanitized and os.path.realpath(module) != os.path.realpath(sanitized):
        raise SystemExit(f"the sanitized build {sanitized} is not the module loaded ({module})")
    print(f"fuzz_fastpath: engine {engine}, seed {args.seed}, module {module}{' (sanitized)' if sanitized else ''}")
    sys.stdout.flush()
    campaign = Campaign(args.seconds)
    if args.replay is not None:
        campaign.one(args.replay.read_bytes())
        return campaign.report()
    if engine == "atheris":
        run_atheris(campaign, args.seed, args.seconds)
    else:
        run_random(campaign, args.seed)
    return campaign.report()


if __name__ == "__main__":
    sys.exit(main())
