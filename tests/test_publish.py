"""The release as its consumers see it: datapackage.json, frictionless, Excel-friendly CSV, typed Parquet."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import REAL, run_etl
from frictionless import Package, system

from etl.shared import schemas


def _package(release: Path) -> dict:
    return json.loads((release / "datapackage.json").read_text(encoding="utf-8"))


def test_datapackage_has_the_v2_metadata(published: Path) -> None:
    """Name, Japanese title, version = as-of date, created from the source, licences and sources."""
    p = _package(published)
    assert p["$schema"] == "https://datapackage.org/profiles/2.0/datapackage.json"
    assert p["name"] == "koriyama-renkei-kyotei" and "連携協定" in p["title"]
    assert p["version"] == "2023-02-10" and p["created"] == "2023-02-10T00:00:00+09:00"
    assert p["licenses"] and p["licenses"][0]["path"].startswith("https://")
    assert "他機関との連携協定について" in p["sources"][0]["title"]
    assert "当初予算関連資料" in p["sources"][0]["title"]
    assert p["x-attribution"].startswith("出典：郡山市「他機関との連携協定について」")


def test_every_resource_is_described_and_hashed(published: Path) -> None:
    """Each file has path, format, mediatype, encoding (CSV), size and a sha256 hash that match."""
    resources = _package(published)["resources"]
    assert len(resources) == 2 * len(schemas.tables())
    for r in resources:
        data = (published / r["path"]).read_bytes()
        assert r["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert r.get("bytes", r.get("x-bytes")) == len(data)
        assert r["path"].startswith("072036_") and r["type"] == "table" and r["schema"]["fields"]
        if r["format"] == "csv":
            assert (r["mediatype"], r["encoding"]) == ("text/csv", "utf-8")
        else:
            assert (r["format"], r["mediatype"]) == ("parquet", "application/parquet")


def test_frictionless_validates_the_release_with_foreign_keys(published: Path) -> None:
    """frictionless passes every resource, Parquet included, and its foreign keys."""
    with system.use_context(trusted=True):
        report = Package(str(published / "datapackage.json")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_frictionless_catches_a_broken_foreign_key(published: Path, tmp_path: Path) -> None:
    """A 協定先ID that is not in partnership_partners is a foreign-key error for frictionless too."""
    release = tmp_path / "release"
    shutil.copytree(published, release)
    csv = release / "072036_activity_partners.csv"
    lines = csv.read_text(encoding="utf-8-sig").splitlines()
    lines[1] = lines[1].replace(",12,", ",99,", 1)
    csv.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    with system.use_context(trusted=True):
        report = Package(str(release / "datapackage.json")).validate()
    assert "foreign-key" in {e[0] for e in report.flatten(["type"])}


def test_csv_is_excel_friendly_utf8(published: Path) -> None:
    """UTF-8 with BOM (Excel), a header row, LF endings, bare numbers without thousands separators."""
    data = (published / "072036_initiatives.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("全国地方公共団体コード,都道府県名,市区町村名,取組ID")
    assert "\r" not in text and ",17095," in text and "17,095" not in text


@pytest.mark.parametrize("ts", schemas.tables(), ids=lambda t: t.name)
def test_parquet_has_schema_types_for_polars_pyarrow_duckdb(published: Path, ts: schemas.TableSchema) -> None:
    """Parquet columns are date32 / int64 / string, read identically by polars, pyarrow and DuckDB."""
    file = published / f"072036_{ts.name}.parquet"
    expected = {"string": "string", "integer": "int64", "date": "date32[day]"}
    arrow = pq.read_table(file)
    assert [(f.name, str(f.type)) for f in arrow.schema] == [(f["name"], expected[f["type"]]) for f in ts.fields]
    frame = pl.read_parquet(file)
    assert frame.schema == pl.Schema(ts.polars_schema())
    rows = duckdb.sql(f"select * from read_parquet('{file}')").fetchall()
    assert rows == frame.rows()


def test_csv_reads_back_in_duckdb_and_pandas(published: Path) -> None:
    """DuckDB and pandas see the header without the BOM; the city code keeps its leading zero as text."""
    csv = published / "072036_agreement_counts.csv"
    con = duckdb.connect()
    rel = con.sql(f"select * from read_csv('{csv}', all_varchar=true)")
    assert rel.columns[0] == "全国地方公共団体コード"
    assert con.execute(f"select sum(協定数::int) from read_csv('{csv}')").fetchall() == [(295,)]
    frame = pd.read_csv(csv, dtype=str)
    assert frame.columns[0] == "全国地方公共団体コード" and set(frame["全国地方公共団体コード"]) == {"072036"}
    typed = pd.read_parquet(published / "072036_initiatives.parquet")
    assert str(typed["うち額_千円"].dtype) == "Int64" and typed["うち額_千円"].isna().sum() == 8


def test_build_is_deterministic(published: Path, tmp_path: Path) -> None:
    """A second build of the same input elsewhere gives byte-identical files."""
    assert run_etl("build", "--raw", REAL, "--out", tmp_path).returncode == 0
    again = tmp_path / published.parent.name / published.name
    names = sorted(p.name for p in published.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    for name in names:
        assert (published / name).read_bytes() == (again / name).read_bytes(), name
