"""Layout of the document's text: numbered sections, paragraphs, page furniture, header rows.

Shared by the section readers; knows nothing of what the tables mean.
"""

from __future__ import annotations

import datetime as dt
import re

from etl.errors import LayoutError
from etl.extract.frames import Located
from etl.shared.normalize import amount_only, parse_date
from etl.shared.normalize import normalize_text as N
from etl.shared.schemas import package_metadata

Line = tuple[int, str]  # (1-based line number, text stripped of surrounding blanks)


BULLET = "・"
# Page furniture: printed around the tables but never part of a cell. A short paragraph that
# mentions a QR code is the caption of the code's image (see _is_qr_caption).
_QR_CAPTION = re.compile(r"QR\s*コード")
_CAPTION_WIDTH = 20  # characters; a table cell that mentions a QR code is longer or has a space
_CAPTION_MARGIN = 3  # a line this near _CAPTION_WIDTH cannot be told: caption or cell
_FURNITURE_LINE = re.compile(r"^(?:単位\s*:.*|\S*年度\s*当初予算関連資料)$")


# The sections the extractor reads, by a phrase their headings hold (after NFKC). A heading is a
# line that starts with a number, a space and words: 「２ 2025（令和７）年度に予定されている…」.
SECTIONS = ("連携協定の状況", "連携協定に基づく主な取組", "締結企業等との主な取組")
_NUMBERED = re.compile(r"^([0-9]{1,2})\s+(?=.*[\u3040-\u30ff\u4e00-\u9fff].*[\u3040-\u30ff\u4e00-\u9fff])(?!.*千円)(\S.*)$")


def sections(lines: list[Line]) -> tuple[list[Line], list[Line], list[Line]]:
    """The lines of sections 1, 2 and 3, each starting with its numbered heading.

    Sections are found by their headings, in order. A numbered heading the extractor does not know
    (a section 4, or a section 2 about something else) is refused: its lines would otherwise be
    read into the table above it. A heading the page's width wrapped onto the line under it (a PDF
    printed on a narrower page) is one heading, on its first line."""
    starts: list[int] = []
    lines = list(lines)
    for idx, (n, text) in enumerate(lines):
        m = _NUMBERED.match(N(text))
        if not m:
            continue
        number, words = int(m[1]), m[2]
        if number != len(starts) + 1:
            continue  # not the next heading: a line such as 「9 月までに…」 in a cell
        below = lines[idx + 1] if idx + 1 < len(lines) else (0, "")
        if number <= len(SECTIONS) and SECTIONS[number - 1] not in words and below[1] \
                and SECTIONS[number - 1] in words + N(below[1]):
            words += N(below[1])
            lines[idx], lines[idx + 1] = (n, text + below[1]), (below[0], "")
        if number <= len(SECTIONS) and SECTIONS[number - 1] in words:
            starts.append(idx)
        elif starts:
            raise LayoutError(_unknown_heading(number, text, len(starts)), n)
    if len(starts) < len(SECTIONS):
        missing = len(starts) + 1
        printed = chr(ord("０") + missing)  # the document numbers its sections in full-width digits
        raise LayoutError(
            f"section {missing} heading (a line starting 「{printed}」 that names 「{SECTIONS[missing - 1]}」) "
            f"not found: the text is cut short or is not the source document of "
            f"「{package_metadata()['title']}」."
        )
    a, b, c = starts
    return lines[a:b], lines[b:c], lines[c:]


def _unknown_heading(number: int, text: str, found: int) -> str:
    known = "; ".join(f"{i} 「…{phrase}…」" for i, phrase in enumerate(SECTIONS, start=1))
    if number > len(SECTIONS):
        what = f"a section {number} 「{text}」, which the extractor does not know"
    else:
        what = f"section {number}'s heading 「{text}」 does not name 「{SECTIONS[number - 1]}」"
    return (f"{what}. The extractor reads these sections only: {known}. Its lines would be read into "
            "the table above it, so the document is refused; a new section needs the extractor to learn it.")


def paragraphs(lines: list[Line]) -> list[list[Line]]:
    """Runs of non-blank lines; a blank line ends a paragraph."""
    paras: list[list[Line]] = [[]]
    for n, text in lines:
        if text:
            paras[-1].append((n, text))
        elif paras[-1]:
            paras.append([])
    return [p for p in paras if p]


