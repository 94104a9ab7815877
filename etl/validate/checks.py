"""Every named check of the document, and the one function that decides it.

A check id such as `initiatives.sub_amount_within_budget` is registered here once, with its
function; `checks_of` lists them. Each function returns results (passed or failed) rather than
raising, so that a run reports all failures at once. A check reads the tidy tables (so that
`etl validate` runs it on a published release too), the evidence that only the source text holds
(`etl.transform.Evidence`: a build only), or both; it is then run once for each, the text first.
The per-table checks (`<table>.schema`, `.types`, `.integrity`, `.foreign_key.…`, `.files`,
`.parquet_matches_csv`) and the source checks (`source.…`) are in `etl.validate.run`;
`etl.validate.run.find` leads from any id to its function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from etl.shared.results import CheckResult, failed, passed

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.transform.dataset import Evidence, Placement

Tables = dict[str, pl.DataFrame]


@dataclass(frozen=True)
class Given:
    """What a check is run on: the tables, or the evidence of the source text (one at a time)."""

    tables: Tables | None = None
    text: Evidence | None = None


Run = Callable[[Given, str], list[CheckResult]]


@dataclass(frozen=True)
class Check:
    check: str  # the id in the report, e.g. agreement_counts.row_totals
    table: str  # the table its failures are grouped under
    run: Run
    reads: frozenset[str]  # "tables", "text" or both
    title: str  # what it checks, in Japanese: the HTML report shows it beside the id


CHECKS: list[Check] = []  # in the order the report lists them (within each of the two runs)
TABLES, TEXT = "tables", "text"


def check(check_id: str, table: str, *reads: str, title: str) -> Callable[[Run], Run]:
    """Register a check function under its report id, with what it checks in Japanese (`title`); it
    receives that id to name its results."""
    def register(run: Run) -> Run:
        if any(c.check == check_id for c in CHECKS):
            raise ValueError(f"two checks are named {check_id}")
        if not reads or set(reads) - {TABLES, TEXT}:
            raise ValueError(f"{check_id} must read {TABLES!r}, {TEXT!r} or both, not {reads!r}")
        CHECKS.append(Check(check_id, table, run, frozenset(reads), title))
        return run
    return register


def checks_of(reads: str) -> list[Check]:
    """The checks that read the tables, or the text's evidence, in their order."""
    return [c for c in CHECKS if reads in c.reads]


def run_invariants(tables: Tables) -> list[CheckResult]:
    """Every check of the tables (the document's invariants), as `etl validate` runs them. A check
    whose table or column is missing or typed wrongly (a damaged release) fails rather than crashing."""
    out: list[CheckResult] = []
    for c in checks_of(TABLES):
        try:
            out.extend(c.run(Given(tables=tables), c.check))
        except (KeyError, TypeError, ValueError, pl.exceptions.PolarsError) as exc:
            out.append(failed(c.check, c.table, f"could not run: {exc}"))
    return out


def run_text_checks(evidence: Evidence) -> list[CheckResult]:
    """Every check that only the source text can answer (a build runs these first). Its evidence is
    made by the build itself, so an error here is a bug, not bad data, and is not caught."""
    return [r for c in checks_of(TEXT) for r in c.run(Given(text=evidence), c.check)]


# ── section 1: the count table and the partner list ───────────────────────────────────────


@check("agreement_counts.placement", "agreement_counts", TEXT,
       title="空欄のセルの置き場所が、印字された合計から一つに決まる")
def placement(given: Given, check: str) -> list[CheckResult]:
    """Every printed number of the count table has one column: dropped (empty) cells are placed by
    the only arrangement that misses the fewest printed 合計; otherwise the rows are refused."""
    return placement_results(given.text.placement, check)


