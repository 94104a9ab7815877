"""The library API the CLI wraps: build a release from a document, validate a release."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ParamSpec, TypeVar

import polars as pl

from etl.errors import EtlError, LayoutError, PublishError, SourceError
from etl.extract import extract
from etl.release import catalog
from etl.release.diff import diff_releases, render
from etl.release.publish import write_release
from etl.shared import schemas
from etl.shared.results import CheckResult, Report
from etl.shared.safety import check_catalog
from etl.source import registry
from etl.source.text import SourceText, from_bytes, read_bytes, read_source
from etl.transform import Dataset, transform
from etl.validate.descriptor import frictionless_metadata
from etl.validate.run import read_parquet, source_result, validate_dataset, validate_release
from etl.validate.verify import release_problems

P = ParamSpec("P")
T = TypeVar("T")


def small_tables(fn: Callable[P, T]) -> Callable[P, T]:
    """Run `fn` with polars' in-memory engine. The document's tables have tens of rows, and a build
    runs some thousand queries on them (each pandera check is one): the default engine ('auto',
    which picks the streaming one) spends about four times as long setting each of them up. Set
    for the call only: a caller's own setting stands before and after."""

    @functools.wraps(fn)
    def in_memory(*args: P.args, **kwargs: P.kwargs) -> T:
        with pl.Config(engine_affinity="in-memory"):
            return fn(*args, **kwargs)

    return in_memory


@dataclass
class BuildResult:
    report: Report
    dataset: Dataset | None = None
    outcome: catalog.Outcome | None = None


@small_tables
def load(path: Path) -> Dataset:
    """Read, extract and transform one document (SourceError / LayoutError when unusable).

    Parsing only: whether the file is complete is `build`'s check (`etl.source.registry`)."""
    return _from_source(read_source(path))


def _from_source(source: SourceText) -> Dataset:
    try:
        raw = extract(source)
    except LayoutError as exc:
        if exc.line and 0 < exc.line <= len(source.pages) and not exc.page:  # a PDF's errors name the page
            raise LayoutError(exc.bare, exc.line, source.pages[exc.line - 1]) from None
        raise
    city = schemas.municipality()["市区町村名"]
    if city not in raw.text:
        raise LayoutError(f"the document never mentions {city}: is it another municipality's document?")
    return transform(raw)


@small_tables
def build(raw: Path, out: Path, version: str | None = None, dry_run: bool = False,
          on_read: Callable[[Dataset], None] | None = None) -> BuildResult:
    """Extract, validate and (when everything passes) publish one release into the catalog.

    The document must match its record in raw/datapackage.json (see `etl.source.registry`). A dry run
    also takes a document without a record (the report then has no `source.registered` check),
    writes, verifies and compares the release in a temporary folder, and publishes nothing.
    `on_read` is given the Dataset as soon as the document is read, before its tables are checked
    (the CLI starts drawing the report's charts then)."""
    if version is not None:
        catalog.check_version(version)
    check_catalog(out)  # a catalog holding links is refused before anything is read (again under the lock)
    ran = read_checked(Path(raw), allow_unregistered=dry_run)
    dataset = ran.dataset
    if on_read is not None:
        on_read(dataset)
    report = with_pages(validate_dataset(dataset), ran.source)
    report.results[:0] = ran.results
    if not report.valid:
        return BuildResult(report, dataset)
    try:
        outcome = _publish(out, dataset, version, dry_run)
    except EtlError as exc:
        exc.report, exc.dataset = report, dataset  # the checks all passed; a pipeline still wants the report
        raise
    return BuildResult(report, dataset, outcome)


@dataclass
class SourceChecks:
    dataset: Dataset
    results: list[CheckResult]
    source: SourceText | None = None


def read_checked(raw: Path, allow_unregistered: bool = False) -> SourceChecks:
    """Read, verify and parse the document, recording each source check that passes.

    A refusal (SourceError, RegistrationError, LayoutError) carries the checks that passed before
    it in `exc.passed`, so that the report lists every check that ran."""
    results: list[CheckResult] = []
    try:
        registry.check_document(raw)  # a link is refused before anything is read
        data = read_bytes(raw)  # a missing path, a folder or an empty file is reported as such first
        complete = registry.verify(raw, data, allow_unregistered)  # then a cut or changed file, before parsing
        if complete is not None:
            results.append(source_result(registry.CHECK, raw, expected=complete, actual=complete))
        source = from_bytes(raw, data)
        results.append(source_result(SourceError.check, raw, actual=source.described()))
        dataset = _from_source(source)
        results.append(source_result(LayoutError.check, raw, actual=f"{len(source.lines)} lines"))
    except EtlError as exc:
        exc.passed = results
        raise
    return SourceChecks(dataset, results, source)


