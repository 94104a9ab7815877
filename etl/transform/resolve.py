"""Resolving a partner name as printed to the one listed partner it means (exact name keys)."""

from __future__ import annotations

import polars as pl

from etl.shared.normalize import name_key_expr
from etl.shared.results import CheckResult, failed, passed


def resolve(names: pl.DataFrame, partners: pl.DataFrame) -> pl.DataFrame:
    """Add 協定先ID and the candidate count by exact name key (never substring or prefix)."""
    keyed = partners.select("協定先ID", "協定先名称", name_key_expr(pl.col("協定先名称")).alias("key"))
    candidates = keyed.group_by("key").agg(
        pl.len().alias("候補数"), pl.col("協定先ID").first(), pl.col("協定先名称").str.join("、").alias("候補")
    )
    return names.with_columns(name_key_expr(pl.col("協定先名称_原文")).alias("key")).join(
        candidates, on="key", how="left"
    ).with_columns(
        pl.col("候補数").fill_null(0),
        pl.when(pl.col("候補数") == 1).then(pl.col("協定先ID")).alias("協定先ID"),
    )


def resolution_failures(resolved: pl.DataFrame, table: str, required: bool) -> list[CheckResult]:
    check = f"{table}.partner_resolution"
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
