"""Crops of the city's PDF for the report: the part of a page where a line is printed, outlined.

A failed check names the line its value was read from; for a PDF input the report shows that line
as the document prints it, so the steward need not open the PDF and look for it. pypdfium2 renders
the page (pdfium, as Chromium's viewer) and finds the line by its characters: the reader's line is
the row's characters in order, so the same characters, spaces aside, are looked up in the page's
text. The crop is a small PNG embedded as a data URI, with the line's box as data, so that a test (or
a script) can check that the box lies inside the crop.
"""

from __future__ import annotations

import base64
import functools
import io
from dataclasses import dataclass

SCALE = 2.5  # pixels per PDF point: legible Japanese at a few kilobytes a crop
MARGIN = 10  # PDF points of the page shown around the line (about a line above and below)
OUTLINE = "#b3261e"  # the report's colour for a failure
MAX_CROPS = 20  # a report with many failures shows the first few crops; the lines say the rest
# The PNG's colours, fixed: the page, greys for text and rules, the outline and its blend with the page.
# Chosen from the image instead, a small outline lost its red to the text's black.
PALETTE = ("#ffffff", "#000000", "#484848", "#888888", "#c8c8c8", "#e8e8e8", OUTLINE, "#d9938e")

Boxes = list[tuple[float, float, float, float]]  # characters' boxes in PDF points, origin bottom left


@dataclass(frozen=True)
class Crop:
    page: int  # 1-based
    png: bytes
    box: tuple[int, int, int, int]  # the box of the lines in the crop's pixels: left, top, right, bottom
    size: tuple[int, int]  # width, height of the crop

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class Lines:
    """Lines of the document, and the page the reader found the first on (None: look on every page)."""

    texts: list[str]
    page: int | None = None


@dataclass(frozen=True)
class EmptyCell:
    """A cell a table leaves empty: the line of its row, and a line of the same table that prints its
    column (a row with every cell filled, such as the totals) with the index of the word printed in
    that column. Its crop shows both rows and outlines the cell's place: on the row's line, right
    above or below that word, where the row's number would be printed. A header is no guide: a text
    laid out line by line does not set its names over their columns."""

    row: str
    reference: str
    word: int
    page: int | None = None  # where the reader found the row (None: look on every page)


def crops(pdf: bytes, wanted: dict[object, Lines | list[str] | EmptyCell]) -> dict[object, Crop]:
    """key → the crop of the page that prints the key's lines (all of them, one box around each), or
    the key's empty cell (its place outlined); a key whose first line is not found has none. Given
    the page the reader found a line on, only that page is looked at: a line printed twice (a
    running header, a repeated value) is cropped where the build read it.

    Any failure of pdfium (a PDF it cannot open) gives no crops: the report still shows the lines."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(pdf)
    except Exception:  # noqa: BLE001 - a PDF pdfium cannot open: the report shows the lines only
        return {}
    out: dict[object, Crop] = {}
    text_of = functools.cache(lambda i: _page_text(document[i]))  # a page's text: read once, when needed
    try:
        for key, want in list(wanted.items())[:MAX_CROPS]:
            want = want if isinstance(want, (Lines, EmptyCell)) else Lines(list(want))
            hinted = want.page is not None and 1 <= want.page <= len(document)
            indexes = [want.page - 1] if hinted else range(len(document))
            pages = {i: text_of(i) for i in indexes}
            if isinstance(want, EmptyCell):
                cell = _find_cell(pages, want)
                if cell is not None:
                    index, shown, place = cell
                    out[key] = _crop(document[index], index + 1, shown, [[place]])
                continue
            found = _find(pages, want.texts)
            if found is not None:
                index, boxes = found
                out[key] = _crop(document[index], index + 1, boxes, boxes)
    except Exception:  # noqa: BLE001 - a page pdfium cannot render: the crops made so far are kept
        return out
    finally:
        document.close()
    return out


def _find(pages: dict[int, tuple[str, list]], texts: list[str]) -> tuple[int, list[list]] | None:
    """The page that prints the first text, and the character boxes of each text found on it."""
    keys = [_key(t) for t in texts if _key(t)]
    for index, (chars, boxes) in pages.items():
        at = chars.find(keys[0]) if keys else -1
        if at < 0:
            continue
        found, start = [], at
        for key in keys:
            hit = chars.find(key, start)
            if hit >= 0:
                found.append(boxes[hit:hit + len(key)])
                start = hit + len(key)
        return index, found
    return None


def _find_cell(pages: dict[int, tuple[str, list]], cell: EmptyCell) -> tuple[int, list[Boxes], tuple] | None:
    """The page that prints the cell's row, the boxes of that row and of the reference row on the same
    page, and the box of the cell's place: the reference word's width (at least a line's height either
    side of its middle, the room of a number) across the row's height. Where the row's or the
    reference's text is printed more than once (a chart's labels above the table), the pair taken
    is the row printed nearest above a reference: the table's own."""
    row, reference = _key(cell.row), _key(cell.reference)
    offsets = _word_offsets(cell.reference)
    if not row or not reference or not 0 <= cell.word < len(offsets):
        return None
    for index, (chars, boxes) in pages.items():
        rows = [boxes[at:at + len(row)] for at in _occurrences(chars, row)]
        if not rows:
            continue
        refs = [boxes[at:at + len(reference)] for at in _occurrences(chars, reference)]
        pairs = [(_middle(a) - _middle(r), a, r) for a in rows for r in refs if _middle(a) > _middle(r)]
        if not pairs:
            return None  # the table goes on over a page break: no place to show for certain
        _, line, ref = min(pairs, key=lambda pair: pair[0])
        start, length = offsets[cell.word]
        word = ref[start:start + length]
        x0, x1 = min(b[0] for b in word), max(b[2] for b in word)
        y0, y1 = min(b[1] for b in line), max(b[3] for b in line)
        middle, half = (x0 + x1) / 2, max((x1 - x0) / 2, y1 - y0)
        return index, [line, ref], (middle - half, y0, middle + half, y1)
    return None


