#!/usr/bin/env python3
"""Publish the real release to CKAN releases other than the test suite's 2.12, and say what works.

    .venv-test/bin/python tools/ckan_versions.py [VERSION ...]      (default: 2.10.11 2.11.6 2.12.0)

For each version, the test suite's stack (tests/ckan_stack.py: PostgreSQL, the Solr stand-in, CKAN
from PyPI in `.venv-ckan-<version>/`, built once) is started on loopback, first with the DataStore
and then in CKAN's default plugin set (`activity`, no DataStore). In each, `etl publish` runs on the
real release twice, and the portal is read back: the edition's resources, the DataStore tables, the
stable dataset, and whether the second run changed nothing. Nothing is asserted; the table printed
at the end is what the README's list of supported versions rests on. Installing a CKAN takes a few
minutes the first time.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
VERSIONS = ("2.10.11", "2.11.6", "2.12.0")
WITHOUT_DATASTORE = {"ckan.plugins": "activity", "ckan.views.default_views": "image_view datatables_view"}


def publish(stack, release: Path) -> tuple[int, str]:
    """`etl publish` in this process (the CLI's main), its exit code and what it printed."""
    from etl.cli import main

    out = io.StringIO()
    os.environ["CKAN_API_TOKEN"] = stack.token
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["publish", str(release), "--ckan", stack.url, "--organization", stack.organization])
    return code, out.getvalue()


def check(stack, release: Path, datastore: bool) -> dict[str, str]:
    """Publish twice and read the portal back: one word per property."""
    from etl.portal.ckan import edition_name

    name = "koriyama-renkei-kyotei"
    started = time.perf_counter()
    first, text = publish(stack, release)
    seconds = time.perf_counter() - started
    if first != 0:
        return {"publish": f"exit {first}: {text.strip().splitlines()[-1][:100]}"}
    second, again = publish(stack, release)
    edition = stack.api("package_show", id=edition_name(name, release.name))["resources"]
    stable = stack.api("package_show", id=name)["resources"]
    files = len(list(release.iterdir())) + 1  # and report.html
    tables = sum(r.get("datastore_active") in (True, "True", "true") for r in edition)
    result = {
        "publish": f"exit 0 ({seconds:.1f} s)",
        "files": "all" if len(edition) == files else f"{len(edition)} of {files}",
        "DataStore": f"{tables} tables" if datastore else ("skipped, said so" if "no DataStore" in text else "?"),
        "stable": "links all" if len(stable) == files else f"{len(stable)} of {files}",
        "rerun": "no change" if second == 0 and "nothing changed" in again else f"exit {second}",
    }
    for dataset in (name, edition_name(name, release.name)):  # the next configuration starts empty
        stack.api("dataset_purge", id=dataset)
    return result


def main(argv: list[str]) -> int:
    from ckan_stack import CkanStack, CkanStackError

    from etl import pipeline

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        result = pipeline.build(ROOT / "raw" / "koriyama-renkei-kyotei-2023-02-10.txt", Path(tmp))
        release = result.outcome.release
        for version in argv or VERSIONS:
            try:
                with CkanStack(organization="koriyama", version=version) as stack:
                    for config, datastore in (("datastore", True), ("default plugins", False)):
                        if not datastore:
                            stack.set_config(WITHOUT_DATASTORE)
                        try:
                            rows.append((version, config, check(stack, release, datastore)))
                        except Exception as exc:  # noqa: BLE001 - a probe reports what broke and goes on
                            rows.append((version, config, {"error": f"{type(exc).__name__}: {str(exc)[:150]}"}))
            except CkanStackError as exc:
                rows.append((version, "-", {"stack": f"did not start: {str(exc).splitlines()[0][:100]}"}))
    print(f"\n{'CKAN':<8} {'plugins':<16} result")
    for version, config, cells in rows:
        print(f"{version:<8} {config:<16} " + "; ".join(f"{k}: {v}" for k, v in cells.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
