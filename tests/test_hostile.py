"""Hostile inputs, second round (issue 22): what passes `etl validate` is exactly what was checked, read
only from regular files, and shown without raw control characters.

Each test names the row of the issue's table it answers, and fails without its fix.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from conftest import DATASET, REAL, REPO, VERSION, snapshot

from etl.cli import main

RELEASE = REPO / "published" / DATASET / VERSION
CSV = "072036_initiatives.csv"


def etl(capfd: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    """`etl ARGS` in this process: (exit code, stdout + stderr), never a traceback or an internal error."""
    capfd.readouterr()
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "internal error" not in out + err, out + err
    return code, out + err


@pytest.fixture
def release(tmp_path: Path) -> Path:
    shutil.copytree(RELEASE, tmp_path / "release")
    return tmp_path / "release"


def _with(release: Path, change) -> Path:
    descriptor = release / "datapackage.json"
    package = json.loads(descriptor.read_text(encoding="utf-8"))
    change(package)
    descriptor.write_text(json.dumps(package, ensure_ascii=False, indent=2), encoding="utf-8")
    return release


# ── row 13: --raw a FIFO or a device ──────────────────────────────────────────────────────


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_source_that_is_not_a_regular_file_is_refused_at_once(capfd, tmp_path: Path, kind: str) -> None:
    """Row 13: --raw a named pipe (which blocked for ever) or /dev/zero (read until MemoryError): exit 2 at once."""
    if kind == "fifo":
        source = tmp_path / "koriyama-renkei-kyotei-2023-02-10.txt"
        os.mkfifo(source)
    else:
        source = Path("/dev/zero")
    done: list[tuple[int, str]] = []
    worker = threading.Thread(target=lambda: done.append(
        etl(capfd, "build", "--raw", source, "--out", tmp_path / "catalog", "--dry-run")), daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(20)
    assert done, f"etl build --raw {source} was still running after 20 s"
    code, text = done[0]
    assert code == 2 and "not a regular file" in text and time.monotonic() - started < 20, text
    assert not (tmp_path / "catalog").exists()


def test_a_source_beyond_the_size_limit_is_refused(capfd, tmp_path: Path, monkeypatch) -> None:
    """Row 13: a source document larger than MAX_SOURCE_BYTES is refused with exit 2 before it is read."""
    from etl.source import text

    monkeypatch.setattr(text, "MAX_SOURCE_BYTES", 1000)
    code, out = etl(capfd, "build", "--raw", REAL, "--out", tmp_path / "catalog", "--dry-run")
    assert code == 2 and "more than the limit of 1000" in out, out


# ── row 10: a hard link to a file outside the release ───────────────────────────────────────


def test_a_release_file_that_is_a_hard_link_is_refused(capfd, release: Path, tmp_path: Path) -> None:
    """Row 10: a release file hard-linked to a file outside the release is refused with exit 2, unread, as a
    symbolic link is (its hash was printed, its first line shown in the JSON and the HTML)."""
    outside = tmp_path / "outside.csv"
    outside.write_bytes(b"secret,line\n1,2\n")
    (release / CSV).unlink()
    os.link(outside, release / CSV)
    before = snapshot(tmp_path)
    for args in (["validate", release, "--report", tmp_path / "r.json"], ["report", release, "--html", tmp_path / "p.html"]):
        code, text = etl(capfd, *args)
        assert code == 2 and "hard link" in text and "secret" not in text, text
    assert not (tmp_path / "p.html").exists()
    assert {k: v for k, v in snapshot(tmp_path).items() if k != "r.json"} == before


# ── row 11: a descriptor naming a URL ────────────────────────────────────────────────────


class _Counter:
    """A loopback listener that counts the requests it gets (and answers `{}`)."""

    def __enter__(self) -> "_Counter":
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("key", ["dialect", "schema", "$ref", "$schema", "profile"])
def test_a_source_record_naming_a_url_is_refused_and_nothing_is_fetched(capfd, tmp_path: Path, key: str) -> None:
    """Row 11: raw/datapackage.json whose record gives its dialect, schema, a $ref or a profile as a URL: exit 2,
    and the loopback listener gets no request (frictionless fetched it, and the build exited 0 on `{}`)."""
    from conftest import write_doc

    doc = write_doc(tmp_path / "raw")
    manifest = doc.parent / "datapackage.json"
    with _Counter() as listener:
        package = json.loads(manifest.read_text(encoding="utf-8"))
        package["resources"][0][key] = f"{listener.url}/{key.strip('$')}.json"
        manifest.write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")
        code, text = etl(capfd, "build", "--raw", doc, "--out", tmp_path / "catalog")
    assert code == 2 and "nothing in it is fetched" in text and listener.hits == [], (text, listener.hits)
    assert not (tmp_path / "catalog").exists()


@pytest.mark.parametrize("where", ["resource schema", "resource dialect", "package $schema"])
def test_a_release_naming_a_url_is_refused_and_nothing_is_fetched(capfd, release: Path, where: str) -> None:
    """Row 11: a release whose descriptor names a URL for a schema, a dialect or its profile: exit 2 for
    validate, report and publish alike, and no request reaches the listener."""
    with _Counter() as listener:
        def change(package: dict) -> None:
            if where == "package $schema":
                package["$schema"] = f"{listener.url}/profile.json"
            else:
                package["resources"][0][where.split()[1]] = f"{listener.url}/{where.split()[1]}.json"
        _with(release, change)
        for args in (["validate", release], ["report", release, "--html", release.parent / "p.html"]):
            code, text = etl(capfd, *args)
            assert code == 2 and "nothing in it is fetched" in text, text
    assert listener.hits == []
