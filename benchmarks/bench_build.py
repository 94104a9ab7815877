"""Time each stage of a build of the real document, and `etl validate` on the release.

Run: .venv/bin/python benchmarks/bench_build.py [repeats]. Prints median and best wall times;
nothing here is asserted (timings belong in benchmarks, not in the test suite).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from etl import pipeline
from etl.extract import extract
from etl.source import read_source
from etl.transform import transform
from etl.validate import validate_dataset, validate_release

RAW = Path(__file__).resolve().parent.parent / "raw" / "koriyama-renkei-kyotei-2023-02-10.txt"


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main(repeats: int) -> None:
    source = read_source(RAW)
    raw = extract(source)
    dataset = transform(raw)
    with tempfile.TemporaryDirectory() as tmp:
        release = pipeline.build(RAW, Path(tmp) / "c").outcome.release
        stages = {
            "read_source": lambda: read_source(RAW),
            "extract": lambda: extract(source),
            "transform": lambda: transform(raw),
            "validate (build)": lambda: validate_dataset(dataset),
            "validate_release": lambda: validate_release(release),
            "verify (incl. frictionless)": lambda: pipeline.verify_release(release),
            "build, no-op rebuild": lambda: pipeline.build(RAW, Path(tmp) / "c"),
        }
        print(f"{'stage':32} {'median ms':>10} {'best ms':>10}   ({repeats} runs)")
        for name, fn in stages.items():
            t = timed(fn, repeats)
            print(f"{name:32} {statistics.median(t) * 1000:10.1f} {min(t) * 1000:10.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
