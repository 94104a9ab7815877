"""Whatever a portal answers, `etl publish` ends with exit 3 naming the action and the status, never an
internal error; the token never shows, goes to no proxy, and is never sent in clear text off this machine.

A loopback fake portal serves each answer (a real CKAN cannot be made to give them on demand); the
publishing itself against a real CKAN is in test_ckan_publish.py.
"""

from __future__ import annotations

import base64
import json
import socket
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loopback import serving

from etl.cli import main
from etl.portal.ckan import MAX_ANSWER_BYTES, CkanClient, PortalError, redact, token_forms

TOKEN = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.Zm9vYmFy"  # shaped like a CKAN API token
NOT_FOUND = (404, "application/json", json.dumps(
    {"success": False, "error": {"__type": "Not Found Error", "message": "Not found"}}).encode())
Reply = Callable[["_Handler", str], None]  # writes the answer to one call of an action


class _Handler(BaseHTTPRequestHandler):
    reply: Reply
    calls: list[str]
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        action = self.path.rsplit("/", 1)[-1]
        self.calls.append(action)
        type(self).reply(self, action)

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self, status: int, content_type: str, body: bytes) -> None:
        self.read_body()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # the test output stays readable
        pass


@contextmanager
def portal(reply: Reply) -> Iterator[tuple[str, list[str]]]:
    """(URL, actions called) of a fake portal on a free loopback port, answering with `reply`."""
    handler = type("Handler", (_Handler,), {"reply": staticmethod(reply), "calls": []})
    with serving(handler) as url:
        yield url, handler.calls


def publish(capfd, monkeypatch, release: Path, url: str, *extra: str, timeout: str = "5",
            deadline: str | None = None) -> tuple[int, str]:
    """`etl publish` in this process: the exit code and everything it printed (never the token)."""
    monkeypatch.setenv("CKAN_API_TOKEN", TOKEN)
    monkeypatch.setenv("ETL_CKAN_TIMEOUT", timeout)
    if deadline is not None:
        monkeypatch.setenv("ETL_CKAN_DEADLINE", deadline)
    capfd.readouterr()
    code = main(["publish", str(release), "--ckan", url, "--organization", "koriyama", *extra])
    out, err = capfd.readouterr()
    text = out + err
    assert not any(form.lower() in text.lower() for form in token_forms(TOKEN)), text
    assert "internal error" not in text and "Traceback" not in text, text
    return code, text


def _every_call(status: int, content_type: str, body: bytes) -> Reply:
    return lambda handler, action: handler.answer(status, content_type, body)


HTML_PAGE = b"<!doctype html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
ANSWERS = {
    "not JSON": (200, "text/plain", b"hello"),
    "JSON string": (400, "application/json", b'"Bad request: something"'),
    "JSON list": (200, "application/json", b"[1, 2, 3]"),
    "JSON null": (200, "application/json", b"null"),
    "an HTML error page": (502, "text/html", HTML_PAGE),
    "success without a result object": (200, "application/json", b'{"success": true, "result": 5}'),
    "an error that is not an object": (409, "application/json", b'{"success": false, "error": ["conflict"]}'),
    **{f"HTTP {status}": (status, "application/json", json.dumps(
        {"success": False, "error": {"__type": "Error", "message": f"status {status}"}}).encode())
       for status in (401, 403, 404, 409, 413, 500, 502, 503)},
    **{f"HTTP {status} as a page": (status, "text/html", HTML_PAGE) for status in (401, 413, 500, 503)},
}


@pytest.mark.parametrize("kind", list(ANSWERS))
def test_any_answer_ends_with_exit_3_naming_the_action_and_the_status(
        capfd, monkeypatch, published: Path, kind: str) -> None:
    """Non-JSON, JSON that is not an object, an HTML page, any error status: exit 3, the action and status named."""
    status, content_type, body = ANSWERS[kind]
    with portal(_every_call(status, content_type, body)) as (url, calls):
        code, text = publish(capfd, monkeypatch, published, url)
    assert code == 3, text
    assert calls and f"{calls[-1]}:" in text and f"HTTP {status}" in text, text


_BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=100).map(str.encode),
    st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=3), max_leaves=8).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({}, optional={
        "success": st.sampled_from([False, None, 0, "", "false"]),
        "error": st.none() | st.text(max_size=30) | st.lists(st.integers(), max_size=3)
        | st.dictionaries(st.sampled_from(["__type", "message", "name"]), st.text(max_size=30), max_size=3),
        "result": st.none() | st.integers() | st.text(max_size=10)}).map(lambda v: json.dumps(v).encode()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=st.sampled_from([200, 201, 204, 400, 401, 403, 404, 409, 413, 429, 500, 502, 503, 504]),
       content_type=st.sampled_from(["application/json", "text/html; charset=utf-8", "text/plain", ""]),
       body=_BODIES, action=st.sampled_from(["package_show", "package_create", "resource_create",
                                             "datastore_create", "package_patch"]))