def without_furniture(paras: list[list[Line]]) -> list[list[Line]]:
    """Paragraphs with page furniture (QR captions, running headers, units) removed."""
    kept = []
    for para in paras:
        for part in _without_qr_captions(para):
            part = [(n, t) for n, t in part if not is_furniture(t)]
            if part:
                kept.append(part)
    return kept


def _without_qr_captions(para: list[Line]) -> list[list[Line]]:
    """The paragraph without the QR captions it holds, as the runs of lines around them.

    A caption is a few short lines beside a QR code, one of which mentions it. It is a paragraph of
    its own, which is dropped. When the blank line after it is lost (a page break), the caption
    opens the paragraph of the next cell: its lines up to the one mentioning the QR code are cut
    off, as the paragraph break they stood for. A caption elsewhere in a paragraph (after a cell's
    lines) cannot be told from the end of that cell, and is refused rather than guessed."""
    for line in para:
        _check_caption_width(line)
    if all(_is_caption_line(t) for _, t in para):
        return [] if any(_QR_CAPTION.search(N(t)) for _, t in para) else [para]
    qr = [i for i, (_, t) in enumerate(para) if _QR_CAPTION.search(N(t)) and _is_caption_line(t)]
    if not qr:
        return [para]
    if all(_is_caption_line(t) for _, t in para[: qr[0] + 1]) and len(qr) == 1:
        return [para[qr[0] + 1 :]]
    n, text = para[qr[-1]]
    raise LayoutError(f"「{text}」 reads as the caption of a QR code, but it follows the lines of a cell without a "
                      "blank line, so which lines are the caption cannot be told. Put a blank line before the "
                      "caption.", n)


def _check_caption_width(line: Line) -> None:
    """A line that mentions a QR code and is nearly as long as a caption may be (_CAPTION_WIDTH) could be
    either a caption (dropped) or a cell (kept); the reader refuses it rather than guess."""
    n, text = line
    t = N(text)
    if _QR_CAPTION.search(t) and " " not in t and not is_bullet(t) and abs(len(t) - _CAPTION_WIDTH) <= _CAPTION_MARGIN:
        raise LayoutError(
            f"「{text}」 mentions a QR code and is {len(t)} characters long, too near the {_CAPTION_WIDTH} of a "
            "caption beside a QR code (dropped as page furniture) to tell it from a table cell (kept). Check "
            "the source: a caption is a few words on lines of their own.", n)


def _is_caption_line(text: str) -> bool:
    """A few words beside a QR code: not a cell (a cell that mentions a QR code is longer or has a
    space), a bullet or an amount."""
    t = N(text)
    return len(t) <= _CAPTION_WIDTH and " " not in t and not is_bullet(t) and "千円" not in t


def title(lines: list[Line], printed: dict[int, str]) -> Located:
    n = next((n for n, t in lines if t), None)
    if n is None:
        raise LayoutError("the document has no text.")
    return Located(printed[n], n)


def material(lines: list[Line], printed: dict[int, str]) -> Located | None:
    n = next((n for n, t in lines if re.fullmatch(r"\S*年度\s*当初予算関連資料", N(t))), None)
    return Located(printed[n], n) if n else None


def programme(s1: list[Line], s3_heading: Line, printed: dict[int, str]) -> Located:
    """The partnership programme's name: the line of section 1 (a box's title) that section 3's heading
    names again (「…年度に予定されている<name>締結企業等との主な取組」)."""
    heading = N(s3_heading[1])
    found = [(n, t) for n, t in s1[1:] if len(N(t)) >= 4 and " " not in N(t) and N(t) in heading]
    if len(found) != 1:
        where = ", ".join(str(n) for n, _ in found) or "nowhere"
        raise LayoutError(f"section 3's heading 「{s3_heading[1]}」 names a programme that section 1 should print "
                          f"on a line of its own, once; found such a line {len(found)} times ({where}).", s3_heading[0])
    return Located(printed[found[0][0]], found[0][0])


def one(lines: list[Line], pattern: re.Pattern[str], what: str) -> Located:
    found = [Located(m[m.lastindex].replace(",", ""), n) for n, t in lines if (m := pattern.search(N(t)))]
    if len(found) != 1:
        where = ", ".join(str(f.line) for f in found) or "nowhere"
        raise LayoutError(f"expected {what} once in section 1, found it {len(found)} times ({where}).")
    return found[0]


