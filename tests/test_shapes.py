"""Every text column has a shape (schemas/shapes.json): a cell moved into its neighbour's column fails."""

from __future__ import annotations

import json

import polars as pl
import pytest
from conftest import REAL
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.pipeline import load
from etl.shared import schemas
from etl.shared.shapes import reasons
from etl.validate.run import validate_tables

REAL_DATASET = load(REAL)
TABLES = REAL_DATASET.tables

# The document's columns, left to right, and where each cell of a row is published.
# (table, column, key column of the row, the row's key value → the cell's position in that table)
SECTION2 = [("分野", "initiatives", "分野"), ("協定名称", "initiatives", "協定名称"),
            ("協定先", "initiative_partners", "協定先名称"), ("取組内容", "initiative_items", "取組内容"),
            ("予算", "initiatives", "予算額_千円")]
SECTION3 = [("分野", "activity_fields", "分野"), ("協定締結企業等", "activity_partners", "協定先名称_原文"),
            ("取組内容", "partnership_activities", "取組内容")]
ROW_KEY = {"initiatives": "取組ID", "initiative_partners": "取組ID", "initiative_items": "取組ID",
           "activity_fields": "掲載行番号", "activity_partners": "掲載行番号", "partnership_activities": "掲載行番号"}


def _first(table: str, row: int) -> int | None:
    """The index of the row's first cell in the table (its first partner, item or 分野), or None."""
    hits = (TABLES[table][ROW_KEY[table]] == row).arg_true()
    return hits[0] if len(hits) else None


def _moves() -> list[tuple[str, int, tuple[str, str, str], tuple[str, str, str]]]:
    out = []
    for section, columns, rows in (("2", SECTION2, TABLES["initiatives"]["取組ID"]),
                                   ("3", SECTION3, TABLES["activity_rows"]["掲載行番号"])):
        for row in rows.to_list():
            for a, b in zip(columns, columns[1:]):
                for src, dst in ((a, b), (b, a)):
                    if _first(src[1], row) is not None and _first(dst[1], row) is not None:
                        out.append((section, row, src, dst))
    return out


MOVES = _moves()


def _moved(row: int, src: tuple[str, str, str], dst: tuple[str, str, str]) -> tuple[dict[str, pl.DataFrame], str]:
    """The tables with the row's cell of column `src` printed in column `dst` instead of dst's own,
    and the value that landed there. Text in the budget column reads as no amount (null), as the
    parser reads it."""
    _, table, column = dst
    value = TABLES[src[1]][src[2]][_first(src[1], row)]
    text = f"{value:,}千円" if src[0] == "予算" else str(value)  # a budget as printed
    landed = None if TABLES[table][column].dtype != pl.String else text
    i = _first(table, row)
    tables = dict(TABLES)
    names = [column, "協定先名称_原文"] if column == "協定先名称" else [column]  # a cell is printed once
    tables[table] = tables[table].with_columns(
        pl.when(pl.int_range(pl.len()) == i).then(pl.lit(landed)).otherwise(pl.col(n)).cast(tables[table][n].dtype)
        .alias(n) for n in names)
    return tables, landed or ""


def test_every_text_column_of_sections_2_and_3_has_a_shape() -> None:
    """The columns a cell can slide between are all shaped, and every shape they name is declared."""
    for _, table, column in SECTION2 + SECTION3:
        field = next(f for f in schemas.table(table).fields if f["name"] == column)
        assert field["type"] != "string" or field.get("x-shape") in schemas.shapes(), (table, column)
    for ts in schemas.tables() + schemas.cumulative_tables():
        for _, shape in ts.shaped_fields():
            assert shape in schemas.shapes()


def test_the_published_descriptor_leaves_the_shapes_to_etl_validate() -> None:
    """x-shape is ours: datapackage.json embeds the plain Table Schema, which frictionless reads."""
    for ts in schemas.tables():
        assert all(not k.startswith("x-") for f in ts.frictionless()["fields"] for k in f)


def test_every_real_value_fits_its_shape() -> None:
    for ts in schemas.tables():
        for column, shape in ts.shaped_fields():
            why = reasons(TABLES[ts.name][column], shape, TABLES)
            assert why.null_count() == len(why), (ts.name, column, why.drop_nulls().to_list())


