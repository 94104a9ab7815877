"""Child processes forked to work beside etl: a PDF's reader (etl.source.pdf), the report's chart
drawer (etl.report.drawer) and the helper that runs frictionless' checks for a build (`beside`).

Each is forked, so that the child has what is loaded already (and, in the `etl` program, before
polars starts its threads), and each talks to etl over one pipe. `fork` does what each needs alike:
the child is a daemon (never outliving an interpreter that exits normally), the parent's end of the
pipe that the fork copies into the child is closed there first (else, were etl killed, the child
would hold the pipe open itself and never see it end, or block for ever sending to it), and the
garbage collector, off while etl loads its libraries (etl.cli.run), is on in the child.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from etl.errors import EtlError


def fork(target: Callable[..., None], *args: Any, duplex: bool = True) -> tuple[BaseProcess, Connection]:
    """Start `target(conn, *args)` in a forked child; the child and this process's end of the pipe.
    With `duplex=False` the child only sends, and this process only receives."""
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe(duplex)  # one-way: (receiving end, sending end)
    child = context.Process(target=_run, args=(target, theirs, ours, args), daemon=True)
    try:
        child.start()
    finally:
        theirs.close()
    return child, ours


def _run(target: Callable[..., None], conn: Connection, parents: Connection, args: tuple) -> None:
    parents.close()
    gc.enable()
    target(conn, *args)


WATCH_SECONDS = 1.0  # how often an idle serving child looks whether its parent is still there


def serve(conn: Connection, parent: int, handle: Callable[[Connection, bytes], None]) -> None:
    """In a child that answers requests (the drawer, the helper): hand each request, read whole, to
    `handle`, which answers on `conn`, until the parent closes its end or is gone. An idle child looks
    every second whether its parent is still there: a sibling forked after it (a PDF's reader) holds
    a copy of the parent's end, so that the end of the pipe alone would not tell it."""
    try:
        while True:
            if not conn.poll(WATCH_SECONDS):
                if os.getppid() != parent:
                    return
                continue
            handle(conn, conn.recv_bytes())
    except (EOFError, OSError):
        return


class Slot:
    """Where a command keeps its one child of a kind: `start` forks a new one (ending the one before),
    `stop` ends it. `held` is None when none runs: never started, stopped, lost, or no process could be
    had (a limit on processes); the child's work is then done in the command."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make, self.held = make, None

    def start(self) -> None:
        self.stop()
        try:
            self.held = self.make()
        except OSError:
            self.held = None

    def stop(self) -> None:
        held, self.held = self.held, None
        if held is not None:
            held.stop()


# ── the helper: module-level functions run in a child, beside the command ───────────────────────
#
# `etl build` forks the helper before it loads its libraries and hands it frictionless' checks (the
# registry's record of the document, each staged release's datapackage.json): the helper loads
# frictionless (its import and first use cost about 0.25 s) on the other core while the build loads polars
# and pandera, and checks a staged descriptor while the build reads the staged files back. The
# build never loads frictionless itself then.
#
# Nothing depends on the helper: a call it cannot take (none is running, it is busy, the request
# is too large or cannot be sent by reference) runs here when its result is wanted, and so does one
# it did not answer within MAX_SECONDS, or lost (it died, or the call failed with anything but a
# refusal, an EtlError: run here, a bug shows its own traceback). Same function, same arguments: the
# same result either way.
#
# The pipe: one call at a time, sent only to an idle helper and at most MAX_REQUEST bytes (less
# than a pipe holds), so that a send never waits; the helper reads the whole call before it
# answers. A child forked after it (a PDF's reader) holds a copy of this process's end, so the
# helper also looks every second whether its parent is still there.

MAX_SECONDS = 30  # for the helper's answer; frictionless' checks of the document take well under 1 s
MAX_REQUEST = 64 * 2**10  # bytes of one request to a serving child: a pipe holds more, so a send never waits


class Pending:
    """A call's result, from the helper when it took the call, else computed here when wanted."""

    def __init__(self, fn: Callable[..., Any], args: tuple, helper: _Helper | None = None, ticket: int = 0):
        self.fn, self.args, self.helper, self.ticket = fn, args, helper, ticket

    def result(self) -> Any:
        """fn(*args): the helper's value, or its refusal (EtlError) raised here; computed here instead
        when the helper could not answer."""
        if self.helper is not None:
            kind, value = self.helper.answer(self.ticket)
            self.helper = None
            if kind == "value":
                return value
            if kind == "raised":
                raise value
        return self.fn(*self.args)


def start_helper() -> None:
    """Fork the helper (the `etl` program does so before it loads its libraries: no thread runs yet,
    and the child inherits none of them). `stop_helper` ends it."""
    _helper.start()


def stop_helper() -> None:
    _helper.stop()


def helper_running() -> bool:
    return _helper.held is not None


def beside(fn: Callable[..., Any], *args: Any) -> Pending:
    """Start `fn(*args)` in the helper now when one runs and is idle; `.result()` gives its value.
    `fn` must be a module's own function whose module loads without polars (the helper has none)."""
    if _helper.held is not None and _helper.held.lost:  # stuck or gone: every later call runs here
        _helper.stop()
    if _helper.held is None:
        return Pending(fn, args)
    return Pending(fn, args, *_helper.held.send(fn, args))


class _Helper:
    """The child, and what the parent knows of it: the call it was sent, the answers it gave."""

    def __init__(self) -> None:
        self.child, self.conn = fork(_help, os.getpid())
        self.sent = 0  # tickets of the calls sent, 1, 2, …
        self.waiting = 0  # the ticket of the call sent and not answered yet (0: idle)
        self.answers: dict[int, tuple[str, Any]] = {}
        self.lost = False

    def send(self, fn: Callable[..., Any], args: tuple) -> tuple[_Helper | None, int]:
        """(self, ticket) when the call was sent; (None, 0) when it runs here (see the module's notes)."""
        if self.lost or self._busy():
            return None, 0
        try:
            request = pickle.dumps((fn, args), protocol=5)
        except (pickle.PicklingError, AttributeError, TypeError):  # a lambda, a local function: runs here
            return None, 0
        if len(request) > MAX_REQUEST:
            return None, 0
        try:
            self.conn.send_bytes(request)
        except OSError:  # gone: the call runs here, and so does every later one
            self.lost = True
            return None, 0
        self.sent += 1
        self.waiting = self.sent
        return self, self.sent

    def _busy(self) -> bool:
        """Whether the helper still works on a call (an answer already sent is read first)."""
        try:
            if self.waiting and self.conn.poll(0):
                self._read()
        except (EOFError, OSError, pickle.UnpicklingError):
            self.lost = True
        return bool(self.waiting)

    def _read(self) -> None:
        self.answers[self.waiting] = pickle.loads(self.conn.recv_bytes())
        self.waiting = 0

    def answer(self, ticket: int) -> tuple[str, Any]:
        """("value", v), ("raised", an EtlError), or ("lost", why) when it must run here."""
        try:
            while ticket not in self.answers and not self.lost:
                if ticket != self.waiting:
                    return ("lost", "never sent")
                if not self.conn.poll(MAX_SECONDS):
                    self.lost = True  # stuck, or starved on a busy machine: it is not asked again
                    self.stop()
                    return ("lost", f"no answer within {MAX_SECONDS} s")
                self._read()
        except (EOFError, OSError, pickle.UnpicklingError):  # killed before it answered
            self.lost = True
        return self.answers.pop(ticket, ("lost", "the helper is gone"))

    def stop(self) -> None:
        """Ended at once: it holds nothing that needs closing."""
        self.conn.close()
        self.child.kill()
        self.child.join(5)


_helper = Slot(_Helper)


def _help(conn: Connection, parent: int) -> None:
    """In the helper: run each call sent and send back its answer (`serve`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the command's to report; it ends this child
    serve(conn, parent, lambda conn, request: conn.send_bytes(_answer(request)))


def _answer(request: bytes) -> bytes:
    try:
        fn, args = pickle.loads(request)
        return pickle.dumps(("value", fn(*args)), protocol=5)
    except EtlError as exc:  # a refusal, said to the parent as it would have been there
        try:
            answer = pickle.dumps(("raised", exc), protocol=5)
            pickle.loads(answer)  # an exception whose arguments do not rebuild it: run there instead
            return answer
        except Exception as again:  # noqa: BLE001
            return pickle.dumps(("lost", f"{type(again).__name__}: {again}"), protocol=5)
    except BaseException as exc:  # noqa: BLE001 - run again in the parent, where a bug shows its traceback
        return pickle.dumps(("lost", f"{type(exc).__name__}: {exc}"), protocol=5)
