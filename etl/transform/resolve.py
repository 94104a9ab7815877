"""Resolving a partner name as printed to the one listed partner it means (exact name keys)."""

from __future__ import annotations

import polars as pl

from etl.shared.normalize import name_key_expr


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