@pytest.mark.parametrize(("value", "shape"), [
    ("エッセン市（ドイツ）", "organisation"), ("20団体", "organisation"), ("ｴｯｾﾝ市（ﾄﾞｲﾂ）", "organisation"),
    ("福島県", "organisation"), ("郡山商工会議所", "organisation"), ("株式会社ﾃﾞﾝｿｰ", "organisation"),
    ("NPO法人ふくしま", "organisation"), ("郡山市社会福祉協議会", "organisation"),
    ("ヨークベニマル", "party"), ("子育て支援", "field_label"), ("上下水道", "field_label"),
    ("観光・交流", "field_label"), ("DX", "field_label"),
    ("災害時における物資の供給に関する協定", "agreement_title"), ("包括連携協定（第2期）", "agreement_title"),
    ("防災講演会の開催", "activity"), ("郡山市との共同研究", "activity"),
    ("郡山薬剤師会", "organisation"), ("郡山公共職業安定所", "organisation"), ("JA福島さくら", "organisation"),
    ("ハローワーク郡山", "organisation"), ("大槻町内会", "organisation"), ("福島県警察", "organisation"),
    ("郡山市内の医療機関", "organisation"), ("福島交通株式会社等", "organisation"),
    ("農業・農村", "field_label"), ("姉妹都市", "field_label"), ("学校", "field_label"), ("6次産業化", "field_label"),
    ("観光・シティプロモーション", "field_label"), ("男女共同参画・女性活躍", "field_label"),
    ("災害時の相互応援に関する協約", "agreement_title"), ("防災に関する申合せ", "agreement_title"),
    ("災害時応援協定等", "agreement_title"),
    ("株式会社デンソーの社員による出前講座", "activity"), ("社会福祉法人への助成金の交付", "activity"),
])
def test_plausible_values_of_a_next_edition_fit(value: str, shape: str) -> None:
    assert reasons(pl.Series([value]), shape)[0] is None, reasons(pl.Series([value]), shape).to_list()


@pytest.mark.parametrize(("value", "shape", "words"), [
    ("公立大学法人福島県立医科大学", "agreement_title", "does not end as an agreement title"),
    ("共同研究及び成果報告会の開催", "organisation", "ends as an activity does"),
    ("学研究院との地域連携協定", "organisation", "reads as an agreement title"),
    ("福島大学", "field_label", "reads as an organisation"),
    ("株式会社ヨークベニマル", "field_label", "reads as an organisation"),
    ("株式会社ヨークベニマルと三井住友海上火災保険株式会社", "field_label", "longer than 20 characters"),
    ("協力", "field_label", None), ("の開催", "field_label", "starts with a particle"),
    ("療", "field_label", "shorter than 2 characters"),
    ("医", "activity", "shorter than 2 characters"),
    ("・ココナビこおりやま周知への協力", "organisation", "starts with a bullet"),
    ("2,400千円", "activity", "holds an amount in 千円"),
])
def test_misplaced_values_are_refused_with_the_reason(value: str, shape: str, words: str | None) -> None:
    why = reasons(pl.Series([value]), shape)[0]
    assert why is None if words is None else words in str(why)


@pytest.mark.parametrize(("section", "row", "src", "dst"), MOVES,
                         ids=[f"s{s}-row{r}-{a[0]}→{b[0]}" for s, r, a, b in MOVES])
def test_a_cell_moved_into_its_neighbouring_column_fails(section, row, src, dst) -> None:
    """Each cell of sections 2–3 printed in the column beside it fails a check that names the cell
    (its row) and the column it landed in."""
    tables, landed = _moved(row, src, dst)
    failures = [r for r in validate_tables(tables) if not r.passed]
    _, table, column = dst
    ts, i = schemas.table(table), _first(table, row)
    key = ", ".join(f"{k}={tables[table][k][i]}" for k in ts.primary_key)
    named = [r for r in failures if r.table == table and r.field == column and f"({key}" in r.label
             and (f"「{landed}」" in r.message if landed else "must not be empty" in r.message)]
    assert named, [r.message for r in failures]


def test_a_move_is_said_in_the_stewards_words() -> None:
    tables, _ = _moved(3, SECTION2[2], SECTION2[1])  # the partner printed as initiative 3's title
    [failure] = [r for r in validate_tables(tables) if not r.passed]
    assert failure.check == "initiatives.shapes"
    assert failure.message.startswith("row 3 (取組ID=3, line 106), 協定名称: 「公立大学法人福島県立医科大学」 "
                                      "does not read as 協定名称 (agreement_title)")
    assert "neighbouring column" in failure.message


def test_shapes_json_is_what_the_code_reads() -> None:
    """Each shape extends a declared one, names only declared shapes, and says why when anyOf fails."""
    declared = json.loads((schemas.SCHEMA_DIR / "shapes.json").read_text(encoding="utf-8"))["shapes"]
    for name, shape in declared.items():
        assert shape.get("extends", "cell") in declared
        assert set(shape.get("notShapes", [])) <= set(declared)
        assert ("anyOf" in shape) == ("anyOfSays" in shape), name
        assert all(r.get("says") for r in shape.get("noneOf", [])), name


@settings(deadline=None, max_examples=60)
@given(st.text(max_size=60), st.sampled_from(sorted(schemas.shapes())))
def test_any_text_gets_an_answer_never_a_crash(text: str, shape: str) -> None:
    why = reasons(pl.Series([text], dtype=pl.String), shape, TABLES)[0]
    assert why is None or isinstance(why, str)
