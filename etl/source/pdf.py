"""Reading the city's PDF: its characters, with their coordinates, → the document's lines.

The stage before `extract`: it turns the PDF's text layer into the same `SourceText` (numbered
lines) that a text edition gives, so that one set of section readers, invariants, schemas and
golden files serves both. Lines are rebuilt by geometry, page by page (etl.source.geometry): rows
of characters by baseline outside ruled tables, ruled tables cell by cell from their boxes, word
spaces where a space is printed, blank lines from the vertical gaps; lines are numbered through the
whole document, blank lines included, as the text numbers them, and each keeps its page, so every
error can say "line N (page P)".

Two readers read the text layer: pdfminer (through pdfplumber) gives each character with its box,
and pdfium (pypdfium2) reads it again. Where a producer shaped glyph clusters that pdfminer cannot
read ((cid:N)), the characters take pdfium's text; every row must read the same in both, or the PDF is
refused, naming the page and the row.

pdfplumber (pdfminer.six) is the library: see the README for why. A PDF parser meets hostile
input: any exception it raises, and any PDF that takes too long or has too many pages, becomes a
`SourceError` (exit 2); a PDF that is damaged, encrypted, or has no text layer says so.
"""

from __future__ import annotations

import io
import logging
import math
import resource
import signal
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from etl.errors import SourceError
from etl.shared import children
from etl.source import geometry
from etl.source.geometry import Ruled

MAX_PAGES = 30  # the document has three; a longer PDF is another document
MAX_SECONDS = 30  # for opening and reading every page; pdfminer can loop on crafted files
MAGIC = b"%PDF-"


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException, so that no `except Exception` inside the parser eats it."""


def is_pdf(data: bytes) -> bool:
    """A PDF starts with %PDF- within its first kilobyte (ISO 32000 lets junk precede it)."""
    return MAGIC in data[:1024]


MAX_MEMORY = 512 * 2**20  # bytes the reader may allocate beyond what the process already holds
GRACE_SECONDS = 5  # past MAX_SECONDS, for the child's own alarm to say so before it is killed


def read_lines(data: bytes, name: str) -> PdfLines:
    """The document's lines, the page of each line, the number of pages, and what the geometry says of them.

    Read in a child process whose memory (RLIMIT_AS) and wall-clock time are bounded: a FlateDecode
    or object-stream bomb inflates in one zlib call that no alarm interrupts, so only a process of
    its own can be stopped in time, or kept from filling the memory. The reading `start_early` began
    is taken when it was given the very same bytes and name."""
    global _early
    reading, _early = _early, None
    if reading is None or reading.name != name or reading.data != data:
        if reading is not None:
            reading.stop()
        reading = _Reading(data, name)
    return reading.result()


def start_early(data: bytes, name: str) -> None:
    """Begin reading the PDF `data` in its child now, before the caller loads the table libraries,
    so that the two overlap on a second core (the read takes about half as long as the loading).

    Nothing is trusted earlier for it: the result waits in its pipe until `read_lines` is called with
    the same bytes and name, which `etl build` does only after the registry has verified them.
    `stop_early` ends a reading nobody took."""
    global _early
    stop_early()
    _early = _Reading(data, name)


def stop_early() -> None:
    """Stop the reading `start_early` began if `read_lines` never took it (a refused build)."""
    global _early
    reading, _early = _early, None
    if reading is not None:
        reading.stop()


class _Reading:
    """One PDF read in its child process: started when made, its lines (or refusal) from `result`."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.name = data, name
        self.child, self.receive = children.fork(_child, data, name, duplex=False)

    def result(self) -> PdfLines:
        try:
            if not self.receive.poll(MAX_SECONDS + GRACE_SECONDS):  # its own alarm says so first, unless zlib holds it
                raise SourceError(_too_slow(self.name))
            try:
                kind, value = self.receive.recv()
            except EOFError:  # killed (by the kernel, out of memory) before it could say why
                raise SourceError(_too_big(self.name)) from None
        finally:
            self.stop()
        if kind == "error":
            raise SourceError(value)
        if kind == "bug":
            raise RuntimeError(f"reading {self.name} failed in its child process ({value})")
        return value

    def stop(self) -> None:
        if self.child.is_alive():
            self.child.kill()
        self.child.join(5)
        self.receive.close()


