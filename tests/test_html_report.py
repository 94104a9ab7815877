"""The HTML report: built for a valid, an invalid and a refused build and for a release, and opened
in a real headless Chromium (Debian's, see tests/browser.py) driven by playwright."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import DATASET, REAL, VERSION, edit, real_lines, write_doc

from etl.cli import main

# One xdist group: the pages and the browser are set up once, on one worker.
pytestmark = pytest.mark.xdist_group("html")


@dataclass
class Built:
    code: int
    html: Path
    report: dict


def _build(folder: Path, doc: Path, *extra: str) -> Built:
    folder.mkdir(parents=True, exist_ok=True)
    html, report = folder / "report.html", folder / "report.json"
    code = main(["build", "--raw", str(doc), "--out", str(folder / "catalog"), "--html", str(html),
                 "--report", str(report), *extra])
    return Built(code, html, json.loads(report.read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def pages(tmp_path_factory: pytest.TempPathFactory, published: Path) -> dict[str, Built]:
    """Each kind of report built once per session, in-process (matplotlib is imported once): a valid
    edition (the real document with one budget changed), a misprinted total, an unreadable file,
    and `etl report` of the edition against the real release (the session's `published`)."""
    root = tmp_path_factory.mktemp("html")
    misprint = write_doc(root / "invalid", edit(real_lines(), 30, "合計 295 54 215", "合計 295 54 216"))
    edition = write_doc(root / "valid", edit(real_lines(), 92, "2,400千円", "2,500千円"))
    out = {"valid": _build(root / "valid", edition),
           "invalid": _build(root / "invalid", misprint),
           "refused": _build(root / "refused", write_doc(root / "r", data=b"\x00\x01 not a text"))}
    os.environ["ETL_FAULT_FAIL"] = "staged"  # valid data, and the disk full while the release is staged
    try:
        out["unpublished"] = _build(root / "unpublished", edition)
    finally:
        del os.environ["ETL_FAULT_FAIL"]
    release = root / "release.html"
    code = main(["report", str(root / "valid" / "catalog" / DATASET / VERSION), "--against", str(published),
                 "--html", str(release)])
    out["release"] = Built(code, release, out["valid"].report)
    return out


def test_exit_codes_of_the_reports(pages: dict[str, Built]) -> None:
    """A page is written for exit 0, 1, 2 and 3 (and by etl report), each saying its verdict."""
    assert {k: b.code for k, b in pages.items()} == {"valid": 0, "invalid": 1, "refused": 2, "unpublished": 3,
                                                    "release": 0}
    assert "合格" in pages["valid"].html.read_text(encoding="utf-8")
    assert "不合格" in pages["invalid"].html.read_text(encoding="utf-8")


def test_a_build_that_could_not_publish_says_why(pages: dict[str, Built]) -> None:
    """Exit 3: every check passed, and the page says the release was not published, and why."""
    built = pages["unpublished"]
    page = built.html.read_text(encoding="utf-8")
    assert built.report["outcome"]["status"] == "not published" and built.report["failures"] == []
    assert "not published (exit 3)" in page and "failed: the disk is full" in page
    assert not (built.html.parent / "catalog" / DATASET / VERSION).exists()


def test_the_misprinted_total_is_named_first(pages: dict[str, Built]) -> None:
    """The first failure on the invalid page is the misprinted 民 total, with both numbers; no placement failure."""
    page = pages["invalid"].html.read_text(encoding="utf-8")
    first = page[page.index('<tr class="fail"'):]
    first = first[:first.index("</tr>")]
    assert 'data-check="agreement_counts.column_totals"' in first
    assert "民 (line 30): printed 合計 216, cells sum to 215." in first
    assert "✗</span> 216 / 215" in page and page.count('<tr class="fail"') == 1


def test_each_check_id_is_shown_with_what_it_checks_in_japanese(pages: dict[str, Built]) -> None:
    """The interface is Japanese: under each check id, its title (etl.validate.run.title)."""
    from etl.validate.run import title

    html = pages["invalid"].html.read_text(encoding="utf-8")
    ids = set(re.findall(r'data-check="([^"]+)"', html))
    assert "agreement_counts.column_totals" in ids and len(ids) > 20
    for check in ids:
        assert f"<code>{check}</code><span class=title>{title(check)}</span>" in html, check


def test_placed_cells_are_marked(pages: dict[str, Built]) -> None:
    """The two dropped cells of 人事 are marked as placed by the build; a release marks its 0s, saying why."""
    page = pages["valid"].html.read_text(encoding="utf-8")
    matrix = page[page.index("<table id=count-matrix>"):]
    matrix = matrix[:matrix.index("</table>")]
    assert matrix.count("placed") == 2 and "文書では空欄" in matrix
    release = pages["release"].html.read_text(encoding="utf-8")
    assert "記録していないため区別できない" in release


def test_the_release_report_shows_the_diff(pages: dict[str, Built]) -> None:
    """etl report --against highlights the changed budget of the edited edition."""
    page = pages["release"].html.read_text(encoding="utf-8")
    diff = page[page.index('<section id="diff">'):]
    assert "<tr class=changed>" in diff and "予算額_千円: 2400 → 2500" in diff


def test_a_linked_source_is_not_read_for_the_page(tmp_path: Path) -> None:
    """The build refuses a --raw that is a link before reading it; its page does not read it either."""
    import hashlib

    target = write_doc(tmp_path / "target")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    built = _build(tmp_path / "linked", link)
    page = built.html.read_text(encoding="utf-8")
    assert built.code == 2
    assert hashlib.sha256(target.read_bytes()).hexdigest() not in page and "not a regular file" in page


def test_document_text_is_escaped() -> None:
    """A name from the document is shown as text, never as markup."""
    from etl.pipeline import load
    from etl.report import html as html_report
    from etl.shared.results import Report

    dataset = load(REAL)
    partners = dataset.tables["partnership_partners"]
    dataset.tables["partnership_partners"] = partners.with_columns(
        partners["協定先名称"].str.replace(r"^", "<script>alert('x')</script>&"))
    page = html_report.render(html_report.Page(Report(), tables={"partnership_partners": dataset.tables[
        "partnership_partners"]}))
    assert "<script" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;" in page


def test_the_page_is_deterministic_and_self_contained(pages: dict[str, Built], tmp_path: Path) -> None:
    """The same release gives the same bytes (no clock); the page loads nothing and runs no script."""
    again = tmp_path / "again.html"
    release = pages["valid"].html.parent / "catalog" / DATASET / VERSION
    assert main(["report", str(release), "--html", str(again)]) == 0
    assert main(["report", str(release), "--html", str(tmp_path / "twice.html")]) == 0
    assert again.read_bytes() == (tmp_path / "twice.html").read_bytes()
    for page in (again.read_text(encoding="utf-8"), pages["valid"].html.read_text(encoding="utf-8")):
        assert '<html lang="ja">' in page and '<meta charset="utf-8">' in page and "@media print" in page
        assert not any(s in page for s in ("<script", "@import", "<link", "<img", "<iframe"))
        assert not re.search(r"""(src|href)=["'](?!#)|url\((?!#)""", page)  # only the SVGs' own clip paths, ticks


def test_build_without_html_does_not_import_matplotlib() -> None:
    """matplotlib is loaded only for a page: the modules of a plain build do not import it."""
    code = ("import sys, etl.cli, etl.pipeline, etl.report.html; "
            "sys.exit('matplotlib' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ── in a real browser ─────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session, driven by playwright (its driver ships in the wheel)."""
    import browser
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=browser.chromium(),
                              args=[f for f in browser.FLAGS if f != "--headless"])  # playwright adds it
        yield b
        b.close()


@pytest.mark.parametrize("kind", ["valid", "invalid", "refused", "unpublished", "release"])
def test_the_page_renders_in_chromium(chromium, pages: dict[str, Built], kind: str, tmp_path: Path) -> None:
    """Chromium renders the page to PNG and PDF with no console error and no request; every check
    id and every failure is in the DOM, and the charts are SVG with their Japanese labels as text."""
    built = pages[kind]
    page = chromium.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("request", lambda r: problems.append(f"request {r.url}") if r.url != built.html.as_uri() else None)
    page.goto(built.html.as_uri())
    page.screenshot(path=tmp_path / "page.png", full_page=True)
    page.pdf(path=tmp_path / "page.pdf")
    checks = {c["check"] for c in built.report["checks"]} if kind != "release" else set()
    shown = set(page.eval_on_selector_all("[data-check]", "els => els.map(e => e.dataset.check)"))
    failures = page.locator("tr.fail").all_inner_texts()
    charts = page.locator("figure.chart svg").count()
    labels = " ".join(page.locator("figure.chart svg text").all_text_contents())
    scripts = page.locator("script").count()
    page.close()
    assert problems == []
    assert (tmp_path / "page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "page.pdf").read_bytes()[:5] == b"%PDF-"
    assert checks <= shown and shown, shown
    if kind != "release":
        for failure in built.report["failures"]:
            said = " ".join(failure["message"].split())  # the DOM's text collapses runs of spaces
            assert any(said in " ".join(row.split()) for row in failures), failure["message"]
        assert len(failures) == len(built.report["failures"])
    assert scripts == 0
    if kind == "refused":  # nothing was read, so there is nothing to draw
        assert charts == 0
        return
    assert charts == 2
    for label in ("協定種別・相手方区分別の協定数", "人事", "災害", "民", "その他", "分野別の予算額（千円）", "医療", "うち額"):
        assert label in labels, label


def test_a_label_the_font_lacks_is_said_not_drawn_as_tofu() -> None:
    """A chart whose label has a character IPAexGothic lacks is replaced by a sentence saying so."""
    from etl.report import html as html_report

    shown = html_report._chart("counts_chart", (["人事", "\N{PLAYING CARD ACE OF SPADES}"], ["官"], {}))
    assert "<svg" not in shown and "グラフを描けませんでした" in shown and "IPAexGothic" in shown


@pytest.mark.parametrize("kind", ["valid", "invalid", "release"])
def test_the_first_screen_holds_what_a_steward_decides_on(chromium, pages: dict[str, Built], kind: str) -> None:
    """At 1280×800 the verdict, the count matrix and (when a check failed) the failure lie on the first screen;
    no number breaks over two lines and no table is wider than the window."""
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    page.goto(pages[kind].html.as_uri())
    top = lambda selector: page.locator(selector).first.bounding_box()["y"]  # noqa: E731
    wrapped = page.eval_on_selector_all("td.n, th.n", """els => els.filter(el => {
        const range = document.createRange(); range.selectNodeContents(el);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        return lines.size > 1; }).map(el => el.textContent)""")  # a number whose text takes two line boxes
    width = page.evaluate("document.scrollingElement.scrollWidth")
    positions = {"verdict": top("#verdict"), "matrix": top("#count-matrix")}
    if kind == "invalid":
        positions["failure"] = top("tr.fail")
    page.close()
    assert all(y < 800 for y in positions.values()), positions
    assert wrapped == [] and width <= 1280, (wrapped[:5], width)


def test_a_failure_shows_the_source_lines_around_its_value(pages: dict[str, Built]) -> None:
    """Evidence from the source: the failed column total is followed by the numbered lines around line 30,
    that line marked, as the document prints it; a passing report shows none."""
    html = pages["invalid"].html.read_text(encoding="utf-8")
    evidence = re.findall(r'<tr class=evidence><td colspan=6><div class=evidence><pre class=source '
                          r'aria-label="原文 (\d+) 行目の前後">(.*?)</pre>', html, flags=re.S)
    assert evidence, "no evidence row"
    marked = {line: re.search(r"<mark><span class=ln>(\d+)</span> (.*?)</mark>", block).groups()
              for line, block in evidence}
    assert marked["30"] == ("30", "合計 295 54 216 22 4")
    block = dict(evidence)["30"]
    assert [int(n) for n in re.findall(r"<span class=ln>(\d+)</span>", block)] == [29, 30, 31]
    assert "class=evidence" not in pages["valid"].html.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def pdf_page(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A build of the misprinted document as a PDF (the reportlab facsimile of tools/facsimile.py)."""
    sys.path.insert(0, str(REAL.parent.parent / "tools"))
    import facsimile

    root = tmp_path_factory.mktemp("html-pdf")
    text = write_doc(root / "text", edit(real_lines(), 30, "合計 295 54 215", "合計 295 54 216"))
    pdf = root / text.with_suffix(".pdf").name
    facsimile.make(text, pdf, "reportlab")
    return _build(root, pdf, "--dry-run")


def test_a_failure_in_a_pdf_shows_the_crop_of_its_page(pdf_page: Built) -> None:
    """The crop of the page where the failed 合計 is printed: a small PNG, not blank, with the line's box
    inside it and outlined, and alt text naming the line and the page."""
    import base64
    import io

    from PIL import Image

    html = pdf_page.html.read_text(encoding="utf-8")
    figures = re.findall(r'<img src="data:image/png;base64,([^"]+)" width=(\d+) height=(\d+) data-line=(\d+) '
                         r'data-box="(\d+),(\d+),(\d+),(\d+)" alt="([^"]+)">', html)
    crop = next(f for f in figures if f[3] == "30")
    data, (width, height), box, alt = base64.b64decode(crop[0]), map(int, crop[1:3]), tuple(map(int, crop[4:8])), crop[8]
    assert len(data) < 20_000 and alt == "原文 30 行目（1 ページ）：合計 295 54 216 22 4"
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert image.size == (width, height)
    left, top, right, bottom = box
    assert 0 <= left < right <= width and 0 <= top < bottom <= height  # the value's box lies inside
    inside = image.crop((left + 3, top + 3, right - 3, bottom - 3)).convert("L")
    assert inside.getextrema()[0] < 100  # printed text, not a blank crop
    edge = [image.getpixel((x, top + 1)) for x in range(left + 5, right - 5)]
    assert sum(1 for p in edge if p[0] > 150 and p[1] < 80) > len(edge) // 2  # the outline is drawn


def test_a_pdf_build_shows_the_count_table_as_printed(pdf_page: Built) -> None:
    """The count matrix of a build from a PDF comes with the crop of the printed table, every row outlined."""
    html = pdf_page.html.read_text(encoding="utf-8")
    figure = re.search(r'<figure class=crop id=count-table-source><img src="data:image/png;base64,[^"]+" '
                       r'width=(\d+) height=(\d+) data-box="(\d+),(\d+),(\d+),(\d+)" alt="原文の協定数の表（1 ページ', html)
    assert figure
    width, height, left, top, right, bottom = map(int, figure.groups())
    assert 0 <= left < right <= width and 0 <= top < bottom <= height and bottom - top > 60  # five rows


def test_each_placed_cell_of_a_text_links_to_its_header_and_row(pages: dict[str, Built]) -> None:
    """A cell the build placed as 0 links, from the matrix, to the numbered lines that show it empty:
    the header that names its column, and its row, marked."""
    html = pages["valid"].html.read_text(encoding="utf-8")
    for place, column in (("1-3", "学"), ("1-4", "その他")):  # 人事 is the matrix's first row
        assert f'<a href="#blank-{place}">0</a>' in html
        figure = re.search(rf'<figure class=blank id="blank-{place}">(.*?)</figure>', html, flags=re.S)
        assert figure, column
        assert "<span class=ln>23</span> 官 民 学 その他" in figure[1]
        assert "<mark><span class=ln>25</span> 人事 14 8 6</mark>" in figure[1]
        assert f"人事 × {column}：文書では空欄、0 として配置" in figure[1]
    assert "class=blank" not in pages["release"].html.read_text(encoding="utf-8")  # placement not recorded


@pytest.fixture(scope="module")
def pdf_valid_page(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A build of the real document as a PDF (the reportlab facsimile), which passes."""
    sys.path.insert(0, str(REAL.parent.parent / "tools"))
    import facsimile

    root = tmp_path_factory.mktemp("html-pdf-valid")
    pdf = root / REAL.with_suffix(".pdf").name
    facsimile.make(REAL, pdf, "reportlab")
    return _build(root, pdf, "--dry-run")


def test_each_placed_cell_of_a_pdf_shows_its_empty_place_on_the_page(pdf_valid_page: Built) -> None:
    """For a PDF, each placed cell's evidence is a crop of the page: its row and the 合計 row as printed,
    the cell's place outlined, empty, over its column's total, and apart from the other placed cell."""
    import base64
    import io

    from PIL import Image

    assert pdf_valid_page.code == 0
    html = pdf_valid_page.html.read_text(encoding="utf-8")
    figures = re.findall(r'<figure class=blank id="blank-([^"]+)"><img src="data:image/png;base64,([^"]+)" '
                         r'width=(\d+) height=(\d+) data-line=(\d+) data-box="(\d+),(\d+),(\d+),(\d+)" alt="([^"]+)">',
                         html)
    assert [f[0] for f in figures] == ["1-3", "1-4"]  # 人事 × 学, 人事 × その他
    places = []
    for cell, data, width, height, line, *box, alt in figures:
        column = {"1-3": "学", "1-4": "その他"}[cell]
        assert alt == f"原文 25 行目（1 ページ）：人事 14 8 6。{column} の欄は空欄" and line == "25"
        assert f'<a href="#blank-{cell}">0</a>' in html
        image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
        assert image.size == (int(width), int(height)) and len(data) < 20_000
        left, top, right, bottom = map(int, box)
        assert 0 <= left < right <= image.width and 0 <= top < bottom <= image.height
        gray = image.convert("L")
        assert gray.getextrema()[0] < 100  # the header and the row are printed around it
        assert gray.crop((left + 4, top + 4, right - 4, bottom - 4)).getextrema()[0] > 200  # the place is empty
        assert gray.crop((left, bottom, right, image.height)).getextrema()[0] < 100  # the column's total below it
        edge = [image.getpixel((x, top + 1)) for x in range(left + 3, right - 3)]
        assert sum(1 for p in edge if p[0] > 150 and p[1] < 80) > len(edge) // 2  # outlined
        places.append((left, right))
    assert places[0][1] < places[1][0]  # 学 left of その他, the two places apart


def test_a_release_report_given_its_pdf_shows_the_count_table_and_each_placed_cell(
    pdf_valid_page: Built, published: Path, tmp_path: Path
) -> None:
    """`etl report RELEASE --source PDF`: the PDF must give the release's tables; the page then shows
    the printed count table, says which cells were placed, shows each one's place, and names the PDF."""
    import hashlib

    pdf = pdf_valid_page.html.parent / REAL.with_suffix(".pdf").name
    html = tmp_path / "release.html"
    assert main(["report", str(published), "--source", str(pdf), "--html", str(html)]) == 0
    page = html.read_text(encoding="utf-8")
    assert "id=count-table-source><img src=\"data:image/png;base64," in page
    assert re.findall(r'<figure class=blank id="blank-([^"]+)"><img src="data:image/png', page) == ["1-3", "1-4"]
    assert "ビルドが 0 として配置したセル" in page and "区別できない" not in page
    assert f"<dt>原本の SHA-256</dt><dd>{hashlib.sha256(pdf.read_bytes()).hexdigest()}</dd>" in page
    assert f"<dt>原本</dt><dd>{pdf}</dd>" in page


def test_a_release_report_refuses_a_source_that_is_not_its_document(
    published: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Another edition's text, a link, or a release whose count table cannot be read, with --source:
    exit 2 naming why, and no page (an older one is removed, never left looking current)."""
    import shutil

    edited = write_doc(tmp_path / "raw", edit(real_lines(), 92, "2,400千円", "2,500千円"))
    link = tmp_path / "link.txt"
    link.symlink_to(REAL)
    damaged = tmp_path / "damaged"
    shutil.copytree(published, damaged)
    next(damaged.glob("*agreement_counts.csv")).unlink()
    for release, source, says in ((published, edited, "initiatives differ"), (published, link, "link"),
                                  (damaged, REAL, "agreement_counts could not be read")):
        html = tmp_path / "page.html"
        html.write_text("an earlier run's page", encoding="utf-8")
        capfd.readouterr()
        assert main(["report", str(release), "--source", str(source), "--html", str(html)]) == 2
        err = capfd.readouterr().err
        assert f"--source {source}" in err and says in err and "Traceback" not in err, err
        assert not html.exists()


@pytest.mark.parametrize("kind", ["invalid", "release"])
def test_the_a4_print_cuts_no_table_row(chromium, pages: dict[str, Built], kind: str, tmp_path: Path) -> None:
    """Chromium's PDF of the page on A4: every row of the check tables lies on one page. Each row's 説明
    (the last column, the one that wraps) is read from the printed column of the page it starts on."""
    import pdfplumber

    page = chromium.new_page()
    page.goto(pages[kind].html.as_uri())
    messages = page.eval_on_selector_all("table.checks tbody tr:not(.evidence)",
                                         "rows => rows.map(r => r.lastElementChild.textContent)")
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), format="A4", print_background=True)
    page.close()
    with pdfplumber.open(pdf) as document:
        sizes = {(round(p.width), round(p.height)) for p in document.pages}
        assert sizes <= {(595, 842), (596, 842), (596, 843)}, sizes  # A4: 210 × 297 mm, in points
        columns = [_column_text(p) for p in document.pages]
    squeeze = lambda text: re.sub(r"\s+", "", text)  # noqa: E731
    cut = [m for m in messages if m and not any(squeeze(m) in c for c in columns)]
    assert len(messages) > 20 and not cut, cut[:3]


def _column_text(page) -> str:
    """The text a page prints in the 説明 column of its check tables (right of each 説明 header)."""
    from etl.source.pdf import _printed

    chars = page.chars
    heads = [a for a, b in zip(chars, chars[1:]) if a["text"] == "説" and b["text"] == "明" and
             abs(a["top"] - b["top"]) < 1]
    if not heads:
        return ""
    left = min(c["x0"] for c in heads) - 2
    chars = sorted((c for c in page.chars if c["x0"] >= left), key=lambda c: (round(c["top"]), c["x0"]))
    # Chromium names some glyphs by a radical's code point (⺠ for 民); the PDF reader maps them back.
    return re.sub(r"\s+", "", "".join(_printed(c["text"]) for c in chars))


def test_the_first_screen_of_a_failing_pdf_build_holds_the_failure_its_crop_and_the_matrix(
        chromium, pdf_page: Built) -> None:
    """A failing build from a PDF: the failure, the crop of its page and the count matrix on the first
    screen at 1280×800 (docs/report-first-screen.png is this screen)."""
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    page.goto(pdf_page.html.as_uri())
    boxes = {name: page.locator(selector).first.bounding_box()
             for name, selector in (("failure", "tr.fail"), ("crop", "tr.evidence img"), ("matrix", "#count-matrix"))}
    page.close()
    assert all(box["y"] < 800 for box in boxes.values()), boxes
    assert boxes["crop"]["y"] + boxes["crop"]["height"] < 800, boxes


@pytest.mark.parametrize("kind", ["valid", "invalid", "release", "pdf", "pdf-valid"])
def test_axe_finds_no_serious_accessibility_violation(chromium, pages: dict[str, Built], pdf_page: Built,
                                                      pdf_valid_page: Built, kind: str) -> None:
    """axe-core, run in Chromium, finds no serious or critical violation: headings in order, header cells
    with scope, alt text on every crop and chart, contrast, lang="ja"."""
    from axe_playwright_python.sync_playwright import Axe

    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    page.goto({"pdf": pdf_page, "pdf-valid": pdf_valid_page}.get(kind, pages.get(kind)).html.as_uri())
    violations = Axe().run(page).response["violations"]
    unscoped = page.eval_on_selector_all("th:not([scope])", "els => els.map(el => el.textContent)")
    levels = page.eval_on_selector_all("h1, h2, h3", "els => els.map(el => Number(el.tagName[1]))")
    page.close()
    assert unscoped == [], unscoped[:5]  # every header cell says whether it heads a column or a row
    assert levels[0] == 1 and all(b - a <= 1 for a, b in zip(levels, levels[1:])), levels  # headings in order
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]]) for v in violations
               if v["impact"] in ("serious", "critical")]
    assert not serious, serious


def test_a_crop_is_taken_from_the_page_the_reader_found_its_line_on(pdf_valid_page: Built) -> None:
    """Given the reader's page, only that page is looked at: a line printed on several pages is cropped
    where the build read it, and a line not on the page given has no crop (never another page's)."""
    from etl.report.crops import Lines, crops
    from etl.source.pdf import read_lines

    data = (pdf_valid_page.html.parent / REAL.with_suffix(".pdf").name).read_bytes()
    read = read_lines(data, "real.pdf")
    line = next(t for t, p in zip(read.lines, read.pages, strict=True) if p == 2 and len(t.split()) > 1)
    found = crops(data, {"right page": Lines([line], 2), "wrong page": Lines([line], 1), "any page": [line]})
    assert found["right page"].page == 2 and found["any page"].page == 2
    assert "wrong page" not in found


def test_a_placed_cell_is_outlined_in_the_table_where_its_row_is_printed_twice(
    pdf_valid_page: Built, tmp_path: Path
) -> None:
    """A chart label above the table printing the 人事 row's text again does not move the crop: the
    row taken is the one printed nearest above the 合計 row, so the crop is the one of the plain PDF."""
    sys.path.insert(0, str(REAL.parent.parent / "tools"))
    import facsimile

    from etl.report.crops import EmptyCell, crops

    text = tmp_path / REAL.name
    text.write_text("\n".join(edit(real_lines(), 15, "人事", "人事 14 8 6")), encoding="utf-8")
    twice = facsimile.make(text, tmp_path / "twice.pdf", "reportlab").read_bytes()
    plain = (pdf_valid_page.html.parent / REAL.with_suffix(".pdf").name).read_bytes()
    cell = EmptyCell("人事 14 8 6", "合計 295 54 215 22 4", 4, 1)  # 学: the 合計 row's 5th word, 22
    found = [crops(data, {"学": cell})["学"] for data in (plain, twice)]
    assert found[1].size == found[0].size and found[1].box == found[0].box


def test_a_pdf_pdfium_cannot_open_gives_no_crop_not_a_crash() -> None:
    """The report's crops are evidence, not a check: a PDF pdfium refuses (or a line it does not find)
    leaves the page with the numbered lines only."""
    from etl.report.crops import crops

    assert crops(b"%PDF-1.7\n garbage, not a PDF", {30: ["合計 295"]}) == {}
    assert crops(b"", {}) == {}
