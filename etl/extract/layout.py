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
_HEADING = re.compile(r"^([1-9])\s+(\S.*)$")
BULLET = "・"
# Page furniture: printed around the tables but never part of a cell. A short paragraph that
# mentions a QR code is the caption of the code's image (see _is_qr_caption).
_QR_CAPTION = re.compile(r"QR\s*コード")
_CAPTION_WIDTH = 20  # characters; a table cell that mentions a QR code is longer or has a space
_FURNITURE_LINE = re.compile(r"^(?:単位\s*:.*|\S*年度\s*当初予算関連資料)$")


def sections(lines: list[Line]) -> tuple[list[Line], list[Line], list[Line]]:
    """The lines of sections 1, 2 and 3, each starting with its numbered heading."""
    starts: dict[int, int] = {}
    for idx, (_, text) in enumerate(lines):
        m = _HEADING.match(N(text))
        if m and int(m[1]) == len(starts) + 1 and len(starts) < 3:
            starts[int(m[1])] = idx
    if len(starts) < 3:
        missing = len(starts) + 1
        printed = chr(ord("０") + missing)  # the document numbers its sections in full-width digits
        raise LayoutError(
            f"section {missing} heading (a line starting 「{printed}」) not found: the text is cut short "
            f"or is not the source document of 「{package_metadata()['title']}」."
        )
    a, b, c = starts[1], starts[2], starts[3]
    return lines[a:b], lines[b:c], lines[c:]


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
            part = [(n, t) for n, t in part if not _FURNITURE_LINE.match(N(t))]
            if part:
                kept.append(part)
    return kept


def _without_qr_captions(para: list[Line]) -> list[list[Line]]:
    """The paragraph's runs of lines around any QR caption it holds.

    A caption is the run of caption-like lines that ends with the line mentioning the QR code. It
    is usually a paragraph of its own; when a blank line around it is lost (a page break) it sticks
    to a cell, and it is cut out there too, as the paragraph break it stood for."""
    parts, start, i = [], 0, 0
    while i < len(para):
        if _QR_CAPTION.search(N(para[i][1])) and _is_caption_line(para[i][1]):
            first = i
            while first > start and _is_caption_line(para[first - 1][1]):
                first -= 1
            parts.append(para[start:first])
            start = i + 1
        i += 1
    parts.append(para[start:])
    return [p for p in parts if p]


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
            "section 1 heading has no valid as-of date such as （2023年２月10日現在）.", heading[0]
        )
    return as_of


def body(section: list[Line]) -> list[Line]:
    """The lines after a table's header paragraph (the paragraph holding 「取組内容」)."""
    paras = paragraphs(section[1:])
    for i, para in enumerate(paras):
        if any("取組内容" in N(t) for _, t in para):
            return [ln for p in paras[i + 1 :] for ln in p + [(0, "")]]
    raise LayoutError("table header with 「取組内容」 not found.", section[0][0])


def is_amount(text: str) -> bool:
    return amount_only(text) is not None


def is_bullet(text: str) -> bool:
    return N(text).startswith(BULLET)
