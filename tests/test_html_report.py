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

    shown = html_report._chart("counts_chart", ["人事", "\N{PLAYING CARD ACE OF SPADES}"], ["官"], {})
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