_early: _Reading | None = None


def _child(send, data: bytes, name: str) -> None:
    """In the child (etl.shared.children): read the PDF within the memory limit, send back the lines or
    the refusal's message. Were the parent killed, the send fails (BrokenPipeError) and the child ends."""
    try:
        _load_readers()  # before the limit is set: it bounds the reading, not the loading of its libraries
        held, hard = _address_space(), resource.getrlimit(resource.RLIMIT_AS)[1]
        if held:  # within a hard limit set from outside (ulimit -v), which a process may not raise
            soft = held + MAX_MEMORY if hard == resource.RLIM_INFINITY else min(held + MAX_MEMORY, hard)
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        _say(send, ("lines", _read_lines(data, name)))
    except SourceError as exc:
        _say(send, ("error", str(exc)))
    except MemoryError:
        _say(send, ("error", _too_big(name)))
    except BaseException as exc:  # noqa: BLE001 - a bug of ours: the parent reports it as one
        _say(send, ("bug", f"{type(exc).__name__}: {exc}"))
    finally:
        send.close()


def _say(send, message: tuple[str, Any]) -> None:
    """Send the child's one message; a parent that has gone (its end closed) hears nothing, and the child ends."""
    try:
        send.send(message)
    except (BrokenPipeError, ConnectionResetError):
        pass


def _load_readers() -> None:
    import pdfplumber  # noqa: F401
    import pypdfium2  # noqa: F401


def _address_space() -> int:
    """The bytes of address space this process holds (VmSize), or 0 where /proc does not say."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _too_slow(name: str) -> str:
    return (f"{name}: reading the PDF took more than {MAX_SECONDS} s and was stopped; the file "
            "is damaged or not an ordinary PDF. Download the city's PDF again.")


def _too_big(name: str) -> str:
    return (f"{name}: reading the PDF needed more than {MAX_MEMORY // 2**20} MiB of memory and was stopped; "
            "its compressed streams inflate far beyond any real document (a decompression bomb, or damage). "
            "Download the city's PDF again.")


class PdfLines(NamedTuple):
    """What the reader gives: the document's lines, the page of each line, the number of pages, and
    what the geometry says of the lines (Ruled)."""

    lines: tuple[str, ...]
    pages: tuple[int, ...]
    count: int
    ruled: Ruled


def _read_lines(data: bytes, name: str) -> PdfLines:
    pages, found = _pages(data, name)
    pdfium = _pdfium_pages(data, len(pages))
    pages = [_retexted(chars, read) if read is not None and _has_cid(chars) else chars
             for chars, read in zip(pages, pdfium, strict=True)]
    _check_mapped(pages, name)
    _check_agreement(pages, pdfium, name)
    pages = [[{**c, "text": _printed(c["text"])} for c in chars] for chars in pages]
    layouts = [geometry.layout(chars, tables, name, number)
               for number, (chars, tables) in enumerate(zip(pages, found, strict=True), start=1)]
    if all(page.first is None for page in layouts):
        raise SourceError(
            f"{name} is a PDF without a text layer ({len(pages)} page(s) of images only, e.g. a scan): "
            "its characters cannot be read. Ask the city for the PDF as published (made from Word or "
            "Excel), or run OCR on it and check the text before registering that."
        )
    pitch = geometry.pitch(run for page in layouts for run in page.runs())
    top = min(page.first for page in layouts if page.first is not None)
    lines: list[str] = []
    page_of: list[int] = []
    kinds: dict[str, set[int]] = {"cells": set(), "wrapped": set(), "tables": set(), "page_starts": set()}
    state: dict[str, Any] = {}
    for number, layout in enumerate(layouts, start=1):
        page = geometry.page_lines(layout, pitch, top, state, name, number)
        for kind in ("cells", "wrapped", "tables"):  # numbered as the document numbers its lines, from 1
            kinds[kind].update(len(lines) + 1 + i for i in getattr(page, kind))
        if lines:
            kinds["page_starts"].add(len(lines) + 1)
        lines += page.lines
        page_of += [number] * len(page.lines)
    return PdfLines(tuple(lines), tuple(page_of), len(pages), Ruled(**{k: frozenset(v) for k, v in kinds.items()}))


def _has_cid(chars: list[dict[str, Any]]) -> bool:
    return any(c["text"].startswith("(cid:") for c in chars)


def _pdfium_pages(data: bytes, count: int) -> list[list[tuple[str, float, float]] | None]:
    """Each page's characters as pdfium (pypdfium2) reads them: (text, x, y from the top) of each
    character's centre; None for a page pdfium cannot read (the checks that need it then refuse).

    pdfium reads a glyph cluster's text as a viewer copies it: a producer that shapes a half-width
    kana with its sound mark (ﾍﾟ, ﾄﾞ) into one cluster gives the cluster's text once, so the mark's
    glyph has no ToUnicode entry of its own (pdfminer reads it as (cid:N)), and the base glyph's
    entry may be the text of the first cluster it was used in (ﾍﾞ for ﾍﾟ)."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except Exception:  # noqa: BLE001 - pdfium refuses what pdfminer read: nothing to compare with
        return [None] * count
    try:
        out: list[list[tuple[str, float, float]] | None] = []
        for index in range(count):
            try:
                out.append(_pdfium_chars(document[index]))
            except Exception:  # noqa: BLE001 - as above, for one page
                out.append(None)
        return out
    finally:
        document.close()


