"""The report's pictures drawn in a child process (etl.report.drawer): the same page, no child left
behind, and every way the child can fail ends in the page drawn here or a sentence on it."""

from __future__ import annotations

import multiprocessing
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REAL, REPO

from etl.report import charts, drawer, html

ACE = "\N{PLAYING CARD ACE OF SPADES}"  # a character IPAexGothic lacks
SMALL = ("counts_chart", (["人事", "包括"], ["官", "民"], {("人事", "官"): 2, ("包括", "民"): 3}))


@pytest.fixture(autouse=True)
def _no_child_left():
    yield
    drawer.stop()
    assert not multiprocessing.active_children()


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg .*?</svg>", page, flags=re.S)


def test_the_etl_program_draws_its_page_in_a_child_the_same_as_drawn_here(tmp_path: Path) -> None:
    """`etl build --html`, run as the program (a new process): the page has both charts, each the
    same SVG as drawn in this process from the same tables, and matplotlib never loaded in `etl`
    itself (the child did it). The charts were asked for before the build's checks ran."""
    from etl import pipeline

    probe = ("import atexit, sys\n"
             "atexit.register(lambda: print('loaded here:', 'matplotlib' in sys.modules, file=sys.stderr))\n"
             "from etl.cli import run\n"
             "run()\n")
    page = tmp_path / "report.html"
    done = subprocess.run([sys.executable, "-c", probe, "build", "--dry-run", "--raw", str(REAL), "--out",
                           str(tmp_path / "catalog"), "--html", str(page)], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "loaded here: False" in done.stderr
    drawn_here = [drawer.PICTURES[name](*args) for name, args in html._chart_inputs(pipeline.load(REAL).tables)]
    assert len(drawn_here) == 2
    assert _svgs(page.read_text(encoding="utf-8")) == [svg.strip() for svg in drawn_here]


def test_the_build_asks_for_the_charts_before_it_checks_the_tables(tmp_path: Path, monkeypatch) -> None:
    """`pipeline.build` gives the tables to `on_read` before validating them: the child draws the charts
    while the build checks and publishes."""
    from etl import pipeline

    order: list[str] = []
    real_validate = pipeline.validate_dataset
    monkeypatch.setattr(pipeline, "validate_dataset", lambda d: order.append("validate") or real_validate(d))
    pipeline.build(REAL, tmp_path / "catalog", dry_run=True,
                   on_read=lambda d: order.append("read" if "agreement_counts" in d.tables else "?"))
    assert order == ["read", "validate"]


def test_a_chart_asked_for_early_is_collected_not_drawn_twice(monkeypatch) -> None:
    """What the build asked for is the child's answer; a picture asked for only later, while the
    child still draws, is drawn here instead of waiting behind it."""
    charts._matplotlib()
    drawer.start()
    name, args = SMALL
    drawer.ask(SMALL)
    assert drawer.result(name, *args) == charts.counts_chart(*args)
    drawer._child.held.asked.add("something still being drawn")  # the child looks busy
    monkeypatch.setattr(drawer, "PICTURES", {**drawer.PICTURES, "budget_chart": lambda *a: "drawn here"})
    assert drawer.result("budget_chart", ["a"], [1], [0]) == "drawn here"


def test_large_answers_come_through_and_a_large_request_is_drawn_here(monkeypatch) -> None:
    """Answers far larger than a pipe holds come through while the parent sends nothing (it asks only an
    idle child); a request larger than MAX_REQUEST is never sent (it could wait for a child that
    does not read): that chart is drawn here, and the child goes on."""
    import signal

    here = os.getpid()
    monkeypatch.setattr(drawer, "PICTURES", {"big": lambda n: f"{os.getpid() != here}:" + "x" * n})
    drawer.start()

    def stuck(signum, frame):
        raise TimeoutError("the parent and the child are waiting for each other")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(30)
    try:
        drawer.ask(("big", (4 * 2**20,)), ("big", (4 * 2**20 + 1,)))
        assert drawer.result("big", 4 * 2**20) == "True:" + "x" * 4 * 2**20  # the child's
        assert drawer.result("big", 4 * 2**20 + 1).startswith("True:")
        large = "y" * (drawer.MAX_REQUEST + 1)
        assert drawer.result("big", len(large)).startswith("True:")  # small request: the child's
        monkeypatch.setitem(drawer.PICTURES, "echo", lambda a: f"{os.getpid() != here}:{len(a)}")
        assert drawer.result("echo", large) == f"False:{len(large)}"  # too large to send: drawn here
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert drawer.running()


def test_a_label_the_font_lacks_is_said_by_the_child_too() -> None:
    """The child's ChartError reaches the page as the same sentence as when drawn here."""
    charts._matplotlib()
    drawer.start()
    shown = html._chart("counts_chart", (["人事", ACE], ["官"], {}))
    assert "<svg" not in shown and "グラフを描けませんでした" in shown and "IPAexGothic" in shown
    assert drawer.running()  # one chart that cannot be drawn is no reason to stop drawing the others


def test_a_child_that_dies_leaves_the_page_drawn_here(monkeypatch) -> None:
    """A child killed before it answers (out of memory, or by someone): the chart is drawn here, the
    same, and the child is not asked again."""
    charts._matplotlib()
    drawer.start()
    drawer._child.held.child.kill()
    drawer._child.held.child.join(5)
    name, args = SMALL
    assert drawer.result(name, *args) == charts.counts_chart(*args)
    assert not drawer.running()


def test_a_child_that_does_not_answer_in_time_is_stopped_and_the_chart_drawn_here(monkeypatch) -> None:
    """A child stuck (or starved) past MAX_SECONDS is killed and the chart drawn here: the page never
    depends on the clock, only on its inputs."""
    here = os.getpid()

    def counts(*args):
        if os.getpid() != here:
            time.sleep(30)  # stuck in the child only
        return charts.counts_chart(*args)

    monkeypatch.setattr(drawer, "MAX_SECONDS", 0.5)
    monkeypatch.setattr(drawer, "PICTURES", {**drawer.PICTURES, "counts_chart": counts})
    charts._matplotlib()
    drawer.start()  # the child has the stuck drawing (forked after the patch)
    started = time.monotonic()
    name, args = SMALL
    assert drawer.result(name, *args) == charts.counts_chart(*args)
    assert time.monotonic() - started < 10 and not drawer.running()
