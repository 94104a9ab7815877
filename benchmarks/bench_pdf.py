"""Time the PDF path: making each facsimile, reading its lines, a whole build, and a build against the
import floor.

Run: .venv-test/bin/python benchmarks/bench_pdf.py [repeats]. Prints median and best wall times; nothing
here is asserted. The Chromium facsimile needs Debian's chromium (tests/browser.py), the ruled one
WeasyPrint (a test dependency).

The side-by-side part runs, as new processes and interleaved (so that a busy machine slows both
alike), `python -c "import polars, pandera.polars, frictionless, pyarrow.parquet, pdfplumber,
pypdfium2"` (ending with gc.freeze(), as `etl` does) and `etl build` of each PDF into an empty
catalog, and prints the ratio build / imports: the aim is at most 1.6. The package's own modules are
compiled first, as an installed package's are. It times the `etl` of `.venv/` (where `python3
tasks.py build` runs it: the package's own dependencies only) when there is one, else this
interpreter's; `--python PATH` times another interpreter's `etl` as well (e.g.
`.venv-test/bin/python`, where pandera loads hypothesis at its first check).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RAW = REPO / "raw" / "koriyama-renkei-kyotei-2023-02-10.txt"
RELEASE = REPO / "published" / "koriyama-renkei-kyotei" / "2023-02-10"
sys.path.insert(0, str(REPO / "tools"))

import facsimile
import facsimile_ruled

from etl import pipeline
from etl.source.pdf import read_lines

MAIN_JOB = REPO / ".venv" / "bin" / "python"  # the environment of `python3 tasks.py build`
IMPORTS = "import polars, pandera.polars, frictionless, pyarrow.parquet, pdfplumber, pypdfium2; import gc; gc.freeze()"


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def show(name: str, times: list[float]) -> None:
    print(f"{name:<44} median {statistics.median(times) * 1000:8.1f} ms   best {min(times) * 1000:8.1f} ms")


def _wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    return time.perf_counter() - start


def make(tmp: Path, producer: str) -> Path:
    name = Path(tmp) / producer / "koriyama-renkei-kyotei-2023-02-10.pdf"
    name.parent.mkdir()
    if producer == "weasyprint":
        return facsimile_ruled.with_weasyprint(RELEASE, name)
    return facsimile.make(RAW, name, producer)


def in_process(tmp: Path, repeats: int) -> dict[str, Path]:
    pdfs = {}
    for producer in ("reportlab", "chromium", "weasyprint"):
        show(f"facsimile ({producer})", timed(lambda k=producer: make(Path(tempfile.mkdtemp(dir=tmp)), k), repeats))
        pdf = pdfs[producer] = make(tmp, producer)
        data = pdf.read_bytes()
        show(f"read lines ({producer}, {len(data)} B)", timed(lambda d=data: read_lines(d, "x.pdf"), repeats))
        show("load = read + extract + transform", timed(lambda p=pdf: pipeline.load(p), repeats))
    return pdfs


def side_by_side(pdfs: dict[str, Path], repeats: int, python: str = sys.executable) -> None:
    etl = str(Path(python).with_name("etl"))
    # As pip does when it installs a package: with an editable install and PYTHONDONTWRITEBYTECODE
    # (set on this machine), every `etl` would otherwise compile its own ~8,000 lines at each start.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "etl")], check=True)
    for pdf in pdfs.values():
        subprocess.run([etl, "register", str(pdf)], check=True, stdout=subprocess.DEVNULL)
    times: dict[str, list[float]] = {"imports (with pdfplumber, pypdfium2)": []}
    times.update({f"etl build ({producer})": [] for producer in pdfs})
    for _ in range(repeats):
        times["imports (with pdfplumber, pypdfium2)"].append(_wall([python, "-c", IMPORTS]))
        for producer, pdf in pdfs.items():
            with tempfile.TemporaryDirectory() as tmp:
                times[f"etl build ({producer})"].append(
                    _wall([etl, "build", "--raw", str(pdf), "--out", str(Path(tmp) / "catalog")]))
    print(f"new processes ({python}), {repeats} runs each, interleaved (median / best, ms)")
    floor = times["imports (with pdfplumber, pypdfium2)"]
    for name, walls in times.items():
        ratio = "" if walls is floor else (
            f"   build / imports {statistics.median(b / i for b, i in zip(walls, floor, strict=True)):.2f}")
        print(f"  {name:44} {statistics.median(walls) * 1000:7.0f} {min(walls) * 1000:7.0f}{ratio}")


def main(argv: list[str]) -> None:
    repeats = int(argv[0]) if argv and argv[0].isdigit() else 3
    # --python PATH: also time the builds of another interpreter, e.g. .venv-test/bin/python, where
    # the test extras are installed and pandera loads hypothesis at its first check (~0.1 s).
    pythons = [str(MAIN_JOB) if MAIN_JOB.exists() else sys.executable]
    pythons += [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--python"]
    pythons = list(dict.fromkeys(str(Path(p).absolute()) for p in pythons))  # each interpreter once
    with tempfile.TemporaryDirectory() as tmp:
        pdfs = in_process(Path(tmp), repeats)
        for python in pythons:
            side_by_side(pdfs, repeats, python)


if __name__ == "__main__":
    main(sys.argv[1:])
