"""Reading the city's PDF: its characters, with their coordinates, → the document's lines.

The stage before `extract`: it turns the PDF's text layer into the same `SourceText` (numbered
lines) that a text edition gives, so that one set of section readers, invariants, schemas and
golden files serves both. Lines are rebuilt by geometry, page by page:

- a row is the characters that share a baseline (clustered by their top, within half a font size);
- a row's characters are ordered by x; a horizontal gap wider than `CELL_GAP` font sizes is a
  cell boundary and reads as one space (how the text separates cells), a narrower one is nothing;
- a vertical gap of k line pitches between two rows is k-1 blank lines (the pitch is the document's
  most common distance between rows), and a page whose first row sits k pitches lower than the
  highest first row of any page starts with k blank lines;
- lines are numbered through the whole document, blank lines included, as the text numbers them,
  and each keeps its page, so every error can say "line N (page P)".

Vertical 分野 labels are stacked single characters in the label column and come out one
character a line, as the section readers expect; wrapped cells come out as their printed rows,
which the readers rejoin by their column.

pdfplumber (pdfminer.six) is the library: see the README for why. A PDF parser meets hostile
input: any exception it raises, and any PDF that takes too long or has too many pages, becomes a
`SourceError` (exit 2); a PDF that is damaged, encrypted, or has no text layer says so.
"""

from __future__ import annotations

import io
import itertools
import logging
import multiprocessing
import resource
import signal
import statistics
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from etl.errors import SourceError

MAX_PAGES = 30  # the document has three; a longer PDF is another document
MAX_SECONDS = 30  # for opening and reading every page; pdfminer can loop on crafted files
CELL_GAP = 0.8  # font sizes of horizontal white space that separate two cells
# A gap within this many font sizes of CELL_GAP cannot be told (a wide word space, a narrow cell
# gap): the reader refuses the PDF rather than guess where a cell ends.
CELL_GAP_MARGIN = 0.15
MAGIC = b"%PDF-"


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException, so that no `except Exception` inside the parser eats it."""


def is_pdf(data: bytes) -> bool:
    """A PDF starts with %PDF- within its first kilobyte (ISO 32000 lets junk precede it)."""
    return MAGIC in data[:1024]


MAX_MEMORY = 512 * 2**20  # bytes the reader may allocate beyond what the process already holds
GRACE_SECONDS = 5  # past MAX_SECONDS, for the child's own alarm to say so before it is killed


def read_lines(data: bytes, name: str) -> tuple[tuple[str, ...], tuple[int, ...], int]:
    """The document's lines, the page of each line, and the number of pages.

    Read in a child process whose memory (RLIMIT_AS) and wall-clock time are bounded: a FlateDecode
    or object-stream bomb inflates in one zlib call that no alarm interrupts, so only a process of
    its own can be stopped in time, or kept from filling the memory."""
    context = multiprocessing.get_context("fork")  # the child has the parser loaded already
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, data, name), daemon=True)
    try:
        child.start()
    finally:
        send.close()
    try:
        if not receive.poll(MAX_SECONDS + GRACE_SECONDS):  # its own alarm says so first, unless zlib holds it
            raise SourceError(_too_slow(name))
        try:
            kind, value = receive.recv()
        except EOFError:  # killed (by the kernel, out of memory) before it could say why
            raise SourceError(_too_big(name)) from None
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        receive.close()
    if kind == "error":
        raise SourceError(value)
    if kind == "bug":
        raise RuntimeError(f"reading {name} failed in its child process ({value})")
    return value


def _child(send, data: bytes, name: str) -> None:
    """In the child: read the PDF within the memory limit, send back the lines or the refusal's message."""
    try:
        held, hard = _address_space(), resource.getrlimit(resource.RLIMIT_AS)[1]
        if held:  # within a hard limit set from outside (ulimit -v), which a process may not raise
            soft = held + MAX_MEMORY if hard == resource.RLIM_INFINITY else min(held + MAX_MEMORY, hard)
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        send.send(("lines", _read_lines(data, name)))
    except SourceError as exc:
        send.send(("error", str(exc)))
    except MemoryError:
        send.send(("error", _too_big(name)))
    except BaseException as exc:  # noqa: BLE001 - a bug of ours: the parent reports it as one
        send.send(("bug", f"{type(exc).__name__}: {exc}"))
    finally:
        send.close()


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


