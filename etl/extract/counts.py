"""Section 1: the count table (協定種別 × 相手方区分 with printed totals) and the partner list."""

from __future__ import annotations

import re

import polars as pl

from etl.errors import LayoutError
from etl.extract.layout import Line, Located, is_furniture, one, paragraphs
from etl.shared.normalize import NUMBER
from etl.shared.normalize import normalize_text as N

_COUNT_ROW = re.compile(rf"^(\S+)((?:\s+(?:{NUMBER}))+)$")
HEADLINE = re.compile(rf"(\S*連携協定数)\s*:\s*({NUMBER})\s*件")
_PARTNER_COUNT = re.compile(rf"【\s*協定先\s*:\s*({NUMBER})\s*団体")
_TOTAL_LABEL = "合計"


def count_table(s1: list[Line], page_starts: frozenset[int] = frozenset()) -> tuple[pl.DataFrame, Located]:
    """The count rows (label, numbers as printed) up to the 合計 row, and the category header (a PDF's
    page break inside the table, and the running header it prints, aside)."""
    totals = [i for i, (_, t) in enumerate(s1) if (m := _COUNT_ROW.match(N(t))) and m[1] == _TOTAL_LABEL]
    if len(totals) != 1:
        raise LayoutError(f"section 1 must have exactly one 「{_TOTAL_LABEL}」 row; found {len(totals)}.")
    rows: list[tuple[int, str, list[str]]] = []
    idx = totals[0]
    header = None
    while idx >= 0:
        n, text = s1[idx][0], N(s1[idx][1])
        idx -= 1
        if not text or (n in page_starts and is_furniture(text)):
            continue
        m = _COUNT_ROW.match(text)
        if m:
            rows.append((n, m[1], m[2].split()))
            continue
        if re.search(r"\d", text):
            raise LayoutError(f"count table row 「{text}」 has a value that is not a whole number.", n)
        header = Located(text, n)
        break
    if header is None or len(rows) < 2:
        raise LayoutError("the count table's header (相手方区分: 官 民 …) and rows were not found.")
    rows.reverse()
    frame = pl.DataFrame(
        {"原文行番号": [r[0] for r in rows], "ラベル": [r[1] for r in rows], "値": [r[2] for r in rows]},
        schema={"原文行番号": pl.Int64, "ラベル": pl.String, "値": pl.List(pl.String)},
    )
    return frame, header


def _across_page_breaks(lines: list[Line], page_starts: frozenset[int]) -> list[Line]:
    """The lines without the page breaks inside a paragraph: a PDF's running header that opens a page
    right under a line (the last of the page before), with the blank lines under it, falls between two
    parts of one list."""
    out: list[Line] = []
    skipping = False
    for n, text in lines:
        if n in page_starts and text and is_furniture(text) and out and out[-1][1]:
            skipping = True
            continue
        if skipping and not text:
            continue
        skipping = False
        out.append((n, text))
    return out


def partner_list(s1: list[Line], printed: dict[int, str],
                 page_starts: frozenset[int] = frozenset()) -> tuple[pl.DataFrame, Located]:
    """The names in the paragraph just above 【協定先:N団体】, one per line (a page break may cut it)."""
    count = one(s1, _PARTNER_COUNT, "the partner count 【協定先:N団体】")
    above = _across_page_breaks([(n, t) for n, t in s1 if n < count.line], page_starts)
    paras = paragraphs(above)
    names = [(n, t) for n, t in (paras[-1] if paras else []) if not HEADLINE.search(N(t))]
    if not names:
        raise LayoutError("no partner names above 【協定先:N団体】.", count.line)
    frame = pl.DataFrame(
        {"原文行番号": [n for n, _ in names], "名称_原文": [printed[n] for n, _ in names]},
        schema={"原文行番号": pl.Int64, "名称_原文": pl.String},
    )
    return frame, count
