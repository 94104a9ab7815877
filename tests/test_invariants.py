"""Every invariant of the document, broken on purpose: exit 1, a message naming row and numbers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REAL, drop, edit, real_lines, snapshot, write_doc

from etl.cli import main

Mutation = Callable[[list[str]], list[str]]


def _insert(lines: list[str], after: int, text: str) -> list[str]:
    return lines[:after] + [text] + lines[after:]


CASES: list[tuple[str, Mutation, str, list[str]]] = [
    ("row total", lambda l: edit(l, 26, "包括 48 16 20", "包括 48 16 21"),
     "agreement_counts.row_totals", ["包括", "line 26", "48", "49"]),
    ("column total", lambda l: edit(edit(l, 25, "人事 14 8 6", "人事 14 8 6 0 0"), 30, "295 54 215", "295 54 216"),
     "agreement_counts.column_totals", ["民", "216", "215"]),
    ("grand total", lambda l: edit(edit(l, 30, "合計 295", "合計 296"), 43, "295件", "296件"),
     "agreement_counts.grand_total", ["合計", "line 30", "296", "295"]),
    ("headline", lambda l: edit(l, 43, "295件", "300件"),
     "agreement_counts.headline_total", ["line 43", "300", "295"]),
    ("extra number", lambda l: edit(l, 27, "事業 97 13 73 10 1", "事業 97 13 73 10 1 5"),
     "agreement_counts.placement", ["事業", "line 27", "5 numbers", "4 相手方区分"]),
    ("misprinted cells", lambda l: edit(l, 25, "人事 14 8 6", "人事 14 9 5"),  # placed where it misses least
     "agreement_counts.column_totals", ["官", "民", "line 30", "printed 合計 54, cells sum to 55", "214"]),
    ("ambiguous cells",
     lambda l: edit(edit(edit(l, 26, "包括 48 16 20 11 1", "包括 8 1 1 6"), 30, "合計 295 54 215 22 4",
                         "合計 255 39 190 17 9"), 43, "295件", "255件"),
     "agreement_counts.placement", ["人事", "包括", "more than one arrangement"]),
    ("missing partner", lambda l: drop(l, 64),
     "partnership_partners.count", ["【協定先:21団体】", "line 65", "20 names"]),
    ("duplicate partner", lambda l: edit(l, 64, l[63], l[62]),
     "partnership_partners.unique_names", ["学校法人国際総合学園FSGカレッジリーグ", "2 times", "lines 63, 64"]),
    ("second うち label", lambda l: _insert(l, 115, "※うち別の分"),
     "initiatives.sub_amount_within_budget", ["取組ID 3", "line 116", "second 「※うち…」"]),
    ("ambiguous partner in section 2",
     lambda l: edit(_insert(_insert(l, 64, "株式会社デンソー"), 65, "デンソー株式会社"), 68, "21団体", "23団体"),
     "initiative_partners.partner_resolution", ["株式会社デンソー", "line 174", "ambiguous", "2 listed partners"]),
    ("sub-amount above budget", lambda l: edit(l, 115, "5,449千円", "17,096千円"),
     "initiatives.sub_amount_within_budget", ["取組ID 3", "17096", "17095", "line 106"]),
    ("budget removed", lambda l: drop(l, 104),
     "initiatives.budget_positive", ["取組ID 2", "郡山市糖尿病性腎症重症化予防に係る連携協定", "no budget"]),
    ("amount left over", lambda l: edit(l, 131, "関の利用", "関の利用1,000千円"),
     "initiatives.amounts_assigned", ["1,000千円", "line 131", "not assigned"]),
    ("partner count below named",
     lambda l: edit(l, 193, "20団体", "2団体、福島交通株式会社、会津乗合自動車株式会社、株式会社日本旅行"),
     "initiatives.partner_count", ["取組ID 9", "協定先数 2", "3 partners"]),
    ("as-of date two years before the fiscal year", lambda l: edit(l, 4, "2023年", "2021年"),
     "initiatives.as_of_fits_fiscal_year", ["年度 2023", "時点 2021-02-10", "2022-04-01"]),
    ("line near the wrap threshold", lambda l: edit(l, 89, "子ども食堂への支援", "子ども食堂への支援と地域の見守り活動推進"),
     "initiative_items.line_breaks", ["取組ID 1", "line 89", "77%", "80%"]),
    ("fiscal years disagree", lambda l: edit(l, 77, "2023（令和５）", "2024（令和５）"),
     "initiatives.fiscal_year", ["line 77", "2024", "2023"]),
    ("unknown partner in section 3", lambda l: edit(l, 275, "FSGｶﾚｯｼﾞﾘｰｸﾞ", "FSG"),
     "partnership_activities.partner_resolution", ["学校法人国際総合学園FSG", "line 275", "matches no partner"]),
    ("ambiguous partner in section 3",
     lambda l: edit(_insert(l, 64, "公立大学法人福島大学"), 67, "21団体", "22団体"),
     "partnership_activities.partner_resolution", ["福島大学", "ambiguous", "国立大学法人福島大学", "公立大学法人福島大学"]),
]


@pytest.mark.parametrize(("case", "mutate", "check", "words"), CASES, ids=[c[0] for c in CASES])
def test_broken_invariant_exits_1_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, mutate: Mutation, check: str, words: list[str]
) -> None:
    """The build refuses the document (exit 1), names the check, the row and the numbers, publishes nothing."""
    doc = write_doc(tmp_path / "raw", mutate(real_lines()))
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "keep.txt").write_text("existing catalog content")
    before = snapshot(catalog)
    report = tmp_path / "report.json"
    code = main(["build", "--raw", str(doc), "--out", str(catalog), "--report", str(report)])
    out = capsys.readouterr()
    assert code == 1, out.out + out.err
    lines = [ln for ln in out.out.splitlines() if check in ln]
    assert lines, f"{check} not reported:\n{out.out}"
    for word in words:
        assert any(word in ln for ln in lines), f"{word!r} missing from {lines}"
    assert "Traceback" not in out.out + out.err
    assert snapshot(catalog) == before
    assert f'"check": "{check}"' in report.read_text(encoding="utf-8")


def test_all_failures_are_reported_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Several broken invariants in one document are all listed, grouped by table, in one run."""
    lines = edit(real_lines(), 26, "包括 48 16 20", "包括 48 16 21")
    lines = edit(lines, 115, "5,449千円", "17,096千円")
    lines = edit(lines, 275, "FSGｶﾚｯｼﾞﾘｰｸﾞ", "FSG")
    doc = write_doc(tmp_path / "raw", lines)
    assert main(["build", "--raw", str(doc), "--out", str(tmp_path / "c")]) == 1
    out = capsys.readouterr().out
    for check in ("agreement_counts.row_totals", "initiatives.sub_amount_within_budget",
                  "partnership_activities.partner_resolution"):
        assert check in out
    assert "[agreement_counts]" in out and "[initiatives]" in out
    assert not (tmp_path / "c").exists()


