"""Shared fixtures: the real document, variants of it, a CLI runner and catalog snapshots."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    import polars as pl

# In CI (CI=true) property tests run a fixed set of examples: a red build then means the code
# changed, never that a new random example happened to turn up. Locally they explore.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parent.parent
REAL = REPO / "raw" / "koriyama-renkei-kyotei-2023-02-10.txt"
GOLDEN = Path(__file__).resolve().parent / "golden"
DATASET = "koriyama-renkei-kyotei"
VERSION = "2023-02-10"


def pytest_configure(config: pytest.Config) -> None:
    """The system packages the suite needs (Chromium and Japanese fonts for the browser tests,
    PostgreSQL and the libraries CKAN builds against) are installed once, by the controller, before
    any worker starts: no test waits on, or races with, an apt-get that another worker runs."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller has done it
        return
    install_system_packages()


def install_system_packages() -> list[str]:
    """apt-get install what is missing (as root, where apt-get exists); the packages installed."""
    import shutil

    from browser import missing_packages
    from ckan_stack import missing_system_packages

    # the missing ones of tests/system_packages.py's list (plus a C compiler where there is none)
    missing = list(dict.fromkeys(missing_packages() + missing_system_packages()))
    if not missing or os.geteuid() != 0 or not shutil.which("apt-get"):
        return []  # not root: the tests that need them say what to install (GitHub's workflow does it)
    print(f"tests: installing system packages once, before the tests: {' '.join(missing)}", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=600"]
    subprocess.run([*apt, "update"], check=True, env=env, capture_output=True)
    subprocess.run([*apt, "install", "-y", "--no-install-recommends", *missing], check=True, env=env,
                   capture_output=True)
    return missing


def real_lines() -> list[str]:
    """The real document as a list of lines; line n of the text is element n-1."""
    return REAL.read_text(encoding="utf-8").split("\n")


def edit(lines: list[str], number: int, old: str, new: str) -> list[str]:
    """A copy of `lines` with `old` replaced by `new` on 1-based line `number` (which must hold it)."""
    if old not in lines[number - 1]:
        raise AssertionError(f"line {number} is {lines[number - 1]!r}, without {old!r}")
    out = list(lines)
    out[number - 1] = out[number - 1].replace(old, new, 1)
    return out


def dataset_of(lines: list[str]):
    """The document as text → SourceText → extract → transform, in-process (what `etl build` does
    before validating): many layouts and editions are built in one process, not as new ones."""
    from etl.extract import extract
    from etl.source.text import SourceText, split_lines
    from etl.transform import transform

    return transform(extract(SourceText(path=Path(REAL.name), encoding="utf-8", lines=split_lines("\n".join(lines)))))


def data_of(dataset) -> dict[str, pl.DataFrame]:
    """A dataset's tables without 原文行番号: what two layouts of one document must agree on (a PDF read
    cell by cell, or a text with a blank line more, numbers its lines otherwise)."""
    return {name: frame.drop("原文行番号", strict=False) for name, frame in dataset.tables.items()}


def in_fiscal_year(lines: list[str], year: int) -> list[str]:
    """The document as the initial-budget material of another 年度: its headings' years moved (西暦 and
    令和), as a real next edition moves them with its date (see initiatives.as_of_fits_fiscal_year)."""
    era = year - 2018
    return [t.replace("2023（令和５）", f"{year}（令和{era}）").replace("2023(令和５)", f"{year}(令和{era})")
            .replace("令和５年度", f"令和{era}年度") for t in lines]


def drop(lines: list[str], first: int, last: int | None = None) -> list[str]:
    """A copy of `lines` without 1-based lines first..last (inclusive)."""
    last = first if last is None else last
    return lines[: first - 1] + lines[last:]


def write_doc(folder: Path, lines: list[str] | None = None, *, data: bytes | None = None,
              name: str = REAL.name, register: bool = True) -> Path:
    """Write a variant of the document (lines joined with LF, or raw bytes) and return its path.

    Registered (as `etl register` would) unless `register` is False or the bytes are unreadable:
    an edited document is what a steward registers as a new edition or a corrected extraction."""
    from etl.errors import SourceError
    from etl.source.registry import register as record
    from etl.source.text import read_source

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data if data is not None else "\n".join(lines if lines is not None else real_lines()).encode())
    if register:
        try:
            read_source(path)
        except SourceError:
            return path  # empty, binary or undecodable: no build gets as far as the record
        record([path], replace=True)
    return path


def run_etl(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the installed console script `etl` as a pipeline would (a real process)."""
    exe = Path(sys.executable).with_name("etl")
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd or REPO, timeout=timeout)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder below `folder` with a hash of its bytes: compare to prove 'unchanged'."""
    if not folder.exists():
        return {}
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="session")
def ckan_stack():
    """A real CKAN 2.12 + PostgreSQL (+ Solr stand-in) on loopback, started once for the session."""
    from ckan_stack import CkanStack

    with CkanStack(organization="koriyama") as stack:
        yield stack


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real document built once into a session catalog; returns the release folder."""
    catalog = tmp_path_factory.mktemp("catalog")
    result = run_etl("build", "--raw", REAL, "--out", catalog)
    assert result.returncode == 0, result.stderr + result.stdout
    return catalog / DATASET / VERSION
