#!/usr/bin/env python3
"""Make a PDF facsimile of the document from any text edition of it, with one of three producers.

    python tools/facsimile.py IN.txt OUT.pdf --producer reportlab|chromium|typst [--chromium PATH]
    python tools/facsimile.py RELEASE_DIR OUT.pdf --producer weasyprint [layout options]

We have no copy of the city's PDF, so the PDF tests read facsimiles made from the text: A4 pages,
a Japanese TrueType font (IPAexGothic, as japanize-matplotlib ships it), half-width katakana kept,
the tables drawn as the text shows them. Each text line is one printed row on a fixed line pitch
(a blank line is an empty row), so that a reader that numbers the document's rows by geometry gives
them the text's line numbers. A line's cells (its space-separated parts) stand at the columns of their page's table
grid, boxed like table cells, so that cell boundaries are wide horizontal gaps, not spaces.

Pages start where the document's do, as the text shows it: at the running header
(「…年度 当初予算関連資料」) and at each numbered section heading after the first that does not
follow a running header. Blank lines that end a page are printed at the top of the next one.

Three producers, because real PDFs come from more than one generator: reportlab draws the page
itself; `chromium` lays out the same rows as HTML and has headless Chromium print it to PDF; `typst`
typesets them with Typst, which shapes a half-width kana and its sound mark into one glyph cluster.
A fourth, `weasyprint` (tools/facsimile_ruled.py), prints a published release as a city prints its
document: ruled tables, cells wrapped by their width, pages broken anywhere (the ETL in reverse).
"""

from __future__ import annotations

import argparse
import html
import itertools
import re
import subprocess
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

FONT = "IPAexGothic"
DISTINCT_FONT = "Noto Sans CJK JP"  # see _shared_ranges
A4 = (595.28, 841.89)  # points
MARGIN = 36.0  # points, every side
CELL_GAP = 1.6  # em between two cells of a row; a reader splits cells at a gap wider than about 1 em
PADDING = 0.3  # em between a cell's text and its box
_HEADER = re.compile(r"^\S*年度\s*当初予算関連資料$")
_SECTION = re.compile(r"^([1-9])\s+\S")


@dataclass
class Page:
    lines: list[str]  # the text lines printed on this page, top to bottom (blank = empty row)


@dataclass
class Layout:
    """Where every cell goes: one font size and line pitch for the document, columns per page."""

    size: float
    pitch: float
    pages: list[Page]
    columns: list[list[float]]  # per page: x of each column (points from the left edge)


def read_text(path: Path) -> list[str]:
    """The document's lines, decoded as the ETL decodes text (UTF-8, BOM, cp932)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from etl.source.text import read_source

    return list(read_source(path).lines)


def paginate(lines: list[str]) -> list[Page]:
    """Split the text where the document's pages start (see the module docstring)."""
    pages: list[list[str]] = [[]]
    after_header = False
    for line in lines:
        flat = unicodedata.normalize("NFKC", line).strip()
        header = bool(_HEADER.match(flat))
        section = _SECTION.match(flat)
        starts = header or (section is not None and section[1] != "1" and not after_header)
        if starts and any(t.strip() for t in pages[-1]):
            pages.append([])
        pages[-1].append(line)
        if flat:
            after_header = header
    # blank lines that end a page open the next one (a PDF shows no blank at a page's foot)
    for prev, page in itertools.pairwise(pages):
        while prev and not prev[-1].strip():
            page.insert(0, prev.pop())
    return [Page(p) for p in pages]


def cells(line: str) -> list[str]:
    return line.split()


def width(text: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, FONT, size)


def layout(lines: list[str]) -> Layout:
    """One pitch that fits the longest page on A4, and each page's column grid."""
    _register_font()
    pages = paginate(lines)
    rows = max(len(p.lines) for p in pages)
    pitch = min(14.0, (A4[1] - 2 * MARGIN) / max(rows, 1))
    size = round(pitch * 0.8, 2)
    pitch = round(pitch, 2)
    return Layout(size, pitch, pages, [_columns(p, size) for p in pages])


def _columns(page: Page, size: float) -> list[float]:
    """Column k starts past the widest cell k-1 of the page's multi-cell rows (a table grid)."""
    gap, pad = CELL_GAP * size, PADDING * size
    rows = [cells(t) for t in page.lines if len(cells(t)) > 1]
    stops = [MARGIN + pad]
    for k in range(1, max((len(r) for r in rows), default=1)):
        widest = max(width(r[k - 1], size) for r in rows if len(r) > k)
        stops.append(stops[-1] + widest + gap)
    return stops