def as_of_date(heading: Line) -> dt.date:
    as_of = parse_date(heading[1])
    if as_of is None:
        raise LayoutError(
            "section 1 heading has no valid as-of date such as （2025年４月１日現在）.", heading[0]
        )
    return as_of


def table(section: list[Line], known: dict[str, str], what: str) -> tuple[list[str], list[Line], int]:
    """A table's columns as its header row prints them (left to right), the lines of its body, and the
    line of the header row.

    The header is the paragraph holding 「取組内容」, with any vertical header above it (分 / 野, one
    character a line), or, as a ruled table is read cell by cell, the run of paragraphs around it that
    each print one known header (a header cell's lines, 令和５年度 / 当初予算 / 関連予算, are one
    header). `known` maps a printed header, or a word it holds (「…予算」), to the column the reader
    fills. A header the reader does not know is refused, naming it: its values would be merged into a
    neighbouring column. Where a blank line around the header is lost, the header's lines still stand
    out: they are the lines that hold a known header."""
    paras = paragraphs(section[1:])
    i = next((i for i, p in enumerate(paras) if any("取組内容" in N(t) for _, t in p)), None)
    if i is None:
        raise LayoutError("table header with 「取組内容」 not found.", section[0][0])
    first, last = i, i
    while first > 0 and _header_cell(paras[first - 1], known):
        first -= 1
    while last + 1 < len(paras) and _header_cell(paras[last + 1], known) and _header_cell(paras[last], known):
        last += 1
    cells = [(p[0][0], "".join(N(t) for _, t in p)) for p in paras[first:i]] if first < i else []
    above = [ln for p in paras[:first] if all(len(N(t)) == 1 for _, t in p) for ln in p] if not cells else []
    lines = paras[i] if last == i else [(p[0][0], "".join(N(t) for _, t in p)) for p in paras[i : last + 1]]
    while lines and len(N(lines[0][1])) == 1:
        above, lines = [*above, lines[0]], lines[1:]
    printed: list[Line] = [(above[0][0], "".join(N(t) for _, t in above))] if above else []
    printed += cells
    end = 0
    while end < len(lines) and any(_column(token, known) for token in N(lines[end][1]).split()):
        printed += [(lines[end][0], token) for token in N(lines[end][1]).split()]
        end += 1
    out: list[str] = []
    previous = None
    for n, token in printed:
        column = _column(token, known)
        if column is None:
            names = "、".join(dict.fromkeys(known.values()))
            raise LayoutError(f"{what}'s table has a column 「{token}」 that the extractor does not know (it reads "
                              f"{names}). Its values would be merged into a neighbouring column, so the document "
                              "is refused; a new column needs the extractor to learn it.", n)
        if not out or out[-1] != column or previous == n:  # a header wrapped onto two lines (…当初予算 / 関連予算)
            out.append(column)
        previous = n
    rest = [lines[end:]] if lines[end:] and last == i else []
    header_line = lines[0][0] if lines else paras[i][0][0]
    return out, [ln for p in rest + paras[last + 1 :] for ln in p + [(0, "")]], header_line


def _header_cell(para: list[Line], known: dict[str, str]) -> bool:
    """Whether a paragraph is one header cell of a table read cell by cell: its lines, joined, are a
    header the reader knows (分 / 野 is 分野, 令和５年度 / 当初予算 / 関連予算 a budget's)."""
    joined = "".join(N(t) for _, t in para)
    if " " in joined:
        return False
    return joined in known or any(w.startswith("…") and joined.endswith(w[1:]) for w in known)


def _column(token: str, known: dict[str, str]) -> str | None:
    if token in known:
        return known[token]
    return next((c for word, c in known.items() if word.startswith("…") and word[1:] in token), None)


def is_furniture(text: str) -> bool:
    """A running header or a unit line: printed around the tables, never part of them."""
    return bool(_FURNITURE_LINE.match(N(text)))


def is_amount(text: str) -> bool:
    return amount_only(text) is not None


def is_bullet(text: str) -> bool:
    return N(text).startswith(BULLET)
