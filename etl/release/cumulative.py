"""Tables across every release of a dataset in the catalog, rebuilt with every build.

`cumulative_agreement_counts`: the agreement_counts of each 時点 (one release per 時点: when a
時点 was re-issued under another version name, the newest, as the catalog sorts them), with the
version each row comes from. `cumulative_partners`: every partner of partnership_partners with
the first and the last 時点 it is listed, matched on the table's natural key (`x-naturalKey` in
schemas/, the key `etl diff` matches on). Field names and types are in `schemas/`, as for any
release table; the files are validated (pandera), verified as staged (etl.validate.verify) and published
with a datapackage.json of their own in `<dataset>/cumulative/`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from etl.errors import PublishError
from etl.release.publish import PROFILE, write_descriptor, write_tables
from etl.shared import schemas
from etl.validate.run import integrity_results, read_csv, schema_results
from etl.validate.verify import release_problems

COUNTS, PARTNERS = "agreement_counts", "partnership_partners"  # the release tables they are built from
CUMULATIVE_COUNTS, CUMULATIVE_PARTNERS = "cumulative_agreement_counts", "cumulative_partners"
FOLDER = "cumulative"


def per_as_of(releases: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """One release per 時点 (the last of each as-of date, in catalog order), oldest first."""
    chosen: dict[str, tuple[str, dict[str, Any]]] = {}
    for version, package in releases:
        chosen[package.get("x-as-of") or version] = (version, package)
    return [chosen[k] for k in sorted(chosen)]


def build_tables(catalog: Path, dataset: str, releases: list[tuple[str, dict[str, Any]]]) -> dict[str, pl.DataFrame]:
    """The cumulative tables from the releases (version, datapackage) of `dataset`, in catalog order."""
    counts, partners = [], []
    for version, package in per_as_of(releases):
        as_of = date.fromisoformat(package["x-as-of"])
        counts.append(_table(catalog, dataset, version, package, COUNTS).with_columns(版=pl.lit(version)))
        listed = _table(catalog, dataset, version, package, PARTNERS)
        partners.append(listed.with_columns(時点=pl.lit(as_of)))
    out = {}
    out[CUMULATIVE_COUNTS] = schemas.table(CUMULATIVE_COUNTS).conform(pl.concat(counts, how="vertical"))
    out[CUMULATIVE_PARTNERS] = _partner_spans(pl.concat(partners, how="vertical"))
    return out


def _partner_spans(listed: pl.DataFrame) -> pl.DataFrame:
    """One row per partner (natural key): first and last 時点 listed, and in how many 時点."""
    ts = schemas.table(CUMULATIVE_PARTNERS)
    key = schemas.table(PARTNERS).descriptor["x-naturalKey"]
    first = [n for n in ts.field_names if n in listed.columns and n not in key]
    spans = listed.group_by(key, maintain_order=True).agg(
        *[pl.col(n).first() for n in first if n != "時点"],
        初出時点=pl.col("時点").min(), 最終時点=pl.col("時点").max(), 掲載時点数=pl.col("時点").n_unique())
    return ts.conform(spans)


def _table(catalog: Path, dataset: str, version: str, package: dict[str, Any], name: str) -> pl.DataFrame:
    resource = next((r for r in package["resources"] if r.get("name") == name), None)
    if resource is None:
        raise PublishError(f"release {dataset}/{version} has no table {name}, so the cumulative tables "
                           "cannot be built. Nothing was published; check that release with etl validate.")
    data, results = integrity_results(catalog / dataset / version, resource)  # inside its folder (etl.shared.safety)
    frame, read = (None, []) if data is None else read_csv(schemas.table(name), data, resource["path"])
    broken = [r.message for r in results + read if not r.passed]
    if frame is None or broken:
        raise PublishError(f"release {dataset}/{version}: {name} cannot be read ({broken[0] if broken else ''}), "
                           "so the cumulative tables cannot be built. Nothing was published; run etl validate on it.")
    return frame


def descriptor(dataset: str, releases: list[tuple[str, dict[str, Any]]],
               resources: list[dict[str, Any]]) -> dict[str, Any]:
    """datapackage.json of the cumulative tables: the latest release's metadata, every release as a source."""
    meta, (version, latest) = schemas.package_metadata()["x-cumulative"], releases[-1]
    return {
        "$schema": PROFILE,
        "name": f"{dataset}-{FOLDER}",
        "title": meta["title"],
        "description": meta["description"],
        "version": version,
        "created": latest.get("created"),
        "keywords": latest.get("keywords", []),
        "licenses": latest.get("licenses", []),
        "contributors": latest.get("contributors", []),
        "sources": [{"title": (p.get("sources") or [{}])[0].get("title", ""), "version": v,
                     "path": f"../{v}/datapackage.json"} for v, p in per_as_of(releases)],
        "x-attribution": latest.get("x-attribution", ""),
        "x-municipality": latest.get("x-municipality", {}),
        "x-as-of": latest.get("x-as-of"),
        "x-releases": [v for v, _ in per_as_of(releases)],
        "resources": resources,
    }


def write(folder: Path, dataset: str, releases: list[tuple[str, dict[str, Any]]],
          tables: dict[str, pl.DataFrame]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    resources = write_tables(folder, schemas.cumulative_tables(), tables, schemas.programme_of(releases[-1][1]))
    write_descriptor(folder, descriptor(dataset, releases, resources))


def problems(folder: Path, tables: dict[str, pl.DataFrame]) -> list[str]:
    """Like a release: the tables pass their pandera schemas, the files hold them, frictionless reads them."""
    found = [r.message for ts in schemas.cumulative_tables() for r in schema_results(ts, tables[ts.name])
             if not r.passed]
    return found or release_problems(folder, schemas.cumulative_tables(), tables)
