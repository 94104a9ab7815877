"""Finding the document's sections and tables in its text.

The output is raw: polars frames of printed strings with their source line numbers, so that a
later error can point at the line. Nothing here types, normalises values or checks sums; it only
recognises layout (headings, table rows, wrapped cells, vertical labels, page furniture) and
raises `LayoutError` naming the line when the layout is not the expected one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import polars as pl

from etl.errors import LayoutError
from etl.normalize import NUMBER, amount_only, amounts_in, display_width, fiscal_years, parse_date
from etl.normalize import normalize_text as N
from etl.source import SourceText

Line = tuple[int, str]  # (1-based line number, text stripped of surrounding blanks)

_HEADING = re.compile(r"^([1-9])\s+(\S.*)$")
_COUNT_ROW = re.compile(rf"^(\S+)((?:\s+(?:{NUMBER}))+)$")
_HEADLINE = re.compile(rf"(\S*連携協定数)\s*:\s*({NUMBER})\s*件")
_PARTNER_COUNT = re.compile(rf"【\s*協定先\s*:\s*({NUMBER})\s*団体")
_TOTAL_LABEL = "合計"
_SUB_AMOUNT = "※うち"
_NOTE = "※"
_BULLET = "・"
# Page furniture: printed around the tables but never part of a cell. A paragraph that mentions
# a QR code is a caption for the code's image, whatever its other lines say.
_QR_CAPTION = re.compile(r"QR\s*コード")
_CAPTION_WIDTH = 20  # characters; a table cell that mentions a QR code is longer or has a space
_FURNITURE_LINE = re.compile(r"^(?:単位\s*:.*|\S*年度\s*当初予算関連資料)$")


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


def extract(source: SourceText) -> Extracted:
    """Split the document into its three sections and read every table in them."""
    lines = [(i, t.strip()) for i, t in enumerate(source.lines, start=1)]
    printed = dict(lines)
    s1, s2, s3 = _sections(lines)
    as_of = _as_of(s1[0])
    counts, categories = _count_table(s1)
    partners, partner_count = _partners(s1, printed)
    init = _initiatives(s2, printed)
    act = _activities(s3, printed)
    years = [(era, greg, n) for n, t in (s2[0], s3[0]) for era, greg in fiscal_years(t)]
    years += [(era, greg, n) for n, t in s2[1:] if "当初予算" in N(t) for era, greg in fiscal_years(t)]
    return Extracted(
        title=_title(lines, printed),
        material=_material(lines, printed),
        as_of=as_of,
        headline=(headline := _one(s1, _HEADLINE, "the headline 「他の機関との連携協定数：N件」")),
        headline_label=_HEADLINE.search(N(printed[headline.line]))[1],
        categories=categories,
        count_rows=counts,
        partners=partners,
        partner_count=partner_count,
        fiscal_years=years,
        text="\n".join(source.lines),
        **init,
        **act,
    )


# ── document structure ────────────────────────────────────────────────────────────────────


def _sections(lines: list[Line]) -> tuple[list[Line], list[Line], list[Line]]:
    """The lines of sections 1, 2 and 3, each starting with its numbered heading."""
    starts: dict[int, int] = {}
    for idx, (_, text) in enumerate(lines):
        m = _HEADING.match(N(text))
        if m and int(m[1]) == len(starts) + 1 and len(starts) < 3:
            starts[int(m[1])] = idx
    if len(starts) < 3:
        missing = len(starts) + 1
        raise LayoutError(
            f"section {missing} heading (a line starting 「{missing} 」) not found: the text is "
            "truncated or is not the city's 「他機関との連携協定について」 document."
        )
    a, b, c = starts[1], starts[2], starts[3]
    return lines[a:b], lines[b:c], lines[c:]


def _paragraphs(lines: list[Line]) -> list[list[Line]]:
    """Runs of non-blank lines; a blank line ends a paragraph."""
    paras: list[list[Line]] = [[]]
    for n, text in lines:
        if text:
            paras[-1].append((n, text))
        elif paras[-1]:
            paras.append([])
    return [p for p in paras if p]


def _without_furniture(paras: list[list[Line]]) -> list[list[Line]]:
    """Paragraphs with page furniture (QR captions, running headers, units) removed."""
    kept = []
    for para in paras:
        if _is_qr_caption(para):
            continue
        para = [(n, t) for n, t in para if not _FURNITURE_LINE.match(N(t))]
        if para:
            kept.append(para)
    return kept


def _is_qr_caption(para: list[Line]) -> bool:
    """A short caption beside a QR code: every line a few words, none a cell, bullet or amount."""
    if not any(_QR_CAPTION.search(N(t)) for _, t in para):
        return False
    return all(len(N(t)) <= _CAPTION_WIDTH and " " not in N(t) and not _is_bullet(t) and "千円" not in N(t)
               for _, t in para)


def _title(lines: list[Line], printed: dict[int, str]) -> Located:
    n = next((n for n, t in lines if t), None)
    if n is None:
        raise LayoutError("the document has no text.")
    return Located(printed[n], n)


def _material(lines: list[Line], printed: dict[int, str]) -> Located | None:
    n = next((n for n, t in lines if re.fullmatch(r"\S*年度\s*当初予算関連資料", N(t))), None)
    return Located(printed[n], n) if n else None


def _one(lines: list[Line], pattern: re.Pattern[str], what: str) -> Located:
    found = [Located(m[m.lastindex].replace(",", ""), n) for n, t in lines if (m := pattern.search(N(t)))]
    if len(found) != 1:
        where = ", ".join(str(f.line) for f in found) or "nowhere"
        raise LayoutError(f"expected {what} once in section 1, found it {len(found)} times ({where}).")
    return found[0]


def _as_of(heading: Line) -> dt.date:
    as_of = parse_date(heading[1])
    if as_of is None:
        raise LayoutError(
            "section 1 heading has no valid as-of date such as （2023年２月10日現在）.", heading[0]
        )
    return as_of


# ── section 1: counts and the partner list ────────────────────────────────────────────────


def _count_table(s1: list[Line]) -> tuple[pl.DataFrame, Located]:
    """The count rows (label, numbers as printed) up to the 合計 row, and the category header."""
    totals = [i for i, (_, t) in enumerate(s1) if (m := _COUNT_ROW.match(N(t))) and m[1] == _TOTAL_LABEL]
    if len(totals) != 1:
        raise LayoutError(f"section 1 must have exactly one 「{_TOTAL_LABEL}」 row; found {len(totals)}.")
    rows: list[tuple[int, str, list[str]]] = []
    idx = totals[0]
    header = None
    while idx >= 0:
        n, text = s1[idx][0], N(s1[idx][1])
        idx -= 1
        if not text:
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


def _partners(s1: list[Line], printed: dict[int, str]) -> tuple[pl.DataFrame, Located]:
    """The names in the paragraph just above 【協定先:N団体】, one per line."""
    count = _one(s1, _PARTNER_COUNT, "the partner count 【協定先:N団体】")
    above = [(n, t) for n, t in s1 if n < count.line]
    paras = _paragraphs(above)
    names = [(n, t) for n, t in (paras[-1] if paras else []) if not _HEADLINE.search(N(t))]
    if not names:
        raise LayoutError("no partner names above 【協定先:N団体】.", count.line)
    frame = pl.DataFrame(
        {"原文行番号": [n for n, _ in names], "名称_原文": [printed[n] for n, _ in names]},
        schema={"原文行番号": pl.Int64, "名称_原文": pl.String},
    )
    return frame, count


# ── section 2: initiatives and budgets ────────────────────────────────────────────────────


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

    @property
    def first_line(self) -> int:
        lines = [ln[0] for cell in self.cells.values() for ln in cell]
        return min(lines) if lines else self.label_line


_COLUMNS = ("協定名称", "協定先", "取組内容")


def _body(section: list[Line]) -> list[Line]:
    """The lines after a table's header paragraph (the paragraph holding 「取組内容」)."""
    paras = _paragraphs(section[1:])
    for i, para in enumerate(paras):
        if any("取組内容" in N(t) for _, t in para):
            return [ln for p in paras[i + 1 :] for ln in p + [(0, "")]]
    raise LayoutError("table header with 「取組内容」 not found.", section[0][0])


