"""schemas/ is the single source of truth: pandera and datapackage.json derive from it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from conftest import GOLDEN, REPO

from etl.shared import schemas
from etl.validate.run import read_csv, schema_results


def test_every_resource_has_exactly_one_schema_file() -> None:
    """package.json lists each table once (a release's or the cumulative tables') and each schemas/*.json
    table is listed (no orphans); shapes.json holds the shapes of text cells, not a table."""
    listed = schemas.package_metadata()["x-resources"] + schemas.package_metadata()["x-cumulative"]["resources"]
    files = sorted(p.stem for p in schemas.SCHEMA_DIR.glob("*.json") if p.stem not in {"package", "shapes"})
    assert sorted(listed) == files and len(set(listed)) == len(listed)


@pytest.mark.parametrize("ts", schemas.tables(), ids=lambda t: t.name)
def test_pandera_schema_mirrors_table_schema(ts: schemas.TableSchema) -> None:
    """Column names, order, dtypes, nullability, uniqueness and primary key match the Table Schema."""
    model = ts.pandera()
    assert list(model.columns) == ts.field_names
    for f in ts.fields:
        col = model.columns[f["name"]]
        c = f.get("constraints", {})
        assert col.dtype.type == ts.polars_schema()[f["name"]]
        assert col.nullable is (not c.get("required", False))
        assert col.unique is bool(c.get("unique", False))
    assert (model.unique or []) == ts.primary_key
    assert model.strict and model.ordered


@pytest.mark.parametrize("ts", schemas.tables(), ids=lambda t: t.name)
def test_datapackage_embeds_the_schema_files(published: Path, ts: schemas.TableSchema) -> None:
    """Each CSV resource's schema in datapackage.json is the schemas/ file (minus our x- notes)."""
    package = json.loads((published / "datapackage.json").read_text(encoding="utf-8"))
    resource = next(r for r in package["resources"] if r["name"] == ts.name)
    assert resource["schema"] == ts.frictionless()
    assert resource["title"] == ts.title
    parquet = next(r for r in package["resources"] if r["name"] == f"{ts.name}_parquet")
    assert parquet["schema"]["fields"] == ts.frictionless()["fields"]
    assert [fk["reference"]["resource"] for fk in parquet["schema"].get("foreignKeys", [])] == [
        fk["reference"]["resource"] + "_parquet" for fk in ts.foreign_keys
    ]


def _counts() -> pl.DataFrame:
    ts = schemas.table("agreement_counts")
    file = GOLDEN / "072036_agreement_counts.csv"
    return read_csv(ts, file.read_bytes(), file.name)[0]


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("協定数", -1, "greater_than_or_equal_to(0)"),
        ("協定種別", "人事部", "isin"),
        ("全国地方公共団体コード", "72036", "str_matches"),
        ("相手方区分", None, "not_nullable"),
    ],
)
def test_pandera_catches_bad_values_not_only_dtypes(column: str, value: object, rule: str) -> None:
    """A wrong value of the right dtype (negative count, unknown code, 5-digit city code, empty) fails."""
    frame = _counts().with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    results = schema_results(schemas.table("agreement_counts"), frame)
    failures = [r for r in results if not r.passed]
    assert failures and all(r.field == column for r in failures)
    assert any(rule in str(r.expected) for r in failures)
    assert "row 4" in failures[0].message


def test_primary_key_duplicates_are_caught() -> None:
    """Two rows with the same (時点, 協定種別, 相手方区分) fail the primary-key uniqueness."""
    frame = pl.concat([_counts(), _counts().head(1)])
    failures = [r for r in schema_results(schemas.table("agreement_counts"), frame) if not r.passed]
    assert any("uniqueness" in str(r.expected) for r in failures)


def test_no_document_value_is_written_in_code_or_schemas() -> None:
    """Names, amounts and totals of the document appear only in raw/, tests and golden files."""
    golden = {p.stem.removeprefix("072036_"): pl.read_csv(p, infer_schema=False) for p in GOLDEN.glob("*.csv")}
    values = set(golden["partnership_partners"]["協定先名称"]) | set(golden["partnership_partners"]["協定先名称_原文"])
    values |= set(golden["initiatives"]["協定名称"]) | set(golden["initiative_partners"]["協定先名称_原文"])
    values |= set(golden["partnership_activities"]["取組内容"])
    numbers = {v for t in ("initiatives", "printed_totals") for c in golden[t].columns
               if c in {"予算額_千円", "うち額_千円", "印字値"} for v in golden[t][c].drop_nulls() if int(v) >= 100}
    values |= {f"{n}団体" for n in golden["printed_totals"]["印字値"]}
    code = "\n".join(p.read_text(encoding="utf-8") for d in ("etl", "schemas") for p in (REPO / d).rglob("*.*")
                     if p.suffix in {".py", ".json"})
    leaked = [v for v in values if v in code]
    leaked += [n for n in numbers if re.search(rf"(?<![\d.]){n}(?![\d])", code) or f"{int(n):,}" in code]
    assert not leaked


@pytest.mark.parametrize(("column", "value", "words"), [
    ("協定数", -1, "協定数: must be at least 0 (found: -1)"),
    ("協定種別", "人事部", "must be one of '人事', '包括', '事業', '災害' (found: 人事部)"),
    ("相手方区分", None, "相手方区分: must not be empty"),
])
def test_schema_failures_are_said_in_a_stewards_words(column: str, value: object, words: str) -> None:
    """The message says what the value must be; the JSON's `expected` keeps pandera's check id."""
    frame = _counts().with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    failures = [r for r in schema_results(schemas.table("agreement_counts"), frame) if not r.passed]
    assert any(words in r.message for r in failures), [r.message for r in failures]
    assert not any("fails " in r.message for r in failures)


def test_an_empty_string_or_a_missing_column_is_said_plainly() -> None:
    frame = _counts().with_columns(pl.lit("").alias("全国地方公共団体コード"))
    failures = [r for r in schema_results(schemas.table("agreement_counts"), frame) if not r.passed]
    assert failures and all("must match the pattern [0-9]{6} (found: )" in r.message for r in failures)
    failures = [r for r in schema_results(schemas.table("agreement_counts"), _counts().drop("協定数")) if not r.passed]
    assert any(r.message.endswith("a column the schema requires is missing: 協定数.") for r in failures)
