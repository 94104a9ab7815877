"""How long `etl build` of the real document takes, against the cost of importing its libraries.

Run: .venv-test/bin/python benchmarks/bench_build.py [repeats]. Prints, side by side in one run:

1. the wall time of `python -c "import polars, pandera.polars, frictionless, pyarrow.parquet"` and
   of `etl build` of the real document into an empty catalog, each as a new process, interleaved
   (so that a busy machine slows both alike), their medians and the ratio build / import;
2. the time of each stage of one build in a fresh process (cold: what a build pays);
3. the median and best of each stage repeated in one process (warm).

Nothing here is asserted (timings belong in benchmarks, not in the test suite).
"""

from __future__ import annotations

import compileall
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT / "raw" / "koriyama-renkei-kyotei-2023-02-10.txt"
IMPORTS = "import polars, pandera.polars, frictionless, pyarrow.parquet"
BUILD = "etl build (real document, empty catalog)"


def _wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def side_by_side(repeats: int) -> None:
    etl = str(Path(sys.executable).with_name("etl"))
    # `etl` ends with gc.freeze() (etl.cli.run) and so skips the interpreter's last walk over every
    # library object; the third command shows the imports ending the same way, so that the ratio
    # against it is what the build's own work costs.
    commands = {
        "python -c " + repr(IMPORTS): [sys.executable, "-c", IMPORTS],
        "the same, ending like etl (gc.freeze() before the exit)":
            [sys.executable, "-c", IMPORTS + "; import gc; gc.freeze()"],
    }
    times: dict[str, list[float]] = {name: [] for name in [*commands, BUILD]}
    for _ in range(repeats):
        for name, cmd in commands.items():
            times[name].append(_wall(cmd))
        with tempfile.TemporaryDirectory() as tmp:
            times[BUILD].append(_wall([etl, "build", "--raw", str(RAW), "--out", str(Path(tmp) / "catalog")]))
    print(f"new processes, {repeats} runs each, interleaved (median / best, ms)")
    for name, walls in times.items():
        print(f"  {name:72} {statistics.median(walls) * 1000:7.0f} {min(walls) * 1000:7.0f}")
    for name in commands:
        paired = statistics.median(b / i for b, i in zip(times[BUILD], times[name], strict=True))
        print(f"  ratio build / {name[:40]}: {paired:.2f} (median of the paired runs), "
              f"{min(times[BUILD]) / min(times[name]):.2f} (best / best)")


def cold_stages() -> None:
    """One build, stage by stage, in this (fresh) process; printed as 'stage ms' lines."""
    marks = [("python start → here", time.perf_counter())]

    def mark(name: str) -> None:
        marks.append((name, time.perf_counter()))

    from etl import pipeline
    from etl.release import catalog
    from etl.release.publish import write_release
    from etl.shared import schemas
    from etl.source import registry
    from etl.source.text import from_bytes, read_bytes
    from etl.validate.run import validate_dataset
    from etl.validate.verify import frictionless_metadata, staged_problems

    mark("import etl (polars, pandera, frictionless, pyarrow)")
    data = read_bytes(RAW)
    registry.verify(RAW, data)
    mark("registry.verify (frictionless on raw/)")
    dataset = pipeline._from_source(from_bytes(RAW, data))
    mark("extract + transform")
    validate_dataset(dataset)
    mark("validate (pandera, keys, invariants)")
    with tempfile.TemporaryDirectory() as tmp:
        release = Path(tmp) / "koriyama-renkei-kyotei" / dataset.as_of
        write_release(dataset, release, dataset.as_of)
        mark("write CSV + Parquet + datapackage.json")
        staged_problems(release, schemas.tables(), dataset.tables)
        mark("verify: files hold the validated tables")
        frictionless_metadata(release)
        mark("verify: frictionless accepts datapackage.json")
        catalog.write_index(Path(tmp))
        mark("catalog: cumulative tables, latest, catalog.json, DCAT")
    for (_, before), (name, after) in zip(marks, marks[1:]):
        print(f"  {name:56} {(after - before) * 1000:7.0f}")


def warm_stages(repeats: int) -> None:
    from etl import pipeline
    from etl.extract import extract
    from etl.source.text import read_source
    from etl.transform import transform
    from etl.validate.run import validate_dataset, validate_release

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
            "verify_release (build: against the tables)": lambda: pipeline.verify_release(release, dataset.tables),
            "validate_release (etl validate)": lambda: validate_release(release),
            "verify_release, full (incl. frictionless data)": lambda: pipeline.verify_release(release),
            "build, no-op rebuild": lambda: pipeline.build(RAW, Path(tmp) / "c"),
        }
        print(f"warm, in one process ({repeats} runs; median / best, ms)")
        for name, fn in stages.items():
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            print(f"  {name:56} {statistics.median(times) * 1000:7.0f} {min(times) * 1000:7.0f}")


def main(repeats: int) -> None:
    # An installed package has its bytecode compiled; a checkout run with PYTHONDONTWRITEBYTECODE
    # (as in some CI images) would compile etl/ anew in every process, ~50 ms that no install pays.
    compileall.compile_dir(ROOT / "etl", quiet=1)
    side_by_side(repeats)
    print("one build in a fresh process, stage by stage (cold, ms)")
    subprocess.run([sys.executable, __file__, "--cold"], check=True, cwd=ROOT)
    warm_stages(repeats)


if __name__ == "__main__":
    if sys.argv[1:] == ["--cold"]:
        cold_stages()
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
