"""The city's PDF as a city prints it: ruled tables read cell by cell from their boxes, pages broken
after any row, other page sizes, fonts and pitches, glyphs in any order in the content stream, and two
readers of the text layer that must agree.

The PDFs are made by tools/facsimile_ruled.py from the committed release (the ETL in reverse), laid
out by WeasyPrint: each must build the release's tables again (原文行番号 aside: a ruled table is read
cell by cell, so its lines are numbered otherwise than the text's), or be refused with exit 1 or 2,
never give a valid release with other data.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import polars as pl
import pytest
from conftest import (
    DATASET,
    REAL,
    REPO,
    VERSION,
    data_of,
    dataset_of,
    real_lines,
    write_doc,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from etl.cli import main
from etl.errors import LayoutError, SourceError
from etl.pipeline import load
from etl.transform import Dataset
from etl.validate.run import validate_dataset

sys.path.insert(0, str(REPO / "tools"))
import facsimile_ruled as ruled

pytestmark = pytest.mark.xdist_group("ruled")

PUBLISHED = REPO / "published" / DATASET / VERSION
PDF_NAME = REAL.with_suffix(".pdf").name


BASE = data_of(dataset_of(real_lines()))  # the text's tables, 原文行番号 aside


def _differing(dataset: Dataset) -> list[str]:
    """The tables that differ from the text's (and so the committed release's), 原文行番号 aside."""
    got = data_of(dataset)
    return sorted(name for name, frame in BASE.items() if not got[name].equals(frame))


def _pdf(folder: Path, options: ruled.Options | None = None, name: str = PDF_NAME) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return ruled.with_weasyprint(PUBLISHED, folder / name, options)


@pytest.fixture(scope="module")
def city_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release printed on A4 with ruled tables, as laid out by default."""
    return _pdf(tmp_path_factory.mktemp("ruled"))


# ── point 1 and 2: a ruled layout builds the same tables ─────────────────────────────────


