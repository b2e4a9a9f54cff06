"""The wheel is the product: installed into a fresh venv (no checkout, no npm), ``hearth serve`` gives
members the whole web client and forwards their media, through the compiled path or, in a wheel
built without the C module, through the Python path.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from server.webclient import VENDOR_FILES
from tests.install.conftest import Dist, Venv, clean_env, run
from tests.web.conftest import make_person
from tests.web.hearth_process import HearthServer, start_server
from tests.web.people import ARTIFACTS

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.media]


@contextlib.contextmanager
def served_by(venv: Venv, wheel: Path, tmp_path: Path) -> Iterator[HearthServer]:
    """`hearth serve --demo` of the venv with `wheel` installed, started outside the checkout."""
    venv.install(wheel)
    where = run(venv.python, "-c", "import server; print(server.__file__)", env=clean_env(), cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(venv.path), f"server imported from {where}, not the venv"
    server = start_server(ARTIFACTS / "logs", ("--demo",), hearth=[str(venv.hearth)], cwd=tmp_path)
    try:
        yield server
    finally:
        server.stop()


def forwarding(server: HearthServer) -> str:
    with urllib.request.urlopen(server.base + "/readyz", timeout=10) as response:
        answer: str = json.loads(response.read())["forwarding"]
        return answer


def members_see_each_other(server: HearthServer, browser: Browser, label: str) -> None:
    """A facilitator and two members in an open session; each member's page shows the other's video."""
    created = server.create_session(f"Wheel group ({label})", requires_agreement=False, admission="open")
    lead = make_person(browser, "Lead", created["facilitator_url"])
    alex = make_person(browser, "Alex", server.invite(created["id"], "Alex")["url"])
    sam = make_person(browser, "Sam", server.invite(created["id"], "Sam")["url"])
    try:
        lead.open()
        lead.join()
        expect(lead.page.get_by_test_id("console")).to_be_visible()
        for member in (alex, sam):
            member.open()
            member.join()
            expect(member.page.get_by_test_id("room")).to_be_visible()
        alex.wait_video_live("Sam")
        sam.wait_video_live("Alex")
        alex.screenshot(f"wheel-{label}")
    finally:
        for person in (lead, alex, sam):
            person.close()


def test_the_wheel_carries_the_client_and_the_socketio_bundle_and_not_node_modules(dist: Dist) -> None:
    names = zipfile.ZipFile(dist.compiled_wheel).namelist()
    assert "server/web/index.html" in names and "server/web/ui/room.js" in names
    assert {f"server/web/vendor/{name}" for name in VENDOR_FILES} <= set(names)
    assert not [name for name in names if "node_modules" in name or "/test/" in name or name.endswith(".json")]
    assert any(name.startswith("server/media/_fastpath") and name.endswith(".so") for name in names)
    assert not any(name.endswith(".so") for name in zipfile.ZipFile(dist.python_wheel).namelist())
    assert "hearth-0.1.0.dist-info/licenses/LICENSE" in names


@pytest.mark.parametrize("path", ["compiled", "python"])
def test_an_installed_wheel_serves_the_whole_client_and_forwards_media(
    path: str, dist: Dist, wheel_venv: Venv, tmp_path: Path, browser: Browser
) -> None:
    """The "python" wheel is built with HEARTH_BUILD_FASTPATH=0: no C module, the Python path forwards."""
    wheel = dist.compiled_wheel if path == "compiled" else dist.python_wheel
    with served_by(wheel_venv, wheel, tmp_path) as server:
        assert forwarding(server) == path
        assert f"forwarding {path}" in server.logs() and "demo member URL" in server.logs()
        members_see_each_other(server, browser, path)