def placement_results(p: Placement, check: str = "agreement_counts.placement") -> list[CheckResult]:
    """The results of one placement (etl.transform.place_cells), row by row as printed."""
    table, out = "agreement_counts", []
    if p.totals_printed is not None and p.totals_printed != len(p.columns):
        out.append(failed(
            check, table,
            f"合計 row (line {p.total_line}) prints {p.totals_printed} column totals for "
            f"{len(p.columns)} 相手方区分 ({' '.join(p.columns)}); every column total must be printed.",
            label="合計", expected=len(p.columns), actual=p.totals_printed))
    for kind, label, line, n in p.refused:
        if kind == "twice":
            out.append(failed(check, table, f"{label} row is printed twice (lines {n} and {line}); the second "
                              "is left out.", label=label, line=line, expected=1, actual=2))
        else:
            out.append(failed(check, table, f"{label} row (line {line}) prints {n} numbers for {p.width} 相手方区分.",
                              label=label, line=line, expected=p.width, actual=n))
    if not p.short:
        return out + [passed(check, table)]
    if p.unique is not None:
        return out + [CheckResult(check, table, True, label=label, line=line, expected=values,
                                  actual=p.unique[label][1], message=_placed_note(p.best.missed))
                      for label, line, values in p.short]
    return out + [failed(check, table, _placement_message(label, line, values, p.width, p.best), label=label,
                         line=line, expected="exactly one best arrangement",
                         actual="too many to try" if p.best is None else len(p.best.tables))
                  for label, line, values in p.short]


def _placed_note(missed: int) -> str:
    if not missed:
        return "the only arrangement whose columns add up to every printed 合計"
    return (f"the only arrangement that misses just {missed} printed column total(s); "
            "agreement_counts.column_totals names it")


def _placement_message(label, line, values, width, best) -> str:
    nums = " ".join(map(str, values))
    if best is None:
        why = "too many arrangements to try"
    elif not best.tables:
        why = "no arrangement makes every column add up to its printed 合計"
    else:
        examples = " / ".join(" ".join(map(str, t[label][0])) for t in best.tables[:4])
        why = (f"more than one arrangement makes the columns add up (e.g. {examples})" if not best.missed
               else "no arrangement makes every column add up to its printed 合計, and more than one misses "
                    f"the fewest ({best.missed} column total(s) each, e.g. {examples})")
    return (f"{label} row (line {line}) prints {len(values)} numbers ({nums}) for {width} "
            f"相手方区分 and the empty cells cannot be placed: {why}.")


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


@check("agreement_counts.row_totals", "agreement_counts", TABLES,
       title="協定種別ごとに、セルの合計が印字された協定数と一致する")
def row_totals(given: Given, check: str) -> list[CheckResult]:
    """Every 協定種別 row sums to its printed 協定数."""
    tables = given.tables
    return _totals_by(tables, "協定種別", check, "協定数")


@check("agreement_counts.column_totals", "agreement_counts", TABLES,
       title="相手方区分ごとに、セルの合計が印字された合計と一致する")
def column_totals(given: Given, check: str) -> list[CheckResult]:
    """Every 相手方区分 column sums to its printed 合計."""
    tables = given.tables
    return _totals_by(tables, "相手方区分", check, "合計")


def _single(tables: Tables, table: str, axis: str) -> dict | None:
    rows = _printed(tables, table, axis).to_dicts()
    return rows[0] if len(rows) == 1 else None


@check("agreement_counts.grand_total", "agreement_counts", TABLES,
       title="合計行の総数が全セルの合計と一致する")
def grand_total(given: Given, check: str) -> list[CheckResult]:
    """The 合計 row's printed total equals the sum of all cells."""
    tables = given.tables
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


@check("agreement_counts.headline_total", "agreement_counts", TABLES,
       title="見出しの協定数（N件）が表の総数と一致する")
def headline_total(given: Given, check: str) -> list[CheckResult]:
    """The headline 「他の機関との連携協定数：N件」 equals the 合計 row's total or, where that total is
    misprinted (agreement_counts.grand_total says so), the sum of the cells: one misprint, one failure."""
    tables = given.tables
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


@check("partnership_partners.count", "partnership_partners", TABLES,
       title="協定先の名称の数が【協定先:N団体】と一致する")
def partner_count(given: Given, check: str) -> list[CheckResult]:
    """The partner list has as many names as 【協定先:N団体】 says."""
    tables = given.tables
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


@check("partnership_partners.unique_names", "partnership_partners", TABLES,
       title="同じ協定先が二度載っていない")
