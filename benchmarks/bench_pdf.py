"""Time the PDF path: making each facsimile of the real text, reading its lines, and a whole build.

Run: .venv/bin/python benchmarks/bench_pdf.py [repeats]. Prints median and best wall times;
nothing here is asserted. The Chromium facsimile needs Debian's chromium (tests/browser.py).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RAW = REPO / "raw" / "koriyama-renkei-kyotei-2023-02-10.txt"
sys.path.insert(0, str(REPO / "tools"))

import facsimile

from etl import pipeline
from etl.source.pdf import read_lines


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def show(name: str, times: list[float]) -> None:
    print(f"{name:<34} median {statistics.median(times) * 1000:8.1f} ms   best {min(times) * 1000:8.1f} ms")


def main(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for producer in ("reportlab", "chromium"):
            pdf = Path(tmp) / f"{producer}.pdf"
            show(f"facsimile ({producer})", timed(lambda p=pdf, k=producer: facsimile.make(RAW, p, k), repeats))
            data = pdf.read_bytes()
            show(f"read lines ({producer}, {len(data)} B)", timed(lambda d=data: read_lines(d, "x.pdf"), repeats))
            show("load = read + extract + transform", timed(lambda p=pdf: pipeline.load(p), repeats))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