def placed(lay: Layout, page_no: int, line: str) -> list[tuple[float, str]]:
    """(x, text) of each cell of a line: at its column, or right after the previous cell if wider."""
    out: list[tuple[float, str]] = []
    stops = lay.columns[page_no]
    end = 0.0
    for k, cell in enumerate(cells(line)):
        x = stops[k] if k < len(stops) else 0.0
        x = max(x, end + CELL_GAP * lay.size) if out else x
        out.append((x, cell))
        end = x + width(cell, lay.size)
    return out


def font_file() -> Path:
    """IPAexGothic as the PyPI package japanize-matplotlib ships it (the report's charts use it too):
    the facsimiles need no system font, so they can be made before any apt install has run."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from etl.report.charts import font_path

    return font_path()


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(font_file())))


# ── producer 1: reportlab draws the pages ───────────────────────────────────────────────


def with_reportlab(lines: list[str], out: Path) -> None:
    from reportlab.pdfgen.canvas import Canvas

    lay = layout(lines)
    canvas = Canvas(str(out), pagesize=A4, invariant=1)
    canvas.setTitle("他機関との連携協定について (facsimile)")
    pad = PADDING * lay.size
    for page_no, page in enumerate(lay.pages):
        canvas.setLineWidth(0.3)
        for row, line in enumerate(page.lines):
            baseline = A4[1] - MARGIN - row * lay.pitch - lay.size
            boxed = len(cells(line)) > 1
            for x, text in placed(lay, page_no, line):
                canvas.setFont(FONT, lay.size)
                canvas.drawString(x, baseline, text)
                if boxed:  # the cell's box, as a table rule
                    canvas.rect(x - pad, baseline - 0.25 * lay.size, width(text, lay.size) + 2 * pad,
                                lay.pitch, stroke=1, fill=0)
        canvas.showPage()
    canvas.save()


# ── producer 2: an HTML page printed by headless Chromium ───────────────────────────────


def html_page(lines: list[str]) -> str:
    """The same rows and cells as absolutely placed boxes, one A4 sheet per page."""
    lay = layout(lines)
    pad = PADDING * lay.size
    sheets = []
    for page_no, page in enumerate(lay.pages):
        spans = []
        for row, line in enumerate(page.lines):
            top = MARGIN + row * lay.pitch
            boxed = " class=cell" if len(cells(line)) > 1 else ""
            for x, text in placed(lay, page_no, line):
                spans.append(f'<span{boxed} style="left:{x - pad:.2f}pt;top:{top:.2f}pt">{html.escape(text)}</span>')
        sheets.append('<div class="sheet">' + "".join(spans) + "</div>")
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>他機関との連携協定について (facsimile)</title>
<style>
@font-face {{ font-family: "Facsimile"; src: url("{font_file().as_uri()}"); }}
@font-face {{ font-family: "Distinct"; src: local("{DISTINCT_FONT}"); unicode-range: {_shared_ranges()}; }}
@page {{ size: A4; margin: 0; }}
html, body {{ margin: 0; padding: 0; }}
.sheet {{ position: relative; width: {A4[0]}pt; height: {A4[1] - 1}pt; overflow: hidden;
          break-after: page; font-family: "Distinct", "Facsimile"; font-size: {lay.size}pt;
          line-height: {lay.pitch}pt; font-kerning: none; font-variant-ligatures: none; }}
.sheet:last-child {{ break-after: auto; }}
span {{ position: absolute; white-space: pre; padding: 0 {pad:.2f}pt; height: {lay.pitch}pt; }}
span.cell {{ outline: 0.3pt solid #000; outline-offset: -0.15pt; }}
</style></head><body>{"".join(sheets)}</body></html>
"""


def _shared_ranges() -> str:
    """Code points (outside the CJK blocks) that IPAexGothic draws with a glyph it also uses for a
    lower code point, as a CSS unicode-range.

    Chromium names each glyph of a PDF's text layer by one code point, the lowest that maps to it,
    so in IPAexGothic U+2010 HYPHEN would read back as U+002D, losing a distinction the city's PDF
    makes (the text shows both). These few characters are taken from Noto Sans CJK JP (installed
    with Chromium by tests/browser.py), whose glyphs for them are its own. The CJK radicals that
    share glyphs with ideographs are left as Chromium writes them: real PDFs have them too, and
    the reader folds them back (etl/source/pdf.py)."""
    from reportlab.pdfbase.ttfonts import TTFontFile

    by_glyph: dict[int, list[int]] = {}
    for code, glyph in TTFontFile(str(font_file())).charToGlyph.items():
        by_glyph.setdefault(glyph, []).append(code)
    shared = sorted(c for codes in by_glyph.values() for c in codes if c != min(codes) and c < 0x2E80)
    return ", ".join(f"U+{c:04X}" for c in shared)