def pdfium_chars(page: Any, loose: bool = False) -> list[tuple[str, tuple[float, float, float, float]]]:
    """(text, box) of each character pdfium reads on a page, white space, rotated characters (which
    pdfminer's reading leaves aside too) and what is not printable text aside; the box is left, bottom,
    right, top in PDF points: the glyph's ink, or (`loose`) the space it takes, as pdfminer's box is.
    The report's crops find a line by these."""
    from pypdfium2 import raw

    textpage = page.get_textpage()
    turned = math.radians(page.get_rotation())  # pdfium's angles are as the page is shown (/Rotate)
    out = []
    for i in range(textpage.count_chars()):
        # pdfium takes a hyphen before a gap for a word broken at a line's end, and names it U+FFFE
        text = "-" if raw.FPDFText_IsHyphen(textpage.raw, i) else textpage.get_text_range(i, 1)
        angle = (raw.FPDFText_GetCharAngle(textpage.raw, i) + turned) % math.tau
        if text and not text.isspace() and all(_printable(ch) for ch in text) and min(angle, math.tau - angle) < 0.01:
            out.append((text, textpage.get_charbox(i, loose=loose)))
    return out


def _pdfium_chars(page: Any) -> list[tuple[str, float, float]]:
    """(text, x, y from the top) of the centre of each character pdfium reads on the page, by the space
    it takes (a sound mark's ink lies over the character before it), as the page is shown: where pdfplumber
    has the characters of a page turned by /Rotate."""
    import ctypes

    from pypdfium2 import raw

    scale = 64  # pdfium maps a point to whole device units: 1/64 of a point is close enough
    width, height = (round(v * scale) for v in page.get_size())
    x, y = ctypes.c_int(), ctypes.c_int()

    def shown(px: float, py: float) -> tuple[float, float]:
        raw.FPDF_PageToDevice(page.raw, 0, 0, width, height, 0, px, py, x, y)  # it turns the page by /Rotate
        return x.value / scale, y.value / scale

    return [(text, *shown((left + right) / 2, (bottom + top) / 2))
            for text, (left, bottom, right, top) in pdfium_chars(page, loose=True)]


