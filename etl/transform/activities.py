"""Section 3: activities, the printed rows they belong to, and the rows' partners and 分野."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from etl.shared.normalize import normalize_expr
from etl.transform.rejoin import rejoin_items
from etl.transform.resolve import resolve

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.extract.frames import Extracted


def activities(raw: Extracted, partners: pl.DataFrame, year: int | None
               ) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Section 3: one row per 「・」 activity; partners and 分野 belong to the printed row. Also every
    partner name printed there, with the listed partners it matches."""
    is_bullet = normalize_expr(pl.col("原文")).str.starts_with("・")
    first = pl.int_range(pl.len()).over("掲載行番号") == 0
    items = rejoin_items(raw.activity_lines, "掲載行番号", first | is_bullet).with_row_index("活動ID", offset=1)
    activities = items.select(
        pl.col("活動ID").cast(pl.Int64), pl.lit(year, dtype=pl.Int64).alias("年度"),
        "掲載行番号", "取組内容", "原文行番号",
    )
    rows = raw.activity_partners.group_by("掲載行番号", maintain_order=True).agg(pl.col("原文行番号").min()).join(
        activities.group_by("掲載行番号").len("取組数"), on="掲載行番号", how="left"
    ).with_columns(pl.lit(year, dtype=pl.Int64).alias("年度"), pl.col("取組数").cast(pl.Int64))
    resolved = resolve(raw.activity_partners.rename({"名称_原文": "協定先名称_原文"}), partners)
    fields = raw.activity_fields.with_columns(normalize_expr(pl.col("分野_原文")).alias("分野"))
    return {
        "activity_rows": rows,
        "partnership_activities": activities,
        "activity_partners": resolved.filter(pl.col("協定先ID").is_not_null()),
        "activity_fields": fields,
    }, resolved
