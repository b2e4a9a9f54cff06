"""The command line: `hearth token` mints a verifiable token; `hearth serve --demo` prints join links."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from server.auth import Tokens
from server.config import from_env_and_args
from tests.harness import free_port

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