def test_the_client_turns_any_answer_into_a_portal_error(status: int, content_type: str, body: bytes,
                                                         action: str) -> None:
    """Any status and body that is not a successful Action API answer: PortalError naming the action and status
    (or, for package_show, the portal's 'not found'); never another exception."""
    with portal(_every_call(status, content_type, body)) as (url, _):
        client = CkanClient(url, TOKEN, timeout=5)
        try:
            client.call(action, {"id": "x"})
        except LookupError:
            assert action == "package_show"
        except PortalError as exc:
            assert str(exc).startswith(f"{action}:")
            assert f"HTTP {status}" in str(exc) or "does not know" in str(exc)
        else:
            pytest.fail("a hostile answer was taken for a result")


def _slow(seconds: float) -> Reply:
    def reply(handler: _Handler, action: str) -> None:
        if action == "package_show":
            return handler.answer(*NOT_FOUND)
        time.sleep(seconds)
        handler.answer(*NOT_FOUND)
    return reply


def _drip(handler: _Handler, action: str) -> None:
    """A byte every 0.3 s for up to 20 s: every read of the socket gets something, the answer never ends."""
    handler.read_body()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(66):
        try:
            handler.wfile.write(b" ")
            handler.wfile.flush()
        except OSError:
            return
        time.sleep(0.3)


@pytest.mark.parametrize("reply", [_slow(4), _drip], ids=["silent past the timeout", "dripping a byte at a time"])
def test_a_portal_that_is_silent_or_drips_is_given_up_at_the_deadline(
        capfd, monkeypatch, published: Path, reply: Reply) -> None:
    """Each call has a deadline, ETL_CKAN_TIMEOUT, whatever the socket reads get: exit 3 within it."""
    with portal(reply) as (url, calls):
        started = time.monotonic()
        code, text = publish(capfd, monkeypatch, published, url, timeout="1.5")
        took = time.monotonic() - started
    assert code == 3 and "no complete answer within 2 s" in text and f"{calls[-1]}:" in text, text
    assert took < 8, f"etl publish took {took:.1f} s"


def _happy_until(action_fails: str, fail: Reply) -> Reply:
    """A portal answering like CKAN (nothing there yet, creations succeed) until `action_fails`."""
    def reply(handler: _Handler, action: str) -> None:
        if action == action_fails:
            return fail(handler, action)
        if action == "package_show":
            return handler.answer(*NOT_FOUND)
        result = {"id": f"{action}-{len(handler.calls)}", "resources": [], "extras": []}
        handler.answer(200, "application/json", json.dumps({"success": True, "result": result}).encode())
    return reply


def _reset(handler: _Handler, action: str) -> None:
    """Read a little of the upload, then reset the connection (RST, not a clean close)."""
    handler.rfile.read(1000)
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.connection.close()
    handler.close_connection = True


def test_a_connection_reset_during_an_upload_ends_with_exit_3(capfd, monkeypatch, published: Path) -> None:
    """The portal resets the connection in the middle of resource_create: exit 3, what is on the portal said."""
    with portal(_happy_until("resource_create", _reset)) as (url, calls):
        code, text = publish(capfd, monkeypatch, published, url)
    assert code == 3, text
    assert "resource_create:" in text and "broke the connection" in text and "Run the same command again" in text


def test_the_whole_publish_has_a_deadline(capfd, monkeypatch, published: Path) -> None:
    """A portal answering every call, each slowly: the publish stops at ETL_CKAN_DEADLINE with exit 3."""
    def slow_but_fine(handler: _Handler, action: str) -> None:
        time.sleep(0.4)
        _happy_until("", _reset)(handler, action)

    with portal(slow_but_fine) as (url, calls):
        started = time.monotonic()
        code, text = publish(capfd, monkeypatch, published, url, deadline="2")
        took = time.monotonic() - started
    assert code == 3 and "deadline (ETL_CKAN_DEADLINE)" in text, text
    assert took < 6 and 3 <= len(calls) <= 8, (took, calls)


def test_an_answer_is_read_up_to_its_limit_only(capfd, monkeypatch, published: Path) -> None:
    """A 64 MiB answer is not held: exit 3 once MAX_ANSWER_BYTES are read, saying the answer is too large."""
    def huge(handler: _Handler, action: str) -> None:
        handler.read_body()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(64 * 2**20))
        handler.end_headers()
        chunk = b"a" * 2**20
        try:
            for _ in range(64):
                handler.wfile.write(chunk)
        except OSError:
            pass  # the client stopped reading, as it should

    with portal(huge) as (url, calls):
        code, text = publish(capfd, monkeypatch, published, url)
    assert code == 3 and f"larger than {MAX_ANSWER_BYTES // 2**20} MiB" in text and calls == ["package_show"], text


