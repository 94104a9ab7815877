"""Reading the source document: bytes → numbered lines, from a PDF or a text in any encoding.

A PDF (the city's document as published) is read by `etl.source.pdf`, which rebuilds its lines by
geometry and keeps the page of each; a text edition is decoded here.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from etl.errors import SourceError
from etl.shared.safety import MAX_SOURCE_BYTES
from etl.source.geometry import Ruled

PDF = "pdf"  # SourceText.encoding of a document read from a PDF
# Encodings the city's files arrive in, tried in this order after the BOM check.
ENCODINGS = ("utf-8", "cp932")
# C0 controls other than tab, LF, CR and form feed never occur in a text document.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class SourceText:
    """The decoded document: one string per line (1-based via `line(n)`), and where it came from."""

    path: Path
    encoding: str  # "pdf" for a PDF
    lines: tuple[str, ...]
    pages: tuple[int, ...] = ()  # a PDF's page of each line (same length as lines); () for a text
    ruled: Ruled = Ruled()  # what a PDF's geometry says of its lines

    def line(self, number: int) -> str:
        return self.lines[number - 1]

    @property
    def is_pdf(self) -> bool:
        return self.encoding == PDF

    def where(self, number: int) -> str:
        """How a message names line `number`: 'line N', or 'line N (page P)' in a PDF."""
        if self.pages and 1 <= number <= len(self.pages):
            return f"line {number} (page {self.pages[number - 1]})"
        return f"line {number}"

    def described(self) -> str:
        """What was read, for the report: the encoding, or the PDF's pages."""
        return f"PDF, {max(self.pages, default=0)} pages" if self.is_pdf else self.encoding


def read_source(path: Path) -> SourceText:
    """Read and decode a source document, or raise `SourceError` saying why it is unusable."""
    return from_bytes(Path(path), read_bytes(Path(path)))


def from_bytes(path: Path, data: bytes) -> SourceText:
    """The lines of the bytes read from `path`: a PDF's by `etl.source.pdf`, a text's by `decode`."""
    from etl.source import pdf

    path = Path(path)
    if pdf.is_pdf(data):
        read = pdf.read_lines(data, path.name)
        return SourceText(path=path, encoding=PDF, lines=read.lines, pages=read.pages, ruled=read.ruled)
    if path.suffix.lower() == ".pdf":
        raise SourceError(f"{path.name} is named .pdf but is not a PDF (it does not start with %PDF-). "
                          "Download the city's PDF again.")
    encoding, text = decode(data, path.name)
    return SourceText(path=Path(path), encoding=encoding, lines=split_lines(text))


def read_bytes(path: Path) -> bytes:
    """The file's bytes; SourceError for a missing path, a folder, a pipe or device, an unreadable,
    empty or oversized file.

    Opened without blocking and checked with fstat before anything is read: a named pipe would
    hold the build for ever and /dev/zero would fill the memory."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file. Pass the path of a source document (raw/*.pdf or raw/*.txt).") \
            from None
    except OSError as exc:  # a name too long, no permission, a loop of links …
        raise SourceError(f"{path}: cannot be read ({exc.strerror}).") from None
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):  # checked on the descriptor: a folder cannot be wrapped as a file
        os.close(fd)
        raise SourceError(f"{path} is a folder, not a source document. Pass the .pdf or .txt file itself.")
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(f"{path} is not a regular file (a named pipe, a socket or a device); pass the "
                              ".pdf or .txt file itself.")
        if info.st_size > MAX_SOURCE_BYTES:
            raise SourceError(f"{path} has {info.st_size} bytes, more than the limit of {MAX_SOURCE_BYTES} for a "
                              "source document (the city's PDF is far smaller): it is not the document.")
        try:
            data = handle.read(MAX_SOURCE_BYTES + 1)
        except OSError as exc:
            raise SourceError(f"{path}: cannot be read ({exc.strerror}).") from None
    if len(data) > MAX_SOURCE_BYTES:
        raise SourceError(f"{path} grew beyond the limit of {MAX_SOURCE_BYTES} bytes while it was read.")
    if not data.strip():
        raise SourceError(f"{path} is empty. Download the city's PDF again (or re-extract its text).")
    return data


def decode(data: bytes, name: str = "input") -> tuple[str, str]:
    """Decode UTF-8 (with or without BOM) or Shift_JIS (cp932); refuse binary data."""
    if b"\x00" in data:
        raise SourceError(
            f"{name} contains NUL bytes: it is a binary file (or UTF-16), not extracted text. "
            "Save the text as UTF-8 or Shift_JIS."
        )
    if data.startswith(codecs.BOM_UTF8):
        candidates: tuple[str, ...] = ("utf-8-sig",)
    else:
        candidates = ENCODINGS
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _CONTROL.search(text):
            break
        return encoding, text
    raise SourceError(
        f"{name} is not text in a supported encoding (UTF-8, UTF-8 with BOM, Shift_JIS/cp932), "
        "or it contains control characters. Check that the file is the extracted text of the PDF."
    )


def split_lines(text: str) -> tuple[str, ...]:
    """Lines without their endings (LF, CRLF or CR) and without trailing blanks."""
    return tuple(line.rstrip() for line in re.split(r"\r\n|\r|\n", text))
