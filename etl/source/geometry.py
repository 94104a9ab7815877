"""A PDF page's characters and ruled tables → the document's numbered lines, as its text shows them.

The section readers read text: numbered lines, a blank line between paragraphs, a table row on one line
with its cells parted by a space, or a table cell by cell, each cell a paragraph. This module turns a
page into exactly that, whatever produced the PDF:

- **Outside ruled tables**, a row is the characters on one baseline, ordered by x. A space glyph, or a
  gap of at least `SPACE_GAP` font sizes, is a space (a word space, or the gap between two cells of
  a table printed without rules); a gap within `SPACE_MARGIN` of it is refused, not guessed.
- **A ruled table** (cells drawn as boxes: lines or rectangles, as Word, Excel and HTML engines print
  them; found by pdfplumber's table finder) is read cell by cell, from its boxes. A table of figures
  (under its header, a label and numbers a row, one line a cell) is printed row by row, one line a row
  with its cells parted by spaces; any other table cell by cell, each cell a paragraph of its printed
  lines, in column order, a row after the row above it. A cell spanning several rows (a 分野 label
  set one character a line) is read once, at its first row. Where a cell's line ends because the
  cell's width ended it, the line after it is recorded as *wrapped*, so that the readers need not
  guess (see `Page.wrapped`).
- **Page breaks.** A table that continues on the next page repeats its header there; those rows are
  the header rows of the table it continues, and are read once. A cell a page break left open at the
  table's foot takes the text right under it in its column.
- A vertical gap of k line pitches between two rows is k-1 blank lines; a table is a paragraph of its
  own (a blank line before and after it).
"""

from __future__ import annotations

import itertools
import re
import statistics
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from etl.errors import SourceError
from etl.shared.patterns import NUMBER

Char = dict[str, Any]  # a pdfplumber character: text, x0, x1, top, bottom, size
Box = tuple[float, float, float, float]  # x0, top, x1, bottom (points from the page's top left)

SPACE_GAP = 0.15  # font sizes of horizontal white space that read as a space (a space glyph is 0.2–0.5)
# Between a full-width character and a Latin letter or digit, typesetters add space of their own (JIS X
# 4051's 四分アキ: a quarter em in Word and Typst, an eighth in Chromium), which is no word space.
MIXED_SPACE_GAP = 0.45
# A gap this near either threshold cannot be told (letter spacing or a narrow space): refused, not guessed.
SPACE_MARGIN = 0.05
# Characters that may not start a line (禁則): a line that ends short of its cell's edge because the
# next character and one of these were carried over together was still ended by the width.
_NO_START = set("、。，．,.)）」』】〕〉》ー々ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶｧｨｩｪｫｯｬｭｮｰﾞﾟ・：；:;!?！？")


_NO_END = set("「『（(【〔〈《［[｛{“‘")
_MARKS = set("・･※▶")  # no line-breaking rule (禁則) lets a wrapped line start with one of these


Line = tuple[int, str]  # (1-based line number, text)


@dataclass(frozen=True)
class Ruled:
    """What a PDF's geometry says of its lines (nothing, for a text).

    A ruled table's cell is a paragraph of its own and its line breaks are the document's own or the
    cell's width's, so the readers need not guess them from the text: `cells` holds every line read
    from a cell, `wrapped` those that continue the line above because the cell's width ended it there,
    `tables` every line of a ruled table (a table of figures' rows too), where no blank line can have
    been lost, and `page_starts` the first line of each page but the first."""

    cells: frozenset[int] = frozenset()
    wrapped: frozenset[int] = frozenset()
    tables: frozenset[int] = frozenset()
    page_starts: frozenset[int] = frozenset()

    def joined(self, lines: list[Line], whole: Callable[[str], bool] = lambda text: False) -> list[Line]:
        """The lines with each wrapped line joined to the one above it (a name or an item the cell's
        width broke is one line again, on the line it starts), but for a line that is a value of its own
        (`whole`: an amount that a line ending short of the cell's edge by less than its width is
        followed by)."""
        out: list[Line] = []
        for n, text in lines:
            if n in self.wrapped and out and not whole(text):
                out[-1] = (out[-1][0], out[-1][1] + text)
            else:
                out.append((n, text))
        return out


