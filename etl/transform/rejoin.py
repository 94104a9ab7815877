"""Rejoining printed lines into items (wrapped cells, 「・」 bullets), shared by sections 2 and 3."""

from __future__ import annotations

import polars as pl

from etl.shared.normalize import normalize_expr


def rejoin_items(lines: pl.DataFrame, by: str, new_item: pl.Expr) -> pl.DataFrame:
    """Rejoin printed lines into items: `new_item` marks a line that starts one.

    The printed pieces are joined first and normalised after, so that a wrap that split a
    character from its half-width sound mark (ｷ / ﾞｰ) still gives ギー.
    """
    piece = pl.col("原文").str.replace(r"^[・･]", "").str.strip_chars()
    return (
        lines.with_columns(new_item.cast(pl.Int64).cum_sum().over(by).alias("項目番号"))
        .group_by(by, "項目番号", maintain_order=True)
        .agg(piece.str.join("").alias("取組内容"), pl.col("原文行番号").first())
        .with_columns(normalize_expr(pl.col("取組内容")).str.strip_chars())
    )
