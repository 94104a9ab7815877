"""The library API the CLI wraps: build a release from a document, validate a release."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from frictionless import Package, system

from etl import catalog, registry, schemas
from etl.diff import diff_releases, render
from etl.errors import EtlError, LayoutError, PublishError, SourceError, UsageError
from etl.extract import extract
from etl.publish import write_release
from etl.report import CheckResult, Report, passed
from etl.source import SourceText, from_bytes, read_bytes, read_source
from etl.transform import Dataset, transform
from etl.validate import read_parquet, validate_dataset, validate_release

_DATED = re.compile(r"(\d{4}-\d{2}-\d{2})")


@dataclass
class BuildResult:
    report: Report
    dataset: Dataset | None = None
    outcome: catalog.Outcome | None = None


def newest_document(raw_dir: Path) -> Path:
    """The raw document with the latest date in its file name (…-YYYY-MM-DD.txt)."""
    if not raw_dir.is_dir():
        raise UsageError(f"{raw_dir}/ not found: pass --raw FILE or run from the repository root.")
    docs = sorted(raw_dir.glob("*.txt"), key=lambda p: (_DATED.findall(p.name)[-1:] or [""], p.name))
    if not docs:
        raise UsageError(f"no source document (*.txt) in {raw_dir}/.")
    return docs[-1]


def load(path: Path) -> Dataset:
    """Read, extract and transform one document (SourceError / LayoutError when unusable).

    Parsing only: whether the file is complete is `build`'s check (`etl.registry`)."""
    return _from_source(read_source(path))


def _from_source(source: SourceText) -> Dataset:
    raw = extract(source)
    city = schemas.municipality()["市区町村名"]
    if city not in raw.text:
        raise LayoutError(f"the document never mentions {city}: is it another municipality's document?")
    return transform(raw)


def build(raw: Path, out: Path, version: str | None = None, dry_run: bool = False) -> BuildResult:
    """Extract, validate and (when everything passes) publish one release into the catalog.

    The document must match its record in raw/datapackage.json (see `etl.registry`). A dry run
    also takes a document without a record (the report then has no `source.registered` check),
    writes, verifies and compares the release in a temporary folder, and publishes nothing."""
    if version is not None:
        catalog.check_version(version)
    ran = read_checked(Path(raw), allow_unregistered=dry_run)
    dataset = ran.dataset
    report = validate_dataset(dataset)
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


def read_checked(raw: Path, allow_unregistered: bool = False) -> SourceChecks:
    """Read, verify and parse the document, recording each source check that passes.

    A refusal (SourceError, RegistrationError, LayoutError) carries the checks that passed before
    it in `exc.passed`, so that the report lists every check that ran."""
    results: list[CheckResult] = []
    try:
        data = read_bytes(raw)  # a missing path, a folder or an empty file is reported as such first
        complete = registry.verify(raw, data, allow_unregistered)  # then a cut or changed file, before parsing
        results += [complete] if complete is not None else []
        source = from_bytes(raw, data)
        results.append(passed(SourceError.check, "source", label=raw.name, actual=source.encoding))
        dataset = _from_source(source)
        results.append(passed(LayoutError.check, "source", label=raw.name,
                              actual=f"{len(source.lines)} lines"))
    except EtlError as exc:
        exc.passed = results
        raise
    return SourceChecks(dataset, results)


def _publish(out: Path, dataset: Dataset, version: str | None, dry_run: bool = False) -> catalog.Outcome:
    version = version or dataset.as_of
    release = catalog.Release(
        schemas.package_metadata()["name"],
        version,
        write=lambda folder: write_release(dataset, folder, version),
        verify=verify_release,
        describe_conflict=_conflict_message,
        equivalent=same_data,
    )
    return (catalog.trial if dry_run else catalog.publish)(out, release)


def verify_release(folder: Path) -> None:
    """Re-read the staged files as a consumer would; any failure means the writer is wrong."""
    report = validate_release(folder)
    problems = [r.message for r in report.failures]
    with system.use_context(trusted=True):
        fl = Package(str(folder / "datapackage.json")).validate()
    problems += [f"frictionless: {e.message}" for task in fl.tasks for e in task.errors][:20]
    problems += [f"frictionless: {e.message}" for e in fl.errors]
    if problems:
        raise PublishError("the staged release failed verification and was not published:\n  "
                           + "\n  ".join(problems))


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


def validate(path: Path) -> Report:
    return validate_release(path)
