"""How `etl publish` reports a portal that answers 500 or never answers (a loopback stub server).

The happy paths and the portal going away run against a real CKAN in test_ckan_publish.py; these
two failure shapes cannot be provoked from a real CKAN on demand, so a stub answers instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from conftest import run_etl
from loopback import serving


class _Portal(BaseHTTPRequestHandler):
    mode = "500"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        action = self.path.rsplit("/", 1)[-1]
        if action == "package_show":
            return self._json(404, {"success": False, "error": {"__type": "Not Found Error", "message": "Not found"}})
        if self.mode == "timeout":
            time.sleep(3)
        self.send_response(500)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<h1>Internal Server Error</h1>")

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def portal() -> Iterator[tuple[str, type[_Portal]]]:
    handler = type("Portal", (_Portal,), {})
    with serving(handler) as url:
        yield url, handler


@pytest.mark.parametrize("mode", ["500", "timeout"])
def test_a_failing_portal_is_reported_with_exit_3(published: Path, portal, mode: str) -> None:
    """HTTP 500 or no answer in time: exit 3, a one-line reason, no traceback, the token never shown."""
    url, handler = portal
    handler.mode = mode
    result = run_etl("publish", published, "--ckan", url, "--organization", "koriyama",
                     env={"CKAN_API_TOKEN": "secret-token-123", "ETL_CKAN_TIMEOUT": "1"})
    assert result.returncode == 3, result.stdout + result.stderr
    expected = "HTTP 500" if mode == "500" else "no complete answer within 1 s (ETL_CKAN_TIMEOUT)"
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert "secret-token-123" not in result.stdout + result.stderr
