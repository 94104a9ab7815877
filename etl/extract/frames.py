"""What the extract stage hands on: the document's printed values and raw tables, with their lines."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Located:
    """A printed value and the line it was printed on."""

    text: str
    line: int


@dataclass
class Extracted:
    """Everything the document prints, as raw strings with line numbers."""

    title: Located
    material: Located | None
    as_of: dt.date
    headline: Located
    headline_label: str
    programme: Located  # the partnership programme's name (section 1, named again by section 3's heading)
    categories: Located
    count_rows: pl.DataFrame  # 原文行番号, ラベル, 値 (list[str]); the 合計 row last
    partners: pl.DataFrame  # 原文行番号, 名称_原文
    partner_count: Located
    fiscal_years: list[tuple[int, int | None, int]]  # (from era, printed Gregorian, line)
    initiatives: pl.DataFrame
    initiative_lines: pl.DataFrame
    initiative_partners: pl.DataFrame
    amounts: pl.DataFrame  # every 「N千円」 in section 2: 原文行番号, 位置, 原文, 値
    activity_lines: pl.DataFrame
    activity_partners: pl.DataFrame
    activity_fields: pl.DataFrame
    text: str = field(repr=False, default="")
    pages: tuple[int, ...] = field(repr=False, default=())  # a PDF's page of each line; none for a text
