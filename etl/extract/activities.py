"""Section 3: activities with the comprehensive partners (分野 labels, partners, 「・」 bullets)."""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING

import polars as pl

from etl.errors import LayoutError
from etl.extract.layout import Line, is_bullet, paragraphs, table, without_furniture

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.source.geometry import Ruled

_PARTNER_AND_BULLET = re.compile(r"^(\S.*?)\s+([・･].*)$")
# The section's columns, by the headers it prints; the reader tells them apart by their layout
# (labels, then partners, then 「・」 items), so they must come in this order.
_HEADERS = {"分野": "分野", "協定締結企業等": "協定締結企業等", "取組内容": "取組内容"}


def activities(s3: list[Line], printed: dict[int, str], ruled: Ruled) -> dict[str, pl.DataFrame]:
    """Rows of labels, partners and bullets; see `_classify` for how lines are told apart."""
    headers, lines, header_line = table(s3, _HEADERS, "section 3")
    if headers != list(_HEADERS.values()):
        raise LayoutError(f"section 3's table header prints the columns {'、'.join(headers) or 'none'}; the "
                          f"extractor reads {'、'.join(_HEADERS.values())}, in this order.", header_line)
    rows: list[dict[str, list[Line]]] = []
    labels: list[Line] = []
    pending: list[list[Line]] = []  # paragraphs of standalone lines not yet known as labels/partners
    for kind, para in _classify(without_furniture(paragraphs(lines))):
        if kind == "standalone":
            pending.append(para)
            continue
        first_n, first = para[0]
        m = _PARTNER_AND_BULLET.match(first) if kind == "partner" else None
        if m or pending:
            own = pending[:-1] if not m else pending  # the paragraphs above the row's partner: its labels
            if own:
                labels = [ln for p in own for ln in p]
            if m:
                partners = [(first_n, m[1])]
                para = [(first_n, m[2]), *para[1:]]
            else:
                partners = pending[-1]
            pending = []
            if not labels:
                raise LayoutError("section 3: a row has no 分野 label above it.", first_n)
            if not own and rows and partners[0][0] not in ruled.tables:  # a ruled table draws its cells apart
                _check_carried(rows[-1]["bullets"][-1], partners[0])
            rows.append({"labels": labels, "partners": partners, "bullets": []})
        if not rows:
            raise LayoutError("section 3: a 「・」 item comes before any partner.", first_n)
        rows[-1]["bullets"].extend(para)
    if pending:
        raise LayoutError("section 3 ends with names but no 「・」 items under them.", pending[0][0][0])
    if not rows:
        raise LayoutError("section 3 has no rows: the text is truncated or not the expected document.", s3[0][0])
    for r in rows:
        _one_a_line(r["labels"], ruled, "分野 label")
        _one_a_line(r["partners"], ruled, "partner (協定締結企業等)")
    return _activity_frames([{k: ruled.joined(v) for k, v in r.items()} for r in rows], printed)


def _one_a_line(lines: list[Line], ruled: Ruled, what: str) -> None:
    """A 分野 or partner cell prints one value a line. A line that fills its cell may go on in the line
    under it (a value the cell's width broke) or be followed by a value of its own, and which cannot be
    told: refused, rather than two values joined or one split."""
    for (n, text), (m, below) in itertools.pairwise(lines):
        if m in ruled.wrapped:
            raise LayoutError(
                f"section 3: the {what} 「{text}」 (line {n}) fills the width of its cell, so whether 「{below}」 "
                f"(line {m}) goes on with it or is one of its own cannot be told. Build the text of the PDF "
                "instead, with one value a line.", n)


def _classify(paras: list[list[Line]]) -> list[tuple[str, list[Line]]]:
    """Split paragraphs into runs: 'standalone' lines, and runs of bullets (with continuations).

    A line starting with 「・」 opens a bullet; a line that follows a bullet line in the same
    paragraph continues it; 「name ・item」 is a partner with its first bullet ('partner'); any
    other line stands alone (a 分野 label or a partner name: decided by what follows it).
    """
    runs: list[tuple[str, list[Line]]] = []
    for para in paras:
        in_bullets = False
        for n, text in para:
            if _PARTNER_AND_BULLET.match(text) and not is_bullet(text):
                runs.append(("partner", [(n, text)]))
                in_bullets = True
            elif is_bullet(text) or in_bullets:
                if runs and runs[-1][0] in ("partner", "bullets") and in_bullets:
                    runs[-1][1].append((n, text))
                else:
                    runs.append(("bullets", [(n, text)]))
                in_bullets = True
            elif runs and runs[-1][0] == "standalone" and runs[-1][1][-1][0] in {
                ln for ln, _ in para
            }:
                runs[-1][1].append((n, text))
            else:
                runs.append(("standalone", [(n, text)]))
    return runs


def _check_carried(last: Line, partner: Line) -> None:
    """A row with no 分野 label of its own shares the labels of the row above, unless the item above it
    ends with a line that continues it: a lost blank line that glued the row's labels to that item
    reads exactly so, and which it is cannot be told, so the build refuses it."""
    if not is_bullet(last[1]):
        raise LayoutError(
            f"section 3: the row of 「{partner[1]}」 (line {partner[0]}) has no 分野 label of its own, and the "
            f"「・」 item above it ends with 「{last[1]}」 (line {last[0]}), a line without its own 「・」. A 分野 "
            "label glued to that item by a lost blank line reads so too (as the end of the item, 取組内容). Put a "
            "blank line before the label if it is one, or join the line to its item if the row shares the "
            "labels of the row above.", last[0])


def _activity_frames(rows: list[dict[str, list[Line]]], printed: dict[int, str]) -> dict[str, pl.DataFrame]:
    def frame(key: str, cols: list[str]) -> pl.DataFrame:
        data = [(i, n, text) for i, r in enumerate(rows, start=1) for n, text in r[key]]
        schema = {"掲載行番号": pl.Int64, "原文行番号": pl.Int64, cols[0]: pl.String}
        return pl.DataFrame(data, schema=schema, orient="row")

    return {
        "activity_lines": frame("bullets", ["原文"]),
        "activity_partners": frame("partners", ["名称_原文"]),
        "activity_fields": frame("labels", ["分野_原文"]),
    }
