"""The report's pictures (its charts and its crops of the PDF) drawn in a child process, meanwhile.

matplotlib takes about 0.6 s to load and the two charts about 0.1 s each; a PDF's crops need
pypdfium2 and Pillow loaded (about 0.05 s) and take about 0.03 s. `etl build --html` and `etl
report` fork this child first (`start`), before they load their own libraries: the child loads
matplotlib on the other core meanwhile, at a lower priority than the command and a PDF's reader,
and pypdfium2 and Pillow once it has nothing else to do. The build asks for the charts as soon as
the tables are read (`ask`), so that they are drawn while it validates and publishes; `result`
collects them. The crops, wanted once the checks have run, are the child's when it is free, else
drawn here rather than waiting behind the charts. Without the child (a caller of the library), or
should it die, everything is drawn in this process: the page is the same, byte for byte.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
import os
import pickle
from typing import Any

from etl.report import charts, crops

PICTURES = {"counts_chart": charts.counts_chart, "budget_chart": charts.budget_chart, "crops": crops.crops}
MAX_SECONDS = 30  # for one picture; the document's take about 0.1 s
_WATCH_SECONDS = 1.0  # how often an idle child looks whether its parent is still there


def start() -> None:
    """Fork the child. The `etl` program does so before it loads its libraries (no thread runs yet,
    and the child does not inherit polars); a long-lived caller once matplotlib is loaded (etl.cli).
    `stop` ends it."""
    global _child
    stop()
    try:
        _child = _Drawer()
    except OSError:  # no process to be had (a limit on processes): everything is drawn here
        _child = None


def stop() -> None:
    global _child
    drawer, _child = _child, None
    if drawer is not None:
        drawer.stop()


def running() -> bool:
    return _child is not None


def ask(*pictures: tuple[str, tuple]) -> None:
    """Have the child start drawing these pictures, each (name, args), now: nothing without a child,
    or while it still draws what it was asked before (see `_Drawer.ask`)."""
    if _child is not None:
        _child.ask(pictures)


def result(name: str, *args: Any) -> Any:
    """Picture `name` of `args`: the child's when it was asked for, or when the child is free now;
    else drawn here, so that this process does not wait for the child to draw first what it was
    asked before (the charts, while a failing build's page wants its crops). Raises as drawing it
    here would: charts.ChartError when a chart cannot be drawn without tofu, or in time."""
    global _child
    if _child is not None:
        kind, value = _child.result(name, args)
        if kind == "done":
            return value
        if kind == "error":
            raise charts.ChartError(value)
        if kind != "busy":  # too slow, or gone, or broken: everything is drawn here from now on
            _child.stop()
            _child = None
        if kind == "slow":  # here it would take as long
            raise charts.ChartError(value)
    return PICTURES[name](*args)


def _key(name: str, args: tuple) -> str:
    """The same key for the same inputs (lists, dicts, tuples of str, int and bytes, built alike)."""
    return name + ":" + hashlib.sha256(pickle.dumps(args, protocol=5)).hexdigest()


class _Drawer:
    """The child, and what the parent knows of it: what it was asked, what it answered."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self.conn, theirs = context.Pipe()
        self.asked: set[str] = set()
        self.answers: dict[str, tuple[str, Any]] = {}
        self.child = context.Process(target=_serve, args=(theirs, self.conn, os.getpid()), daemon=True)
        try:
            self.child.start()
        finally:
            theirs.close()

    def ask(self, pictures: tuple[tuple[str, tuple], ...]) -> None:
        """Send the pictures not asked for yet, in one request, to an idle child only: the child then
        reads the whole request before it sends any answer, and this process sends nothing more
        until it has read every answer. So a large request and a large answer (a PDF's bytes, a long
        SVG) never each wait for the other side to read."""
        new = {_key(name, args): (name, args) for name, args in pictures}
        new = {key: picture for key, picture in new.items() if key not in self.asked}
        if not new or self.busy():
            return
        try:
            self.conn.send([(key, name, args) for key, (name, args) in new.items()])
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
        """("done", the picture); ("error", why a chart cannot be drawn without tofu); ("busy", …)
        when it was not asked for and the child still draws; ("slow", …) past MAX_SECONDS;
        ("lost", …) when the child died or broke before it answered."""
        key = _key(name, args)
        self.ask(((name, args),))
        if key not in self.asked:
            return ("busy", "") if self.child.is_alive() else ("lost", "the child is gone")
        try:
            while key not in self.answers:
                if not self.conn.poll(MAX_SECONDS):
                    return ("slow", f"drawing it took more than {MAX_SECONDS} s and was stopped")
                self._read()
        except (EOFError, OSError):  # killed (out of memory, or by someone) before it answered
            return ("lost", "the child is gone")
        return self.answers[key]

    def stop(self) -> None:
        """Ended at once: it holds nothing that needs closing, and may be loading what a page of a
        PDF would have needed."""
        self.conn.close()
        self.child.kill()
        self.child.join(5)


_child: _Drawer | None = None


def _serve(conn, parents, parent: int) -> None:
    """In the child: load the libraries, then draw each picture asked for and send it back (or why
    not), until the parent closes its end or is gone. The parent's end, inherited by the fork, is
    closed first, so that the pipe ends when the parent does; an idle child also looks every second
    whether its parent is still there (a sibling process may hold a copy of the parent's end)."""
    parents.close()
    os.nice(10)  # behind the command and a PDF's reader, which the command waits for sooner
    gc.enable()  # forked from a parent still loading its libraries without the collector (etl.cli.run)
    _load_charts()
    answered = crops_loaded = False
    try:
        while True:
            if answered and not crops_loaded and not conn.poll(0):
                _load_crops()  # once the charts asked for first are drawn
                crops_loaded = True
            if not conn.poll(_WATCH_SECONDS):
                if os.getppid() != parent:
                    return
                continue
            for key, name, args in conn.recv():  # one request, read whole before any answer
                conn.send((key, *_drawn(name, args)))
                answered = True
    except (EOFError, OSError):
        return


def _drawn(name: str, args: tuple) -> tuple[str, Any]:
    try:
        return ("done", PICTURES[name](*args))
    except charts.ChartError as exc:
        return ("error", str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug of ours: the parent draws it again and sees it
        return ("lost", f"{type(exc).__name__}: {exc}")


def _load_charts() -> None:
    """matplotlib and the font, before the charts are asked for; a missing font is said per chart."""
    try:
        charts._matplotlib()
    except charts.ChartError:
        pass


def _load_crops() -> None:
    import pypdfium2  # noqa: F401
    from PIL import Image, ImageDraw, PngImagePlugin  # noqa: F401