def test_a_release_printed_with_ruled_tables_builds_the_same_tables(
    city_like: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The release printed as a city prints it (ruled tables, wrapped cells, a 分野 cell spanning its
    rows with its label one character a line, empty count cells as boxes, a running header) builds
    with `etl build` into every table of the release again, 原文行番号 aside."""
    raw = write_doc(tmp_path / "raw", data=city_like.read_bytes(), name=PDF_NAME)
    code = main(["build", "--raw", str(raw), "--out", str(tmp_path / "catalog")])
    out, err = capfd.readouterr()
    assert code == 0, out + err
    built = sorted((tmp_path / "catalog" / DATASET / VERSION).glob("*.csv"))
    assert len(built) == 10
    for csv in built:
        mine = pl.read_csv(csv, infer_schema=False).drop("原文行番号", strict=False)
        assert mine.equals(pl.read_csv(PUBLISHED / csv.name, infer_schema=False).drop("原文行番号", strict=False))


def test_a_ruled_table_is_read_by_its_cells(city_like: Path) -> None:
    """The reader takes the cells from the table's rules: a cell's lines are a paragraph of their own,
    and where the cell's width broke a line the next one is known to go on with it. So a partner name
    wrapped before its legal form (福島ｽﾎﾟｰﾂｴﾝﾀﾃｲﾝﾒﾝﾄ / 株式会社), which a text's reader takes for two
    names, is one."""
    from etl.source.text import read_source

    source = read_source(city_like)
    assert len(source.ruled.cells) > 100 and source.ruled.wrapped < source.ruled.cells <= source.ruled.tables
    n = next(i for i, t in enumerate(source.lines, start=1) if t == "福島ｽﾎﾟｰﾂｴﾝﾀﾃｲﾝﾒﾝﾄ")
    assert source.line(n + 1) == "株式会社" and n + 1 in source.ruled.wrapped
    sports = load(city_like).tables["initiative_partners"].filter(pl.col("取組ID") == 8)
    assert sports["協定先名称_原文"].to_list() == ["福島ｽﾎﾟｰﾂｴﾝﾀﾃｲﾝﾒﾝﾄ株式会社"]


def test_read_by_baselines_alone_the_ruled_pdf_does_not_build(city_like: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the ruled reading is for: with every table ignored (rows by baseline, as the reader read
    every PDF before), the same PDF gives no valid release with the release's data, since cells side by
    side interleave their lines."""
    from etl.source import geometry

    monkeypatch.setattr(geometry, "found_tables", lambda page: [])
    try:
        ds = load(city_like)
    except (SourceError, LayoutError):
        return
    assert not validate_dataset(ds).valid or _differing(ds)


@pytest.mark.parametrize("breaks", [
    {"s2:2"},                # inside the 医療 group: its spanning 分野 cell is cut by the page break
    {"s2:0", "s3:0"},        # right under each table's header: the header alone on its page
    {"counts:1", "s2:7", "s3:4"},
    {"s3:6", "s3:7"},        # inside the 農業 group of section 3
])
def test_a_table_broken_across_pages_reads_as_one(tmp_path: Path, breaks: set[str]) -> None:
    """A page break after any row: the table goes on on the next page under its repeated header (read
    once), and a 分野 cell the break cuts keeps its label for every row it spans."""
    from etl.source.text import read_source

    pdf = _pdf(tmp_path, ruled.Options(breaks=frozenset(breaks)))
    assert _differing(load(pdf)) == []
    lines = read_source(pdf).lines
    assert lines.count("協定締結企業等") == 1 and lines.count("協定名称") == 1


@pytest.mark.parametrize("css", [
    "td:nth-last-child(2) > div { text-indent: 1em; }",  # 字下げ: a first line set in by a character
    "td { letter-spacing: 0.08em; }",                     # a character grid wider than the glyphs
    "td:nth-last-child(2) { text-align: center; }",       # centred items
    "td.amount { text-align: left; }",
])
def test_a_wrap_is_told_whatever_the_indent_spacing_or_alignment(tmp_path: Path, css: str) -> None:
    """Where a cell's width broke a line is measured in the room the line left where its text could go
    on (at the right of an indented line, on both sides of a centred one, with the letter spacing it is
    set with): a wrapped item is one item, not two."""
    assert _differing(load(_pdf(tmp_path, ruled.Options(css=css)))) == []


def _char(text: str, x: float, top: float, size: float = 10.0) -> dict:
    return {"text": text, "x0": x, "x1": x + size, "top": top, "bottom": top + size, "size": size}


def test_a_cell_left_open_takes_only_the_text_right_under_it() -> None:
    """A spanning cell a page break cut takes the label printed just under the table's last rule, not
    a note or a page number further down the same column."""
    from etl.source import geometry

    found = [((0.0, 0.0, 200.0, 60.0), [[(0.0, 0.0, 20.0, 30.0), (20.0, 0.0, 200.0, 30.0)],
                                        [None, (20.0, 30.0, 200.0, 60.0)]])]
    chars = [_char("こ", 5, 10), _char("協", 30, 10), _char("定", 30, 40),
             _char("防", 5, 62), _char("災", 5, 73), _char("注", 5, 600)]
    tables, loose = geometry.tables(found, chars, "x.pdf", 1)
    open_cell = next(c for c in tables[0].rows[1] if c.box[0] == 0.0)
    assert [line[1] for line in open_cell.lines] == ["防", "災"]
    assert [c["text"] for c in loose] == ["注"]


def test_text_stacked_on_text_does_not_break_the_pitch() -> None:
    """Lines less than a tenth of a point apart (hidden text over text) tell nothing of the line pitch."""
    from etl.source.geometry import pitch

    assert pitch([[10.0, 10.02, 22.0, 34.0, 46.0]]) == 12.0


def test_a_text_reads_its_furniture_as_before() -> None:
    """The page-break rules are a PDF's: in a text, a unit line right under the programme's paragraph
    still ends that paragraph, and the partner list is the one above 【協定先:N団体】, as before."""
    lines = real_lines()
    lines.insert(41, "単位:件")  # after the programme's description, before the headline and the names
    assert _differing(dataset_of(lines)) == []


# ── point 3: any page break, page, font, pitch and glyph order ───────────────────────────


LAYOUTS = st.builds(
    ruled.Options,
    page=st.sampled_from(["A4", "A3", "B5", "letter"]),
    landscape=st.booleans(),
    font=st.sampled_from(list(ruled.FONTS)),
    size=st.sampled_from([7.0, 8.0, 9.0, 10.0, 11.0]),
    pitch=st.sampled_from([1.2, 1.5, 1.8, 2.2]),
    breaks=st.frozensets(st.one_of(st.integers(0, 4).map("counts:{}".format),
                                   st.integers(0, 11).map("s2:{}".format),
                                   st.integers(0, 10).map("s3:{}".format)), max_size=4),
    glyph_order=st.sampled_from(["as-laid-out", "reversed", "shuffled"]),
    seed=st.integers(0, 99),
)


# A sweep of many more: ETL_RULED_EXAMPLES=80 python -m pytest tests/test_pdf_ruled.py -k any_layout -n 0
@settings(deadline=None, max_examples=int(os.environ.get("ETL_RULED_EXAMPLES", "8")), derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(options=LAYOUTS)
@example(ruled.Options(font="IPAexMincho", size=7, pitch=2.2, breaks=frozenset({"s2:8"}), glyph_order="shuffled",
                       seed=1))  # a 禁則 unit (ギー」) that a wrapped line put at the start of the next
@example(ruled.Options(page="B5", landscape=True, font="Noto Serif CJK JP", size=8, pitch=2.2,
                       breaks=frozenset({"s3:4", "s2:9", "s3:8"}), glyph_order="shuffled", seed=11))
@example(ruled.Options(page="letter", landscape=True, font="Noto Sans CJK JP", size=8, pitch=1.8,
                       breaks=frozenset({"s3:0", "s2:7", "counts:1"}), glyph_order="reversed"))
def test_any_layout_builds_the_same_tables_or_is_refused(tmp_path_factory: pytest.TempPathFactory,
                                                         options: ruled.Options) -> None:
    """Page breaks after any row (inside tables too), page size and orientation, font, font size and
    line pitch, and the order of the glyphs in the content stream: each PDF builds the release's
    tables, or is refused (exit 2: unreadable or a layout that cannot be told; exit 1: a check fails).
    Never a valid release with other data."""
    pdf = _pdf(tmp_path_factory.mktemp("layout"), options)
    try:
        ds = load(pdf)
    except (SourceError, LayoutError):
        return  # exit 2
    if validate_dataset(ds).valid:
        assert _differing(ds) == [], options


def test_the_order_of_glyphs_in_the_content_stream_changes_nothing(tmp_path: Path) -> None:
    """The same page with its runs of glyphs reversed (bottom row first) or shuffled reads the same."""
    from etl.source.pdf import read_lines

    as_laid_out = read_lines(_pdf(tmp_path / "a").read_bytes(), "a.pdf")
    for order in ("reversed", "shuffled"):
        pdf = _pdf(tmp_path / order, ruled.Options(glyph_order=order, seed=7))
        assert pdf.read_bytes() != (tmp_path / "a" / PDF_NAME).read_bytes()
        assert read_lines(pdf.read_bytes(), f"{order}.pdf") == as_laid_out


# ── point 5: two readers agree ───────────────────────────────────────────────────────────


def _with_actual_text(data: bytes, actual: str) -> bytes:
    """The PDF with its first text object marked as standing for `actual` (/ActualText): pdfium reads
    that, pdfminer the glyphs, as a font whose map and glyphs say two things would be read."""
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        page = pdf.pages[0]
        ops = list(pikepdf.parse_content_stream(page))
        shown = next(i for i, op in enumerate(ops) if str(op.operator) in {"Tj", "TJ"})
        first = max(i for i, op in enumerate(ops[:shown]) if str(op.operator) == "BT")
        end = next(i for i, op in enumerate(ops) if str(op.operator) == "ET" and i > shown)
        span = pikepdf.ContentStreamInstruction(
            [pikepdf.Name("/Span"), pikepdf.Dictionary(ActualText=pikepdf.String(actual))], pikepdf.Operator("BDC"))
        ops[first:end + 1] = [span, *ops[first:end + 1], pikepdf.ContentStreamInstruction([], pikepdf.Operator("EMC"))]
        page.Contents = pdf.make_stream(pikepdf.unparse_content_stream(ops))
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def test_a_ligature_and_a_dot_leader_read_alike_in_both_readers() -> None:
    """A compatibility form (the ligature ﬁ, which pdfium splits into f and i) and white space a glyph
    maps to are no disagreement: the rows are compared in NFKC, spaces aside."""
    from etl.source.pdf import _compared

    assert _compared("Themisﬁts ⽉ . . .") == _compared("The misfits 月...")
    assert _compared("株式会社ﾌﾟﾛ") != _compared("株式会社ﾌﾛ")


def test_where_pdfminer_and_pdfium_read_a_row_differently_the_pdf_is_refused(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A row that the two readers read differently (here the first line of text, marked as standing for
    other text) is refused with exit 2, naming the page and the row and quoting both readings."""
    import facsimile
    from reportlab.pdfgen import canvas

    facsimile._register_font()
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.setFont(facsimile.FONT, 10)
    page.drawString(100, 700, "株式会社ﾌﾟﾛｽﾎﾟｰﾂ")
    page.save()
    data = _with_actual_text(out.getvalue(), "株式会社ﾌﾛｽﾎﾟｰﾂ")
    raw = tmp_path / PDF_NAME
    raw.write_bytes(data)
    code = main(["build", "--raw", str(raw), "--out", str(tmp_path / "catalog"), "--dry-run"])
    err = capfd.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert (f"{PDF_NAME}, page 1: the two PDF readers disagree: in the row 「株式会社ﾌﾟﾛｽﾎﾟｰﾂ」 pdfminer reads "
            "「会社ﾌﾟﾛｽﾎ」 where pdfium reads 「会社ﾌﾛｽﾎﾟ」") in err


def _turned(data: bytes, rotate: int, matrix: list[float]) -> bytes:
    """The one-page PDF drawn turned in its user space by `matrix` and shown turned back by /Rotate, as
    a landscape page of a budget book often is."""
    import pikepdf

    with pikepdf.open(io.BytesIO(data)) as pdf:
        page = pdf.pages[0]
        width, height = (float(v) for v in page.MediaBox[2:])
        ops = [pikepdf.ContentStreamInstruction([], pikepdf.Operator("q")),
               pikepdf.ContentStreamInstruction(matrix, pikepdf.Operator("cm")),
               *pikepdf.parse_content_stream(page), pikepdf.ContentStreamInstruction([], pikepdf.Operator("Q"))]
        page.Contents = pdf.make_stream(pikepdf.unparse_content_stream(ops))
        page.MediaBox, page.Rotate = [0, 0, height, width], rotate
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def test_a_page_turned_by_rotate_reads_as_it_is_shown() -> None:
    """pdfium's characters are taken where the page shows them (FPDF_PageToDevice, its /Rotate applied),
    as pdfplumber gives its own: a page turned by /Rotate 90 or 270 reads as the same page unturned, and
    text the turn shows upside down is refused, not read backwards."""
    import facsimile
    from reportlab.pdfgen import canvas

    from etl.source.pdf import read_lines

    facsimile._register_font()
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=(400, 300))
    page.setFont(facsimile.FONT, 10)
    page.drawString(50, 250, "郡山市 他機関との連携協定")
    page.drawString(50, 236, "株式会社ﾌﾟﾛｽﾎﾟｰﾂ")
    page.save()
    plain = read_lines(out.getvalue(), "plain.pdf").lines
    assert plain == ("郡山市 他機関との連携協定", "株式会社ﾌﾟﾛｽﾎﾟｰﾂ")
    assert read_lines(_turned(out.getvalue(), 90, [0, 1, -1, 0, 300, 0]), "turned.pdf").lines == plain
    assert read_lines(_turned(out.getvalue(), 270, [0, -1, 1, 0, 0, 400]), "turned.pdf").lines == plain
    with pytest.raises(SourceError, match="the two PDF readers disagree"):
        read_lines(_turned(out.getvalue(), 270, [0, 1, -1, 0, 300, 0]), "upside-down.pdf")