def unique_partner_names(given: Given, check: str) -> list[CheckResult]:
    """No partner is listed twice (same name after normalisation)."""
    tables = given.tables
    t = tables["partnership_partners"]
    twice = t.filter(pl.col("協定先名称").is_duplicated()).group_by("協定先名称", maintain_order=True).agg(
        pl.col("協定先ID"), pl.col("原文行番号"))
    return [
        failed(check, "partnership_partners", f"「{r['協定先名称']}」 is listed {len(r['協定先ID'])} times "
               f"(協定先ID {', '.join(map(str, r['協定先ID']))}; lines {', '.join(map(str, r['原文行番号']))}).",
               label=r["協定先名称"], field="協定先名称", expected=1, actual=len(r["協定先ID"]))
        for r in twice.iter_rows(named=True)
    ] or [passed(check, "partnership_partners", expected=t.height, actual=t["協定先名称"].n_unique())]


# ── section 2: initiatives, their budgets and partners ────────────────────────────────────


@check("initiatives.fiscal_year", "initiatives", TEXT, TABLES,
       title="節 2 と節 3 の年度が一つで、和暦と西暦が合う")
def fiscal_year(given: Given, check: str) -> list[CheckResult]:
    """Sections 2 and 3 describe one and the same 年度: in the text, every heading's 和暦 year is
    possible and agrees with its printed Gregorian year and with the others; in the tables, one 年度."""
    if given.text is not None:
        return _fiscal_year_in_text(given.text.raw.fiscal_years, check)
    tables = given.tables
    years = pl.concat([tables["initiatives"].select("年度"), tables["partnership_activities"].select("年度")])
    found = sorted(years["年度"].drop_nulls().unique().to_list())
    if len(found) > 1:
        return [failed(check, "initiatives", f"the tables name several 年度: {', '.join(map(str, found))}.",
                       field="年度", expected=1, actual=found)]
    return [passed(check, "initiatives", label=str(found[0]) if found else "")]


def _fiscal_year_in_text(readings: list[tuple[int | None, int | None, int]], check: str) -> list[CheckResult]:
    """readings: (和暦 year as Gregorian or None when impossible, printed Gregorian year or None, line)."""
    out = []
    for era, _, line in readings:
        if era is None:
            out.append(failed(check, "initiatives", f"line {line}: the 和暦 year of the 年度 is impossible "
                              "(such as 令和0年度).", label=f"line {line}", expected="a year of the era"))
    years = [y for y in readings if y[0] is not None]
    bad = [(era, greg, line) for era, greg, line in years if greg is not None and greg != era]
    eras = sorted({era for era, _, _ in years})
    for era, greg, line in bad:
        out.append(failed(check, "initiatives", f"line {line}: {greg}年度 is printed beside a 和暦 "
                          f"year that is {era}.", label=f"line {line}", expected=era, actual=greg))
    if len(eras) > 1:
        out.append(failed(check, "initiatives", "the headings name different 年度: " + ", ".join(
            f"{era} (line {line})" for era, _, line in years), expected=eras[0], actual=eras))
    if not eras:
        out.append(failed(check, "initiatives", "no 年度 (such as 令和５年度) found in sections 2 and 3."))
    if not bad and len(eras) == 1 and len(years) == len(readings):
        out.append(passed(check, "initiatives"))
    return out


# Section 3 lists activities with the comprehensive partners only, so each name printed there must
# be one of them; section 2 also names other bodies (a 医師会, a city abroad): only an ambiguity fails.
MUST_BE_LISTED = {"partnership_activities"}


@check("initiative_partners.partner_resolution", "initiative_partners", TEXT,
       title="節 2 の連携先の名称が、協定先一覧の二つ以上に当たらない")