def test_the_token_is_masked_in_every_form_a_portal_echoes(capfd, monkeypatch, published: Path) -> None:
    """A portal echoing the token URL-encoded, in another case or in base64 never gets it printed."""
    echoes = [TOKEN, quote(TOKEN, safe=""), TOKEN.upper(), TOKEN.lower(),
              base64.b64encode(TOKEN.encode()).decode(), base64.urlsafe_b64encode(TOKEN.encode()).decode().rstrip("=")]
    message = "; ".join(f"header {i}: {e}" for i, e in enumerate(echoes))
    body = json.dumps({"success": False, "error": {"__type": "Authorization Error", "message": message}}).encode()
    with portal(_every_call(403, "application/json", body)) as (url, _):
        code, text = publish(capfd, monkeypatch, published, url)  # publish() asserts no form is printed
    assert code == 3 and "header 5: ***" in text, text
    assert redact(f"x{TOKEN.swapcase()}y", TOKEN) == "x***y"


def test_no_proxy_of_the_environment_sees_the_token(capfd, monkeypatch, published: Path) -> None:
    """HTTP_PROXY and HTTPS_PROXY are not used (session.trust_env is off): the Authorization header goes to the
    portal, never to a proxy."""
    with portal(_every_call(*NOT_FOUND)) as (proxy, via_proxy), portal(_every_call(500, "text/html", HTML_PAGE)) \
            as (url, at_portal):
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        code, text = publish(capfd, monkeypatch, published, url)
    assert code == 3 and via_proxy == [] and at_portal == ["package_show"], (text, via_proxy)


@pytest.mark.parametrize("url", ["http://data.example.invalid", "http://10.1.2.3:5000", "ftp://data.example.invalid",
                                 "data.example.invalid"])
def test_the_token_is_not_sent_in_clear_text_off_this_machine(capfd, monkeypatch, published: Path, url: str) -> None:
    """An http:// portal on another machine (or no URL at all) is refused with exit 2 before anything is sent."""
    code, text = publish(capfd, monkeypatch, published, url)
    assert code == 2 and "--ckan" in text, text
    if url.startswith("http://"):
        assert "clear text" in text and "--insecure" in text


def test_insecure_allows_plain_http_and_loopback_needs_no_flag(capfd, monkeypatch, published: Path) -> None:
    """--insecure lets a plain http:// address through the check; a loopback portal needs no flag."""
    from etl.portal.ckan import check_portal_url

    check_portal_url("http://10.1.2.3:5000", insecure=True)
    check_portal_url("http://localhost:5000")
    with portal(_every_call(500, "text/html", HTML_PAGE)) as (url, calls):
        code, text = publish(capfd, monkeypatch, published, url)
    assert code == 3 and calls == ["package_show"], text


@pytest.mark.parametrize("name,value", [("ETL_CKAN_TIMEOUT", "soon"), ("ETL_CKAN_TIMEOUT", "0"),
                                        ("ETL_CKAN_DEADLINE", "-5")])
def test_a_bad_timeout_setting_is_a_usage_error(capfd, monkeypatch, published: Path, name: str, value: str) -> None:
    """A timeout that is not a positive number of seconds: exit 2 naming the variable, nothing sent."""
    with portal(_every_call(*NOT_FOUND)) as (url, calls):
        monkeypatch.setenv(name, value)
        monkeypatch.setenv("CKAN_API_TOKEN", TOKEN)
        code = main(["publish", str(published), "--ckan", url, "--organization", "koriyama"])
        _, err = capfd.readouterr()
    assert code == 2 and name in err and calls == [], err


def _damaged_copy(release: Path, tmp_path: Path, change: Callable[[dict], None]) -> Path:
    import shutil

    copy = tmp_path / release.name
    shutil.copytree(release, copy)
    descriptor = copy / "datapackage.json"
    package = json.loads(descriptor.read_text(encoding="utf-8"))
    change(package)
    descriptor.write_text(json.dumps(package, ensure_ascii=False, indent=2), encoding="utf-8")
    return copy


def test_a_resource_without_a_schema_is_refused_before_the_portal_is_called(
        capfd, monkeypatch, published: Path, tmp_path: Path) -> None:
    """A release whose datapackage.json lacks a resource's schema: exit 1 naming it, nothing sent (was KeyError)."""
    release = _damaged_copy(published, tmp_path, lambda p: p["resources"][0].pop("schema"))
    with portal(_every_call(*NOT_FOUND)) as (url, calls):
        code, text = publish(capfd, monkeypatch, release, url)
    assert code == 1 and "descriptor_schema" in text and "it is a NoneType" in text and calls == [], text