def _read_lines(data: bytes, name: str) -> tuple[tuple[str, ...], tuple[int, ...], int]:
    pages = _pages(data, name)
    if any(c["text"].startswith("(cid:") for chars in pages for c in chars):
        pages = _with_cluster_text(data, pages)
    _check_mapped(pages, name)
    rows = [_rows(chars, name, number) for number, chars in enumerate(pages, start=1)]
    if not any(rows):
        raise SourceError(
            f"{name} is a PDF without a text layer ({len(pages)} page(s) of images only, e.g. a scan): "
            "its characters cannot be read. Ask the city for the PDF as published (made from Word or "
            "Excel), or run OCR on it and check the text before registering that."
        )
    pitch = _pitch(rows)
    top = min(r[0][0] for r in rows if r)
    lines: list[str] = []
    page_of: list[int] = []
    for number, page_rows in enumerate(rows, start=1):
        previous = None
        for y, text in page_rows:
            gap = (y - top) if previous is None else (y - previous)
            blanks = max(0, round(gap / pitch) - (0 if previous is None else 1))
            lines += [""] * blanks
            page_of += [number] * blanks
            lines.append(text)
            page_of.append(number)
            previous = y
    return tuple(lines), tuple(page_of), len(pages)


def _with_cluster_text(data: bytes, pages: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """The pages with the text of their glyph clusters, as pdfium reads it.

    A producer that shapes a half-width kana with its sound mark (ﾍﾟ, ﾄﾞ) into one cluster gives the
    cluster's text once: the mark's glyph has no ToUnicode entry of its own (pdfminer reads it as
    (cid:N)), and the base glyph's entry may be the text of the first cluster it was used in (ﾍﾞ for
    ﾍﾟ). pdfium reads the cluster's text as it is meant (as a viewer copies it). On each page that has
    such a glyph, every character takes the text of the pdfium characters nearest its centre on its
    row; a sound mark's glyph that no pdfium character falls on reads as nothing, since its text went
    with its cluster's base. Characters pdfium does not read as printable text either stay (cid:N),
    and the PDF is refused for them."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except Exception:  # noqa: BLE001 - pdfium refuses what pdfminer read: the glyphs stay unread, and are refused
        return pages
    try:
        out = []
        for index, chars in enumerate(pages):
            if not any(c["text"].startswith("(cid:") for c in chars):
                out.append(chars)
                continue
            try:
                read = _pdfium_chars(document[index])
            except Exception:  # noqa: BLE001 - as above, for one page
                read = []
            out.append(_retexted(chars, read))
        return out
    finally:
        document.close()


def pdfium_chars(page: Any) -> list[tuple[str, tuple[float, float, float, float]]]:
    """(text, box) of each character pdfium reads on a page, white space and what is not printable text
    aside; the box is left, bottom, right, top in PDF points. The report's crops find a line by these."""
    textpage = page.get_textpage()
    out = []
    for i in range(textpage.count_chars()):
        text = textpage.get_text_range(i, 1)
        if text and not text.isspace() and all(_printable(ch) for ch in text):
            out.append((text, textpage.get_charbox(i)))
    return out


def _pdfium_chars(page: Any) -> list[tuple[str, float, float]]:
    """(text, x, y from the top) of the centre of each character pdfium reads on the page."""
    height = page.get_size()[1]
    return [(text, (left + right) / 2, height - (bottom + top) / 2)
            for text, (left, bottom, right, top) in pdfium_chars(page)]


def _printable(ch: str) -> bool:
    """Text pdfium can stand behind: not a control or private character (pdfium gives a glyph's raw code,
    \x01, where a font has no map at all)."""
    return unicodedata.category(ch) not in {"Cc", "Cf", "Co", "Cn", "Cs"} and ch not in "\ufffd\ufffe"


_MARKS = ("\uff9e", "\uff9f", "\u3099", "\u309a", "\u309b", "\u309c")  # ﾞ ﾟ and the kana sound marks


def _retexted(chars: list[dict[str, Any]], read: list[tuple[str, float, float]]) -> list[dict[str, Any]]:
    taken: dict[int, list[str]] = {}
    for text, x, y in read:
        near = [(abs(x - (c["x0"] + c["x1"]) / 2), i) for i, c in enumerate(chars)
                if c["top"] - 1 <= y <= c["bottom"] + 1 and c["text"].strip()]
        if near:
            taken.setdefault(min(near)[1], []).append(text)
    return [{**c, "text": "".join(taken[i])} if i in taken else
            ({**c, "text": ""} if c["text"].startswith("(cid:") and _has_neighbour(c, taken, chars) else c)
            for i, c in enumerate(chars)]


def _has_neighbour(c: dict[str, Any], taken: dict[int, list[str]], chars: list[dict[str, Any]]) -> bool:
    """Whether an unread glyph is the mark of the cluster right before it on its row: pdfium gave the
    cluster's whole text, its sound mark included, to the base glyph. Any other unread glyph (a 外字
    without a map) stays unread, and is refused."""
    return any("".join(taken[i]).endswith(_MARKS) and abs(chars[i]["x1"] - c["x0"]) < 0.5 * c["size"]
               and abs(chars[i]["top"] - c["top"]) < 1 for i in taken)


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


def _pages(data: bytes, name: str) -> list[list[dict[str, Any]]]:
    """Every page's characters, as pdfplumber gives them; SourceError for anything unreadable."""
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
            return [[c for c in page.chars if c.get("upright", True)] for page in pdf.pages]
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


def _rows(chars: list[dict[str, Any]], name: str = "", page: int = 0) -> list[tuple[float, str]]:
    """(top, text) of each printed row of a page, top to bottom."""
    visible = [c for c in chars if c["text"].strip() and c.get("size", 0) > 0]
    visible.sort(key=lambda c: (c["top"], c["x0"]))
    rows: list[list[dict[str, Any]]] = []
    for c in visible:
        if rows and abs(c["top"] - rows[-1][0]["top"]) <= 0.5 * max(rows[-1][0]["size"], c["size"]):
            rows[-1].append(c)
        else:
            rows.append([c])
    return [(row[0]["top"], _text(row, name, page)) for row in rows]


def _text(row: list[dict[str, Any]], name: str = "", page: int = 0) -> str:
    row = sorted(row, key=lambda c: c["x0"])
    out = [_printed(row[0]["text"])]
    for prev, c in itertools.pairwise(row):
        gap = (c["x0"] - prev["x1"]) / max(prev["size"], c["size"])
        if abs(gap - CELL_GAP) < CELL_GAP_MARGIN:
            text = "".join(ch["text"] for ch in row)
            raise SourceError(
                f"{name}, page {page}: in the row 「{text[:60]}」 the gap between 「{prev['text']}」 and 「{c['text']}」 "
                f"is {gap:.2f} font sizes, too near the {CELL_GAP} at which two cells are told apart to say whether "
                "it ends a cell or is a space inside one. Build the text of the PDF instead, and check that row.")
        if gap > CELL_GAP:
            out.append(" ")
        out.append(_printed(c["text"]))
    return "".join(out)


def _printed(text: str) -> str:
    """The character as printed: a Kangxi radical in a text layer is the ideograph of the same glyph.

    Fonts draw 月 and ⽉ (U+2F49) with one glyph, and some PDF producers (Chromium's among them)
    name that glyph by the radical's code point; NFKC maps the Kangxi radicals back. Nothing else
    is normalised here: the text keeps what the PDF prints, half-width katakana included."""
    return "".join(unicodedata.normalize("NFKC", ch) if "\u2f00" <= ch <= "\u2fdf" else
                   _SUPPLEMENT.get(ch, ch) for ch in text)


def _pitch(rows: list[list[tuple[float, str]]]) -> float:
    """The line pitch: the most common distance between two consecutive rows of a page, among the
    shortest ones (a document where blank lines are as common as text still has the text's pitch
    between two lines of one paragraph; only that shortest distance says what one line is)."""
    gaps = [round(b[0] - a[0], 1) for page in rows for a, b in itertools.pairwise(page) if b[0] > a[0]]
    if not gaps:
        return 1.0
    return statistics.mode(g for g in gaps if g < 1.5 * min(gaps)) or 1.0


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