@dataclass
class Cell:
    box: Box
    lines: list[tuple[float, str, list[Char]]]  # (top, text, characters) of each printed line


@dataclass
class Table:
    box: Box
    rows: list[list[Cell]]  # each row's cells that start in it, left to right (empty cells included)

    def row_texts(self) -> list[tuple[str, ...]]:
        return [tuple(" ".join(t for _, t, _ in c.lines) for c in row) for row in self.rows]

    @property
    def figures(self) -> bool:
        """Whether the table is one of figures: under its header rows (which hold no number), each row a
        label and numbers, every cell one line (as the count table is)."""
        def number(t: str) -> bool:
            return re.fullmatch(NUMBER, unicodedata.normalize("NFKC", t)) is not None

        body = list(itertools.dropwhile(lambda r: not any(number(t) for t in r), self.row_texts()))
        return bool(body) and all(len(c.lines) <= 1 for row in self.rows for c in row) and all(
            all(not t or number(t) for t in r[1:]) for r in body)


@dataclass
class Page:
    """A page's lines, and what the geometry says about them."""

    lines: list[str] = field(default_factory=list)
    # indexes of lines read from a ruled table's cell, of those that continue the one above (the cell's
    # width ended it), of every line of a ruled table: Ruled, once numbered
    cells: set[int] = field(default_factory=set)
    wrapped: set[int] = field(default_factory=set)
    tables: set[int] = field(default_factory=set)


# ── rows of characters ──────────────────────────────────────────────────────────────────────


def rows(chars: Iterable[Char]) -> list[list[Char]]:
    """The characters (spaces included) grouped by baseline, top to bottom, each row by x."""
    ordered = sorted((c for c in chars if c.get("size", 0) > 0 and c["text"]), key=lambda c: (c["top"], c["x0"]))
    out: list[list[Char]] = []
    for c in ordered:
        if c["text"].isspace() and not (out and abs(c["top"] - out[-1][0]["top"]) <= 0.5 * out[-1][0]["size"]):
            continue  # a space that opens a row stands for nothing
        if out and abs(c["top"] - out[-1][0]["top"]) <= 0.5 * max(out[-1][0]["size"], c["size"]):
            out[-1].append(c)
        else:
            out.append([c])
    return [sorted(r, key=lambda c: c["x0"]) for r in out if any(not c["text"].isspace() for c in r)]


def text(row: Sequence[Char], name: str = "", page: int = 0) -> str:
    """A row's text: its visible characters by x, a space where a space glyph or a space's width parts two."""
    visible = [c for c in row if not c["text"].isspace()]
    spaces = [c for c in row if c["text"].isspace()]
    out = [visible[0]["text"]]
    for prev, c in itertools.pairwise(visible):
        glyph = any(prev["x0"] < (s["x0"] + s["x1"]) / 2 < c["x1"] for s in spaces)
        gap = (c["x0"] - prev["x1"]) / max(prev["size"], c["size"])
        least = MIXED_SPACE_GAP if _mixed(prev["text"], c["text"]) else SPACE_GAP
        if not glyph and abs(gap - least) < SPACE_MARGIN:
            line = "".join(ch["text"] for ch in visible)
            raise SourceError(
                f"{name}, page {page}: in the row 「{line[:60]}」 the gap between 「{prev['text']}」 and "
                f"「{c['text']}」 is {gap:.2f} font sizes, too near the {least} of a space there to say "
                "whether it is one. "
                "Build the text of the PDF instead, and check that row.")
        if glyph or gap > least:
            out.append(" ")
        out.append(c["text"])
    return "".join(out)


