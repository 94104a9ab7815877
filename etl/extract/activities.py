"""Section 3: activities with the comprehensive partners (分野 labels, partners, 「・」 bullets)."""

from __future__ import annotations

import re

import polars as pl

from etl.errors import LayoutError
from etl.extract.layout import Line, is_bullet, paragraphs, table, without_furniture
from etl.shared.shapes import fits

_PARTNER_AND_BULLET = re.compile(r"^(\S.*?)\s+([・･].*)$")
# The section's columns, by the headers it prints; the reader tells them apart by their layout
# (labels, then partners, then 「・」 items), so they must come in this order.
_HEADERS = {"分野": "分野", "協定締結企業等": "協定締結企業等", "取組内容": "取組内容"}


def activities(s3: list[Line], printed: dict[int, str]) -> dict[str, pl.DataFrame]:
    """Rows of labels, partners and bullets; see `_classify` for how lines are told apart."""
    printed, lines = table(s3, _HEADERS, "section 3")
    if printed != list(_HEADERS.values()):
        raise LayoutError(f"section 3's table header prints the columns {'、'.join(printed)}; the extractor reads "
                          f"{'、'.join(_HEADERS.values())}, in this order.", s3[0][0])
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
            if m:
                if pending:
                    labels = [ln for p in pending for ln in p]
                partners = [(first_n, m[1])]
                para = [(first_n, m[2]), *para[1:]]
            else:
                *label_paras, partner_para = pending
                if label_paras:
                    labels = [ln for p in label_paras for ln in p]
                partners = partner_para
            pending = []
            if not labels:
                raise LayoutError("section 3: a row has no 分野 label above it.", first_n)
            rows.append({"labels": labels, "partners": partners, "bullets": []})
        if not rows:
            raise LayoutError("section 3: a 「・」 item comes before any partner.", first_n)
        rows[-1]["bullets"].extend(para)
    if pending:
        raise LayoutError("section 3 ends with names but no 「・」 items under them.", pending[0][0][0])
    if not rows:
        raise LayoutError("section 3 has no rows: the text is truncated or not the expected document.", s3[0][0])
    return _activity_frames(rows, printed)


def _classify(paras: list[list[Line]]) -> list[tuple[str, list[Line]]]:
    """Split paragraphs into runs: 'standalone' lines, and runs of bullets (with continuations).

    A line starting with 「・」 opens a bullet; a line that follows a bullet line in the same
    paragraph continues it; 「name ・item」 is a partner with its first bullet ('partner'); any
    other line stands alone (a 分野 label or a partner name: decided by what follows it).
    """
    runs: list[tuple[str, list[Line]]] = []
    for k, para in enumerate(paras):
        in_bullets = False
        next_row = k + 1 < len(paras) and not is_bullet(paras[k + 1][0][1])
        for j, (n, text) in enumerate(para):
            if _PARTNER_AND_BULLET.match(text) and not is_bullet(text):
                runs.append(("partner", [(n, text)]))
                in_bullets = True
            elif is_bullet(text) or in_bullets:
                if not is_bullet(text):
                    _check_continuation(para, j, next_row)
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


def _check_continuation(para: list[Line], j: int, next_row: bool) -> None:
    """A line under a 「・」 item continues it, unless a lost blank line may have glued the next row's
    分野 labels to the item (a page break): the line and every line after it read as labels, and a
    row starts right after them (a partner line, or a paragraph that is not 「・」 items). Which
    column such a line belongs to cannot be told, and a guess would publish a label as part of an
    activity (or drop a row's 分野), so the build refuses it."""
    n, text = para[j]
    rest = para[j:]
    partner_at = next((i for i, (_, t) in enumerate(rest) if _PARTNER_AND_BULLET.match(t) and not is_bullet(t)), None)
    labels = rest[:partner_at] if partner_at is not None else rest
    if partner_at is None and not next_row:
        return
    if any(is_bullet(t) for _, t in labels) or not all(fits(t, "field_label") for _, t in labels):
        return
    above = para[j - 1][0]
    raise LayoutError(
        f"section 3: 「{text}」 follows the 「・」 item of line {above} without a blank line, so it would be "
        "read as the end of that item (取組内容), but it reads as a 分野 label of the next row. Which column it "
        "belongs to cannot be told: put a blank line before it if it is a label, or join it to line "
        f"{above} if it is the end of the item.", n)


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