def with_chromium(lines: list[str], out: Path, chromium: str | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="facsimile-") as tmp:
        page = Path(tmp) / "document.html"
        page.write_text(html_page(lines), encoding="utf-8")
        args = [f"--print-to-pdf={out.resolve()}", "--no-pdf-header-footer", page.as_uri()]
        if chromium is None:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
            from browser import headless

            done = headless(*args)
        else:
            flags = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-extensions", f"--user-data-dir={Path(tmp) / 'profile'}")
            done = subprocess.run([chromium, *flags, *args], check=False, capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"chromium could not print {page}: {done.stderr.strip()[-500:]}")


# ── producer 3: Typst typesets the pages (it shapes a half-width kana with its sound mark) ─


def typst_source(lines: list[str]) -> str:
    """The same rows and cells, each cell a text placed at its column, in Typst's markup."""
    lay = layout(lines)
    pad = PADDING * lay.size
    out = [f'#set page(width: {A4[0]}pt, height: {A4[1]}pt, margin: 0pt)',
           f'#set text(font: "{FONT}", size: {lay.size}pt, lang: "ja")']
    for page_no, page in enumerate(lay.pages):
        if page_no:
            out.append("#pagebreak()")
        for row, line in enumerate(page.lines):
            top = MARGIN + row * lay.pitch
            boxed = len(cells(line)) > 1
            for x, text in placed(lay, page_no, line):
                quoted = text.replace("\\", "\\\\").replace('"', '\\"')
                cell = (f'box(stroke: 0.3pt, inset: (x: {pad:.2f}pt), height: {lay.pitch}pt, text("{quoted}"))'
                        if boxed else f'text("{quoted}")')
                out.append(f"#place(top + left, dx: {x - (pad if boxed else 0):.2f}pt, dy: {top:.2f}pt, {cell})")
    return "\n".join(out) + "\n"


def with_typst(lines: list[str], out: Path) -> None:
    """Typst (the PyPI package) compiles the markup with IPAexGothic. Typst shapes ﾍﾟ, ﾄﾞ … into one glyph
    cluster and gives the cluster's text once, so some glyphs have no ToUnicode entry of their own."""
    import typst

    with tempfile.TemporaryDirectory(prefix="facsimile-") as tmp:
        source = Path(tmp) / "document.typ"
        source.write_text(typst_source(lines), encoding="utf-8")
        out.write_bytes(typst.compile(str(source), font_paths=[str(font_file().parent)]))


def make(source: Path, out: Path, producer: str, chromium: str | None = None) -> Path:
    lines = read_text(source)
    if producer == "reportlab":
        with_reportlab(lines, out)
    elif producer == "typst":
        with_typst(lines, out)
    else:
        with_chromium(lines, out, chromium)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", type=Path, help="a text edition of the document (e.g. raw/*.txt), or for "
                   "weasyprint a published release's folder")
    p.add_argument("out", type=Path, help="the PDF to write")
    p.add_argument("--producer", choices=("reportlab", "chromium", "typst", "weasyprint"), default="reportlab")
    p.add_argument("--chromium", metavar="PATH", help="the Chromium binary (default: tests/browser.py's)")
    ruled = p.add_argument_group("weasyprint's layout")
    ruled.add_argument("--page", choices=("A4", "A3", "B5", "letter"), default="A4")
    ruled.add_argument("--landscape", action="store_true")
    ruled.add_argument("--font", default="IPAexGothic", help="IPAexGothic, IPAexMincho, Noto Sans CJK JP, …")
    ruled.add_argument("--size", type=float, default=9.0, help="font size in points")
    ruled.add_argument("--pitch", type=float, default=1.5, help="line height in font sizes")
    ruled.add_argument("--break-after", action="append", default=[], metavar="ROW",
                       help="a page break after this row: counts:N, s2:取組ID or s3:掲載行番号 (repeatable)")
    ruled.add_argument("--glyph-order", choices=("as-laid-out", "reversed", "shuffled"), default="as-laid-out")
    args = p.parse_args(argv)
    if args.producer == "weasyprint":
        import facsimile_ruled

        facsimile_ruled.with_weasyprint(args.source, args.out, facsimile_ruled.Options(
            page=args.page, landscape=args.landscape, font=args.font, size=args.size, pitch=args.pitch,
            breaks=frozenset(args.break_after), glyph_order=args.glyph_order))
    else:
        make(args.source, args.out, args.producer, args.chromium)
    return 0


if __name__ == "__main__":
    sys.exit(main())
