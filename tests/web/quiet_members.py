"""Members without a browser (tests/web/members.mjs): real Socket.IO participants of the real server,
so a room can hold a full group while only the people under test are Chromium pages."""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.web.hearth_process import ROOT, HearthServer

SCRIPT = Path(__file__).with_name("members.mjs")


@dataclass
class QuietMembers:
    """One node process holding a connection per member; `ids` maps each name to its participant id."""

    process: subprocess.Popen[str]
    ids: dict[str, str] = field(default_factory=dict)
    lines: queue.Queue[str] = field(default_factory=queue.Queue)

    @classmethod
    def seat(cls, hearth: HearthServer, session_id: str, names: list[str], timeout: float = 30.0) -> QuietMembers:
        node = shutil.which("node")
        assert node, "node is needed (apt-get install -y nodejs)"
        tokens = [hearth.invite(session_id, name)["token"] for name in names]
        process = subprocess.Popen(
            [node, str(SCRIPT), hearth.base, *tokens],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        members = cls(process)
        threading.Thread(target=members._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while len(members.ids) < len(names):
            line = members.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line.startswith("ready "):
                _, pid, name, _status = line.split(" ", 3)
                members.ids[name] = pid
            elif line.startswith("refused"):
                raise AssertionError(line)
        return members

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def tell(self, name: str, command: str) -> None:
        """`command`: an event with an optional JSON payload ("hand.raise"), or "drop" / "back"."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{self.ids[name]} {command}\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
