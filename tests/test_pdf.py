"""The city's document as a PDF: facsimiles from two producers build the text path's release byte for
byte; damaged, cut, encrypted, image-only and foreign PDFs are refused with exit 2; fuzzed PDF bytes
never give a traceback.

We have no copy of the city's PDF: `tools/facsimile.py` makes the PDFs from text editions, once per
session (reportlab in-process, Chromium once for the real text and once for the next edition).
"""

from __future__ import annotations

import io
import itertools
import json
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import DATASET, REAL, REPO, VERSION, edit, real_lines, snapshot, write_doc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.cli import main

sys.path.insert(0, str(REPO / "tools"))
import facsimile

# One xdist group: the facsimiles are made once, by the worker that runs these tests.
pytestmark = pytest.mark.xdist_group("pdf")

PUBLISHED = REPO / "published" / DATASET / VERSION
PDF_NAME = REAL.with_suffix(".pdf").name


def _edition_2024(lines: list[str]) -> list[str]:
    """The next edition the text tests use (tests/test_cli.py): one count moved, totals updated."""
    lines = edit(lines, 4, "2023年２月10日", "2024年２月９日")
    lines = edit(lines, 25, "人事 14 8 6", "人事 15 9 6")
    lines = edit(lines, 30, "合計 295 54", "合計 296 55")
    return edit(lines, 43, "295件", "296件")


# Broken variants of tests/test_invariants.py, as PDFs: (id, edit, check, words the message must hold).
BROKEN = [
    ("row total", lambda l: edit(l, 26, "包括 48 16 20", "包括 48 16 21"),
     "agreement_counts.row_totals", ["包括", "line 26, page 1", "48", "49"]),
    ("missing partner", lambda l: l[:63] + l[64:],
     "partnership_partners.count", ["【協定先:21団体】", "line 65, page 1", "20 names"]),
    ("sub-amount above budget", lambda l: edit(l, 115, "5,449千円", "17,096千円"),
     "initiatives.sub_amount_within_budget", ["取組ID 3", "17096", "17095", "line 106, page 2"]),
    ("unknown partner in section 3", lambda l: edit(l, 275, "FSGｶﾚｯｼﾞﾘｰｸﾞ", "FSG"),
     "partnership_activities.partner_resolution",
     ["学校法人国際総合学園FSG", "line 275, page 3", "matches no partner"]),
]


def _pdf(folder: Path, name: str, lines: list[str], producer: str = "reportlab") -> bytes:
    """A facsimile of `lines`, made by tools/facsimile.py as a steward's script would run it."""
    folder.mkdir(parents=True, exist_ok=True)
    text = folder / f"{name}.txt"
    text.write_text("\n".join(lines), encoding="utf-8")
    return facsimile.make(text, folder / f"{name}.pdf", producer).read_bytes()


@pytest.fixture(scope="session")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every PDF the tests read, made once: the real text by both producers, the next edition, the
    broken variants, a foreign document, and the refusals made from the real facsimile."""
    import pypdfium2
    from pypdf import PdfWriter

    folder = tmp_path_factory.mktemp("facsimiles")
    lines = real_lines()
    made = {producer: _pdf(folder, producer, lines, producer) for producer in ("reportlab", "chromium", "typst")}
    first_page = facsimile.paginate(lines)[0].lines  # small inputs keep the fuzzing fast
    made["fuzz-reportlab"] = _pdf(folder, "fuzz-reportlab", first_page)
    made["fuzz-chromium"] = _pdf(folder, "fuzz-chromium", first_page, "chromium")
    made["2024"] = _pdf(folder, "2024", _edition_2024(lines), "chromium")
    made["layout"] = _pdf(folder, "layout", edit(lines, 26, "包括 48", "包括 4.8"))
    for case, mutate, _, _ in BROKEN:
        made[case] = _pdf(folder, case.replace(" ", "-"), mutate(lines))
    made["foreign"] = _pdf(folder, "foreign", (REPO / "README.md").read_text(encoding="utf-8").split("\n")[:120])
    real = made["reportlab"]
    made["truncated"] = real[: len(real) * 2 // 3]
    made["damaged"] = bytes(b ^ 0x5A if 2000 <= i < 2400 else b for i, b in enumerate(real))
    writer = PdfWriter(clone_from=io.BytesIO(real))
    writer.encrypt("the-city's-password")
    out = io.BytesIO()
    writer.write(out)
    made["encrypted"] = out.getvalue()
    image = pypdfium2.PdfDocument(real)[0].render(scale=1.5).to_pil()  # a scan: pixels, no text layer
    out = io.BytesIO()
    image.save(out, format="PDF")
    made["image-only"] = out.getvalue()
    return made


def _build(capfd: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    capfd.readouterr()
    code = main(["build", *map(str, args)])
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "internal error" not in err, out + err
    return code, out, err


def _files(release: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(release.iterdir())}


# ── both facsimiles give the text path's release ─────────────────────────────────────────


def test_default_build_prefers_the_pdf_and_gives_the_text_release_byte_for_byte(
    pdfs: dict[str, bytes], tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the text and the reportlab PDF of one date in raw/, the build takes the PDF, says so on the
    terminal and in the report, and publishes exactly the committed release of the text."""
    write_doc(tmp_path / "raw", REAL.read_text(encoding="utf-8").split("\n"))
    write_doc(tmp_path / "raw", data=pdfs["reportlab"], name=PDF_NAME)
    monkeypatch.chdir(tmp_path)
    code, out, err = _build(capfd, "--out", "catalog", "--report", "report.json")
    assert code == 0, out + err
    assert f"raw/{PDF_NAME} was chosen over raw/{REAL.name}" in err
    report = json.loads(Path("report.json").read_text(encoding="utf-8"))
    assert PDF_NAME in report["outcome"]["source_selection"]
    assert {"label": PDF_NAME, "expected": None, "actual": "PDF, 3 pages"} in next(
        c for c in report["checks"] if c["check"] == "source.readable")["compared"]
    assert _files(tmp_path / "catalog" / DATASET / VERSION) == _files(PUBLISHED)