def partner_resolution(given: Given, check: str) -> list[CheckResult]:
    """Every partner name printed resolves by exact name key to at most one listed partner (in
    section 3, to exactly one); never by substring or prefix."""
    table = check.partition(".")[0]
    resolved = given.text.resolved[table]
    required = table in MUST_BE_LISTED
    bad = resolved.filter((pl.col("候補数") > 1) | (pl.col("候補数") == 0) if required else pl.col("候補数") > 1)
    out = []
    for r in bad.iter_rows(named=True):
        if r["候補数"] == 0:
            msg = (f"「{r['協定先名称_原文']}」 (line {r['原文行番号']}) matches no partner in the "
                   "【協定先】 list of section 1; add it there or correct the spelling.")
        else:
            msg = (f"「{r['協定先名称_原文']}」 (line {r['原文行番号']}) is ambiguous: it matches "
                   f"{r['候補数']} listed partners ({r['候補']}).")
        out.append(failed(check, table, msg, label=r["協定先名称_原文"], field="協定先ID",
                          expected="exactly one listed partner", actual=r["候補数"]))
    return out or [passed(check, table)]


check("partnership_activities.partner_resolution", "partnership_activities", TEXT,
      title="節 3 の協定先の名称が、協定先一覧のちょうど一つに決まる")(partner_resolution)


@check("initiatives.amounts_assigned", "initiatives", TEXT,
       title="節 2 の「N千円」がそれぞれ一度だけ予算額かうち額になる")
def amounts_assigned(given: Given, check: str) -> list[CheckResult]:
    """Every 「N千円」 printed in section 2 is a budget or a sub-amount, exactly once."""
    raw, used = given.text.raw, given.text.amounts
    found = raw.amounts.group_by("原文行番号", "値").agg(pl.len().alias("印字"), pl.col("原文").first())
    tally = found.join(used.group_by("原文行番号", "値").len("割当"), on=["原文行番号", "値"], how="full",
                       coalesce=True).with_columns(pl.col("印字", "割当").fill_null(0))
    out = []
    for r in tally.filter(pl.col("印字") != pl.col("割当")).sort("原文行番号").iter_rows(named=True):
        what = "is not assigned to any initiative or うち sub-amount" if r["割当"] < r["印字"] else "is used twice"
        text = r["原文"] or f"{r['値']}千円"
        out.append(failed(check, "initiatives", f"「{text}」 on line {r['原文行番号']} {what}.",
                          label=f"line {r['原文行番号']}", expected=r["印字"], actual=r["割当"]))
    if tally.filter(pl.col("印字") != pl.col("割当")).is_empty():
        out.append(passed(check, "initiatives", expected=tally["印字"].sum(), actual=tally["割当"].sum()))
    return out


def _label(r: dict) -> str:
    return f"取組ID {r['取組ID']} 「{r['協定名称']}」 (line {r['原文行番号']})"


@check("initiative_items.line_breaks", "initiative_items", TEXT,
       title="セル内の改行が、折り返しか新しい項目かに読み分けられる")
def line_breaks(given: Given, check: str) -> list[CheckResult]:
    """A line of a plain multi-line cell either wraps (the line before it fills the column) or starts a new
    item (the line before it is clearly shorter). A line before it that fills nearly the threshold's
    share of the column cannot be told either way, and a guess would join two items or split one."""
    decisions = given.text.line_breaks
    if decisions is None or decisions.is_empty():
        return [passed(check, "initiative_items")]
    near = decisions.filter((pl.col("割合") - pl.col("閾値")).abs() < pl.col("余裕"))
    return [failed(
        check, "initiative_items",
        f"取組ID {r['取組ID']}, line {r['原文行番号']}: the line fills {r['割合']:.0%} of the column's widest line, "
        f"too near the {r['閾値']:.0%} at which a line is taken to wrap (above) or to end its item (below) to "
        "tell which it does. Check the source: join the next line to it if the text wraps, or put the next "
        "item on a line of its own after a shorter one.", label=str(r["取組ID"]), line=r["原文行番号"],
        field="取組内容", expected=f"below {r['閾値'] - r['余裕']:.0%} or above {r['閾値'] + r['余裕']:.0%}",
        actual=round(r["割合"], 3)) for r in near.iter_rows(named=True)] or [passed(check, "initiative_items")]


@check("initiatives.budget_positive", "initiatives", TABLES,
       title="どの取組にも正の予算額（千円）がある")
