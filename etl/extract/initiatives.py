"""Section 2: the initiatives table (vertical 分野 labels, wrapped cells, budgets, ※ notes)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from etl.errors import LayoutError
from etl.extract.layout import Line, Located, is_amount, is_bullet, paragraphs, table, without_furniture
from etl.shared.normalize import amounts_in, display_width
from etl.shared.normalize import normalize_text as N

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.source.geometry import Ruled

_SUB_AMOUNT = "※うち"
_NOTE = "※"


@dataclass
class _Initiative:
    label: str
    label_line: int
    cells: dict[str, list[Line]] = field(default_factory=dict)
    column: int = -1
    budget: Located | None = None
    sub_label: Located | None = None
    sub_amount: Located | None = None
    note: list[Line] = field(default_factory=list)
    extra_sub_labels: list[int] = field(default_factory=list)
    order: tuple[str, ...] = ()  # the text columns, as the header prints them

    @property
    def first_line(self) -> int:
        lines = [ln[0] for cell in self.cells.values() for ln in cell]
        return min(lines) if lines else self.label_line


# The section's columns, by the headers it prints: a header holding 予算 is the budget's.
_HEADERS = {"分野": "分野", "協定名称": "協定名称", "協定先": "協定先", "取組内容": "取組内容", "…予算": "予算"}
_TEXT = ("協定名称", "協定先", "取組内容")  # the cells read from text, in the order the header prints them


def _text_columns(printed: list[str], line: int) -> tuple[str, ...]:
    """The text columns in the header's order; the label first and the budget last, as the reader
    takes them (a row ends at its budget)."""
    text = tuple(c for c in printed if c in _TEXT)
    if sorted(text) != sorted(_TEXT) or printed[-1] != "予算" or printed.count("予算") != 1 or (
            "分野" in printed and printed[0] != "分野"):
        raise LayoutError(f"section 2's table header prints the columns {'、'.join(printed)}; the extractor reads "
                          f"分野, then {'、'.join(_TEXT)} in any order, then the budget (予算) last.", line)
    return text


def initiatives(s2: list[Line], printed: dict[int, str], ruled: Ruled) -> dict[str, pl.DataFrame]:
    headers, lines, header_line = table(s2, _HEADERS, "section 2")
    order = _text_columns(headers, header_line)
    rows: list[_Initiative] = []
    label_chars: list[Line] = []
    printed = dict(printed)
    for para in without_furniture(paragraphs(lines)):
        if not all(len(N(t)) == 1 for _, t in para):  # a label one character a line is no wrapped cell
            para = ruled.joined(para, is_amount)  # a value its cell's width broke (1,234千 / 円) is one again
            printed.update((n, t) for n, t in para if n in ruled.cells)
        lead, para, tail = _label_runs(para, bool(label_chars), ruled)
        label_chars.extend(lead)  # a vertical 分野 label, one character a line
        if not para:
            continue
        if label_chars:
            rows.append(_Initiative("".join(t for _, t in label_chars), label_chars[0][0], order=order))
            label_chars = []
        if not rows:
            raise LayoutError("section 2: a table row comes before any 分野 label.", para[0][0])
        _read_paragraph(para, rows, printed, ruled)
        label_chars.extend(tail)
    if label_chars:
        raise LayoutError("section 2 ends with a 分野 label but no row under it.", label_chars[0][0])
    if not rows:
        raise LayoutError("section 2 has no rows.", s2[0][0])
    return _initiative_frames(rows, s2, printed, ruled)


def _label_runs(para: list[Line], in_label: bool, ruled: Ruled) -> tuple[list[Line], list[Line], list[Line]]:
    """(label characters before the cells, the cells, label characters after them) of a paragraph.

    A vertical 分野 label is set one character a line, and blank lines usually part it from the cells.
    Without them (a page break, another producer) the label's characters still stand out: two or
    more one-character lines that open a paragraph (or one, when a label is being read), or the
    one-character lines after the row's budget or its ※ note, which end a row. A single
    character after a line of text is the end of a wrapped cell (…推進事 / 業), not a label. A ruled
    table's cell is a paragraph of its own: a label, or not one."""
    if all(len(N(t)) == 1 for _, t in para):
        return para, [], []
    if para[0][0] in ruled.cells:
        return [], para, []
    lead = 0
    while len(N(para[lead][1])) == 1:
        lead += 1
    if lead == 1 and not in_label:
        lead = 0
    end = len(para)
    while end > lead and len(N(para[end - 1][1])) == 1:
        end -= 1
    ended = end < len(para) and (is_amount(para[end - 1][1]) or any(N(t).startswith(_NOTE) for _, t in para[:end]))
    if not ended:  # a row ends at its budget, or with its ※ note
        end = len(para)
    return para[:lead], para[lead:end], para[end:]


