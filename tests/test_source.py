"""Reading the source: supported encodings and line endings are accepted, anything else refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REAL, real_lines
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.errors import SourceError
from etl.source.text import decode, read_source, split_lines

TEXT = REAL.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.replace("▶", "■").encode("cp932"), "cp932"),
    ],
)
def test_supported_encodings_are_detected(data: bytes, encoding: str) -> None:
    """UTF-8, UTF-8 with BOM and Shift_JIS (cp932) decode to the same text (cp932 lacks ▶)."""
    found, text = decode(data)
    assert found == encoding
    assert text.replace("■", "▶") == TEXT


def test_line_endings_and_trailing_blanks_do_not_matter() -> None:
    """CRLF, CR and trailing spaces (ASCII or full-width) give the same lines as LF."""
    variants = [TEXT.replace("\n", "\r\n"), TEXT.replace("\n", "\r"), TEXT.replace("\n", "  \u3000\n")]
    for v in variants:
        assert split_lines(v) == split_lines(TEXT)
    assert len(split_lines(TEXT)) == len(real_lines())


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"  \n\n \t", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL bytes"),
        (TEXT.encode("utf-16"), "NUL bytes"),
        (b"\xff\xfe\xfd garbage \x80\x81", "not text in a supported encoding"),
        (b"text with a bell \x07 inside", "control characters"),
    ],
)
def test_unusable_files_are_refused_with_the_reason(tmp_path: Path, data: bytes, words: str) -> None:
    """Empty, binary, UTF-16 or undecodable input raises SourceError saying why (exit 2 in the CLI)."""
    path = tmp_path / "doc.txt"
    path.write_bytes(data)
    with pytest.raises(SourceError, match=words):
        read_source(path)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_decode_never_crashes(data: bytes) -> None:
    """Any bytes either decode or raise SourceError, never anything else."""
    try:
        encoding, text = decode(data)
    except SourceError as exc:
        assert str(exc)
    else:
        assert encoding in {"utf-8", "utf-8-sig", "cp932"} and isinstance(text, str)