def _initiatives(s2: list[Line], printed: dict[int, str]) -> dict[str, pl.DataFrame]:
    rows: list[_Initiative] = []
    label_chars: list[Line] = []
    for para in _without_furniture(_paragraphs(_body(s2))):
        if all(len(N(t)) == 1 for _, t in para):
            label_chars.extend(para)  # a vertical 分野 label, one character a line
            continue
        if label_chars:
            rows.append(_Initiative("".join(t for _, t in label_chars), label_chars[0][0]))
            label_chars = []
        if not rows:
            raise LayoutError("section 2: a table row comes before any 分野 label.", para[0][0])
        _read_paragraph(para, rows, printed)
    if label_chars:
        raise LayoutError("section 2 ends with a 分野 label but no row under it.", label_chars[0][0])
    if not rows:
        raise LayoutError("section 2 has no rows.", s2[0][0])
    return _initiative_frames(rows, s2, printed)


def _read_paragraph(para: list[Line], rows: list[_Initiative], printed: dict[int, str]) -> None:
    """Assign a paragraph's lines to the cells of the current row (or a new row of the same 分野)."""
    for pos, (n, text) in enumerate(para):
        row = rows[-1]
        if _is_amount(text):
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
                rows.append(row := _Initiative(row.label, row.label_line))
            _read_cells(row, n, text, first=not _is_bullet(text) or row.column < 2)
        else:
            _read_cells(row, n, text, first=False)


