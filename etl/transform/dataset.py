"""What the transform stage hands on: the tidy tables, and the evidence that only the text holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.extract.frames import Extracted


@dataclass
class Best:
    """The arrangements that miss the fewest printed totals, and how many totals that is."""

    tables: list[dict[str, tuple[list[int], list[int | None]]]]  # row → (cells, cells with None where dropped)
    missed: int


@dataclass
class Placement:
    """How each printed row of the count table was put into columns: the evidence that
    `agreement_counts.placement` (etl.validate.checks) reports on."""

    width: int
    refused: list[tuple[str, str, int, int]]  # in row order: ("twice", label, line, first line) or
    #                                           ("too_many", label, line, numbers printed)
    short: list[tuple[str, int, list[int]]]  # rows that lost empty cells: label, line, printed numbers
    best: Best | None  # the best arrangements of the short rows; None when there were too many to try
    columns: list[str] = field(default_factory=list)  # the 相手方区分, when read from a document
    total_line: int | None = None  # the 合計 row
    totals_printed: int | None = None  # how many column totals it prints

    @property
    def unique(self) -> dict[str, tuple[list[int], list[int | None]]] | None:
        """The short rows' cells when exactly one best arrangement exists."""
        return self.best.tables[0] if self.best is not None and len(self.best.tables) == 1 else None


@dataclass
class Evidence:
    """What only the source text can tell: the inputs of the checks that a published release,
    read back from its files, cannot answer."""

    raw: Extracted
    placement: Placement  # where the count table's printed numbers went
    resolved: dict[str, pl.DataFrame]  # table → every partner name printed for it, with its candidates
    amounts: pl.DataFrame  # each 「N千円」 read into an initiative: 原文行番号, 値
    line_breaks: pl.DataFrame | None = None  # each wrap-or-new-item decision of section 2: 取組ID, 原文行番号, 割合


@dataclass
class Dataset:
    """The tidy tables of one edition, plus the evidence that the checks of the text read."""

    tables: dict[str, pl.DataFrame]
    evidence: Evidence | None = None
    as_of: str = ""
    fiscal_year: int | None = None
    title: str = ""
    material: str = ""
    programme: str = ""  # the partnership programme's name, as section 1 prints it (NFKC)