def budgets_positive(given: Given, check: str) -> list[CheckResult]:
    """Every initiative has a budget, a positive whole number of 千円."""
    tables = given.tables
    bad = tables["initiatives"].filter(pl.col("予算額_千円").is_null() | (pl.col("予算額_千円") <= 0))
    return [
        failed(check, "initiatives",
               f"{_label(r)} has no budget (「N千円」)." if r["予算額_千円"] is None
               else f"{_label(r)}: budget {r['予算額_千円']}千円 is not positive.",
               label=str(r["取組ID"]), field="予算額_千円", expected="> 0", actual=r["予算額_千円"])
        for r in bad.iter_rows(named=True)
    ] or [passed(check, "initiatives")]


@check("initiatives.sub_amount_within_budget", "initiatives", TEXT, TABLES,
       title="「※うち」額に見出しがあり、予算額より小さい")
def sub_amount_within_budget(given: Given, check: str) -> list[CheckResult]:
    """A 「※うち…」 sub-amount has its label and is smaller than its budget; in the text, a budget has
    at most one such label (a second would silently replace the first)."""
    if given.text is not None:
        twice = given.text.raw.initiatives.filter(pl.col("追加うち行").is_not_null())
        return [failed(
            check, "initiatives",
            f"取組ID {r['取組順']} 「{r['協定名称_原文']}」 (line {r['原文行番号']}) prints a second 「※うち…」 "
            f"label on line {r['追加うち行']}; only one sub-amount per budget can be read. Check the text.",
            label=str(r["取組順"]), field="うち額_内容", expected=1, actual=2) for r in twice.iter_rows(named=True)]
    t = given.tables["initiatives"]
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


@check("initiatives.partner_count", "initiatives", TABLES,
       title="協定先数が、名称の挙がった連携先の数以上")
def initiative_partner_counts(given: Given, check: str) -> list[CheckResult]:
    """協定先数 is at least the number of partners named for the initiative."""
    tables = given.tables
    named = tables["initiative_partners"].group_by("取組ID").len("名称数")
    both = tables["initiatives"].join(named, on="取組ID", how="left").with_columns(pl.col("名称数").fill_null(0))
    bad = both.filter(pl.col("協定先数").is_null() | (pl.col("協定先数") < pl.col("名称数")))
    return [
        failed(check, "initiatives", f"{_label(r)}: 協定先数 {r['協定先数']} but {r['名称数']} partners are named.",
               label=str(r["取組ID"]), field="協定先数", expected=f">= {r['名称数']}", actual=r["協定先数"])
        for r in bad.iter_rows(named=True)
    ] or [passed(check, "initiatives")]


@check("initiatives.as_of_fits_fiscal_year", "initiatives", TABLES,
       title="時点が資料の年度（当初予算）の時期に合う")
def as_of_fits_fiscal_year(given: Given, check: str) -> list[CheckResult]:
    """時点 and 年度 belong together: a document about 年度 N (April N to March N+1) is an initial-budget
    material, dated from April N-1 (while the budget is drawn up) to March N+1 (while it runs). Either
    one misprinted or misread (a year's digit, an era) puts them apart."""
    dates = given.tables["agreement_counts"]["時点"].drop_nulls().unique().sort()
    out = []
    for table in ("initiatives", "activity_rows"):
        for year in given.tables[table]["年度"].drop_nulls().unique().sort().to_list():
            first, last = f"{year - 1:04d}-04-01", f"{year + 1:04d}-03-31"  # any year: no date is built
            for as_of in dates.to_list():
                if not (year - 1, 4) <= (as_of.year, as_of.month) <= (year + 1, 3):
                    out.append(failed(
                        check, "initiatives",
                        f"{table}: 年度 {year} (April {year} to March {year + 1}) and 時点 {as_of.isoformat()} of "
                        f"agreement_counts do not fit: a budget document of 年度 {year} is dated from {first} to "
                        f"{last}. Check the year of section 1's date and of the headings of sections 2 and 3 "
                        "(年度, 和暦).", label=table, field="年度", expected=f"{first} … {last}",
                        actual=as_of.isoformat()))
    return out or [passed(check, "initiatives")]
