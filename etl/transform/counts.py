"""Section 1: the count table in long form, its printed totals, and the partner list."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from etl.shared.normalize import normalize_expr
from etl.shared.results import CheckResult, failed, passed

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.extract import Extracted

# Placing dropped cells tries every arrangement; beyond this many the table is refused.
MAX_PLACEMENTS = 100_000


def agreement_counts(raw: Extracted, results: list[CheckResult]) -> tuple[pl.DataFrame, pl.DataFrame]:
    categories = raw.categories.text.split()
    rows = raw.count_rows.with_columns(
        pl.col("値").list.eval(pl.element().str.replace_all(",", "").cast(pl.Int64))
    )
    body, total = rows.head(-1), rows.tail(1)
    col_totals = total["値"].list.slice(1).item().to_list()
    total_line = total["原文行番号"].item()
    if len(col_totals) != len(categories):
        results.append(failed(
            "agreement_counts.placement", "agreement_counts",
            f"合計 row (line {total_line}) prints {len(col_totals)} column totals for "
            f"{len(categories)} 相手方区分 ({' '.join(categories)}); every column total must be printed.",
            label="合計", expected=len(categories), actual=len(col_totals)))
        col_totals = None
    printed = zip(body["ラベル"], body["原文行番号"], body["値"].list.slice(1).to_list(), strict=True)
    placed = place_cells(list(printed), len(categories), col_totals, results)
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
    return cells, _printed_totals(raw, body, total, categories)


def place_cells(
    rows: list[tuple[str, int, list[int]]],
    width: int,
    col_totals: list[int] | None,
    results: list[CheckResult],
) -> dict[str, list[int]]:
    """Put each row's printed numbers into columns; dropped (empty) cells become 0.

    A row with fewer numbers than columns lost its empty cells in the text. It is placed by the
    arrangement that misses the fewest printed totals; when one total is misprinted, that keeps
    the table right and leaves the misprint to its own check, which names both numbers. Several
    equally good arrangements, none at all, or too many to try fail `agreement_counts.placement`
    and leave those rows out. Each placed row is reported with its cells (None = dropped).
    """
    placed: dict[str, list[int]] = {}
    short: list[tuple[str, int, list[int]]] = []
    seen: dict[str, int] = {}
    for label, line, values in rows:
        if label in seen:
            results.append(failed(
                "agreement_counts.placement", "agreement_counts",
                f"{label} row is printed twice (lines {seen[label]} and {line}); the second is left out.",
                label=label, line=line, expected=1, actual=2))
            continue
        seen[label] = line
        if len(values) > width:
            results.append(failed(
                "agreement_counts.placement", "agreement_counts",
                f"{label} row (line {line}) prints {len(values)} numbers for {width} 相手方区分.",
                label=label, line=line, expected=width, actual=len(values)))
        elif len(values) == width:
            placed[label] = list(values)
        else:
            short.append((label, line, values))
    if not short:
        results.append(passed("agreement_counts.placement", "agreement_counts"))
        return placed
    best = _best_arrangements(short, width, placed, col_totals)
    if best is not None and len(best.tables) == 1:
        (table,) = best.tables
        placed.update({label: cells for label, (cells, _) in table.items()})
        for label, line, values in short:
            results.append(CheckResult(
                "agreement_counts.placement", "agreement_counts", True, label=label, line=line,
                expected=values, actual=table[label][1], message=_placed_note(best.missed)))
        return {label: placed[label] for label in seen if label in placed}
    for label, line, values in short:
        results.append(failed(
            "agreement_counts.placement", "agreement_counts",
            _placement_message(label, line, values, width, best),
            label=label, line=line, expected="exactly one best arrangement",
            actual="too many to try" if best is None else len(best.tables)))
    return placed


@dataclass
class _Best:
    """The arrangements that miss the fewest printed totals, and how many totals that is."""

    tables: list[dict[str, tuple[list[int], list[int | None]]]]  # row → (cells, cells with None where dropped)
    missed: int


def _best_arrangements(short, width, placed, col_totals) -> _Best | None:
    """Every arrangement of the short rows, scored by the printed totals it misses.

    Of the printed totals only the column totals depend on where a row's numbers go: a row's
    協定数, the grand total and the headline are sums over whole rows, the same for every
    arrangement. So the score is the number of columns whose sum differs from its printed 合計.
    """
    if col_totals is None:
        return _Best([], width)
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
    return _Best(list(found.values()), fewest)


def _placed_note(missed: int) -> str:
    if not missed:
        return "the only arrangement whose columns add up to every printed 合計"
    return (f"the only arrangement that misses just {missed} printed column total(s); "
            "agreement_counts.column_totals names it")


def _placement_message(label, line, values, width, best: _Best | None) -> str:
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
