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
import io
from dataclasses import dataclass

SCALE = 2.5  # pixels per PDF point: legible Japanese at a few kilobytes a crop
MARGIN = 10  # PDF points of the page shown around the line (about a line above and below)
OUTLINE = (179, 38, 30)  # the report's colour for a failure
MAX_CROPS = 20  # a report with many failures shows the first few crops; the lines say the rest
PALETTE = 8  # colours of the PNG: black text, the page, grey rules, the red outline and their blends


@dataclass(frozen=True)
class Crop:
    page: int  # 1-based
    png: bytes
    box: tuple[int, int, int, int]  # the box of the lines in the crop's pixels: left, top, right, bottom
    size: tuple[int, int]  # width, height of the crop

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def crops(pdf: bytes, wanted: dict[object, list[str]]) -> dict[object, Crop]:
    """key → the crop of the page that prints the key's lines (all of them, one box around each); a key
    whose first line is not found has none.

    Any failure of pdfium (a PDF it cannot open) gives no crops: the report still shows the lines."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(pdf)
    except Exception:  # noqa: BLE001 - a PDF pdfium cannot open: the report shows the lines only
        return {}
    out: dict[object, Crop] = {}
    try:
        pages = [_page_text(document[i]) for i in range(len(document))]
        for key, texts in list(wanted.items())[:MAX_CROPS]:
            found = _find(pages, texts)
            if found is not None:
                index, boxes = found
                out[key] = _crop(document[index], index + 1, boxes)
    except Exception:  # noqa: BLE001 - a page pdfium cannot render: the crops made so far are kept
        return out
    finally:
        document.close()
    return out


def _find(pages: list[tuple[str, list]], texts: list[str]) -> tuple[int, list[list]] | None:
    """The page that prints the first text, and the character boxes of each text found on it."""
    keys = ["".join(t.split()) for t in texts if "".join(t.split())]
    for index, (chars, boxes) in enumerate(pages):
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


def _page_text(page) -> tuple[str, list[tuple[float, float, float, float]]]:
    """The page's characters without white space, and the box of each (PDF points, origin bottom left)."""
    from etl.source.pdf import pdfium_chars

    read = pdfium_chars(page)
    return "".join(text for text, _ in read), [box for text, box in read for _ in text]


def _crop(page, number: int, lines: list[list[tuple[float, float, float, float]]]) -> Crop:
    """The part of the page around the lines, each line outlined; the box of all of them as data."""
    from PIL import ImageDraw

    width, height = page.get_size()
    every = [b for line in lines for b in line]
    x0, y0 = max(0.0, min(b[0] for b in every) - MARGIN), max(0.0, min(b[1] for b in every) - MARGIN)
    x1, y1 = min(width, max(b[2] for b in every) + MARGIN), min(height, max(b[3] for b in every) + MARGIN)
    image = page.render(scale=SCALE, crop=(x0, y0, width - x1, height - y1)).to_pil().convert("RGB")

    def pixels(boxes: list[tuple[float, float, float, float]]) -> tuple[int, int, int, int]:
        return (round((min(b[0] for b in boxes) - x0) * SCALE) - 3, round((y1 - max(b[3] for b in boxes)) * SCALE) - 3,
                round((max(b[2] for b in boxes) - x0) * SCALE) + 3, round((y1 - min(b[1] for b in boxes)) * SCALE) + 3)

    draw = ImageDraw.Draw(image)
    for line in lines:
        draw.rectangle(pixels(line), outline=OUTLINE, width=2)
    png = io.BytesIO()
    image.quantize(colors=PALETTE).save(png, format="PNG", optimize=True)
    return Crop(number, png.getvalue(), pixels(every), image.size)
