"""What the HTML report costs beyond the build: `etl build --dry-run` with and without `--html`.

Run: .venv/bin/python benchmarks/bench_report.py [repeats]. For the real text and for a PDF facsimile
of it with one misprinted total (a failing build, so the page has a failure, its source lines and
for the PDF its crops), each build runs in this one process, alternately with and without the page,
and the medians and their difference are printed. The issue's aim is at most 0.3 s more.
Nothing here is asserted (timings belong in benchmarks, not in the test suite).
"""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "raw" / "koriyama-renkei-kyotei-2023-02-10.txt"
sys.path.insert(0, str(ROOT / "tools"))


def _run(doc: Path, out: Path, html: Path | None) -> float:
    from etl.cli import main

    args = ["build", "--dry-run", "--raw", str(doc), "--out", str(out)] + (["--html", str(html)] if html else [])
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        main(args)
    return time.perf_counter() - start


def measure(name: str, doc: Path, repeats: int, tmp: Path) -> None:
    _run(doc, tmp / "warm", tmp / "warm.html")  # imports (matplotlib, pypdfium2) paid once, as a CLI run pays them
    plain, page = [], []
    for i in range(repeats):
        plain.append(_run(doc, tmp / f"p{i}", None))
        page.append(_run(doc, tmp / f"h{i}", tmp / f"h{i}.html"))
    a, b = statistics.median(plain), statistics.median(page)
    print(f"{name:38} build {a:6.3f} s   with --html {b:6.3f} s   the page costs {b - a:+.3f} s")


def main(argv: list[str]) -> int:
    import facsimile

    repeats = int(argv[0]) if argv else 5
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        misprint = tmp / RAW.name
        misprint.write_text(RAW.read_text(encoding="utf-8").replace("合計 295 54 215", "合計 295 54 216"),
                            encoding="utf-8")
        pdf = tmp / RAW.with_suffix(".pdf").name
        facsimile.make(misprint, pdf, "reportlab")
        print(f"median of {repeats} in one process (after one warm-up build with the page)")
        measure("real text (valid)", RAW, repeats, tmp)
        measure("PDF facsimile, 合計 misprinted (invalid)", pdf, repeats, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