def _read_paragraph(para: list[Line], rows: list[_Initiative], printed: dict[int, str], ruled: Ruled) -> None:
    """Assign a paragraph's lines to the cells of the current row (or a new row of the same 分野)."""
    for pos, (n, text) in enumerate(para):
        row = rows[-1]
        if is_amount(text):
            _take_amount(row, Located(printed[n], n))
        elif N(text).startswith(_SUB_AMOUNT):
            if row.sub_label is None:
                row.sub_label = Located(N(text)[len(_SUB_AMOUNT) :], n)
            else:
                row.extra_sub_labels.append(n)  # reported by initiatives.sub_amount_within_budget
        elif N(text).startswith(_NOTE) or (row.note and pos > 0):
            row.note.append((n, text))
        elif pos == 0:
            if _starts_new_row(row, text):
                rows.append(row := _Initiative(row.label, row.label_line, order=row.order))
            _read_cells(row, n, text, first=not is_bullet(text) or row.column < row.order.index("取組内容"),
                        whole=n in ruled.cells)
        else:
            _read_cells(row, n, text, first=False, whole=n in ruled.cells)


def _starts_new_row(row: _Initiative, text: str) -> bool:
    """A new paragraph of text after the budget, or one that would overflow the columns."""
    if row.budget is not None:
        return True
    return row.column >= len(row.order) - 1 and not is_bullet(text)


def _read_cells(row: _Initiative, n: int, text: str, first: bool, whole: bool = False) -> None:
    """Cells on one printed line are separated by spaces; the first continues or opens a cell. A line
    read from a ruled table's cell (`whole`) is that cell's, spaces and all."""
    tokens = [text] if whole else re.sub(r"(\d)\s+千円", r"\1千円", text).split()  # 「1,234 千円」 is one cell
    for i, token in enumerate(tokens):
        if is_amount(token) and i == len(tokens) - 1 and i > 0:
            _take_amount(row, Located(token, n))
            continue
        if (i > 0 or first or row.column < 0) and row.column < len(row.order) - 1:
            row.column += 1
            row.cells[row.order[row.column]] = [(n, token)]
        elif i > 0:  # more tokens than columns: the last cell holds a space
            last = row.cells[row.order[row.column]][-1]
            row.cells[row.order[row.column]][-1] = (last[0], f"{last[1]} {token}")
        else:
            row.cells[row.order[row.column]].append((n, token))


def _take_amount(row: _Initiative, amount: Located) -> None:
    """The first amount of a row is its budget; one after 「※うち…」 is the sub-amount."""
    if row.budget is None:
        row.budget = amount
    elif row.sub_label is not None and row.sub_amount is None:
        row.sub_amount = amount
    # Any further amount is left unassigned; the amounts check reports it.


def _initiative_frames(
    rows: list[_Initiative], s2: list[Line], printed: dict[int, str], ruled: Ruled
) -> dict[str, pl.DataFrame]:
    def cell(r: _Initiative, name: str) -> str | None:
        lines = r.cells.get(name)
        return "".join(t for _, t in lines) if lines else None

    def located(x: Located | None, attr: str) -> str | int | None:
        return getattr(x, attr) if x else None

    initiatives = pl.DataFrame(
        {
            "取組順": list(range(1, len(rows) + 1)),
            "原文行番号": [r.first_line for r in rows],
            "分野_原文": [r.label for r in rows],
            "協定名称_原文": [cell(r, "協定名称") for r in rows],
            "協定先_原文": [cell(r, "協定先") for r in rows],
            "予算_原文": [located(r.budget, "text") for r in rows],
            "予算行": [located(r.budget, "line") for r in rows],
            "うち_原文": [located(r.sub_label, "text") for r in rows],
            "うち額_原文": [located(r.sub_amount, "text") for r in rows],
            "うち行": [located(r.sub_amount, "line") for r in rows],
            "備考_原文": ["".join(t for _, t in r.note) or None for r in rows],
            "追加うち行": [r.extra_sub_labels[0] if r.extra_sub_labels else None for r in rows],
        },
        schema={"取組順": pl.Int64, "原文行番号": pl.Int64, "分野_原文": pl.String, "協定名称_原文": pl.String,
                "協定先_原文": pl.String, "予算_原文": pl.String, "予算行": pl.Int64, "うち_原文": pl.String,
                "うち額_原文": pl.String, "うち行": pl.Int64, "備考_原文": pl.String, "追加うち行": pl.Int64},
    )
    content = [
        (i, n, text, display_width(text), n in ruled.cells)
        for i, r in enumerate(rows, start=1)
        for n, text in r.cells.get("取組内容", [])
    ]
    lines = pl.DataFrame(
        content,
        schema={"取組順": pl.Int64, "原文行番号": pl.Int64, "原文": pl.String, "表示幅": pl.Float64,
                "罫線セル": pl.Boolean},
        orient="row",
    )
    partners = [
        (i, n, text) for i, r in enumerate(rows, start=1) for n, text in r.cells.get("協定先", [])
    ]
    partner_lines = pl.DataFrame(
        partners, schema={"取組順": pl.Int64, "原文行番号": pl.Int64, "原文": pl.String}, orient="row"
    )
    amounts = [(n, pos, text, value) for n, t in ruled.joined(s2, is_amount) for value, pos, text in amounts_in(t)]
    amount_frame = pl.DataFrame(
        amounts, schema={"原文行番号": pl.Int64, "位置": pl.Int64, "原文": pl.String, "値": pl.Int64}, orient="row"
    )
    return {
        "initiatives": initiatives,
        "initiative_lines": lines,
        "initiative_partners": partner_lines,
        "amounts": amount_frame,
    }
