"""schemas/ is the single source of truth: pandera and datapackage.json derive from it."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re
import tokenize
from pathlib import Path

import polars as pl
import pytest
from conftest import GOLDEN, REAL, REPO

from etl.pipeline import load
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
    assert resource["title"] == ts.title_for(schemas.programme_of(package))
    assert schemas.PROGRAMME not in resource["title"] + resource["description"]
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


# Numbers that code and schemas use for their own reasons, which the golden files hold by chance:
# indexes and small counts (0–10), limits and lengths of messages, the municipality's code.
NUMBERS_OF_THE_CODE = {*range(11), 20, 30, 50, 60, 64, 160, 72036}


def _code_files() -> list[Path]:
    return [p for d in ("etl", "schemas") for p in (REPO / d).rglob("*.*") if p.suffix in {".py", ".json"}]


def _numbers_in(path: Path) -> set[int]:
    """Every whole number of a code file: its number literals, and the digit runs in its strings
    (comments too: a value quoted in a comment is still a value written down)."""
    text = path.read_text(encoding="utf-8")
    # A run of digits on its own: not part of a name (UTF-16, U+2F49, \\u2010, #0072B2), an address
    # or a regex's count ({1,3}).
    runs = re.compile(r"(?<![0-9A-Za-z.+\\#_{-])[0-9][0-9,]*(?![0-9A-Za-z.])")
    if path.suffix == ".json":
        return {int(m.replace(",", "")) for m in runs.findall(text) if m.replace(",", "").isdigit()}
    out: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NUMBER:
            with contextlib.suppress(ValueError):
                out.add(int(tok.string.replace("_", ""), 0))
        elif tok.type in (tokenize.STRING, tokenize.COMMENT):
            out |= {int(m.replace(",", "")) for m in runs.findall(tok.string) if m.replace(",", "").isdigit()}
    return out


_WORD = "\u3040-\u30ff\u4e00-\u9fff々"


def _written(value: str, text: str) -> bool:
    """Whether the text writes the value down. A short value (a 分野 label) counts on its own only, not
    inside a longer word: 医療 is a label, 医療法人 a legal form."""
    if len(value) > 4:
        return value in text
    return re.search(f"(?<![{_WORD}]){re.escape(value)}(?![{_WORD}])", text) is not None


def _date_forms(iso: str) -> set[str]:
    """An as-of date as a document or a programmer might write it: ISO, 西暦 and 和暦, ASCII and full width."""
    d = dt.date.fromisoformat(iso)
    era = d.year - 2018  # 令和
    forms = {iso, d.strftime("%Y%m%d"), f"{d.year}年{d.month}月{d.day}日", f"令和{era}年{d.month}月{d.day}日",
             f"{d.year}/{d.month}/{d.day}", f"R{era}.{d.month}.{d.day}"}
    wide = str.maketrans("0123456789", "０１２３４５６７８９")
    return forms | {f.translate(wide) for f in forms} | {f"{d.year}年{str(d.month).translate(wide)}月{d.day}日"}


def _leaks(files: list[Path]) -> list[str]:
    """Every document value (name, label, date, amount, count, line number) the files write down."""
    golden = {p.stem.removeprefix("072036_"): pl.read_csv(p, infer_schema=False) for p in GOLDEN.glob("*.csv")}
    texts = {"partnership_partners": ["協定先名称", "協定先名称_原文"], "initiatives": ["分野", "協定名称", "備考", "うち額_内容"],
             "initiative_partners": ["協定先名称", "協定先名称_原文"], "initiative_items": ["取組内容"],
             "partnership_activities": ["取組内容"], "activity_fields": ["分野"],
             "activity_partners": ["協定先名称_原文"]}
    values = {v for t, cols in texts.items() for c in cols for v in golden[t][c].drop_nulls()}
    values |= {f"{n}団体" for n in golden["printed_totals"]["印字値"]}
    dataset = load(REAL)
    values |= {dataset.programme, dataset.title}
    for iso in golden["agreement_counts"]["時点"].unique():
        values |= _date_forms(iso)
    numbers = {int(v.replace(",", "")) for t in golden.values() for c in t.columns for v in t[c].drop_nulls()
               if v.replace(",", "").isdigit()} - NUMBERS_OF_THE_CODE
    leaked = []
    for path in files:
        text, name = path.read_text(encoding="utf-8"), path.name
        leaked += [f"{name}: 「{v}」" for v in sorted(values) if v and _written(v, text)]
        leaked += [f"{name}: {n}" for n in sorted(numbers & _numbers_in(path))]
    return leaked


def test_no_document_value_is_written_in_code_or_schemas() -> None:
    """Names, labels, dates, amounts, counts and line numbers of the document appear only in raw/, tests
    and golden files: a next edition must build with no change to etl/ or schemas/."""
    assert not _leaks(_code_files())


def test_the_guard_finds_what_a_careless_change_would_write(tmp_path: Path) -> None:
    """A scratch copy of a module with 分野 labels, the as-of date and small counts written in fails."""
    golden_fields = pl.read_csv(GOLDEN / "072036_activity_fields.csv", infer_schema=False)["分野"]
    as_of = pl.read_csv(GOLDEN / "072036_agreement_counts.csv", infer_schema=False)["時点"][0]
    counts = pl.read_csv(GOLDEN / "072036_printed_totals.csv", infer_schema=False)["印字値"]
    small = [int(v) for v in counts if 10 < int(v) < 100][:3]
    scratch = tmp_path / "normalize.py"
    scratch.write_text((REPO / "etl" / "shared" / "normalize.py").read_text(encoding="utf-8")
                       + f"\nLABELS = {tuple(golden_fields[:3])!r}\nAS_OF = {as_of!r}\nTOTALS = {tuple(small)!r}\n",
                       encoding="utf-8")
    said = "\n".join(_leaks([scratch]))
    assert all(label in said for label in golden_fields[:3]) and as_of in said
    assert all(f"normalize.py: {n}" in said for n in small)


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
