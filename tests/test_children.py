"""The children forked beside `etl` (etl.shared.children): the build's helper (`beside`), which runs
frictionless' checks so that `etl` never loads frictionless itself, and every way it can fail ends in
the same call run here, with the same result; and what every serving child does, the drawer too."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REAL, REPO

from etl.errors import RegistrationError
from etl.shared import children
from etl.source import registry


@pytest.fixture(autouse=True)
def _no_helper_left():
    yield
    children.stop_helper()
    assert not multiprocessing.active_children()


# The calls sent: a module's own functions, sent by reference and run in the (forked) helper.

def where() -> int:
    return os.getpid()


def echo(value: object) -> object:
    return value


def refuse(message: str) -> None:
    raise RegistrationError(message)


def broken_elsewhere(pid: int) -> str:
    """A bug of the helper's own (only there): the parent runs the call, and gets the value."""
    if os.getpid() != pid:
        raise KeyError("only in the helper")
    return "run here"


def stuck_elsewhere(pid: int) -> str:
    if os.getpid() != pid:
        time.sleep(30)
    return "run here"


def test_a_call_runs_in_the_helper_and_gives_its_value() -> None:
    children.start_helper()
    assert children.helper_running()
    helper = children._helper.held.child.pid
    assert children.beside(where).result() == helper
    assert children.beside(echo, {"名称": ["郡山市", 1]}).result() == {"名称": ["郡山市", 1]}


def test_without_a_helper_the_call_runs_here_when_its_result_is_wanted() -> None:
    assert not children.helper_running()
    assert children.beside(where).result() == os.getpid()


def test_a_refusal_in_the_helper_is_raised_here_as_it_was() -> None:
    children.start_helper()
    with pytest.raises(RegistrationError, match="「郡山市」 is not registered"):
        children.beside(refuse, "「郡山市」 is not registered").result()
    assert children.helper_running()  # a refusal is an answer: the helper stays


def test_a_bug_in_the_helper_is_run_again_here() -> None:
    """Anything but a refusal (EtlError) is run here again: a bug then shows its own traceback."""
    children.start_helper()
    assert children.beside(broken_elsewhere, os.getpid()).result() == "run here"


def test_a_call_the_helper_cannot_take_runs_here() -> None:
    """While it works on a call, for a function not sent by reference, and for a request over
    MAX_REQUEST (a send then never waits: the pipe holds it)."""
    children.start_helper()
    first = children.beside(stuck_elsewhere, os.getpid())
    assert children.beside(where).result() == os.getpid()  # busy
    assert children.beside(lambda: os.getpid()).result() == os.getpid()  # a lambda is not sent
    first.helper.stop()
    children.stop_helper()
    children.start_helper()
    large = "x" * (children.MAX_REQUEST + 1)
    assert children.beside(echo, large).result() == large
    assert children.beside(where).result() != os.getpid()  # the large one was never sent: idle


def test_large_answers_come_through_without_a_deadlock() -> None:
    import signal as signals

    previous = signals.signal(signals.SIGALRM, lambda *_: pytest.fail("deadlock between etl and its helper"))
    signals.alarm(60)
    try:
        children.start_helper()
        big = "y" * (4 * 2**20)
        pending = [children.beside(echo, big) for _ in range(3)]  # the 2nd and 3rd run here: busy
        assert [p.result() for p in pending] == [big] * 3
        assert children.beside(where).result() != os.getpid()
    finally:
        signals.alarm(0)
        signals.signal(signals.SIGALRM, previous)


def test_a_helper_that_dies_leaves_the_call_run_here() -> None:
    children.start_helper()
    pending = children.beside(stuck_elsewhere, os.getpid())
    children._helper.held.child.kill()
    assert pending.result() == "run here"
    assert children.beside(where).result() == os.getpid()  # not asked again
    assert not children.helper_running()


def test_a_helper_that_does_not_answer_in_time_is_stopped(monkeypatch) -> None:
    monkeypatch.setattr(children, "MAX_SECONDS", 0.5)
    children.start_helper()
    started = time.monotonic()
    assert children.beside(stuck_elsewhere, os.getpid()).result() == "run here"
    assert time.monotonic() - started < 10
    assert not children._helper.held.child.is_alive()
    assert children.beside(where).result() == os.getpid() and not children.helper_running()


def _helper_at_work():
    children.start_helper()
    return children._helper.held.child, lambda: children.beside(where).result() == children._helper.held.child.pid


def _drawer_at_work():
    from etl.report import charts, drawer

    charts._matplotlib()
    drawer.start()
    small = (["人事"], ["官"], {("人事", "官"): 2})
    return drawer._child.held.child, lambda: drawer.result("counts_chart", *small) == charts.counts_chart(*small)


@pytest.mark.parametrize("at_work", [_helper_at_work, _drawer_at_work], ids=["helper", "drawer"])
def test_ctrl_c_is_the_commands_to_report(at_work) -> None:
    """Ctrl-C reaches the whole process group: a serving child ignores it (no traceback of its own on
    the terminal) and goes on; the command reports the interruption and ends it."""
    from etl.report import drawer

    child, works = at_work()
    try:
        time.sleep(0.3)  # the child has set its handler
        os.kill(child.pid, signal.SIGINT)
        child.join(1)
        assert child.is_alive()
        assert works()
    finally:
        drawer.stop()


