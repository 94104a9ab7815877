"""The document's own invariants, each a small named function over the tidy tables.

Every check returns results (passed or failed) rather than raising, so that a run reports all
failures at once. They need only the published tables, so `etl validate` runs them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from etl.shared.results import CheckResult, failed, passed

Tables = dict[str, pl.DataFrame]
Run = Callable[[Tables, str], list[CheckResult]]


@dataclass(frozen=True)
class Invariant:
    check: str  # the id in the report, e.g. agreement_counts.row_totals
    table: str  # the table its failures are grouped under
    run: Run


INVARIANTS: list[Invariant] = []  # in the order the report lists them


def invariant(check: str, table: str) -> Callable[[Run], Run]:
    """Register a check function under its report id; it receives that id to name its results."""
    def register(run: Run) -> Run:
        if any(inv.check == check for inv in INVARIANTS):
            raise ValueError(f"two invariants are named {check}")
        INVARIANTS.append(Invariant(check, table, run))
        return run
    return register


def _printed(tables: Tables, table: str, axis: str) -> pl.DataFrame:
    t = tables["printed_totals"]
    return t.filter((pl.col("対象表") == table) & (pl.col("集計軸") == axis))


def _totals_by(tables: Tables, axis: str, check: str, noun: str) -> list[CheckResult]:
    """Cells summed along one axis equal the totals printed for it."""
    sums = tables["agreement_counts"].group_by(axis, maintain_order=True).agg(pl.col("協定数").sum().alias("計"))
    printed = _printed(tables, "agreement_counts", axis).rename({"区分": axis}).with_row_index("_order")
    both = (printed.join(sums, on=axis, how="full", coalesce=True)
            .sort("_order", nulls_last=True, maintain_order=True))  # as printed: reports are compared byte for byte
    out = []
    for r in both.iter_rows(named=True):
        line = r["原文行番号"]
        if r["印字値"] is None:
            out.append(failed(check, "agreement_counts",
                              f"{r[axis]} has counts but no printed {noun}.", label=r[axis],
                              field="協定数", expected=None, actual=r["計"]))
        elif r["計"] is None:
            out.append(failed(check, "agreement_counts",
                              f"{r[axis]} (line {line}): printed {noun} {r['印字値']}, but the table has "
                              "no cells for it (see agreement_counts.placement).", label=r[axis], field="協定数",
                              expected=r["印字値"], actual=None, line=line))
        elif r["計"] != r["印字値"]:
            out.append(failed(check, "agreement_counts",
                              f"{r[axis]} (line {line}): printed {noun} {r['印字値']}, "
                              f"cells sum to {r['計']}.", label=r[axis], field="協定数",
                              expected=r["印字値"], actual=r["計"], line=line))
        else:
            out.append(passed(check, "agreement_counts", label=r[axis], expected=r["印字値"], actual=r["計"],
                              line=line))
    return out or [passed(check, "agreement_counts")]


@invariant("agreement_counts.row_totals", "agreement_counts")
def row_totals(tables: Tables, check: str) -> list[CheckResult]:
    """Every 協定種別 row sums to its printed 協定数."""
    return _totals_by(tables, "協定種別", check, "協定数")


@invariant("agreement_counts.column_totals", "agreement_counts")
def column_totals(tables: Tables, check: str) -> list[CheckResult]:
    """Every 相手方区分 column sums to its printed 合計."""
    return _totals_by(tables, "相手方区分", check, "合計")


def _single(tables: Tables, table: str, axis: str) -> dict | None:
    rows = _printed(tables, table, axis).to_dicts()
    return rows[0] if len(rows) == 1 else None


@invariant("agreement_counts.grand_total", "agreement_counts")
def grand_total(tables: Tables, check: str) -> list[CheckResult]:
    """The 合計 row's printed total equals the sum of all cells."""
    total = _single(tables, "agreement_counts", "総数")
    cells = int(tables["agreement_counts"]["協定数"].sum())
    if total is None:
        return [failed(check, "agreement_counts", "the 合計 row's total is missing from printed_totals.")]
    if total["印字値"] != cells:
        return [failed(check, "agreement_counts",
                       f"{total['区分']} row (line {total['原文行番号']}): printed total {total['印字値']}, "
                       f"all cells sum to {cells}.", label=total["区分"], field="協定数",
                       expected=total["印字値"], actual=cells, line=total["原文行番号"])]
    return [passed(check, "agreement_counts", label=total["区分"], expected=total["印字値"], actual=cells,
                   line=total["原文行番号"])]


