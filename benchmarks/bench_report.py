"""What the HTML report costs beyond the build: `etl build --dry-run` with and without `--html`.

Run: .venv-test/bin/python benchmarks/bench_report.py [repeats]. For the real text and for a PDF facsimile
of it with one misprinted total (a failing build, so the page has a failure, its source lines and
for the PDF its crops), the builds run twice over, and the medians are printed with the page's cost:
the median difference of each build with the page and the build without it just before it:

- as new processes, interleaved (`etl build …` then `etl build … --html`), which is what a steward or
  a scheduled pipeline pays for one run: matplotlib's import included;
- in this one process, alternately with and without the page, after a warm-up build with the page
  (the libraries, matplotlib included, loaded once), as a caller of the library pays.

The issue's aim is at most 0.3 s more. Nothing here is asserted (timings belong in benchmarks, not
in the test suite). The package's own modules are compiled first, as an installed package's are.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "raw" / "koriyama-renkei-kyotei-2023-02-10.txt"
sys.path.insert(0, str(ROOT / "tools"))


def _args(doc: Path, out: Path, html: Path | None) -> list[str]:
    return ["build", "--dry-run", "--raw", str(doc), "--out", str(out)] + (["--html", str(html)] if html else [])


def _run(doc: Path, out: Path, html: Path | None) -> float:
    from etl.cli import main

    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(_args(doc, out, html))
    return time.perf_counter() - start


def _process(doc: Path, out: Path, html: Path | None) -> float:
    etl = str(Path(sys.executable).with_name("etl"))
    start = time.perf_counter()
    subprocess.run([etl, *_args(doc, out, html)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def measure(name: str, doc: Path, repeats: int, tmp: Path, run=_run) -> None:
    plain, page = [], []
    for i in range(repeats):
        plain.append(run(doc, tmp / f"p{i}", None))
        page.append(run(doc, tmp / f"h{i}", tmp / f"h{i}.html"))
        if not (tmp / f"h{i}.html").is_file():
            raise SystemExit(f"{name}: the build wrote no page")
    a, b = statistics.median(plain), statistics.median(page)
    # Each build with the page against the one just before it without: a machine that slows for a
    # while slows both alike, which the difference of the two medians would not cancel.
    paired = statistics.median(y - x for x, y in zip(plain, page, strict=True))
    print(f"  {name:38} build {a:6.3f} s   with --html {b:6.3f} s   the page costs {paired:+.3f} s "
          f"(median of the pairs' differences; of the medians {b - a:+.3f} s)")


def main(argv: list[str]) -> int:
    import facsimile

    repeats = int(argv[0]) if argv else 5
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "etl")], check=True)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        misprint = tmp / RAW.name
        misprint.write_text(RAW.read_text(encoding="utf-8").replace("合計 295 54 215", "合計 295 54 216"),
                            encoding="utf-8")
        pdf = tmp / RAW.with_suffix(".pdf").name
        facsimile.make(misprint, pdf, "reportlab")
        docs = {"real text (valid)": RAW, "PDF facsimile, 合計 misprinted (invalid)": pdf}
        print(f"new processes, interleaved: median of {repeats}")
        for i, (name, doc) in enumerate(docs.items()):
            (tmp / f"n{i}").mkdir()
            measure(name, doc, repeats, tmp / f"n{i}", _process)
        print(f"in this one process: median of {repeats} (after one warm-up build with the page)")
        for i, (name, doc) in enumerate(docs.items()):
            (tmp / f"i{i}").mkdir()
            _run(doc, tmp / f"i{i}" / "warm", tmp / f"i{i}" / "warm.html")  # the libraries, loaded once
            measure(name, doc, repeats, tmp / f"i{i}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
