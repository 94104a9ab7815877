"""The real document's release equals the hand-reviewed golden CSVs in tests/golden/."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from conftest import GOLDEN

TABLES = sorted(p.name for p in GOLDEN.glob("*.csv"))


@pytest.mark.parametrize("name", TABLES)
def test_published_csv_equals_golden(published: Path, name: str) -> None:
    """Each published CSV is byte-for-byte the reviewed golden file."""
    assert (published / name).read_bytes() == (GOLDEN / name).read_bytes()


def test_every_published_csv_has_a_golden(published: Path) -> None:
    """No table is published without a golden file (and no golden file is stale)."""
    assert sorted(p.name for p in published.glob("*.csv")) == TABLES


def _golden(name: str) -> pl.DataFrame:
    return pl.read_csv(GOLDEN / f"072036_{name}.csv", infer_schema=False)


def test_golden_counts_are_the_documents() -> None:
    """16 cells; the 人事 row's dropped cells are 学 and その他; the cells sum to the printed 295."""
    counts = _golden("agreement_counts").with_columns(pl.col("協定数").cast(pl.Int64))
    assert counts.height == 16
    assert counts["協定数"].sum() == 295
    jinji = counts.filter(pl.col("協定種別") == "人事")
    assert jinji.select("相手方区分", "協定数").rows() == [("官", 8), ("民", 6), ("学", 0), ("その他", 0)]
    assert set(counts["全国地方公共団体コード"]) == {"072036"}


def test_golden_partners_and_initiatives() -> None:
    """21 partners with normalised names; 9 initiatives; the 5,000円分 in a sentence is no budget."""
    partners = _golden("partnership_partners")
    assert partners.height == 21
    assert "株式会社セブン-イレブン・ジャパン" in partners["協定先名称"].to_list()
    initiatives = _golden("initiatives")
    assert initiatives.height == 9
    budgets = dict(zip(initiatives["取組ID"], initiatives["予算額_千円"]))
    assert budgets["4"] == "3630" and "5000" not in budgets.values()
    assert initiatives.filter(pl.col("取組ID") == "3")["うち額_千円"].item() == "5449"
    assert initiatives.filter(pl.col("取組ID") == "9")["協定先数"].item() == "20"


def test_golden_activities_and_links() -> None:
    """28 activities in 11 rows; the three retailers share a row; every link names a listed partner."""
    activities = _golden("partnership_activities")
    assert activities.height == 28
    links = _golden("activity_partners")
    row = activities.filter(pl.col("取組内容").str.contains("手前どり"))["掲載行番号"].item()
    retail = links.filter(pl.col("掲載行番号") == row)["協定先ID"].to_list()
    assert sorted(map(int, retail)) == [1, 4, 6]
    # 分野 belong to the printed row (11 rows, 20 labels), never multiplied out per activity.
    assert _golden("activity_rows").height == 11 and _golden("activity_fields").height == 20
    assert set(links["協定先ID"]) <= set(_golden("partnership_partners")["協定先ID"])
    # 「・」 inside a line is text, not a bullet.
    assert any("メール・FAX・LINE" in t for t in activities["取組内容"])


def test_no_page_furniture_leaks_into_any_cell() -> None:
    """QR captions, 「連携協定一覧 / 市Webサイト」, running headers and units are in no published cell."""
    furniture = ("QR", "連携協定一覧", "市Webサイト", "当初予算関連資料", "単位:")
    for path in GOLDEN.glob("*.csv"):
        text = path.read_text(encoding="utf-8-sig")
        assert not [f for f in furniture if f in text], path.name
