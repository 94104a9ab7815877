"""Section 1: the count table in long form, its printed totals, and the partner list."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl

from etl.shared.normalize import normalize_expr
from etl.transform.dataset import Best, Placement

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.extract.frames import Extracted

# Placing dropped cells tries every arrangement; beyond this many the table is refused.
MAX_PLACEMENTS = 100_000


def agreement_counts(raw: Extracted) -> tuple[pl.DataFrame, pl.DataFrame, Placement]:
    """The count table in long form, the totals it prints, and where its dropped cells were put."""
    categories = raw.categories.text.split()
    rows = raw.count_rows.with_columns(
        pl.col("値").list.eval(pl.element().str.replace_all(",", "").cast(pl.Int64))
    )
    body, total = rows.head(-1), rows.tail(1)
    col_totals = total["値"].list.slice(1).item().to_list()
    total_line = total["原文行番号"].item()
    printed = zip(body["ラベル"], body["原文行番号"], body["値"].list.slice(1).to_list(), strict=True)
    complete = len(col_totals) == len(categories)  # a column total missing: no arrangement can be scored
    placed, placement = place_cells(list(printed), len(categories), col_totals if complete else None)
    placement = replace(placement, columns=categories, total_line=total_line, totals_printed=len(col_totals))
    cells = (
        pl.DataFrame({"協定種別": list(placed), "値": list(placed.values())},
                     schema={"協定種別": pl.String, "値": pl.List(pl.Int64)})
        .with_row_index("行順")
        .with_columns(pl.col("値").list.to_struct(fields=categories))
        .unnest("値")
        .unpivot(index=["行順", "協定種別"], variable_name="相手方区分", value_name="協定数")
        .sort("行順", pl.col("相手方区分").cast(pl.Enum(categories)))
        .with_columns(pl.lit(raw.as_of).alias("時点"))
    )
    return cells, _printed_totals(raw, body, total, categories), placement


def place_cells(
    rows: list[tuple[str, int, list[int]]],
    width: int,
    col_totals: list[int] | None,
) -> tuple[dict[str, list[int]], Placement]:
    """Put each row's printed numbers into columns; dropped (empty) cells become 0.

    A row with fewer numbers than columns lost its empty cells in the text. It is placed by the
    arrangement that misses the fewest printed totals; when one total is misprinted, that keeps
    the table right and leaves the misprint to its own check, which names both numbers. With
    several equally good arrangements, none at all, or too many to try, those rows are left out;
    the Placement says which rows went where, and why the others did not.
    """
    placed: dict[str, list[int]] = {}
    short: list[tuple[str, int, list[int]]] = []
    refused: list[tuple[str, str, int, int]] = []
    seen: dict[str, int] = {}
    for label, line, values in rows:
        if label in seen:
            refused.append(("twice", label, line, seen[label]))
            continue
        seen[label] = line
        if len(values) > width:
            refused.append(("too_many", label, line, len(values)))
        elif len(values) == width:
            placed[label] = list(values)
        else:
            short.append((label, line, values))
    best = _best_arrangements(short, width, placed, col_totals) if short else Best([], 0)
    placement = Placement(width, refused, short, best)
    if short and placement.unique is not None:
        placed.update({label: cells for label, (cells, _) in placement.unique.items()})
        placed = {label: placed[label] for label in seen if label in placed}
    return placed, placement


def _best_arrangements(short, width, placed, col_totals) -> Best | None:
    """Every arrangement of the short rows, scored by the printed totals it misses.

    Of the printed totals only the column totals depend on where a row's numbers go: a row's
    協定数, the grand total and the headline are sums over whole rows, the same for every
    arrangement. So the score is the number of columns whose sum differs from its printed 合計.
    """
    if col_totals is None:
        return Best([], width)
    options = [list(itertools.combinations(range(width), len(v))) for _, _, v in short]
    if math.prod(len(o) for o in options) > MAX_PLACEMENTS:
        return None
    fixed = [sum(r[j] for r in placed.values()) for j in range(width)]
    # Keyed by the resulting cells: two arrangements that give the same table (a printed 0
    # that could sit in either empty column) are one answer, not an ambiguity.
    found: dict[tuple, dict[str, tuple[list[int], list[int | None]]]] = {}
    fewest = width + 1
    for combo in itertools.product(*options):
        filled = {}
        sums = list(fixed)
        for (label, _, values), cols in zip(short, combo):
            row: list[int | None] = [None] * width
            for col, v in zip(cols, values):
                row[col] = v
                sums[col] += v
            filled[label] = ([v or 0 for v in row], row)
        missed = sum(s != t for s, t in zip(sums, col_totals))
        if missed < fewest:
            fewest, found = missed, {}
        if missed == fewest:
            found.setdefault(tuple(tuple(cells) for cells, _ in filled.values()), filled)
    return Best(list(found.values()), fewest)


def _printed_totals(raw: Extracted, body: pl.DataFrame, total: pl.DataFrame, categories: list[str]) -> pl.DataFrame:
    """Every total the document prints, one row each, so that anyone can re-check the sums."""
    def block(table: str, axis: str, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(pl.lit(table).alias("対象表"), pl.lit(axis).alias("集計軸"),
                            pl.col("区分"), pl.col("印字値").cast(pl.Int64), pl.col("原文行番号").cast(pl.Int64))

    first = pl.col("値").list.first().alias("印字値")
    columns = (total.select(pl.col("値").list.slice(1).alias("印字値"), "原文行番号").explode("印字値")
               .with_row_index("j").join(pl.DataFrame({"区分": categories}).with_row_index("j"), on="j"))
    scalars = pl.DataFrame({
        "区分": [raw.headline_label, "協定先"],
        "印字値": [int(raw.headline.text), int(raw.partner_count.text)],
        "原文行番号": [raw.headline.line, raw.partner_count.line],
    })
    return pl.concat([
        block("agreement_counts", "協定種別", body.select(pl.col("ラベル").alias("区分"), first, "原文行番号")),
        block("agreement_counts", "相手方区分", columns),
        block("agreement_counts", "総数", total.select(pl.col("ラベル").alias("区分"), first, "原文行番号")),
        block("agreement_counts", "見出し総数", scalars.head(1)),
        block("partnership_partners", "団体数", scalars.tail(1)),
    ])


def partnership_partners(raw: Extracted) -> pl.DataFrame:
    return raw.partners.with_row_index("協定先ID", offset=1).select(
        pl.col("協定先ID").cast(pl.Int64),
        normalize_expr(pl.col("名称_原文")).alias("協定先名称"),
        pl.col("名称_原文").alias("協定先名称_原文"),
        "原文行番号",
    )
