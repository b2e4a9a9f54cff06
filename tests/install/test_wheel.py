"""The wheel is the product: installed into a fresh venv (no checkout, no npm), ``hearth serve`` gives
members the whole web client and forwards their media, through the compiled path or, in a wheel
built without the C module, through the Python path.
"""

from __future__ import annotations

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


def served_by(venv: Venv, wheel: Path, tmp_path: Path) -> Iterator[HearthServer]:
    """`hearth serve` of the venv with `wheel` installed, started outside the checkout."""
    venv.install(wheel)
    where = run(venv.python, "-c", "import server; print(server.__file__)", env=clean_env(), cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(venv.path), f"server imported from {where}, not the venv"
    server = start_server(ARTIFACTS / "logs", hearth=[str(venv.hearth)], cwd=tmp_path)
    yield server
    server.stop()


@pytest.fixture
def compiled_server(dist: Dist, wheel_venv: Venv, tmp_path: Path) -> Iterator[HearthServer]:
    yield from served_by(wheel_venv, dist.compiled_wheel, tmp_path)


@pytest.fixture
def python_server(dist: Dist, wheel_venv: Venv, tmp_path: Path) -> Iterator[HearthServer]:
    yield from served_by(wheel_venv, dist.python_wheel, tmp_path)


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


def test_an_installed_wheel_serves_the_whole_client_and_forwards_through_the_compiled_path(
    compiled_server: HearthServer, browser: Browser
) -> None:
    assert forwarding(compiled_server) == "compiled"
    assert "forwarding compiled" in compiled_server.logs()
    members_see_each_other(compiled_server, browser, "compiled")


def test_a_wheel_without_the_c_module_forwards_through_the_python_path(
    python_server: HearthServer, browser: Browser
) -> None:
    assert forwarding(python_server) == "python"
    assert "forwarding python" in python_server.logs()
    members_see_each_other(python_server, browser, "python")