def _printable(ch: str) -> bool:
    """Text pdfium can stand behind: not a control or private character (pdfium gives a glyph's raw code,
    \x01, where a font has no map at all)."""
    return unicodedata.category(ch) not in {"Cc", "Cf", "Co", "Cn", "Cs"} and ch not in "\ufffd\ufffe"


_MARKS = ("\uff9e", "\uff9f", "\u3099", "\u309a", "\u309b", "\u309c")  # ﾞ ﾟ and the kana sound marks


def _retexted(chars: list[dict[str, Any]], read: list[tuple[str, float, float]]) -> list[dict[str, Any]]:
    """A page with glyph clusters (see _pdfium_pages): every character takes the text of the pdfium
    characters that lie on it; a sound mark's glyph that no pdfium character falls on
    reads as nothing, since its text went with its cluster's base. Characters pdfium does not read
    as printable text either stay (cid:N), and the PDF is refused for them."""
    taken = _taken(chars, read)
    return [{**c, "text": "".join(taken[i])} if i in taken else
            ({**c, "text": ""} if c["text"].startswith("(cid:") and _has_neighbour(c, taken, chars) else c)
            for i, c in enumerate(chars)]


def _taken(chars: list[dict[str, Any]], read: list[tuple[str, float, float]]) -> dict[int, list[str]]:
    """pdfium's characters, each given to the pdfminer character it lies on (by index; -1: on none)."""
    grid = _Grid(chars)
    taken: dict[int, list[str]] = {}
    for text, x, y in read:
        k = grid.at(x, y)
        taken.setdefault(-1 if k is None else k, []).append(text)
    return taken


