"""The report's charts drawn in a child process, while the command loads its libraries and validates.

matplotlib takes about 0.6 s to load and the two charts about 0.1 s each. `etl build --html` and
`etl report` fork this child first (`start`), before they load their own libraries: the child
loads matplotlib on the other core meanwhile, at a lower priority than the command and a PDF's
reader. The build asks for the charts as soon as the tables are read (`ask`), so that they are
drawn while it validates and publishes; `result` collects them.

The page never depends on the child: a chart it has not answered within MAX_SECONDS (stuck, or
starved on a busy machine), a child that died, a request too large to send without waiting, or a
chart wanted while the child still draws others, is drawn in this process, the same byte for byte.

The pipe: the requests go in one message, to an idle child only, and are small (MAX_REQUEST, within
what a pipe holds), so a send never waits; the child reads the whole request before it answers.
A PDF's reader, forked after this child, holds a copy of this process's end of the pipe: were the
command killed, the child would not see its pipe end, so it also looks whether its parent is there.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import signal
from typing import Any

from etl.report import charts
from etl.shared import children

PICTURES = {"counts_chart": charts.counts_chart, "budget_chart": charts.budget_chart}
MAX_SECONDS = 30  # for the child's answer; the document's charts take about 0.1 s each
MAX_REQUEST = children.MAX_REQUEST  # bytes of one request: a pipe holds more, so sending it never waits


def start() -> None:
    """Fork the child. The `etl` program does so before it loads its libraries (no thread runs yet,
    and the child does not inherit polars); a long-lived caller once matplotlib is loaded (etl.cli).
    `stop` ends it. Without a process to be had, everything is drawn here."""
    _child.start()


def stop() -> None:
    _child.stop()


def running() -> bool:
    return _child.held is not None


def ask(*pictures: tuple[str, tuple]) -> None:
    """Have the child start drawing these pictures, each (name, args), now: nothing without a child,
    or while it still draws what it was asked before (see `_Drawer.ask`)."""
    if _child.held is not None:
        _child.held.ask(pictures)


def result(name: str, *args: Any) -> Any:
    """Chart `name` of `args`: the child's when it was asked for, or when the child is free now; else
    drawn here. Raises as drawing it here does: charts.ChartError when a label has a character the
    font lacks."""
    if _child.held is not None:
        kind, value = _child.held.result(name, args)
        if kind == "done":
            return value
        if kind == "error":
            raise charts.ChartError(value)
        if kind != "here":  # too slow, or gone, or broken: everything is drawn here from now on
            _child.stop()
    return PICTURES[name](*args)


def _key(name: str, args: tuple) -> str:
    """The same key for the same inputs (lists, dicts, tuples of str, int and bytes, built alike)."""
    return name + ":" + hashlib.sha256(pickle.dumps(args, protocol=5)).hexdigest()


class _Drawer:
    """The child, and what the parent knows of it: what it was asked, what it answered."""

    def __init__(self) -> None:
        self.asked: set[str] = set()
        self.answers: dict[str, tuple[str, Any]] = {}
        self.child, self.conn = children.fork(_serve, os.getpid())

    def ask(self, pictures: tuple[tuple[str, tuple], ...]) -> None:
        """Send the pictures not asked for yet, in one request, to an idle child only, and only when
        the request is small: a send then never waits (see the module's docstring)."""
        new = {_key(name, args): (name, args) for name, args in pictures}
        new = {key: picture for key, picture in new.items() if key not in self.asked}
        if not new or self.busy():
            return
        request = pickle.dumps([(key, name, args) for key, (name, args) in new.items()], protocol=5)
        if len(request) > MAX_REQUEST:  # a document far larger than any edition: drawn here
            return
        try:
            self.conn.send_bytes(request)
            self.asked.update(new)
        except OSError:  # the child is gone: `result` says so
            pass

    def busy(self) -> bool:
        """Whether the child is still drawing something it was asked for (answers sent are read first)."""
        try:
            while self.conn.poll(0):
                self._read()
        except (EOFError, OSError):
            return False  # gone: `result` finds out
        return not self.asked <= self.answers.keys()

    def _read(self) -> None:
        answer, kind, value = self.conn.recv()
        self.answers[answer] = (kind, value)

    def result(self, name: str, args: tuple) -> tuple[str, Any]:
        """("done", the picture); ("error", why a chart cannot be drawn without tofu); ("here", …)
        when it was not asked for and cannot be now (the child is busy, or the request too large);
        ("slow", …) past MAX_SECONDS; ("lost", …) when the child died or broke before it answered."""
        key = _key(name, args)
        self.ask(((name, args),))
        if key not in self.asked:
            return ("here", "") if self.child.is_alive() else ("lost", "the child is gone")
        try:
            while key not in self.answers:
                if not self.conn.poll(MAX_SECONDS):
                    return ("slow", f"no answer within {MAX_SECONDS} s")
                self._read()
        except (EOFError, OSError):  # killed (out of memory, or by someone) before it answered
            return ("lost", "the child is gone")
        return self.answers[key]

    def stop(self) -> None:
        """Ended at once: it holds nothing that needs closing."""
        self.conn.close()
        self.child.kill()
        self.child.join(5)


_child = children.Slot(_Drawer)


def _serve(conn, parent: int) -> None:
    """In the child (etl.shared.children): load matplotlib, then draw each chart asked for and send it
    back, or why not (`children.serve`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the command's to report; it ends this child
    os.nice(10)  # behind the command and a PDF's reader, which the command waits for sooner
    try:
        charts._matplotlib()
    except charts.ChartError:
        pass  # each chart then says so
    children.serve(conn, parent, _draw)


def _draw(conn, request: bytes) -> None:
    for key, name, args in pickle.loads(request):  # the whole request was read before any answer
        conn.send((key, *_drawn(name, args)))


def _drawn(name: str, args: tuple) -> tuple[str, Any]:
    try:
        return ("done", PICTURES[name](*args))
    except charts.ChartError as exc:
        return ("error", str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug of ours: the parent draws it again and sees it
        return ("lost", f"{type(exc).__name__}: {exc}")