def _starts_new_row(row: _Initiative, text: str) -> bool:
    """A new paragraph of text after the budget, or one that would overflow the columns."""
    if row.budget is not None:
        return True
    return row.column >= len(_COLUMNS) - 1 and not _is_bullet(text)


def _read_cells(row: _Initiative, n: int, text: str, first: bool) -> None:
    """Cells on one printed line are separated by spaces; the first continues or opens a cell."""
    tokens = re.sub(r"(\d)\s+千円", r"\1千円", text).split()  # 「1,234 千円」 is one cell
    for i, token in enumerate(tokens):
        if _is_amount(token) and i == len(tokens) - 1 and i > 0:
            _take_amount(row, Located(token, n))
            continue
        if (i > 0 or first or row.column < 0) and row.column < len(_COLUMNS) - 1:
            row.column += 1
            row.cells[_COLUMNS[row.column]] = [(n, token)]
        elif i > 0:  # more tokens than columns: the last cell holds a space
            last = row.cells[_COLUMNS[row.column]][-1]
            row.cells[_COLUMNS[row.column]][-1] = (last[0], f"{last[1]} {token}")
        else:
            row.cells[_COLUMNS[row.column]].append((n, token))


def _is_amount(text: str) -> bool:
    return amount_only(text) is not None


def _is_bullet(text: str) -> bool:
    return N(text).startswith(_BULLET)


def _take_amount(row: _Initiative, amount: Located) -> None:
    """The first amount of a row is its budget; one after 「※うち…」 is the sub-amount."""
    if row.budget is None:
        row.budget = amount
    elif row.sub_label is not None and row.sub_amount is None:
        row.sub_amount = amount
    # Any further amount is left unassigned; the amounts check reports it.


def _initiative_frames(
    rows: list[_Initiative], s2: list[Line], printed: dict[int, str]
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
        (i, n, text, display_width(text))
        for i, r in enumerate(rows, start=1)
        for n, text in r.cells.get("取組内容", [])
    ]
    lines = pl.DataFrame(
        content,
        schema={"取組順": pl.Int64, "原文行番号": pl.Int64, "原文": pl.String, "表示幅": pl.Float64},
        orient="row",
    )
    partners = [
        (i, n, text) for i, r in enumerate(rows, start=1) for n, text in r.cells.get("協定先", [])
    ]
    partner_lines = pl.DataFrame(
        partners, schema={"取組順": pl.Int64, "原文行番号": pl.Int64, "原文": pl.String}, orient="row"
    )
    amounts = [(n, pos, text, value) for n, t in s2 for value, pos, text in amounts_in(t)]
    amount_frame = pl.DataFrame(
        amounts, schema={"原文行番号": pl.Int64, "位置": pl.Int64, "原文": pl.String, "値": pl.Int64}, orient="row"
    )
    return {
        "initiatives": initiatives,
        "initiative_lines": lines,
        "initiative_partners": partner_lines,
        "amounts": amount_frame,
    }


# ── section 3: activities with the comprehensive partners ─────────────────────────────────

_PARTNER_AND_BULLET = re.compile(r"^(\S.*?)\s+([・･].*)$")


def _activities(s3: list[Line], printed: dict[int, str]) -> dict[str, pl.DataFrame]:
    """Rows of labels, partners and bullets; see `_classify` for how lines are told apart."""
    rows: list[dict[str, list[Line]]] = []
    labels: list[Line] = []
    pending: list[list[Line]] = []  # paragraphs of standalone lines not yet known as labels/partners
    for kind, para in _classify(_without_furniture(_paragraphs(_body(s3)))):
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
    for para in paras:
        in_bullets = False
        for n, text in para:
            if _PARTNER_AND_BULLET.match(text) and not _is_bullet(text):
                runs.append(("partner", [(n, text)]))
                in_bullets = True
            elif _is_bullet(text) or in_bullets:
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