def _mixed(a: str, b: str) -> bool:
    """Whether two neighbours are a Japanese character (full-width, or half-width katakana) and a Latin letter
    or digit, in either order."""
    def latin(ch: str) -> bool:  # full-width letters and digits (ＳＯＳ, ２) are Latin all the same
        flat = unicodedata.normalize("NFKC", ch[:1])
        return flat.isascii() and flat.isalnum()

    def japanese(ch: str) -> bool:  # half-width katakana too
        return not latin(ch) and unicodedata.east_asian_width(ch[:1]) in "WFH"

    return (japanese(a) and latin(b)) or (latin(a) and japanese(b))


def pitch(all_rows: Iterable[Sequence[float]]) -> float:
    """The line pitch: the most common distance between two consecutive rows of a page, among the
    shortest ones (a document where blank lines are as common as text still has the text's pitch
    between two lines of one paragraph; only that shortest distance says what one line is)."""
    gaps = [g for tops in all_rows for a, b in itertools.pairwise(tops) if (g := round(b - a, 1)) > 0]
    if not gaps:
        return 1.0
    return statistics.mode(g for g in gaps if g < 1.5 * min(gaps)) or 1.0


# ── ruled tables ────────────────────────────────────────────────────────────────────────────


Found = tuple[Box, list[list[Box | None]]]  # a table as pdfplumber finds it: its box, each row's cells


def found_tables(page: Any) -> list[Found]:
    """The tables pdfplumber's table finder sees on a page (from the lines and rectangles drawn)."""
    return [(tuple(t.bbox), [list(row.cells) for row in t.rows]) for t in page.find_tables()]


def tables(found: Iterable[Found], chars: list[Char], name: str, page: int) -> tuple[list[Table], list[Char]]:
    """The ruled tables of a page, and the characters outside them.

    A ruled table has at least two rows and two columns of cells, and nothing printed beside it: text
    on its rows' baselines outside its rules means the rules are not the whole of what the rows hold
    (boxes drawn round some cells of a text's rows), and those rows are read by their baselines. A cell
    left open at the table's foot (one spanning rows across a page break) takes the text below it."""
    out: list[Table] = []
    placed: set[int] = set()
    for box, cells in found:
        if len(cells) < 2 or max((sum(b is not None for b in r) for r in cells), default=0) < 2:
            continue  # a box round a paragraph, or boxes stacked one per row: no table to read by its cells
        table = Table(box, [[Cell(b, []) for b in r if b is not None] for r in cells])
        free = [c for c in chars if id(c) not in placed and not c["text"].isspace()]
        if any(box[1] < (c["top"] + c["bottom"]) / 2 < box[3] and not _centre_in(c, box) for c in free):
            continue
        _open_cells(table, free)
        for cell in (c for r in table.rows for c in r):
            mine = [c for c in chars if id(c) not in placed and _centre_in(c, cell.box)]
            placed.update(id(c) for c in mine)
            cell.lines = [(r[0]["top"], text(r, name, page), r) for r in rows(mine)]
        lost = [c for c in free if id(c) not in placed and _centre_in(c, table.box)]
        if lost:
            raise SourceError(
                f"{name}, page {page}: 「{''.join(c['text'] for c in lost)[:40]}」 is printed inside a ruled table but "
                "in none of its cells (a cell whose rules are not all drawn), so which row and column it belongs to "
                "cannot be told. Build the text of the PDF instead, and check that table.")
        table.rows = [r for r in table.rows if r]
        out.append(table)
    return out, [c for c in chars if id(c) not in placed]