@invariant("agreement_counts.headline_total", "agreement_counts")
def headline_total(tables: Tables, check: str) -> list[CheckResult]:
    """The headline 「他の機関との連携協定数：N件」 equals the 合計 row's total or, where that total is
    misprinted (agreement_counts.grand_total says so), the sum of the cells: one misprint, one failure."""
    head = _single(tables, "agreement_counts", "見出し総数")
    total = _single(tables, "agreement_counts", "総数")
    if head is None or total is None:
        return [failed(check, "agreement_counts", "the headline or the 合計 total is missing.")]
    cells = int(tables["agreement_counts"]["協定数"].sum())
    if head["印字値"] not in (total["印字値"], cells):
        also = "" if cells == total["印字値"] else f" and the cells sum to {cells}"
        return [failed(check, "agreement_counts",
                       f"headline 「{head['区分']}」 (line {head['原文行番号']}) prints {head['印字値']}件, "
                       f"the 合計 row (line {total['原文行番号']}) prints {total['印字値']}{also}.",
                       label=head["区分"], expected=total["印字値"], actual=head["印字値"], line=head["原文行番号"])]
    agrees = total["印字値"] if head["印字値"] == total["印字値"] else cells
    return [passed(check, "agreement_counts", label=head["区分"], expected=agrees, actual=head["印字値"],
                   line=head["原文行番号"])]


@invariant("partnership_partners.count", "partnership_partners")
def partner_count(tables: Tables, check: str) -> list[CheckResult]:
    """The partner list has as many names as 【協定先:N団体】 says."""
    printed = _single(tables, "partnership_partners", "団体数")
    listed = tables["partnership_partners"].height
    if printed is None:
        return [failed(check, "partnership_partners", "the printed partner count is missing.")]
    if printed["印字値"] != listed:
        return [failed(check, "partnership_partners",
                       f"【協定先:{printed['印字値']}団体】 (line {printed['原文行番号']}) but {listed} "
                       "names are listed above it.", label=printed["区分"],
                       expected=printed["印字値"], actual=listed, line=printed["原文行番号"])]
    return [passed(check, "partnership_partners", label=printed["区分"], expected=printed["印字値"], actual=listed,
                   line=printed["原文行番号"])]


@invariant("partnership_partners.unique_names", "partnership_partners")
def unique_partner_names(tables: Tables, check: str) -> list[CheckResult]:
    """No partner is listed twice (same name after normalisation)."""
    t = tables["partnership_partners"]
    twice = t.filter(pl.col("協定先名称").is_duplicated()).group_by("協定先名称", maintain_order=True).agg(
        pl.col("協定先ID"), pl.col("原文行番号"))
    return [
        failed(check, "partnership_partners", f"「{r['協定先名称']}」 is listed {len(r['協定先ID'])} times "
               f"(協定先ID {', '.join(map(str, r['協定先ID']))}; lines {', '.join(map(str, r['原文行番号']))}).",
               label=r["協定先名称"], field="協定先名称", expected=1, actual=len(r["協定先ID"]))
        for r in twice.iter_rows(named=True)
    ] or [passed(check, "partnership_partners", expected=t.height, actual=t["協定先名称"].n_unique())]