@pytest.mark.parametrize("producer", ["chromium", "typst"])
def test_another_producers_facsimile_gives_the_text_release_byte_for_byte(
    pdfs: dict[str, bytes], tmp_path: Path, capfd: pytest.CaptureFixture[str], producer: str
) -> None:
    """An HTML page printed by headless Chromium (radicals in its text layer), and a Typst document (half-width
    kana shaped with their sound marks into glyph clusters, whose marks have no ToUnicode entry of their own)
    build the same files, 原文行番号 and 原文 columns included."""
    raw = write_doc(tmp_path / "raw", data=pdfs[producer], name=PDF_NAME)
    code, out, err = _build(capfd, "--raw", raw, "--out", tmp_path / "catalog")
    assert code == 0, out + err
    assert _files(tmp_path / "catalog" / DATASET / VERSION) == _files(PUBLISHED)


def test_next_edition_from_a_pdf_builds_and_diffs(
    pdfs: dict[str, bytes], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The 2024 edition as a PDF builds beside the 2023 release with no code change; diff shows the move."""
    catalog = tmp_path / "catalog"
    shutil.copytree(PUBLISHED.parent.parent, catalog)
    raw = write_doc(tmp_path / "raw", data=pdfs["2024"], name="koriyama-renkei-kyotei-2024-02-09.pdf")
    code, out, err = _build(capfd, "--raw", raw, "--out", catalog)
    assert code == 0, out + err
    assert main(["diff", str(catalog / DATASET / VERSION), str(catalog / DATASET / "2024-02-09")]) == 0
    assert "協定種別=人事, 相手方区分=官: 協定数 8 → 9" in capfd.readouterr().out


def test_register_records_a_pdf_without_an_encoding(pdfs: dict[str, bytes], tmp_path: Path,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    """`etl register FILE.pdf` records bytes and SHA-256 as a PDF resource (no text encoding)."""
    path = write_doc(tmp_path, data=pdfs["reportlab"], name=PDF_NAME, register=False)
    assert main(["register", str(path)]) == 0
    assert "bytes, PDF, sha256:" in capfd.readouterr().out
    record = json.loads((tmp_path / "datapackage.json").read_text(encoding="utf-8"))["resources"][0]
    assert record["format"] == "pdf" and record["mediatype"] == "application/pdf" and "encoding" not in record
    assert record["bytes"] == len(pdfs["reportlab"])


# ── errors point at line and page ────────────────────────────────────────────────────────


@pytest.mark.parametrize(("case", "check", "words"), [(c, k, w) for c, _, k, w in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_pdf_exits_1_naming_line_and_page(
    pdfs: dict[str, bytes], tmp_path: Path, capfd: pytest.CaptureFixture[str], case: str, check: str,
    words: list[str]
) -> None:
    """A PDF whose numbers do not add up is refused like its text (exit 1), its message naming line and page."""
    raw = write_doc(tmp_path / "raw", data=pdfs[case], name=PDF_NAME)
    code, out, err = _build(capfd, "--raw", raw, "--out", tmp_path / "catalog")
    assert code == 1, out + err
    lines = [ln for ln in out.splitlines() if check in ln]
    for word in words:
        assert any(word in ln for ln in lines), f"{word!r} missing from {lines}"
    assert not (tmp_path / "catalog").exists()


def test_layout_error_in_a_pdf_names_line_and_page(pdfs: dict[str, bytes], tmp_path: Path,
                                                   capfd: pytest.CaptureFixture[str]) -> None:
    """A layout the readers refuse says 'line N (page P)', as printed in the PDF: exit 2."""
    raw = write_doc(tmp_path / "raw", data=pdfs["layout"], name=PDF_NAME)
    code, _, err = _build(capfd, "--raw", raw, "--out", tmp_path / "catalog")
    assert code == 2 and "line 26 (page 1): count table row" in err, err


# ── refusals ─────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(("case", "says"), [
    ("damaged", "is a damaged PDF or one whose text cannot be copied"),
    ("truncated", "is a damaged or incomplete PDF"),
    ("encrypted", "is an encrypted (password-protected) PDF"),
    ("image-only", "without a text layer"),
    ("foreign", "section 1 heading"),
])
def test_unusable_pdf_exits_2_with_one_paragraph_and_the_catalog_untouched(
    pdfs: dict[str, bytes], tmp_path: Path, capfd: pytest.CaptureFixture[str], case: str, says: str
) -> None:
    """Damaged, cut, encrypted, scanned and foreign PDFs: exit 2, one paragraph saying why, nothing published."""
    catalog = tmp_path / "catalog"
    shutil.copytree(PUBLISHED.parent.parent, catalog)
    before = snapshot(catalog)
    raw = tmp_path / "raw" / PDF_NAME
    raw.parent.mkdir()
    raw.write_bytes(pdfs[case])
    code, _, err = _build(capfd, "--raw", raw, "--out", catalog, "--dry-run")
    assert code == 2, err
    message = [ln for ln in err.splitlines() if not ln.startswith("etl build: warning:")]  # not registered
    assert len(message) == 1 and says in message[0], err
    if case == "image-only":
        assert "OCR" in message[0]
    assert snapshot(catalog) == before
    if case != "foreign":  # an unreadable PDF cannot be registered either (a readable one can, like a text)
        assert main(["register", str(raw)]) == 2
        assert not (raw.parent / "datapackage.json").exists()


# ── fuzzing the PDF bytes ───────────────────────────────────────────────────────────────


FUZZ = settings(deadline=None, max_examples=30,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@FUZZ
@given(producer=st.sampled_from(["reportlab", "chromium"]),
       cut=st.one_of(st.none(), st.floats(0, 1)),
       flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), max_size=8))
def test_mutated_or_truncated_pdf_never_crashes(pdfs: dict[str, bytes], capfd: pytest.CaptureFixture[str],
                                                producer: str, cut: float | None,
                                                flips: list[tuple[float, int]]) -> None:
    """A facsimile (its first page, by either producer) with bytes flipped or cut off exits 1 or 2 with a
    message, never with a traceback, and leaves the catalog as it was."""
    data = bytearray(pdfs[f"fuzz-{producer}"])
    for where, mask in flips:
        data[int(where * (len(data) - 1))] ^= mask
    if cut is not None:
        data = data[: int(cut * len(data))]
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / PDF_NAME
        raw.write_bytes(bytes(data))
        catalog = Path(tmp) / "catalog"
        catalog.mkdir()
        code, out, err = _build(capfd, "--raw", raw, "--out", catalog, "--dry-run")
        assert code in {1, 2} and err.strip(), out + err  # one page is never the whole document
        assert snapshot(catalog) == {}


# ── the geometric reader, on its own ─────────────────────────────────────────────────────


_WORD = st.text(alphabet="郡山市連携協定あいうえおアイウエオｱｲｳｴｵﾊﾟｰﾄﾅｰ・、（）0123456789ABCxyz-‐※▶",
                min_size=1, max_size=12)
_LINE = st.one_of(st.just(""), st.lists(_WORD, min_size=1, max_size=4).map(" ".join))


def _shows_the_pitch(lines: list[str]) -> bool:
    """Two lines printed one under the other on one page: only they show what one line pitch is, and so
    how many blank lines a wider gap holds. The facsimile starts a page at a line like 「2 …」 (a
    section's heading), so two such lines of the text may be printed on two pages."""
    return any(a.strip() and b.strip() for page in facsimile.paginate(lines) for a, b in itertools.pairwise(page.lines))


@settings(deadline=None, max_examples=15)
@given(lines=st.lists(_LINE, min_size=2, max_size=60).filter(lambda ls: ls[0] != "" and _shows_the_pitch(ls)))
def test_reader_gives_back_the_lines_a_facsimile_prints(tmp_path_factory: pytest.TempPathFactory,
                                                        lines: list[str]) -> None:
    """Any lines (cells, blank lines, half-width katakana) printed on a page read back as the same
    numbered lines: rows by baseline, cells by wide gaps, blank lines by the pitch (which two lines
    of one paragraph show)."""
    from etl.source.pdf import read_lines

    folder = tmp_path_factory.mktemp("reader")
    data = _pdf(folder, "doc", lines)
    read = read_lines(data, "doc.pdf")
    read, pages, count = read.lines, read.pages, read.count
    last = max(i for i, t in enumerate(lines) if t) + 1  # a page shows no blank lines at its foot
    assert list(read) == lines[:last]
    assert list(pages) == sorted(pages) and count == max(pages)  # a line like 「2 …」 may open a page


def test_a_pdf_that_reads_too_long_or_has_too_many_pages_is_refused(
    pdfs: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parser is stopped by a time limit and a page limit, each a SourceError saying so."""
    from etl.errors import SourceError
    from etl.source import pdf

    monkeypatch.setattr(pdf, "MAX_SECONDS", 0.001)
    with pytest.raises(SourceError, match="took more than"):
        pdf.read_lines(pdfs["reportlab"], "slow.pdf")
    monkeypatch.setattr(pdf, "MAX_SECONDS", 30)
    monkeypatch.setattr(pdf, "MAX_PAGES", 2)
    with pytest.raises(SourceError, match="has 3 pages"):
        pdf.read_lines(pdfs["reportlab"], "long.pdf")


# ── the reader starts before the libraries load ─────────────────────────────────────────


def _readings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the PDF readings started (each one child process), in order."""
    from etl.source import pdf

    started: list[str] = []

    class Counted(pdf._Reading):
        def __init__(self, data: bytes, name: str) -> None:
            started.append(name)
            super().__init__(data, name)

    monkeypatch.setattr(pdf, "_Reading", Counted)
    return started


def _no_reader_left() -> bool:
    import multiprocessing

    from etl.source import pdf

    return pdf._early is None and not multiprocessing.active_children()


def test_a_build_takes_the_reading_it_started_before_loading_the_libraries(
    pdfs: dict[str, bytes], tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`etl build` starts the PDF's reader first (etl.cli) and the pipeline takes its lines once the
    registry has verified the bytes: one child, not two, and none left when the build ends."""
    from etl import cli

    write_doc(tmp_path / "raw", data=pdfs["reportlab"], name=PDF_NAME)  # registering reads it too
    started = _readings(monkeypatch)
    monkeypatch.setattr(cli, "_libraries_loaded", lambda: started.append("libraries loaded"))
    code, out, err = _build(capfd, "--raw", tmp_path / "raw" / PDF_NAME, "--out", tmp_path / "catalog")
    assert code == 0, out + err
    assert started == [PDF_NAME, "libraries loaded"]
    assert _no_reader_left()
    assert _files(tmp_path / "catalog" / DATASET / VERSION) == _files(PUBLISHED)


def test_a_refused_build_stops_the_reading_it_started(
    pdfs: dict[str, bytes], tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PDF without a record is refused before its lines are used (exit 2, nothing published); the
    child started early is stopped, not left reading."""
    started = _readings(monkeypatch)
    raw = tmp_path / "raw" / PDF_NAME
    raw.parent.mkdir()
    raw.write_bytes(pdfs["reportlab"])
    code, _, err = _build(capfd, "--raw", raw, "--out", tmp_path / "catalog")
    assert code == 2 and "is not registered" in err, err
    assert started == [PDF_NAME]
    assert _no_reader_left()
    assert not (tmp_path / "catalog" / DATASET).exists()


def test_bytes_other_than_those_read_early_are_read_again(
    pdfs: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The early reading is taken only for the very bytes it read: a file replaced meanwhile is read
    again (the early child stopped), and a text starts no reader at all."""
    from etl.source import pdf, registry

    started = _readings(monkeypatch)
    path = tmp_path / PDF_NAME
    path.write_bytes(pdfs["reportlab"])
    registry.start_reading(path)
    read = pdf.read_lines(pdfs["2024"], PDF_NAME)
    assert started == [PDF_NAME, PDF_NAME]
    assert any("2024年２月９日" in line for line in read.lines)
    assert _no_reader_left()
    registry.start_reading(REAL)
    assert started == [PDF_NAME, PDF_NAME] and _no_reader_left()


def _two_words(first: str, second: str, gap: float, space_glyph: bool = False) -> bytes:
    """A page with two words on one baseline, `gap` font sizes apart (or parted by a drawn space)."""
    from reportlab.pdfgen import canvas

    facsimile._register_font()
    size, out = 10.0, io.BytesIO()
    page = canvas.Canvas(out)
    page.setFont(facsimile.FONT, size)
    if space_glyph:
        page.drawString(100, 700, f"{first} {second}")
    else:
        page.drawString(100, 700, first)
        page.drawString(100 + facsimile.width(first, size) + gap * size, 700, second)
    page.save()
    return out.getvalue()


@pytest.mark.parametrize(("first", "second", "gap", "read"), [
    ("協定", "先名", 0.0, "協定先名"),      # one word
    ("協定", "先名", 0.05, "協定先名"),     # letter spacing
    ("協定", "先名", 0.25, "協定 先名"),    # a word space without a glyph
    ("協定", "先名", 1.0, "協定 先名"),     # two cells of a table printed without rules
    ("との", "SDGs", 0.25, "とのSDGs"),     # 四分アキ: a typesetter's space between Japanese and Latin
    ("者", "ＳＯＳ", 0.25, "者ＳＯＳ"),     # full-width Latin letters are Latin
    ("FSG", "ｶﾚｯｼﾞ", 0.125, "FSGｶﾚｯｼﾞ"),   # half-width katakana are Japanese
    ("１", "他機関", 1.0, "１ 他機関"),
    ("a.ru.ku", "Books", 0.3, "a.ru.ku Books"),
    ("１", "他機関", None, "１ 他機関"),      # a space glyph is a space, whatever its width
])
def test_a_word_space_is_read_where_one_is_printed(first: str, second: str, gap: float | None, read: str) -> None:
    """Outside ruled tables a space glyph, or a gap of a space's width, is one space; a gap between a
    Japanese character and a Latin letter or digit needs more, since typesetters put a quarter em there
    of their own."""
    from etl.source.pdf import read_lines

    data = _two_words(first, second, gap or 0.0, space_glyph=gap is None)
    assert read_lines(data, "words.pdf").lines == (read,)


@pytest.mark.parametrize(("first", "second", "gap"), [("協定", "先名", 0.15), ("協定", "先名", 0.12),
                                                      ("との", "SDGs", 0.45), ("との", "SDGs", 0.48)])
def test_a_gap_too_near_a_space_is_refused_not_guessed(first: str, second: str, gap: float) -> None:
    """A gap within SPACE_MARGIN of what reads as a space (letter spacing, or a narrow space) could be
    either; the reader names the page, the row and the gap instead of guessing."""
    from etl.errors import SourceError
    from etl.source.geometry import SPACE_MARGIN
    from etl.source.pdf import read_lines

    with pytest.raises(SourceError) as caught:
        read_lines(_two_words(first, second, gap), "gap.pdf")
    assert f"gap.pdf, page 1: in the row 「{first}{second}」 the gap between 「{first[-1]}」 and 「{second[0]}」 is " \
           f"{gap:.2f} font sizes, too near" in str(caught.value)
    assert SPACE_MARGIN < 0.1


def test_typst_shapes_clusters_that_pdfminer_alone_cannot_read(pdfs: dict[str, bytes]) -> None:
    """The Typst facsimile has glyphs without a ToUnicode entry of their own: pdfminer reads them as
    (cid:N), and the reader takes those rows' text from pdfium (the test would pass trivially otherwise)."""
    import pdfplumber

    with pdfplumber.open(io.BytesIO(pdfs["typst"])) as pdf:
        unmapped = [c["text"] for page in pdf.pages for c in page.chars if c["text"].startswith("(cid:")]
    assert len(unmapped) > 10


def test_a_glyph_nothing_maps_is_still_refused_naming_its_cid(pdfs: dict[str, bytes], monkeypatch) -> None:
    """When pdfium cannot read a glyph either, the PDF is refused, and the message quotes (cid:N)."""
    from etl.errors import SourceError
    from etl.source import pdf

    monkeypatch.setattr(pdf, "_pdfium_chars", lambda page: [])  # pdfium reads nothing of these pages
    with pytest.raises(SourceError, match=r"read as \(cid:\d+\)\) do not say which character they draw"):
        pdf.read_lines(pdfs["typst"], "typst.pdf")