def _open_cells(table: Table, free: list[Char]) -> None:
    """Close the cells a page break left open at the table's foot.

    A cell spanning rows that a page break cuts has no rule under it on this page, so the table finder
    sees no cell there; its text (a 分野 label centred in the whole span) may even stand below the
    table's last rule. Such a column of the last row, covered by no cell, becomes a cell from the cell
    above it down to the text under the table that lies within that column."""
    cells = [c for r in table.rows for c in r]
    edges = sorted({x for c in cells for x in (c.box[0], c.box[2])})
    last = table.rows[-1]
    y = (min(c.box[1] for c in last) + table.box[3]) / 2
    slots = [(a, b) for a, b in itertools.pairwise(edges)
             if b - a > 1 and not any(c.box[0] <= (a + b) / 2 <= c.box[2] and c.box[1] <= y <= c.box[3] for c in cells)]
    bottom = table.box[3]
    for a, b in _merged(slots):
        above = [c.box[3] for c in cells if c.box[0] <= (a + b) / 2 <= c.box[2] and c.box[3] <= y]
        top = max(above, default=table.box[1])
        below = sorted((c for c in free if (c["top"] + c["bottom"]) / 2 > table.box[3]), key=lambda c: c["top"])
        end = table.box[3]
        for c in below:  # the cell's text goes on right under the rule, a line after a line
            if not a <= (c["x0"] + c["x1"]) / 2 <= b or c["top"] - end > 2 * c["size"]:
                break
            end = c["bottom"] + 0.5
        cell = Cell((a, top, b, end), [])
        start = next((r for r in table.rows if min(c.box[1] for c in r) >= top - 1), last)
        start.append(cell)
        start.sort(key=lambda c: c.box[0])
        bottom = max(bottom, end)
    table.box = (table.box[0], table.box[1], table.box[2], bottom)


