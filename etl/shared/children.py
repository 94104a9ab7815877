"""Child processes forked to work beside etl: a PDF's reader (etl.source.pdf) and the report's
chart drawer (etl.report.drawer).

Both are forked, so that the child has what is loaded already (and, in the `etl` program, before
polars starts its threads), and both talk to etl over one pipe. `fork` does what each needs alike:
the child is a daemon (never outliving an interpreter that exits normally), the parent's end of the
pipe that the fork copies into the child is closed there first (else, were etl killed, the child
would hold the pipe open itself and never see it end, or block for ever sending to it), and the
garbage collector, off while etl loads its libraries (etl.cli.run), is on in the child.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any


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