def test_an_invariant_that_cannot_run_is_reported_under_its_check_id() -> None:
    """A table missing from a damaged release fails the checks that need it, by their report ids
    and tables (never a crash, never a Python function name)."""
    from etl.pipeline import load
    from etl.validate.checks import TABLES, checks_of, run_invariants

    tables = dict(load(REAL).tables)
    del tables["initiative_partners"]
    results = run_invariants(tables)
    crashed = [r for r in results if not r.passed]
    assert [(r.check, r.table) for r in crashed] == [("initiatives.partner_count", "initiatives")]
    assert "could not run" in crashed[0].message
    assert {r.check for r in results} == {c.check for c in checks_of(TABLES)}


MISPRINTS = [
    ("row 協定数", lambda l: edit(l, 26, "包括 48", "包括 49"),
     "agreement_counts.row_totals", "包括 (line 26): printed 協定数 49, cells sum to 48."),
    ("column 合計", lambda l: edit(l, 30, "合計 295 54 215", "合計 295 54 216"),
     "agreement_counts.column_totals", "民 (line 30): printed 合計 216, cells sum to 215."),
    ("grand total", lambda l: edit(l, 30, "合計 295", "合計 296"),
     "agreement_counts.grand_total", "合計 row (line 30): printed total 296, all cells sum to 295."),
    ("headline", lambda l: edit(l, 43, "295件", "300件"),
     "agreement_counts.headline_total", "(line 43) prints 300件, the 合計 row (line 30) prints 295."),
]


@pytest.mark.parametrize(("case", "mutate", "check", "words"), MISPRINTS, ids=[c[0] for c in MISPRINTS])
def test_one_misprinted_total_is_named_first_and_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, mutate: Mutation, check: str, words: str
) -> None:
    """One misprinted total of any kind is the first (and only) failure, with both numbers; no placement failure."""
    import json

    doc = write_doc(tmp_path / "raw", mutate(real_lines()))
    report = tmp_path / "report.json"
    assert main(["build", "--raw", str(doc), "--out", str(tmp_path / "c"), "--report", str(report)]) == 1
    failures = [ln.strip() for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("✗")]
    assert failures == [f"✗ {check}: " + failures[0].split(": ", 1)[1]] and words in failures[0], failures
    data = json.loads(report.read_text(encoding="utf-8"))
    assert [(f["check"], f["line"]) for f in data["failures"]] == [(check, int(words.split("line ")[1][:2]))]
    placement = next(c for c in data["checks"] if c["check"] == "agreement_counts.placement")
    assert placement["passed"] and placement["compared"] == [
        {"label": "人事", "expected": [8, 6], "actual": [8, 6, None, None], "line": 25}]


@pytest.mark.parametrize("year", [1900, 9999, 2**40])
def test_a_fiscal_year_outside_the_calendar_fails_the_check_not_the_run(year: int) -> None:
    """etl validate of a release whose 年度 was tampered with: a failed check, never an internal error."""
    import polars as pl

    from etl.pipeline import load
    from etl.validate.run import validate_tables

    tables = dict(load(REAL).tables)
    for name in ("initiatives", "activity_rows"):
        tables[name] = tables[name].with_columns(pl.lit(year, dtype=pl.Int64).alias("年度"))
    results = [r for r in validate_tables(tables) if r.check == "initiatives.as_of_fits_fiscal_year"]
    assert results and not any(r.passed for r in results)
    assert all(f"年度 {year}" in r.message for r in results)
