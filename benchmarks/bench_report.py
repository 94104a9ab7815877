"""Time what the HTML report adds: `etl build --dry-run` with and without `--html`, and `etl report`.

Run: .venv/bin/python benchmarks/bench_report.py [repeats]. Each run is a fresh process (the
matplotlib import is part of the cost); prints median and best wall times, asserts nothing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ETL = Path(sys.executable).with_name("etl")
RELEASE = ROOT / "published" / "koriyama-renkei-kyotei" / "2023-02-10"


def timed(args: list[str], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([str(ETL), *args], cwd=ROOT, capture_output=True, check=False)
        out.append(time.perf_counter() - start)
    return out


def main(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        html = str(Path(tmp) / "report.html")
        runs = {
            "etl build --dry-run": ["build", "--dry-run", "--out", tmp],
            "etl build --dry-run --html": ["build", "--dry-run", "--out", tmp, "--html", html],
            "etl report RELEASE": ["report", str(RELEASE), "--html", html],
        }
        for name, args in runs.items():
            times = timed(args, repeats)
            print(f"{name:28s} median {statistics.median(times):6.2f} s   best {min(times):6.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