def _occurrences(chars: str, key: str) -> list[int]:
    out, at = [], chars.find(key)
    while at >= 0:
        out.append(at)
        at = chars.find(key, at + 1)
    return out


def _middle(boxes: Boxes) -> float:
    """The height of a line's middle on the page (PDF points, from the bottom)."""
    return (min(b[1] for b in boxes) + max(b[3] for b in boxes)) / 2


def _word_offsets(line: str) -> list[tuple[int, int]]:
    """(start, length) of each of the line's words in its characters without white space."""
    out, offset = [], 0
    for word in line.split():
        out.append((offset, len(word)))
        offset += len(word)
    return out


def _key(text: str) -> str:
    return "".join(text.split())


def _page_text(page) -> tuple[str, list[tuple[float, float, float, float]]]:
    """The page's characters without white space, and the box of each (PDF points, origin bottom left)."""
    from etl.source.pdf import pdfium_chars

    read = pdfium_chars(page)
    return "".join(text for text, _ in read), [box for text, box in read for _ in text]


def _crop(page, number: int, shown: list[Boxes], outlined: list[Boxes]) -> Crop:
    """The part of the page around what is shown and outlined, each outlined box list framed; the
    frame of all of them as data."""
    from PIL import Image, ImageDraw

    width, height = page.get_size()
    every = [b for boxes in shown + outlined for b in boxes]
    x0, y0 = max(0.0, min(b[0] for b in every) - MARGIN), max(0.0, min(b[1] for b in every) - MARGIN)
    x1, y1 = min(width, max(b[2] for b in every) + MARGIN), min(height, max(b[3] for b in every) + MARGIN)
    image = page.render(scale=SCALE, crop=(x0, y0, width - x1, height - y1)).to_pil().convert("RGB")

    def pixels(boxes: list[tuple[float, float, float, float]]) -> tuple[int, int, int, int]:
        return (round((min(b[0] for b in boxes) - x0) * SCALE) - 3, round((y1 - max(b[3] for b in boxes)) * SCALE) - 3,
                round((max(b[2] for b in boxes) - x0) * SCALE) + 3, round((y1 - min(b[1] for b in boxes)) * SCALE) + 3)

    draw = ImageDraw.Draw(image)
    for boxes in outlined:
        draw.rectangle(pixels(boxes), outline=OUTLINE, width=2)
    png = io.BytesIO()
    image.quantize(palette=_palette(), dither=Image.Dither.NONE).save(png, format="PNG", optimize=True)
    return Crop(number, png.getvalue(), pixels([b for boxes in outlined for b in boxes]), image.size)


def _palette():
    from PIL import Image, ImageColor

    image = Image.new("P", (1, 1))
    image.putpalette([v for colour in PALETTE for v in ImageColor.getrgb(colour)])
    return image
