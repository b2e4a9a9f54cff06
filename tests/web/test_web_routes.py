"""The server serves the client, its vendored Socket.IO, and nothing else of web/."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.web.hearth_process import HearthServer


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


@pytest.mark.parametrize("path", ["/", "/s/abc123"])
def test_page_is_served_with_strict_headers(hearth: HearthServer, path: str) -> None:
    status, headers, body = fetch(hearth.base + path)
    assert status == 200
    assert b'<script type="module" src="/web/boot.js">' in body
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-cache"


def test_modules_and_vendored_socketio_are_served(hearth: HearthServer) -> None:
    for path in ("/web/protocol.js", "/web/ui/room.js", "/web/style.css"):
        assert fetch(hearth.base + path)[0] == 200, path
    status, headers, body = fetch(hearth.base + "/web/vendor/socket.io.esm.min.js")
    assert status == 200, "run `npm ci` in web/"
    assert "javascript" in headers["content-type"]
    assert b"export{" in body


def test_unchanged_module_revalidates_with_304(hearth: HearthServer) -> None:
    _, headers, _ = fetch(hearth.base + "/web/app.js")
    status, _, _ = fetch(hearth.base + "/web/app.js", {"If-None-Match": headers["etag"]})
    assert status == 304


@pytest.mark.parametrize(
    "path",
    [
        "/web/node_modules/socket.io-client/package.json",
        "/web/package.json",
        "/web/tsconfig.json",
        "/web/tsconfig.worker.json",
        "/web/eslint.config.js",
        "/web/test/sdp.test.js",
        "/web/%2e%2e/pyproject.toml",
        "/web/ui/%2e%2e/%2e%2e/pyproject.toml",
        "/web/vendor/socket.io.js",
        "/web/missing.js",
    ],
)
def test_nothing_else_is_exposed(hearth: HearthServer, path: str) -> None:
    assert fetch(hearth.base + path)[0] == 404, path
