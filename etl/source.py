"""Reading the source document: bytes → lines of text, whatever the encoding and line endings."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

from etl.errors import SourceError

# Encodings the city's files arrive in, tried in this order after the BOM check.
ENCODINGS = ("utf-8", "cp932")
# C0 controls other than tab, LF, CR and form feed never occur in a text document.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class SourceText:
    """The decoded document: one string per line (1-based via `line(n)`), and where it came from."""

    path: Path
    encoding: str
    lines: tuple[str, ...]

    def line(self, number: int) -> str:
        return self.lines[number - 1]


def read_source(path: Path) -> SourceText:
    """Read and decode a source document, or raise `SourceError` saying why it is unusable."""
    return from_bytes(Path(path), read_bytes(Path(path)))


def from_bytes(path: Path, data: bytes) -> SourceText:
    """Decode the bytes read from `path` (see `decode`)."""
    encoding, text = decode(data, Path(path).name)
    return SourceText(path=Path(path), encoding=encoding, lines=split_lines(text))


def read_bytes(path: Path) -> bytes:
    """The file's bytes; SourceError for a missing path, a folder, an unreadable or empty file."""
    if not path.exists():
        raise SourceError(f"{path}: no such file. Pass the path of a source document (raw/*.txt).")
    if path.is_dir():
        raise SourceError(f"{path} is a folder, not a source document. Pass the .txt file itself.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror}).") from None
    if not data.strip():
        raise SourceError(f"{path} is empty. Re-extract the text from the city's PDF.")
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
