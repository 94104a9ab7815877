"""Section 2: initiatives, their items and partners, budgets and the checks only the text can answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from etl.shared.normalize import AMOUNT, LEGAL_FORM, NUMBER, normalize_expr
from etl.shared.results import CheckResult, failed, passed
from etl.transform.rejoin import rejoin_items
from etl.transform.resolve import resolution_failures, resolve

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.extract import Extracted

# A line of a multi-line cell without 「・」 bullets ends an item (rather than wrapping) when it
# is clearly shorter than the column: less than this share of the widest line of such cells.
WRAP_RATIO = 0.8


def fiscal_year(raw: Extracted, results: list[CheckResult]) -> int | None:
    """The 年度 all headings agree on (era converted; the printed Gregorian year must match)."""
    check = "initiatives.fiscal_year"
    for era, _, line in raw.fiscal_years:
        if era is None:
            results.append(failed(check, "initiatives", f"line {line}: the 和暦 year of the 年度 is impossible "
                                  "(such as 令和0年度).", label=f"line {line}", expected="a year of the era"))
    years = [y for y in raw.fiscal_years if y[0] is not None]
    bad = [(era, greg, line) for era, greg, line in years if greg is not None and greg != era]
    eras = sorted({era for era, _, _ in years})
    for era, greg, line in bad:
        results.append(failed(check, "initiatives", f"line {line}: {greg}年度 is printed beside a 和暦 "
                              f"year that is {era}.", label=f"line {line}", expected=era, actual=greg))
    if len(eras) > 1:
        results.append(failed(check, "initiatives", "the headings name different 年度: " + ", ".join(
            f"{era} (line {line})" for era, _, line in years), expected=eras[0], actual=eras))
    if not eras:
        results.append(failed(check, "initiatives", "no 年度 (such as 令和５年度) found in sections 2 and 3."))
    if not bad and len(eras) == 1 and len(years) == len(raw.fiscal_years):
        results.append(passed(check, "initiatives"))
    return eras[0] if eras else None


def _amount(expr: pl.Expr) -> pl.Expr:
    return normalize_expr(expr).str.extract(AMOUNT).str.replace_all(",", "").cast(pl.Int64)


def _partner_names(raw: Extracted) -> pl.DataFrame:
    """Section 2 partner cells split into names: one row per name with the line it starts on.

    A name ends at 「、」 or at a line that ends in a legal form after a name (…協同組合), and a
    line that starts with a legal form (株式会社…) starts a name; but a line that is only a legal
    form (公立大学法人 / 福島県立医科大学) is the start of a name wrapped onto the next line.
    """
    text = normalize_expr(pl.col("原文")).str.strip_chars()
    only_form = text.str.contains(f"^{LEGAL_FORM}+$")
    after_form_only = only_form.shift(1).over("取組順").fill_null(False)
    prev = text.shift(1).over("取組順")
    new_line_name = (
        prev.is_null()
        | prev.str.ends_with("、")
        | (prev.str.contains(f"{LEGAL_FORM}$") & ~after_form_only)
        | (text.str.contains(f"^{LEGAL_FORM}") & ~after_form_only)
    )
    pieces = (
        raw.initiative_partners.with_columns(new_line_name.alias("改名"), pl.col("原文").str.split("、").alias("片"))
        .explode("片", keep_nulls=False)
        .with_columns(pl.int_range(pl.len()).over("取組順", "原文行番号").alias("k"))
        .with_columns(((pl.col("k") > 0) | pl.col("改名")).cast(pl.Int64).cum_sum().over("取組順").alias("名前番号"))
    )
    return (
        pieces.filter(pl.col("片").str.strip_chars() != "")
        .group_by("取組順", "名前番号", maintain_order=True)
        .agg(pl.col("片").str.strip_chars().str.join(""), pl.col("原文行番号").first())
        .rename({"片": "協定先名称_原文"})
    )


def initiatives(raw: Extracted, year: int | None) -> pl.DataFrame:
    names = _partner_names(raw)
    group = names.with_columns(
        normalize_expr(pl.col("協定先名称_原文")).str.extract(rf"^({NUMBER})団体$").str.replace_all(",", "")
        .cast(pl.Int64).alias("団体数")
    ).group_by("取組順").agg(
        pl.when(pl.col("団体数").is_not_null().any()).then(pl.col("団体数").max())
        .otherwise(pl.len()).cast(pl.Int64).alias("協定先数")
    )
    return raw.initiatives.join(group, on="取組順", how="left").select(
        pl.col("取組順").alias("取組ID"),
        pl.lit(year, dtype=pl.Int64).alias("年度"),
        normalize_expr(pl.col("分野_原文")).alias("分野"),
        normalize_expr(pl.col("協定名称_原文")).alias("協定名称"),
        "協定先数",
        _amount(pl.col("予算_原文")).alias("予算額_千円"),
        _amount(pl.col("うち額_原文")).alias("うち額_千円"),
        normalize_expr(pl.col("うち_原文")).alias("うち額_内容"),
        normalize_expr(pl.col("備考_原文")).str.strip_prefix("※").str.strip_chars().alias("備考"),
        "原文行番号",
    )


def initiative_items(raw: Extracted) -> pl.DataFrame:
    is_bullet = normalize_expr(pl.col("原文")).str.starts_with("・")
    first = pl.int_range(pl.len()).over("取組順") == 0
    plain = ~is_bullet.any().over("取組順")  # a cell whose items are not marked with 「・」
    # The column's width, measured on the cells the rule applies to: a bullet cell has its own
    # item marks, and one overlong bullet line must not move the threshold for the others.
    widest = raw.initiative_lines.filter(plain)["表示幅"].max() or 0
    short_before = pl.col("表示幅").shift(1).over("取組順") < WRAP_RATIO * widest
    new_item = first | is_bullet | (plain & short_before)
    return rejoin_items(raw.initiative_lines, "取組順", new_item).rename({"取組順": "取組ID"})


def initiative_partners(raw: Extracted, partners: pl.DataFrame, results: list[CheckResult]) -> pl.DataFrame:
    named = _partner_names(raw).filter(
        ~normalize_expr(pl.col("協定先名称_原文")).str.contains(rf"^({NUMBER})団体$")
    )
    resolved = resolve(named, partners)
    results.extend(resolution_failures(resolved, "initiative_partners", required=False))
    return resolved.select(
        pl.col("取組順").alias("取組ID"),
        pl.int_range(1, pl.len() + 1).over("取組順").alias("協定先番号"),
        normalize_expr(pl.col("協定先名称_原文")).alias("協定先名称"),
        "協定先名称_原文",
        "協定先ID",
        "原文行番号",
    )


def check_amounts(raw: Extracted, results: list[CheckResult]) -> None:
    """Every 「N千円」 printed in section 2 is a budget or a sub-amount, exactly once."""
    check = "initiatives.amounts_assigned"
    used = pl.concat([
        raw.initiatives.select(pl.col("予算行").alias("原文行番号"), _amount(pl.col("予算_原文")).alias("値")),
        raw.initiatives.select(pl.col("うち行").alias("原文行番号"), _amount(pl.col("うち額_原文")).alias("値")),
    ]).drop_nulls()
    found = raw.amounts.group_by("原文行番号", "値").agg(pl.len().alias("印字"), pl.col("原文").first())
    tally = found.join(used.group_by("原文行番号", "値").len("割当"), on=["原文行番号", "値"], how="full",
                       coalesce=True).with_columns(pl.col("印字", "割当").fill_null(0))
    for r in tally.filter(pl.col("印字") != pl.col("割当")).sort("原文行番号").iter_rows(named=True):
        what = "is not assigned to any initiative or うち sub-amount" if r["割当"] < r["印字"] else "is used twice"
        text = r["原文"] or f"{r['値']}千円"
        results.append(failed(check, "initiatives", f"「{text}」 on line {r['原文行番号']} {what}.",
                              label=f"line {r['原文行番号']}", expected=r["印字"], actual=r["割当"]))
    if tally.filter(pl.col("印字") != pl.col("割当")).is_empty():
        results.append(passed(check, "initiatives", expected=tally["印字"].sum(), actual=tally["割当"].sum()))


def check_sub_labels(raw: Extracted, results: list[CheckResult]) -> None:
    """One 「※うち…」 per initiative: a second label would silently replace the first."""
    check = "initiatives.sub_amount_within_budget"
    for r in raw.initiatives.filter(pl.col("追加うち行").is_not_null()).iter_rows(named=True):
        results.append(failed(
            check, "initiatives",
            f"取組ID {r['取組順']} 「{r['協定名称_原文']}」 (line {r['原文行番号']}) prints a second 「※うち…」 "
            f"label on line {r['追加うち行']}; only one sub-amount per budget can be read. Check the text.",
            label=str(r["取組順"]), field="うち額_内容", expected=1, actual=2))
