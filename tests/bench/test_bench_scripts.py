"""Every script in ``bench/`` still runs from a clean checkout and prints its figures.

The issues' speed and memory goals are met in these scripts, never in timed tests; these runs are
tiny (a second or two of load) and assert only that each script finishes and prints the figures it
exists for, so a refactor that breaks a benchmark fails here instead of on the next measuring day.
The store and failover benches use the shared test Redis, the join bench real Chromium.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.redis_server import shared_url

pytestmark = pytest.mark.slow  # each bench starts servers, media peers or browsers

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, timeout: float = 180) -> str:
    """Run one bench from the repository root; its output, after asserting it exited cleanly."""
    env = {**os.environ, "HEARTH_TEST_REDIS_URL": shared_url()}
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args[0]} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_media_bench_prints_both_modes_the_ratio_and_where_the_cpu_goes() -> None:
    out = run("bench/media_bench.py", "--n", "2", "--window", "2", "--warmup", "1", "--breakdown")
    assert out.startswith("machine: ")
    assert re.search(r"^\s*relay\s+2\s+[\d.]+\s+[\d.]+", out, re.M), out
    assert re.search(r"^\s*hearth\s+2\s+[\d.]+\s+[\d.]+\s+\d+\s+[\d.]+\s+[\d.]+", out, re.M), out
    assert re.search(r"N=2: Hearth is [\d.]+x cheaper per delivered packet", out), out
    outlets = r"compiled copies \(rewrite, protect, sendto\) [\d.]+"
    parts = outlets + r" \| compiled receive \(unprotect, header, statistics\) \+ Python source [\d.]+"
    assert re.search(r"N=2: total [\d.]+ = " + parts + r" \| outside the packet path -?[\d.]+", out), out


def test_media_bench_idle_prints_a_silent_room_s_own_cost() -> None:
    out = run("bench/media_bench.py", "--n", "2", "--modes", "hearth", "--idle", "--window", "1", "--warmup", "1")
    assert re.search(r"hearth N=2, idle: server [\d.]+ core \(0 packets/s delivered\)", out), out


def test_media_rooms_bench_prints_cpu_per_room_delivery_and_the_rooms_carried() -> None:
    out = run("bench/media_rooms_bench.py", "--k", "1", "--workers", "0", "1", "--window", "2", "--warmup", "1")
    assert out.startswith("machine: ")
    for workers in (0, 1):
        row = rf"^\s*{workers}\s+1\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+(\s+[\d.]+){{4}}\s+[\d.na]+\s+[\d.na]+"
        assert re.search(row, out, re.M), out
        assert re.search(rf"^W={workers}: (carried K=\d+ rooms|no K tried)", out, re.M), out
    assert re.search(r"load generator [\d.]+ cores beside it", out), out


def test_forward_loop_splits_the_hot_path_cost() -> None:
    out = run("bench/forward_loop.py", "--packets", "500")
    for kind in ("video", "audio"):
        # a part's cost is a difference of two timings, so on a loaded machine it can print below zero
        part = r"-?[\d.]+"
        assert re.search(kind + rf": whole [\d.]+ \| libsrtp protect {part} per copy \| Python [\d.]+ = ", out), out
        assert re.search(kind + r": Python [\d.]+ \| compiled [\d.]+ us per received packet", out), out


def test_udp_floor_prints_cost_per_packet() -> None:
    out = run("bench/udp_floor.py", "--rates", "200", "--seconds", "1")
    assert re.search(r"200 packets/s: server [\d.]+ core, [\d.]+ us per packet", out), out


def test_signaling_bench_prints_both_servers_and_the_ratio() -> None:
    tiny = ("--sessions", "2", "--clients", "3", "--rate", "20", "--seconds", "2", "--rounds", "1")
    out = run("bench/signaling_bench.py", *tiny)
    assert re.search(r"^bare\s+[\d.]+\s+[\d.]+", out, re.M), out
    assert re.search(r"^hearth\s+[\d.]+\s+[\d.]+", out, re.M), out
    assert re.search(r"p99 ratio hearth/bare: [\d.]+", out), out


def test_store_bench_prints_memory_and_redis_throughput() -> None:
    out = run("-m", "bench.store_bench", "--redis-url", shared_url(), "--seconds", "0.2", "--concurrency", "4")
    assert re.search(r"^memory\s+\w+\s+[\d,]+ ops/s", out, re.M), out
    assert re.search(r"^redis\s+acquire_lease\s+[\d,]+ ops/s", out, re.M), out


def test_load_bench_prints_events_errors_and_memory() -> None:
    out = run("bench/load_bench.py", "--sessions", "2", "--clients", "3", "--seconds", "2")
    assert "errors by code:" in out
    assert re.search(r"server RSS: idle [\d.]+ MiB", out), out


@pytest.mark.media  # a few aiortc peers and a node for a breakout or two
def test_breakout_bench_prints_the_pairs_and_the_return_times() -> None:
    out = run("bench/breakout_bench.py", "--members", "4", "--runs", "1")
    for line in (
        "breakout.start -> first partner video frame",
        "breakout.start -> first partner audio packet",
        "breakout.start -> last packet from outside the pair",
        "breakout.end -> first video frame from every main-room member",
        "breakout.end -> first audio packet from every main-room member",
    ):
        assert re.search(rf"^{re.escape(line)}: p50 \d+ ms, p95 \d+ ms \(n=4\)$", out, re.M), out
    assert re.search(r"^goal \(p95 under 500 ms, start and end, video and audio\): (met|not met)$", out, re.M), out


def test_failover_bench_times_a_takeover() -> None:
    out = run("bench/failover_bench.py", "--kills", "1")
    assert re.search(r"failover over 1 kills .*: p50 [\d.]+ s", out), out


def test_join_bench_times_joins_in_chromium() -> None:
    out = run("bench/join_bench.py", "--joins", "1")
    assert re.search(r"click-to-frame: p50 [\d.]+ s", out), out


def test_join_bench_takes_the_e2ee_setting() -> None:
    out = run("bench/join_bench.py", "--joins", "1", "--e2ee", "required")
    assert re.search(r"click-to-frame: p50 [\d.]+ s", out), out


@pytest.mark.browser  # half a minute: two sessions of three browsers
def test_e2ee_cpu_bench_prints_the_browsers_cpu_with_and_without() -> None:
    out = run("bench/e2ee_cpu_bench.py", "--seconds", "1")
    for mode in ("off", "required"):
        assert re.search(rf"^e2ee {mode}\s+\(\w+\): browser \d+ % of a core for 3 pages, server \d+ %", out, re.M), out
    assert re.search(r"^encryption adds -?\d+ % of a core across 3 pages", out, re.M), out


@pytest.mark.browser  # a minute or two: a lab of five browsers, even tiny
def test_net_bench_prints_both_systems_per_condition_and_the_outage_recovery() -> None:
    tiny = ("--window", "2", "--settle", "1", "--outages", "1", "--after", "3")
    out = run("bench/net_bench.py", *tiny, "--conditions", "2% loss", "3 s outage", timeout=300)
    for system in ("hearth", "p2p"):
        assert re.search(rf"^2% loss\s+{system}\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+%", out, re.M), out
        assert re.search(rf"^  {system}\s+first new frame: (p50 [\d.]+ s|never)", out, re.M), out
    assert re.search(r"goal \(Hearth p95 to the first new frame <= 1 s\): (met|not met)", out), out


def test_soak_prints_per_session_figures_and_what_the_node_still_holds() -> None:
    tiny = ("--sessions", "1", "--members", "3", "--minutes", "0.25", "--workers", "1", "--every", "4")
    out = run("bench/soak.py", *tiny, "--window", "5", "--lead-in", "8", "--ping-interval", "2")
    assert re.search(r"^s-\S+\s+\d+\s+\d+\s+[\d.]+ ms", out, re.M), out
    for gauge in ("hearth_peer_connections", "hearth_engineio_sockets", "hearth_asyncio_tasks"):
        assert re.search(rf"^\s+{gauge}\s+\d+\s+\d+\s+\d+$", out, re.M), out
    assert re.search(r"RSS: [\d.]+ MiB at the start, [\d.]+ MiB at the end", out), out


def test_store_load_bench_prints_per_session_store_cost_in_both_phases() -> None:
    out = run("bench/store_load_bench.py", "--sessions", "2", "--clients", "3", "--rate", "10", "--seconds", "2")
    for phase in ("speaking", "speaking\\+actions"):
        assert re.search(rf"^{phase}\s+[\d.]+\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+", out, re.M), out
        assert re.search(rf"^{phase}: Redis used [\d.]+ core .* about [\d,]+ such sessions per Redis core", out, re.M)


def test_fuzz_fastpath_runs_every_target_and_prints_executions_and_findings() -> None:
    out = run("bench/fuzz_fastpath.py", "--seconds", "3")
    assert re.search(r"^fuzz_fastpath: engine atheris, seed 1, module \S+_fastpath\S*\.so", out, re.M), out
    executed = re.search(
        r"^executions: (\d+) in \d+ s \(\d+/s; guard (\d+), srtp (\d+), outlet (\d+), vp8 (\d+)\)", out, re.M
    )
    assert executed and all(int(count) > 0 for count in executed.groups()), out
    assert re.search(r"^findings: 0 distinct, 0 inputs$", out, re.M), out