class _Grid:
    """pdfminer's visible characters by where they stand, to find the one a point lies on at once (a
    page holds a thousand characters, and pdfium as many points)."""

    CELL = 24.0  # points: more than a character of any size the document prints

    def __init__(self, chars: list[dict[str, Any]]) -> None:
        self.chars = chars
        self.cells: dict[tuple[int, int], list[int]] = {}
        for k, c in enumerate(chars):
            if not c["text"].strip() or (c["x1"] - c["x0"]) * (c["bottom"] - c["top"]) > 100 * self.CELL ** 2:
                continue  # no character is that large: a glyph stretched over the page matches nothing
            for gx in range(int((c["x0"] - 1) // self.CELL), int((c["x1"] + 1) // self.CELL) + 1):
                for gy in range(int((c["top"] - 1) // self.CELL), int((c["bottom"] + 1) // self.CELL) + 1):
                    self.cells.setdefault((gx, gy), []).append(k)

    def at(self, x: float, y: float) -> int | None:
        """The character whose box (give or take a point) holds the point, the nearest if several do."""
        near = [(abs(x - (c["x0"] + c["x1"]) / 2) + abs(y - (c["top"] + c["bottom"]) / 2), k)
                for k in self.cells.get((int(x // self.CELL), int(y // self.CELL)), [])
                if (c := self.chars[k])["x0"] - 1 <= x <= c["x1"] + 1 and c["top"] - 1 <= y <= c["bottom"] + 1]
        return min(near)[1] if near else None


def _has_neighbour(c: dict[str, Any], taken: dict[int, list[str]], chars: list[dict[str, Any]]) -> bool:
    """Whether an unread glyph is the mark of the cluster right before it on its row: pdfium gave the
    cluster's whole text, its sound mark included, to the base glyph. Any other unread glyph (a 外字
    without a map) stays unread, and is refused."""
    return any("".join(taken[i]).endswith(_MARKS) and abs(chars[i]["x1"] - c["x0"]) < 0.5 * c["size"]
               and abs(chars[i]["top"] - c["top"]) < 1 for i in taken if i >= 0)


def _check_agreement(pages: list[list[dict[str, Any]]], pdfium: list[list[tuple[str, float, float]] | None],
                     name: str) -> None:
    """pdfminer and pdfium (two readers of one text layer) must read every row alike: where they differ,
    a font's map says one thing and its glyphs, or its clusters, another (a wrong ToUnicode entry, a
    glyph drawn over another), and which is meant cannot be told. Rows are compared, not characters:
    the readers may share a cluster's text out differently between its glyphs (ﾍ + ﾟ, or ﾍﾟ + nothing)."""
    for number, (chars, read) in enumerate(zip(pages, pdfium, strict=True), start=1):
        rows = geometry.rows(c for c in chars if c["text"].strip())
        if read is None:
            if rows:
                raise SourceError(f"{name}, page {number}: pdfium cannot read this page, so its text cannot be checked "
                                  "by a second reader. Download the city's PDF again, or build the text of the PDF.")
            continue
        row_of = {id(c): i for i, row in enumerate(rows) for c in row}
        visible = [c for row in rows for c in row]
        grid = _Grid(visible)
        theirs: list[list[tuple[float, str]]] = [[] for _ in rows]
        stray = []
        for text, x, y in read:  # each pdfium character goes to the row of the pdfminer character it lies on
            k = grid.at(x, y)
            if k is None:
                stray.append(text)
            else:
                theirs[row_of[id(visible[k])]].append((x, text))
        for row, other in zip(rows, theirs, strict=True):
            mine, read_there = "".join(c["text"] for c in row), "".join(t for _, t in sorted(other))
            if _compared(mine) != _compared(read_there):  # the message quotes both as they read
                quoted = (_printed("".join(t.split())) for t in (mine, read_there))
                raise SourceError(_disagreement(name, number, *quoted))
        if stray:
            raise SourceError(_disagreement(name, number, "", "".join(stray)))


def _compared(text: str) -> str:
    """A row's text as the two readers are held to it: white space aside (a glyph one reader maps to
    「. 」), and a compatibility form (a ligature ﬁ that one reader splits into f and i, a Kangxi
    radical pdfium names by its ideograph) is the same text."""
    return "".join(unicodedata.normalize("NFKC", _printed(text)).split())


def _disagreement(name: str, page: int, mine: str, theirs: str) -> str:
    if mine:
        at = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), min(len(mine), len(theirs)))
        what = (f"in the row 「{mine[:60]}」 pdfminer reads 「{mine[max(0, at - 3):at + 4]}」 where pdfium reads "
                f"「{theirs[max(0, at - 3):at + 4] or 'nothing'}」")
    else:
        what = f"pdfium reads 「{theirs[:40]}」 where pdfminer reads no row"
    return (f"{name}, page {page}: the two PDF readers disagree: {what}. The PDF's text layer says two things, so "
            "which text is printed cannot be told. Download the city's PDF again; if it stays so, build the text of "
            "the PDF instead and check that row against the printed page.")


def _check_mapped(pages: list[list[dict[str, Any]]], name: str) -> None:
    """Every character must say which Unicode character it draws; pdfminer writes '(cid:N)' for one
    that does not (a damaged font or ToUnicode map, or a PDF made so that its text cannot be copied)."""
    unmapped = [(n, c) for n, chars in enumerate(pages, start=1) for c in chars if c["text"].startswith("(cid:")]
    if unmapped:
        total = sum(len(chars) for chars in pages)
        raise SourceError(
            f"{name} is a damaged PDF or one whose text cannot be copied: {len(unmapped)} of its {total} "
            f"characters (the first on page {unmapped[0][0]}, read as {unmapped[0][1]['text']}) do not say which "
            "character they draw, and pdfium cannot read them either, so its text "
            "would be read wrongly. Download the city's PDF again; if it stays so, extract its text with "
            "another tool (or OCR), check it against the PDF and build the text instead."
        )


def _pages(data: bytes, name: str) -> tuple[list[list[dict[str, Any]]], list[list[geometry.Found]]]:
    """Every page's characters and the tables its rules draw, as pdfplumber gives them; SourceError
    for anything unreadable."""
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect

    # pdfminer logs every oddity it works around (e.g. a font without a bounding box); the
    # steward sees our one message, or none when the text was read.
    logging.getLogger("pdfminer").setLevel(logging.ERROR)

    try:
        with _deadline(MAX_SECONDS), pdfplumber.open(io.BytesIO(data)) as pdf:
            if len(pdf.pages) > MAX_PAGES:
                raise SourceError(f"{name} has {len(pdf.pages)} pages; the document has a few. "
                                  "Is it another document (or a whole budget book)?")
            return ([[c for c in page.chars if c.get("upright", True)] for page in pdf.pages],
                    [geometry.found_tables(page) for page in pdf.pages])
    except SourceError:
        raise
    except _Timeout:
        raise SourceError(_too_slow(name)) from None
    except Exception as exc:  # noqa: BLE001 - a parser of hostile input can raise anything
        if _wraps(exc, (MemoryError,)) or "Unable to allocate" in str(exc):  # zlib, in the memory limit
            raise SourceError(_too_big(name)) from None
        if _wraps(exc, (PDFPasswordIncorrect, PDFEncryptionError)):
            raise SourceError(f"{name} is an encrypted (password-protected) PDF, so its text cannot be read. "
                              "Ask the city for the unprotected PDF as published.") from None
        raise SourceError(f"{name} is a damaged or incomplete PDF ({type(exc).__name__}: {_short(exc)}). "
                          "Download the city's PDF again; a file cut short in transfer reads like this.") from None


def _wraps(exc: BaseException | None, kinds: tuple[type, ...]) -> bool:
    """Whether pdfminer's error, however pdfplumber wrapped it (as cause or first argument), is one
    of `kinds`; a few links deep at most, since a chain of exceptions can loop."""
    for _ in range(8):
        if exc is None:
            return False
        if isinstance(exc, kinds):
            return True
        wrapped = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = exc.__cause__ or wrapped or exc.__context__
    return False


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:160] + ("…" if len(text) > 160 else "") or "no detail"


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """SIGALRM after `seconds` when running in the main thread (the CLI); elsewhere, no limit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    fired = []

    def stop(signum: int, frame: object) -> None:
        fired.append(True)
        raise _Timeout

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    if fired:  # the parser caught the alarm (a bare except) and went on: the time was still up
        raise _Timeout


def _printed(text: str) -> str:
    """The character as printed: a Kangxi radical in a text layer is the ideograph of the same glyph.

    Fonts draw 月 and ⽉ (U+2F49) with one glyph, and some PDF producers (Chromium's among them)
    name that glyph by the radical's code point; NFKC maps the Kangxi radicals back. Nothing else
    is normalised here: the text keeps what the PDF prints, half-width katakana included."""
    return "".join(unicodedata.normalize("NFKC", ch) if "\u2f00" <= ch <= "\u2fdf" else
                   _SUPPLEMENT.get(ch, ch) for ch in text)


# CJK Radicals Supplement characters that Japanese fonts draw with the glyph of a unified ideograph
# (Unicode's EquivalentUnifiedIdeograph.txt); unlike the Kangxi radicals they have no NFKC mapping.
_SUPPLEMENT = {
    "⺃": "乚", "⺅": "亻", "⺉": "刂", "⺎": "兀", "⺏": "尣", "⺐": "尢", "⺒": "巳", "⺓": "幺", "⺔": "彑",
    "⺖": "忄", "⺗": "㣺", "⺘": "扌", "⺙": "攵", "⺛": "旡", "⺞": "歺", "⺟": "母", "⺠": "民", "⺡": "氵",
    "⺣": "灬", "⺤": "爫", "⺦": "丬", "⺨": "犭", "⺫": "罒", "⺭": "礻", "⺲": "罒", "⺹": "耂", "⺾": "艹",
    "⺿": "艹", "⻀": "艹", "⻁": "虎", "⻂": "衤", "⻃": "覀", "⻄": "西", "⻌": "辶", "⻍": "辶", "⻏": "阝",
    "⻖": "阝", "⻑": "長", "⻒": "镸", "⻘": "青", "⻟": "飠", "⻤": "鬼", "⻨": "麦", "⻩": "黄", "⻫": "斉",
    "⻭": "歯", "⻯": "竜", "⻲": "亀",
}


