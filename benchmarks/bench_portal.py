"""`etl publish` of editions k = 1…10 against the real CKAN of the test suite: calls, bytes, wall time.

Run: .venv-test/bin/python benchmarks/bench_portal.py [editions] [--old REV]

Starts the test suite's CKAN 2.12 + PostgreSQL stack (tests/ckan_stack.py), builds `editions`
synthetic consecutive editions of the real document (tests/test_editions.py makes them) into a
temporary catalog, and publishes them one by one, printing for each k the Action API calls (by
action), the bytes uploaded and the wall time. `--old REV` also measures the publisher of git
revision REV (e.g. d499cb4, one CKAN dataset holding every edition's resources) on a fresh
portal, for comparison. Nothing is asserted: tests/test_ckan_publish.py counts the calls.
"""

from __future__ import annotations

import collections
import io
import subprocess
import sys
import tarfile
import tempfile
import time
import types
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


def _old_tree(rev: str) -> Path:
    """REV's etl/ and schemas/ in a temporary folder, to be imported instead of this tree's.

    Its modules import one another by the paths of their own tree (before issue 17, etl/ckan.py
    imported etl.validate and etl.schemas), so the old publisher runs in a process of its own."""
    folder = Path(tempfile.mkdtemp())
    archive = subprocess.run(["git", "archive", rev, "etl", "schemas"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _measure_old(tree: str, url: str, organization: str, token: str, releases: list[str], label: str) -> None:
    """In the child process: import REV's tree (not the editable install of this one) and measure it."""
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__]
    sys.path.insert(0, tree)
    try:
        from etl.portal import ckan as module
    except ImportError:  # a revision from before the stage packages
        from etl import ckan as module
    stack = types.SimpleNamespace(url=url, organization=organization, token=token)
    measure(module, stack, [Path(r) for r in releases], label)


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
    if argv and argv[0] == "--measure-old":
        _measure_old(*argv[1:5], argv[6:], argv[5])
        return
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
                label = f"publisher of {old}: every edition in one dataset"
                subprocess.run([sys.executable, __file__, "--measure-old", str(_old_tree(old)), stack.url,
                                stack.organization, stack.token, label, *map(str, releases)], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
