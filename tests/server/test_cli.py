"""The command line: `hearth token` mints a verifiable token; `hearth serve --demo` prints join links."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from server.auth import Tokens
from server.config import from_env_and_args
from tests.harness import free_port, running_server
from tests.web.hearth_process import start_server
from tests.web.people import ARTIFACTS

ROOT = Path(__file__).resolve().parents[2]


def test_token_command_mints_a_token_the_server_accepts() -> None:
    secret = "cli-secret-long-enough-for-hs256-0123"
    out = subprocess.run(
        [sys.executable, "-m", "server", "token", "--session", "s-1", "--name", "Ana", "--secret", secret],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    claims = Tokens(secret, 60).verify(out.stdout.strip())
    assert (claims.session_id, claims.name, claims.role) == ("s-1", "Ana", "member")


def test_flags_win_over_environment_which_wins_over_defaults() -> None:
    import argparse

    from server.config import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    env = {"HEARTH_PORT": "9001", "HEARTH_HOST": "0.0.0.0", "HEARTH_SECRET": "from-env"}
    settings = from_env_and_args(parser.parse_args(["--port", "9002"]), env)
    assert (settings.port, settings.host, settings.secret) == (9002, "0.0.0.0", "from-env")
    assert settings.public_url == "http://0.0.0.0:9002"


def test_production_refuses_generated_secrets() -> None:
    import argparse

    import pytest

    from server.config import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        from_env_and_args(parser.parse_args(["--production"]), {})


def test_serve_demo_prints_a_facilitator_url() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--port", str(port), "--demo", "--no-media"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        deadline, lines = time.monotonic() + 20, []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "demo facilitator URL" in line:
                break
        assert any(f"http://127.0.0.1:{port}/s/" in line and "#token=" in line for line in lines), lines
    finally:
        proc.terminate()
        proc.wait(10)


async def test_readyz_says_the_compiled_path_forwards_where_it_is_built() -> None:
    expected = "python" if os.environ.get("HEARTH_COMPILED_FORWARDING") == "0" else "compiled"
    for media, path in ((True, expected), (False, "off")):
        async with running_server(media=media, allow_loopback=True) as server:
            response = await server.http.get(f"{server.url}/readyz")
            assert (await response.json())["forwarding"] == path


@pytest.mark.media
def test_python_forwarding_switches_to_the_python_path_and_the_start_line_says_so() -> None:
    server = start_server(ARTIFACTS / "logs", ("--python-forwarding",))
    try:
        with urllib.request.urlopen(server.base + "/readyz", timeout=10) as response:
            assert json.loads(response.read())["forwarding"] == "python"
        assert "forwarding python)" in server.logs()
    finally:
        server.stop()