@pytest.mark.parametrize("field,value", [("sources", "the city's PDF"), ("licenses", "CC-BY-4.0"),
                                         ("sources", [None]), ("keywords", "open data")])
def test_free_form_metadata_is_published_and_reported_without_a_crash(
        capfd, monkeypatch, published: Path, tmp_path: Path, field: str, value: object) -> None:
    """datapackage.json giving sources, licenses or keywords in another shape: etl report writes its page, and
    etl publish reaches the portal (no AttributeError)."""
    release = _damaged_copy(published, tmp_path, lambda p: p.__setitem__(field, value))
    capfd.readouterr()
    assert main(["report", str(release), "--html", str(tmp_path / "page.html")]) in (0, 1)
    out, err = capfd.readouterr()
    assert "internal error" not in out + err and (tmp_path / "page.html").exists(), out + err
    with portal(_every_call(500, "text/html", HTML_PAGE)) as (url, calls):
        code, text = publish(capfd, monkeypatch, release, url)
    assert code == 3 and calls, text


def test_only_the_fields_etl_publish_reads_are_kept_of_an_answer() -> None:
    """A dataset answered with megabytes of other fields: the client keeps the few it uses, not the answer."""
    junk = "x" * 2**20
    dataset = {"id": "d1", "name": "n", "version": "v", "extras": [], "junk": junk,
               "organization": {"id": "o", "name": "koriyama", "image": junk},
               "resources": [{"id": f"r{i}", "release_path": f"f{i}.csv", "hash": "sha256:0", "junk": junk}
                             for i in range(3)] + ["not a resource"]}
    body = json.dumps({"success": True, "result": dataset}).encode()
    with portal(_every_call(200, "application/json", body)) as (url, _):
        kept = CkanClient(url, TOKEN, timeout=5).package("n")
    assert "junk" not in json.dumps(kept) and len(json.dumps(kept)) < 1000
    assert [r["id"] for r in kept["resources"]] == ["r0", "r1", "r2"] and kept["organization"]["name"] == "koriyama"


def test_the_token_in_a_redirect_or_across_a_cut_is_not_printed(capfd, monkeypatch, published: Path) -> None:
    """Found by review: a redirect to a URL holding the token, and an error text so long that the token stands
    across the 2,000-character cut, printed (part of) it. Both are masked before anything is cut."""
    def redirect(handler: _Handler, action: str) -> None:
        handler.read_body()
        handler.send_response(302)
        handler.send_header("Location", f"https://elsewhere.example/echo/{TOKEN}")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with portal(redirect) as (url, _):
        code, text = publish(capfd, monkeypatch, published, url)  # publish() asserts no form of the token shows
    assert code == 3 and "elsewhere.example/echo/***" in text, text
    message = "x" * 1990 + TOKEN
    body = json.dumps({"success": False, "error": {"message": message}}).encode()
    with portal(_every_call(409, "application/json", body)) as (url, _):
        code, text = publish(capfd, monkeypatch, published, url)
    assert code == 3 and TOKEN[:10] not in text, text


@pytest.mark.parametrize("token", ["トークン", "abc.def.ghi\r", " abc.def.ghi"])
def test_a_token_that_is_not_a_token_is_said_so(capfd, monkeypatch, published: Path, token: str) -> None:
    """A token with a non-ASCII character (the README's …), a trailing CR or a space: exit 2 naming the variable,
    before any call (it was an internal error, or 'cannot be reached')."""
    with portal(_every_call(*NOT_FOUND)) as (url, calls):
        monkeypatch.setenv("CKAN_API_TOKEN", token)
        capfd.readouterr()
        code = main(["publish", str(published), "--ckan", url, "--organization", "koriyama"])
        _, err = capfd.readouterr()
    assert code == 2 and "CKAN_API_TOKEN" in err and calls == [], err


@pytest.mark.parametrize("answer", ["editions not JSON", "a dataset without id"])
def test_a_portal_dataset_of_another_shape_is_exit_3_or_handled(capfd, monkeypatch, published: Path,
                                                                answer: str) -> None:
    """An `editions` extra edited by hand, or a dataset without an id: no internal error."""
    def reply(handler: _Handler, action: str) -> None:
        if action == "package_show" and answer == "a dataset without id":
            dataset = {"name": "x", "resources": []}
        elif action == "package_show":
            dataset = {"id": "d", "name": "x", "resources": [], "extras": [{"key": "editions", "value": "{oops"}]}
        else:
            dataset = {"id": f"{action}-1", "resources": [], "extras": []}
        handler.answer(200, "application/json", json.dumps({"success": True, "result": dataset}).encode())

    with portal(reply) as (url, _):
        code, text = publish(capfd, monkeypatch, published, url)  # publish() asserts no internal error
    assert code in (0, 3), text