@pytest.mark.parametrize("start, pid", [
    ("from etl.shared import children; children.start_helper()", "children._helper.held.child.pid"),
    ("from etl.report import drawer; drawer.start()", "drawer._child.held.child.pid"),
], ids=["helper", "drawer"])
def test_a_child_whose_parent_has_gone_ends(start: str, pid: str) -> None:
    """Were `etl` killed while a sibling (a PDF's reader) still holds a copy of its end of the pipe, a
    serving child would never read the pipe's end: it looks whether its parent is there, and leaves."""
    script = ("import os, sys, time\n"
              f"{start}\n"
              "sibling = os.fork()\n"
              "if sibling == 0:\n"
              "    time.sleep(60)\n"  # holding the parent's end of the pipe
              "    os._exit(0)\n"
              f"print({pid}, sibling, flush=True)\n"
              "os._exit(0)\n")  # the parent gone without a word
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    child, sibling = (int(n) for n in process.stdout.readline().split())
    process.wait(30)
    try:
        assert _running(sibling)
        deadline = time.monotonic() + 15
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(child)
    finally:
        os.kill(sibling, 9)
        process.stdout.close()


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


# ── the build's use of it ─────────────────────────────────────────────────────────────────────


def test_the_etl_program_never_loads_frictionless_and_publishes_the_same(tmp_path: Path) -> None:
    """`etl build`, run as the program: the registry's check and the staged releases' frictionless
    checks ran in the helper, and the release is the one published in this process."""
    from etl.cli import main

    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('loaded here:', 'frictionless' in sys.modules, file=sys.stderr))\n"
             "from etl.cli import run\n"
             "run()\n")
    done = subprocess.run([sys.executable, "-c", probe, "build", "--raw", str(REAL), "--out",
                           str(tmp_path / "program")], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "loaded here: False" in done.stderr
    assert main(["build", "--raw", str(REAL), "--out", str(tmp_path / "here")]) == 0
    program, here = (sorted(p.relative_to(tmp_path / k) for p in (tmp_path / k).rglob("*") if p.is_file())
                     for k in ("program", "here"))
    assert program == here
    for name in program:
        assert (tmp_path / "program" / name).read_bytes() == (tmp_path / "here" / name).read_bytes(), name


def _registered(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    document = raw / REAL.name
    document.write_bytes(REAL.read_bytes())
    registry.register([document])
    return document


def test_the_early_check_is_taken_for_the_same_file_and_record(tmp_path: Path, monkeypatch) -> None:
    document = _registered(tmp_path)
    children.start_helper()
    registry.start_checking(document)
    assert registry._early[2].helper is not None  # sent to the helper
    monkeypatch.setattr(registry, "_frictionless_errors", lambda *a: pytest.fail("checked again here"))
    data = document.read_bytes()
    assert registry.verify(document, data).startswith(f"{len(data)} bytes, sha256:")


def test_a_record_changed_since_the_early_check_is_checked_again(tmp_path: Path, monkeypatch) -> None:
    document = _registered(tmp_path)
    children.start_helper()
    registry.start_checking(document)
    manifest = document.parent / "datapackage.json"
    package = json.loads(manifest.read_text(encoding="utf-8"))
    package["resources"][0]["title"] = "another title"
    manifest.write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")
    again = []
    real = registry._frictionless_errors
    monkeypatch.setattr(registry, "_frictionless_errors", lambda *a: again.append(a) or real(*a))
    assert registry.verify(document, document.read_bytes()) is not None
    assert len(again) == 1


def test_bytes_that_differ_from_the_file_checked_early_are_refused(tmp_path: Path) -> None:
    """frictionless checked the file on disk before the build read it: bytes read that are not the
    registered ones, while the file checked was, are refused as a file changing under the build."""
    document = _registered(tmp_path)
    children.start_helper()
    registry.start_checking(document)
    changed = document.read_bytes().replace("郡山市".encode(), "福島市".encode(), 1)
    with pytest.raises(RegistrationError, match="changed while it was being read"):
        registry.verify(document, changed)


def _checked_early(document: Path) -> None:
    """The helper's check of `document` started, and its answer sent (not yet read)."""
    children.start_helper()
    registry.start_checking(document)
    assert registry._early[2].helper is not None
    assert children._helper.held.conn.poll(30)


def test_a_file_restored_after_the_early_check_is_accepted(tmp_path: Path) -> None:
    """The early check ran before the build read the file: a file cut short then and complete when
    read is judged on what is there now (checked again here), as without an early check."""
    document = _registered(tmp_path)
    whole = document.read_bytes()
    document.write_bytes(whole[: len(whole) // 2])
    _checked_early(document)
    document.write_bytes(whole)
    assert registry.verify(document, whole).startswith(f"{len(whole)} bytes, sha256:")


def test_a_file_damaged_after_the_early_check_is_said_not_to_match(tmp_path: Path) -> None:
    """And a file complete when checked early but damaged for good when read is refused as not
    matching its record (restore it), not as changing while it was read (run again)."""
    document = _registered(tmp_path)
    whole = document.read_bytes()
    _checked_early(document)
    document.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(RegistrationError, match="does not match its record"):
        registry.verify(document, document.read_bytes())


@pytest.mark.parametrize("path", ["x" * 300 + "/document.txt", "raw/doc\0ument.txt"], ids=["too-long", "nul"])
def test_a_path_that_cannot_be_read_is_left_for_the_build_to_refuse(path: str) -> None:
    registry.start_checking(Path(path))
    assert registry._early is None