_LINE_IN_PARENS = re.compile(r"\(line (\d+)\)")
_LINE = re.compile(r"\bline (\d+)\b(?!,? \(?page)")


def with_pages(report: Report, source: SourceText | None) -> Report:
    """In a PDF's report, every 'line N' of a failure says its page too: 'line N (page P)'."""
    if source is None or not source.pages:
        return report

    def paged(text: str) -> str:
        text = _LINE_IN_PARENS.sub(lambda m: "(" + source.where(int(m[1])).replace(" (", ", ")[:-1] + ")", text)
        return _LINE.sub(lambda m: source.where(int(m[1])), text)

    report.results = [r if r.passed else replace(r, message=paged(r.message), label=paged(r.label))
                      for r in report.results]
    return report


def _publish(out: Path, dataset: Dataset, version: str | None, dry_run: bool = False) -> catalog.Outcome:
    version = version or dataset.as_of
    release = catalog.Release(
        schemas.package_metadata()["name"],
        version,
        write=lambda folder: write_release(dataset, folder, version),
        verify=lambda folder: verify_release(folder, dataset.tables),
        describe_conflict=_conflict_message,
        equivalent=same_data,
    )
    return (catalog.trial if dry_run else catalog.publish)(out, release)


def verify_release(folder: Path, tables: dict[str, pl.DataFrame] | None = None) -> None:
    """Re-read the staged files as a consumer would; any failure means the writer (or the disk) is wrong.

    Given the tables that passed validation, the files must hold exactly them (`etl.validate.verify`: the
    checks that passed on them are not run a second time). Without, every check of `etl validate`
    runs on the files and frictionless validates every resource."""
    if tables is None:  # validate_release also proves every path stays inside the folder (etl.shared.safety)
        problems = [r.message for r in validate_release(folder).failures] + _frictionless_data(folder)
    else:
        problems = release_problems(folder, schemas.tables(), tables)
    if problems:
        raise PublishError("the staged release failed verification and was not published:\n  "
                           + "\n  ".join(problems))


def _frictionless_data(folder: Path) -> list[str]:
    from frictionless import Package  # here: a build leaves frictionless to its helper (etl.shared.children)

    unreadable = frictionless_metadata(folder)  # Package.validate raises on a descriptor it cannot read
    if unreadable:
        return unreadable
    # Not trusted: frictionless then refuses absolute and '..' paths itself, on top of etl.shared.safety.
    fl = Package(str(folder / "datapackage.json")).validate()
    problems = [f"frictionless: {e.message}" for task in fl.tasks for e in task.errors][:20]
    return problems + [f"frictionless: {e.message}" for e in fl.errors]


def same_data(existing: Path, staged: Path) -> bool:
    """Two releases hold the same data even if a newer Parquet writer changed the bytes.

    CSV files and datapackage.json must match byte for byte, except for the Parquet resources'
    hash and size; Parquet files must hold equal tables with equal types.
    """
    names = sorted(p.name for p in existing.iterdir())
    if names != sorted(p.name for p in staged.iterdir()):
        return False
    for name in names:
        a, b = existing / name, staged / name
        if name.endswith(".parquet"):
            try:
                old, new = read_parquet(a), read_parquet(b)
            except ValueError:
                return False
            if old.schema != new.schema or not old.equals(new):
                return False
        elif name == "datapackage.json":
            if _without_parquet_bytes(a) != _without_parquet_bytes(b):
                return False
        elif a.read_bytes() != b.read_bytes():
            return False
    return True


def _without_parquet_bytes(file: Path) -> dict:
    package = json.loads(file.read_text(encoding="utf-8"))
    for r in package.get("resources", []):
        if r.get("format") == "parquet":
            r.pop("hash", None)
            r.pop("x-bytes", None)
    return package


def _conflict_message(existing: Path, staged: Path) -> str:
    diffs = [d for d in diff_releases(existing, staged) if not d.empty]
    if diffs:
        summary = render(diffs, limit=10)
    else:
        differing = sorted(p.name for p in staged.iterdir()
                           if not (existing / p.name).exists() or (existing / p.name).read_bytes() != p.read_bytes())
        summary = ("  the data is the same; these files differ (source line numbers or metadata): "
                   + ", ".join(differing))
    return (f"release {existing.parent.name}/{existing.name} is already published with different content; "
            f"releases are immutable, so it was left as it was.\n{summary}\n"
            "To publish this content anyway, give it a new version name: etl build --version NAME.")


@small_tables
def validate(path: Path) -> Report:
    return validate_release(path)
