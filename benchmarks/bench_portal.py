"""`etl publish` of editions k = 1…10 against the real CKAN of the test suite: calls, bytes, wall time.

Run: .venv/bin/python benchmarks/bench_portal.py [editions] [--old REV]

Starts the test suite's CKAN 2.12 + PostgreSQL stack (tests/ckan_stack.py), builds `editions`
synthetic consecutive editions of the real document (tests/test_editions.py makes them) into a
temporary catalog, and publishes them one by one, printing for each k the Action API calls (by
action), the bytes uploaded and the wall time. `--old REV` also measures the publisher of git
revision REV (e.g. d499cb4, one CKAN dataset holding every edition's resources) on a fresh
portal, for comparison. Nothing is asserted: tests/test_ckan_publish.py counts the calls.
"""

from __future__ import annotations

import collections
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def _editions(count: int, tmp: Path) -> list[Path]:
    from conftest import REAL, write_doc
    from test_editions import as_of, edition_lines

    from etl import pipeline

    releases = []
    for e in range(count):
        doc = REAL if e == 0 else write_doc(tmp / "raw", edition_lines(e), name=f"koriyama-renkei-kyotei-{as_of(e)}.txt")
        releases.append(pipeline.build(doc, tmp / "catalog").outcome.release)
    return releases


def _old_publisher(rev: str):
    source = subprocess.run(["git", "show", f"{rev}:etl/ckan.py"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    path = Path(tempfile.mkdtemp()) / "ckan_old.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("ckan_old", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["ckan_old"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def measure(module, stack, releases: list[Path], label: str) -> None:
    counts: collections.Counter[str] = collections.Counter()
    real_call = module.CkanClient.call

    def counting(self, action, *args, **kwargs):
        counts[action] += 1
        return real_call(self, action, *args, **kwargs)

    module.CkanClient.call = counting
    print(f"\n{label}")
    print(f"  {'k':>2} {'calls':>6} {'uploaded bytes':>15} {'wall s':>7}   calls by action")
    try:
        for k, release in enumerate(releases, start=1):
            counts.clear()
            start = time.perf_counter()
            summary = module.publish_release(release, stack.url, stack.organization, stack.token)
            wall = time.perf_counter() - start
            uploaded = sum((release / p).stat().st_size for p in summary.uploaded)
            by_action = ", ".join(f"{a} {n}" for a, n in sorted(counts.items()))
            print(f"  {k:>2} {sum(counts.values()):>6} {uploaded:>15} {wall:>7.2f}   {by_action}")
    finally:
        module.CkanClient.call = real_call


def main(argv: list[str]) -> None:
    from ckan_stack import CkanStack

    from etl.portal import ckan

    count = int(argv[0]) if argv and argv[0].isdigit() else 10
    old = argv[argv.index("--old") + 1] if "--old" in argv else None
    with tempfile.TemporaryDirectory() as tmp:
        releases = _editions(count, Path(tmp))
        with CkanStack(organization="koriyama") as stack:
            measure(ckan, stack, releases, "this publisher: one dataset per edition + the stable dataset")
        if old:
            with CkanStack(organization="koriyama") as stack:
                measure(_old_publisher(old), stack, releases, f"publisher of {old}: every edition in one dataset")


if __name__ == "__main__":
    main(sys.argv[1:])