def _merged(slots: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in slots:
        if out and abs(out[-1][1] - a) < 1:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _centre_in(c: Char, box: Box) -> bool:
    x, y = (c["x0"] + c["x1"]) / 2, (c["top"] + c["bottom"]) / 2
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _padding(table: Table) -> float:
    """The space between a cell's border and its text, as the table's left-aligned cells show it."""
    pads = [line[2][0]["x0"] - c.box[0] for r in table.rows for c in r for line in c.lines]
    return max(0.0, min(pads, default=0.0))


def wrapped_by_width(cell: Cell, pad: float) -> list[bool]:
    """For each line of a cell after the first: whether the cell's width ended the line above it (the
    line's first character, or word, with the letter spacing it is set with, would not have fitted in
    the room the line above leaves: at its right for left-aligned text, whatever its indent, at its left
    for right-aligned text, on both sides for centred text)."""
    lines = [[c for c in line if not c["text"].isspace()] for _, _, line in cell.lines]
    left, right = cell.box[0] + pad, cell.box[2] - pad
    slack = [(line[0]["x0"] - left, right - line[-1]["x1"]) for line in lines]
    align = _alignment(slack)
    out = []
    for (lead_room, tail_room), above, below in zip(slack, lines, lines[1:]):
        if not below or below[0]["text"] in _MARKS:  # a bullet or a note opens a line of its own
            out.append(False)
            continue
        spacing = _spacing(above)
        room = {"left": tail_room, "right": lead_room, "centre": lead_room + tail_room}[align] - spacing
        need = sum(c["x1"] - c["x0"] + spacing for c in _unit(below))
        out.append(room < need + 0.1)  # points: the engine measures in its own units, rounded
    return out


def _alignment(slack: list[tuple[float, float]]) -> str:
    """How a cell sets its lines: flush right, centred, or (the rest, indents included) flush left."""
    if all(abs(right) < 1 for _, right in slack) and any(left > 1 for left, _ in slack):
        return "right"
    if all(abs(left - right) < 1 for left, right in slack) and any(left > 1 for left, _ in slack):
        return "centre"
    return "left"


def _spacing(line: list[Char]) -> float:
    """The letter spacing a line is set with: the usual space between one character's box and the next."""
    gaps = [max(0.0, b["x0"] - a["x1"]) for a, b in itertools.pairwise(line)]
    return statistics.median(gaps) if gaps else 0.0


def _unit(line: list[Char]) -> list[Char]:
    """What a line break could not have split at the start of a line: a Latin word, or a character with
    the characters that may not start a line after it (ギー」), and after one that may not end a line
    (「, （) the character it opens."""
    if line[0]["text"].isascii() and line[0]["text"].isalnum():
        return list(itertools.takewhile(lambda c: c["text"].isascii() and c["text"].strip(), line))
    end = 2 if line[0]["text"] in _NO_END and len(line) > 1 else 1
    while end < len(line) and line[end]["text"] in _NO_START:
        end += 1
    return line[:end]


def repeated_header(table: Table, header: list[tuple[str, ...]]) -> int:
    """How many leading rows of a table that opens a page repeat the header rows of the table before
    it: a table continued on a new page prints its header again."""
    texts = table.row_texts()
    n = 0
    while n < min(len(texts), len(header)) and texts[n] == header[n] and n < len(texts) - 1:
        n += 1
    return n


# ── a page's lines ──────────────────────────────────────────────────────────────────────────


@dataclass
class Layout:
    """What a page holds: rows of characters outside ruled tables, and the ruled tables."""

    rows: list[list[Char]]
    tables: list[Table]

    def runs(self) -> list[list[float]]:
        """The tops of consecutive lines: the rows outside tables, and each cell's lines (side by side,
        cells set their lines on baselines of their own, so rows across a table tell no pitch)."""
        cells = [[y for y, _, _ in c.lines] for t in self.tables for r in t.rows for c in r]
        return [[r[0]["top"] for r in self.rows], *cells]

    @property
    def first(self) -> float | None:
        return min((run[0] for run in self.runs() if run), default=None)


def layout(chars: list[Char], found: Iterable[Found], name: str = "", page: int = 0) -> Layout:
    ruled, loose = tables(found, chars, name, page)
    return Layout(rows(loose), ruled)


def page_lines(page: Layout, line_pitch: float, top: float, state: dict[str, Any], name: str = "",
               number: int = 0) -> Page:
    """The page's lines in reading order: rows outside tables and tables, top to bottom.

    `top` is the highest first line of any page (a page whose first row sits k pitches lower starts
    with k blank lines); `state` carries the header of the last table across pages."""
    pieces: list[tuple[float, Any]] = [(r[0]["top"], r) for r in page.rows] + [(t.box[1], t) for t in page.tables]
    pieces.sort(key=lambda p: p[0])
    out = Page()
    previous: float | None = None  # the top of the row above, or where the table above ended
    for index, (y, piece) in enumerate(pieces):
        if isinstance(piece, Table):
            first = not any(isinstance(p, Table) for _, p in pieces[:index])
            skip = repeated_header(piece, state.get("header", [])) if first else 0
            if not skip:
                state["header"] = piece.row_texts()[:3]
            _blank(out, 1 if previous is not None else max(0, round((y - top) / line_pitch)))
            _table(out, piece, skip, line_pitch)
            previous = piece.box[3]
            _blank(out, 1)
            continue
        gap = (y - top) if previous is None else (y - previous)
        _blank(out, max(0, round(gap / line_pitch) - (0 if previous is None else 1)))
        out.lines.append(text(piece, name, number))
        previous = y
    while out.lines and not out.lines[-1]:
        out.lines.pop()
    return out


def _blank(out: Page, count: int) -> None:
    out.lines += [""] * count


def _table(out: Page, table: Table, skip: int, line_pitch: float) -> None:
    """A table's rows after the `skip` repeated header rows: one line a row for a table of figures (as a
    text prints one: a label and its numbers), else each cell a paragraph."""
    if table.figures:
        for row in table.rows[skip:]:
            out.tables.add(len(out.lines))
            out.lines.append(" ".join(c.lines[0][1] for c in row if c.lines))
        return
    pad = _padding(table)
    for row in table.rows[skip:]:
        for cell in (c for c in row if c.lines):
            wraps = [False, *wrapped_by_width(cell, pad)]
            for k, ((y, line, _), wrap) in enumerate(zip(cell.lines, wraps, strict=True)):
                if k:  # an empty line's worth of space inside a cell is a blank line, as in the text
                    _blank(out, max(0, int((y - cell.lines[k - 1][0]) / line_pitch + 0.1) - 1))
                if wrap:
                    out.wrapped.add(len(out.lines))
                out.cells.add(len(out.lines))
                out.tables.add(len(out.lines))
                out.lines.append(line)
            _blank(out, 1)
