"""Section 2: initiatives, their items and partners, and the amounts read into them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from etl.shared.normalize import AMOUNT, LEGAL_FORM, NUMBER, normalize_expr
from etl.transform.rejoin import rejoin_items
from etl.transform.resolve import resolve

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.extract.frames import Extracted

# A line of a multi-line cell without 「・」 bullets ends an item (rather than wrapping) when it
# is clearly shorter than the column: less than this share of the widest line of such cells. A
# line whose share lies within WRAP_MARGIN of it cannot be told apart (initiative_items.line_breaks).
# A PDF's ruled table needs no such rule: its cells' lines are known to wrap or to end (罫線セル).
WRAP_RATIO = 0.8
WRAP_MARGIN = 0.05


def fiscal_year(raw: Extracted) -> int | None:
    """The 年度 of the headings (era converted); when they disagree, `initiatives.fiscal_year`
    (etl.validate.checks) fails and this is the lowest of them."""
    eras = sorted({era for era, _, _ in raw.fiscal_years if era is not None})
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
    short_before = _share_before() < WRAP_RATIO * _widest(raw)
    # a ruled table's cell says where its lines break (its width's breaks were joined in extract)
    new_item = first | is_bullet | (plain & (pl.col("罫線セル") | short_before))
    return rejoin_items(raw.initiative_lines, "取組順", new_item).rename({"取組順": "取組ID"})


def _widest(raw: Extracted) -> float:
    """The column's width, measured on the cells the wrap rule applies to: a bullet cell has its own
    item marks, and one overlong bullet line must not move the threshold for the others."""
    plain = ~normalize_expr(pl.col("原文")).str.starts_with("・").any().over("取組順")
    return raw.initiative_lines.filter(plain & ~pl.col("罫線セル"))["表示幅"].max() or 0


def _share_before() -> pl.Expr:
    return pl.col("表示幅").shift(1).over("取組順")


def line_breaks(raw: Extracted) -> pl.DataFrame:
    """Each decision of the wrap rule: a line of a plain multi-line cell after another, with the share of
    the column the line before it fills (取組ID, 原文行番号 of that line, 割合), and the rule's threshold
    and margin (閾値, 余裕): see WRAP_RATIO."""
    widest = _widest(raw) or 1
    plain = ~normalize_expr(pl.col("原文")).str.starts_with("・").any().over("取組順")
    return (raw.initiative_lines.with_columns(plain.alias("plain"), (_share_before() / widest).alias("割合"),
                                              pl.col("原文行番号").shift(1).over("取組順").alias("前の行"))
            .filter(pl.col("plain") & pl.col("割合").is_not_null() & ~pl.col("罫線セル"))
            .select(pl.col("取組順").alias("取組ID"), pl.col("前の行").alias("原文行番号"), "割合",
                    pl.lit(WRAP_RATIO).alias("閾値"), pl.lit(WRAP_MARGIN).alias("余裕")))


def initiative_partners(raw: Extracted, partners: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The partners named for each initiative, and every name with the listed partners it matches."""
    named = _partner_names(raw).filter(
        ~normalize_expr(pl.col("協定先名称_原文")).str.contains(rf"^({NUMBER})団体$")
    )
    resolved = resolve(named, partners)
    return resolved.select(
        pl.col("取組順").alias("取組ID"),
        pl.int_range(1, pl.len() + 1).over("取組順").alias("協定先番号"),
        normalize_expr(pl.col("協定先名称_原文")).alias("協定先名称"),
        "協定先名称_原文",
        "協定先ID",
        "原文行番号",
    ), resolved


def assigned_amounts(raw: Extracted) -> pl.DataFrame:
    """Each 「N千円」 read into an initiative, as a budget or a うち sub-amount: 原文行番号, 値."""
    return pl.concat([
        raw.initiatives.select(pl.col("予算行").alias("原文行番号"), _amount(pl.col("予算_原文")).alias("値")),
        raw.initiatives.select(pl.col("うち行").alias("原文行番号"), _amount(pl.col("うち額_原文")).alias("値")),
    ]).drop_nulls()
