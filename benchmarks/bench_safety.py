"""Time the containment and limit checks of etl.shared.safety: their cost on the real release, and how fast
hostile files at the limits are refused.

Run: .venv-test/bin/python benchmarks/bench_safety.py [repeats]. Prints median wall times; nothing is asserted.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from etl.shared import safety
from etl.validate.run import release_descriptor, validate_release

RELEASE = Path(__file__).resolve().parent.parent / "published" / "koriyama-renkei-kyotei" / "2023-02-10"


def median(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            fn()
        except safety.UnsafeRelease:
            pass
        out.append(time.perf_counter() - start)
    return statistics.median(out)


def checks_on_the_real_release() -> None:
    root, package = release_descriptor(RELEASE)
    for r in package["resources"]:
        data = safety.read_file(root, r["path"], r["name"])
        if r["format"] == "csv":
            safety.check_csv_limits(data, r["name"], r["path"])
        else:
            safety.check_parquet_limits(data, r["name"], r["path"])


def main(repeats: int) -> None:
    print(f"validate_release (everything)           {median(lambda: validate_release(RELEASE), repeats) * 1000:8.1f} ms")
    print(f"containment + limits of the real release {median(checks_on_the_real_release, repeats) * 1000:8.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        release = Path(tmp) / "release"
        shutil.copytree(RELEASE, release)
        csv = release / "072036_initiatives.csv"
        os.truncate(csv, 100 * safety.MiB)  # a 100 MB line (sparse)
        print(f"refusing a CSV with a 100 MB line        {median(lambda: validate_release(release), repeats) * 1000:8.1f} ms")
        csv.write_bytes(b"a" * safety.MAX_LINE_BYTES + b"\n" * (safety.MAX_ROWS + 1))
        scan = lambda: safety.check_csv_limits(csv.read_bytes(), "initiatives", csv.name)  # noqa: E731
        print(f"scanning a CSV at the line and row limits {median(scan, repeats) * 1000:7.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