@invariant("initiatives.fiscal_year", "initiatives")
def one_fiscal_year(tables: Tables, check: str) -> list[CheckResult]:
    """Sections 2 and 3 describe one and the same 年度."""
    years = pl.concat([tables["initiatives"].select("年度"), tables["partnership_activities"].select("年度")])
    found = sorted(years["年度"].drop_nulls().unique().to_list())
    if len(found) > 1:
        return [failed(check, "initiatives", f"the tables name several 年度: {', '.join(map(str, found))}.",
                       field="年度", expected=1, actual=found)]
    return [passed(check, "initiatives", label=str(found[0]) if found else "")]


def _label(r: dict) -> str:
    return f"取組ID {r['取組ID']} 「{r['協定名称']}」 (line {r['原文行番号']})"


@invariant("initiatives.budget_positive", "initiatives")
def budgets_positive(tables: Tables, check: str) -> list[CheckResult]:
    """Every initiative has a budget, a positive whole number of 千円."""
    bad = tables["initiatives"].filter(pl.col("予算額_千円").is_null() | (pl.col("予算額_千円") <= 0))
    return [
        failed(check, "initiatives",
               f"{_label(r)} has no budget (「N千円」)." if r["予算額_千円"] is None
               else f"{_label(r)}: budget {r['予算額_千円']}千円 is not positive.",
               label=str(r["取組ID"]), field="予算額_千円", expected="> 0", actual=r["予算額_千円"])
        for r in bad.iter_rows(named=True)
    ] or [passed(check, "initiatives")]


@invariant("initiatives.sub_amount_within_budget", "initiatives")
def sub_amounts(tables: Tables, check: str) -> list[CheckResult]:
    """A 「※うち…」 sub-amount has its label and is smaller than its budget."""
    t = tables["initiatives"]
    out = []
    for r in t.filter(pl.col("うち額_千円").is_not_null() | pl.col("うち額_内容").is_not_null()).iter_rows(named=True):
        if r["うち額_千円"] is None or r["うち額_内容"] is None:
            missing = "amount" if r["うち額_千円"] is None else "「※うち…」 label"
            out.append(failed(check, "initiatives", f"{_label(r)}: a うち sub-amount without its {missing}.",
                              label=str(r["取組ID"]), field="うち額_千円", actual=r["うち額_千円"]))
        elif r["予算額_千円"] is not None and r["うち額_千円"] >= r["予算額_千円"]:
            out.append(failed(check, "initiatives",
                              f"{_label(r)}: sub-amount うち{r['うち額_内容']} {r['うち額_千円']}千円 is not "
                              f"smaller than the budget {r['予算額_千円']}千円.", label=str(r["取組ID"]),
                              field="うち額_千円", expected=f"< {r['予算額_千円']}", actual=r["うち額_千円"]))
    return out or [passed(check, "initiatives")]


@invariant("initiatives.partner_count", "initiatives")
def initiative_partner_counts(tables: Tables, check: str) -> list[CheckResult]:
    """協定先数 is at least the number of partners named for the initiative."""
    named = tables["initiative_partners"].group_by("取組ID").len("名称数")
    both = tables["initiatives"].join(named, on="取組ID", how="left").with_columns(pl.col("名称数").fill_null(0))
    bad = both.filter(pl.col("協定先数").is_null() | (pl.col("協定先数") < pl.col("名称数")))
    return [
        failed(check, "initiatives", f"{_label(r)}: 協定先数 {r['協定先数']} but {r['名称数']} partners are named.",
               label=str(r["取組ID"]), field="協定先数", expected=f">= {r['名称数']}", actual=r["協定先数"])
        for r in bad.iter_rows(named=True)
    ] or [passed(check, "initiatives")]


def run_invariants(tables: Tables) -> list[CheckResult]:
    """Every invariant over the tables; a check whose table is missing fails rather than crashing."""
    out: list[CheckResult] = []
    for inv in INVARIANTS:
        try:
            out.extend(inv.run(tables, inv.check))
        except (KeyError, TypeError, pl.exceptions.PolarsError) as exc:  # a table or a column typed wrongly
            out.append(failed(inv.check, inv.table, f"could not run: {exc}"))
    return out
