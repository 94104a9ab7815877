"""The steward's release report as one self-contained HTML file: checks, tables, charts, diff.

Rendered from the `Report` (every check, with what it compared and the line it read it from), the
tidy tables and, for a build, the source's numbered lines (a failure shows the lines around its own). No script, no network: inline CSS (with a print stylesheet) and inline SVG
charts, so it opens from disk or from a CI artifact and prints. Every value is HTML-escaped, since
names come from the document. The output depends only on its inputs (no clock), so the same
build gives the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from etl.report.text import render as terminal
from etl.shared.results import CheckResult, Report, shown

PLACEMENT = "agreement_counts.placement"


class Blank(NamedTuple):
    """Where a placed cell shows in the source: the header's line and its row's line (a text's
    evidence), and a complete row's line with the index of its word in the cell's column, counted
    from 0 (where a PDF's crop outlines the empty place)."""

    header: int
    row: int
    reference: int
    word: int


@dataclass
class Page:
    """What one report shows: the checks, the header facts, and the tables when there are any."""

    report: Report
    title: str = "リリースレポート"
    facts: dict[str, str] = field(default_factory=dict)  # header: dataset, version, as-of, source, hash…
    terminal: str = ""  # the words the terminal printed, shown as they were
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    # (協定種別, 相手方区分) of the cells the build placed as 0 (dropped in the text); None when the
    # placement is not known (a published release records only the values), then 0s are marked.
    placed: set[tuple[str, str]] | None = None
    diff: list | None = None  # etl.release.diff.TableDiff list with --against
    against: str = ""
    programme: str = ""  # the partnership programme's name, as the document gives it
    lines: tuple[str, ...] = ()  # the source's numbered lines (a PDF's as its reader gave them), for evidence
    crops: dict = field(default_factory=dict)  # line → etl.report.crops.Crop of the PDF page printing it
    # (協定種別, 相手方区分) of each placed cell → where it shows (Blank), for its evidence
    blank_lines: dict[tuple[str, str], Blank] = field(default_factory=dict)


def e(value: Any) -> str:
    """Escape any value for HTML text or a quoted attribute (control characters shown as \\x1b)."""
    return escape(shown("" if value is None else str(value), limit=None, newlines=True), quote=True)


def placed_cells(report: Report, columns: list[str]) -> set[tuple[str, str]]:
    """The cells the build placed (dropped in the text), from the placement check's results."""
    out = set()
    for r in report.results:
        if r.check == PLACEMENT and r.passed and isinstance(r.actual, list):
            out |= {(r.label, c) for c, v in zip(columns, r.actual) if v is None}
    return out


def render(page: Page) -> str:
    ask_charts(page.tables)  # drawn meanwhile, where a child draws them (etl.report.drawer)
    verdict = _verdict(page)
    # What a steward decides on comes first: the verdict and the document, the failed checks with both
    # numbers, then the count matrix with its printed totals; the passing checks, folded by table, and
    # the terminal's words come last.
    parts = [_head(page.title), "<body>", f"<header><h1>{e(page.title)}</h1>", _facts(page, verdict), "</header>",
             "<main>", _failed_checks(page)]
    t = page.tables
    if "agreement_counts" in t and "printed_totals" in t:
        parts.append(_counts(page))
    if "initiatives" in t:
        parts.append(_budgets(t["initiatives"]))
    if "partnership_partners" in t:
        parts.append(_partners(page))
    if page.diff is not None:
        parts.append(_diff(page))
    parts += [_passing_checks(page.report), _terminal(page), "</main>", "</body>", "</html>", ""]
    return "\n".join(parts)


CSS = """
:root { --ok: #1a7f37; --bad: #b3261e; --mark: #fff4ce; --line: #d0d7de;
  --jp: "IPAexGothic", "Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", "Meiryo", sans-serif; }
body { font-family: var(--jp); margin: 1.5rem auto; max-width: 78rem; padding: 0 1rem; color: #1f2328;
  line-height: 1.5; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid var(--line); margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid var(--line); padding: .2rem .5rem; vertical-align: top; text-align: left;
  overflow-wrap: anywhere; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th { white-space: nowrap; } details { margin: .2rem 0; } summary { cursor: pointer; }
.ok { color: var(--ok); } .bad { color: var(--bad); font-weight: bold; }
tr.fail td { background: #ffebe9; } td.placed { background: var(--mark); }
.verdict { font-size: 1.2rem; padding: .3rem .6rem; border-radius: .3rem; display: inline-block; }
.verdict.ok { background: #dafbe1; } .verdict.bad { background: #ffebe9; }
pre { background: #f6f8fa; padding: .5rem; white-space: pre-wrap; font-size: .85rem; }
dl { display: grid; grid-template-columns: repeat(2, max-content minmax(0, 1fr)); gap: .1rem 1rem; }
dt { font-weight: bold; } dd { margin: 0; overflow-wrap: anywhere; }
.chart svg { max-width: 100%; height: auto; } .chart svg text { font-family: var(--jp) !important; }
.added td { background: #dafbe1; } .removed td { background: #ffebe9; } .changed td { background: var(--mark); }
.note { font-size: .85rem; color: #57606a; }
div.evidence { display: flex; flex-wrap: wrap; gap: .3rem 1rem; align-items: flex-start; }
figure.crop { margin: 0; flex: 0 1 34rem; min-width: 0; } figure.crop img { width: 100%; height: auto; border: 1px solid var(--line); }
figure.crop figcaption { font-size: .8rem; color: #57606a; } pre.source { margin: 0; } pre.source mark { background: var(--mark); display: block; font-weight: bold; }
table.checks { width: 100%; } span.title { display: block; max-width: 18em; font-size: .8rem; color: #57606a; }
pre.source .ln { display: inline-block; min-width: 3em; text-align: right; color: #57606a; }
div.blanks .figures { display: flex; flex-wrap: wrap; gap: .5rem 1rem; } h3 { font-size: 1rem; }
figure.blank { margin: 0; flex: 0 1 30rem; min-width: 0; } figure.blank img { width: 100%; height: auto; border: 1px solid var(--line); }
figure.blank figcaption { font-size: .8rem; color: #57606a; }
@media print { @page { size: A4; margin: 12mm; }
  body { max-width: none; margin: 0; font-size: 9pt; } tr, figure, .chart { break-inside: avoid; }
  thead { display: table-header-group; } h2 { break-after: avoid; }
  details::details-content { content-visibility: visible; display: block; }
  pre { white-space: pre-wrap; } a { color: inherit; } }
"""


def _head(title: str) -> str:
    return ('<!DOCTYPE html>\n<html lang="ja">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{e(title)}</title>\n<style>{CSS}</style>\n</head>")


def _verdict(page: Page) -> tuple[str, bool]:
    outcome = page.report.outcome or {}
    if page.report.valid and outcome.get("exit_code", 0) == 0:
        return "合格：すべての検査に合格", True
    if page.report.valid:
        return f"公開されず：検査はすべて合格、ただし {outcome.get('status', 'not published')}", False
    n = len({r.check for r in page.report.failures})
    return f"不合格：{n} 件の検査が不合格", False


def _facts(page: Page, verdict: tuple[str, bool]) -> str:
    words, ok = verdict
    rows = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in page.facts.items())
    return f'<p class="verdict {"ok" if ok else "bad"}" id="verdict">{e(words)}</p><dl>{rows}</dl>'


def _terminal(page: Page) -> str:
    if not page.terminal:
        return ""
    return f'<section id="terminal"><h2>端末の出力</h2><pre>{e(page.terminal)}</pre></section>'


CHECK_HEAD = ("<thead><tr><th scope=col>検査ID</th><th scope=col>表</th><th scope=col>結果</th>"
              "<th scope=col>対象</th><th scope=col class=n>行</th><th scope=col>期待値</th><th scope=col>実際の値</th>"
              "<th scope=col>説明</th></tr></thead>")


EVIDENCE_CONTEXT = 1  # lines shown above and below the line a failure names
_LINE_WORD = re.compile(r"\bline (\d+)")


def failure_line(r: CheckResult) -> int | None:
    """The source line a failure names: its own, or the first 「line N」 of its label or message."""
    if isinstance(r.line, int):
        return r.line
    return next((int(m[1]) for m in (_LINE_WORD.search(t) for t in (r.label, r.message)) if m), None)


def _evidence(r: CheckResult, lines: tuple[str, ...], crops: dict | None = None) -> str:
    """The numbered source lines around the line a failure names, that line marked, and for a PDF the crop
    of the page where it is printed: the value as printed, without opening the document."""
    found = failure_line(r)
    if not lines or found is None or not 1 <= found <= len(lines):
        return ""
    crop = (crops or {}).get(found)
    figure = "" if crop is None else (
        f'<figure class=crop><img src="{crop.data_uri()}" width={crop.size[0]} height={crop.size[1]} '
        f'data-line={found} data-box="{",".join(map(str, crop.box))}" '
        f'alt="原文 {found} 行目（{crop.page} ページ）：{e(lines[found - 1])}">'
        f"<figcaption>{crop.page} ページ、{found} 行目（枠：この行）</figcaption></figure>")
    first, last = max(1, found - EVIDENCE_CONTEXT), min(len(lines), found + EVIDENCE_CONTEXT)
    shown_lines = []
    for n in range(first, last + 1):
        text = f'<span class=ln>{n}</span> {e(lines[n - 1])}'
        shown_lines.append(f"<mark>{text}</mark>" if n == found else text)
    return (f'<tr class=evidence><td colspan=6><div class=evidence>{figure}<pre class=source '
            f'aria-label="原文 {found} 行目の前後">' + "\n".join(shown_lines) + "</pre></div></td></tr>")


def _check_rows(report: Report, checks: list[str], lines: tuple[str, ...] = (), crops: dict | None = None) -> list[str]:
    """One row per comparison each check made (its failures first), in the order given; a failure that
    names a line is followed by a row of the source's lines around it (under the columns after 表)."""
    rows = []
    for check in checks:
        results = sorted((r for r in report.results if r.check == check), key=lambda r: r.passed)
        evidence = [_evidence(r, lines, crops) if not r.passed else "" for r in results]
        span = len(results) + sum(1 for x in evidence if x)
        for i, (r, shown_lines) in enumerate(zip(results, evidence)):
            head = (f'<td rowspan="{span}"><code>{e(check)}</code>{_title(check)}</td>'
                    f'<td rowspan="{span}">{e(r.table)}</td>') if i == 0 else ""
            mark = '<span class="ok">✓</span>' if r.passed else '<span class="bad">✗</span>'
            anchor = f' id="check-{e(check)}"' if i == 0 else ""
            rows.append(f'<tr class="{"pass" if r.passed else "fail"}" data-check="{e(check)}"{anchor}>{head}'
                        f"<td>{mark}</td><td>{e(r.label)}</td><td class=n>{e(r.line)}</td>"
                        f"<td>{e(_value(r.expected))}</td><td>{e(_value(r.actual))}</td>"
                        f'<td>{e(r.message)}</td></tr>')
            if shown_lines:
                rows.append(shown_lines)
    return rows


def _title(check: str) -> str:
    """What the check checks, in Japanese (etl.validate.run.title), under its id."""
    from etl.validate.run import title

    try:
        return f"<span class=title>{e(title(check))}</span>"
    except KeyError:  # an id of a newer or older etl: shown as it is
        return ""


def _failed_checks(page: Page) -> str:
    """The failed checks, each with both numbers and the line, and the source's lines around it: what
    the steward must act on."""
    report = page.report
    status = report.checks()
    failed = [c for c, ok in status.items() if not ok]
    summary = f"{len(status)} 件の検査のうち {len(status) - len(failed)} 件に合格、{len(failed)} 件が不合格。"
    if not failed:
        return f'<section id="checks-failed"><h2>不合格の検査</h2><p>なし。{e(summary)}</p></section>'
    return ('<section id="checks-failed"><h2>不合格の検査</h2>'
            f"<p>{e(summary)}</p><table class=checks>{CHECK_HEAD}<tbody>"
            + "".join(_check_rows(report, failed, page.lines, page.crops)) + "</tbody></table></section>")


def _passing_checks(report: Report) -> str:
    """The checks that passed, folded by table, with their count in each summary line."""
    status = report.checks()
    by_table: dict[str, list[str]] = {}
    for check, ok in status.items():
        if ok:
            table = next(r.table for r in report.results if r.check == check)
            by_table.setdefault(table, []).append(check)
    groups = "".join(
        f"<details><summary><code>{e(table)}</code>：{len(checks)} 件の検査に合格</summary>"
        f"<table class=checks>{CHECK_HEAD}<tbody>{''.join(_check_rows(report, checks))}</tbody></table></details>"
        for table, checks in by_table.items())
    return f'<section id="checks"><h2>合格した検査（表ごと）</h2>{groups or "<p>なし。</p>"}</section>'


def _value(v: Any) -> str:
    if isinstance(v, list):
        return " ".join("空" if x is None else str(x) for x in v)
    return "" if v is None else str(v)


def ask_charts(tables: dict[str, pl.DataFrame]) -> None:
    """Have the page's charts drawn from these tables now, where a child process draws them (`etl
    build --html` asks as soon as the document is read, so that they are drawn while it validates)."""
    from etl.report import drawer

    drawer.ask(*_chart_inputs(tables))


def _chart_inputs(tables: dict[str, pl.DataFrame]) -> list[tuple[str, tuple]]:
    """Each chart the page draws from `tables`: its name in etl.report.charts and its inputs."""
    wanted = []
    if "agreement_counts" in tables and "printed_totals" in tables:
        wanted.append(_counts_chart(*_matrix(tables["agreement_counts"])))
    if "initiatives" in tables:
        wanted.append(_budget_chart(_by_field(tables["initiatives"])))
    return wanted


def _matrix(counts: pl.DataFrame) -> tuple[list[str], list[str], dict[tuple[str, str], int | None]]:
    rows = list(dict.fromkeys(counts["協定種別"].to_list()))
    cols = list(dict.fromkeys(counts["相手方区分"].to_list()))
    return rows, cols, {(r["協定種別"], r["相手方区分"]): r["協定数"] for r in counts.iter_rows(named=True)}


def _counts_chart(rows: list[str], cols: list[str], cells: dict) -> tuple[str, tuple]:
    return "counts_chart", (rows, cols, {k: v or 0 for k, v in cells.items()})


def _budget_chart(by: pl.DataFrame) -> tuple[str, tuple]:
    return "budget_chart", (by["分野"].to_list(), [int(v or 0) for v in by["予算額_千円"]],
                            [int(v or 0) for v in by["うち額_千円"]])


def _counts(page: Page) -> str:
    counts, totals = page.tables["agreement_counts"], page.tables["printed_totals"]
    rows, cols, cells = _matrix(counts)
    printed = {(r["集計軸"], r["区分"]): r for r in totals.filter(pl.col("対象表") == "agreement_counts")
               .iter_rows(named=True)}
    html = ["<table id=count-matrix><thead><tr><th scope=col>協定種別</th>", *(f"<th scope=col class=n>{e(c)}</th>" for c in cols),
            "<th scope=col class=n>協定数（印字 / 計算）</th></tr></thead><tbody>"]
    for r in rows:
        html.append(f"<tr><th scope=row>{e(r)}</th>")
        for c in cols:
            html.append(_cell(page, r, c, cells.get((r, c)), _blank_id(rows, cols, r, c)))
        html.append(_total(printed.get(("協定種別", r)), sum(cells.get((r, c)) or 0 for c in cols)))
        html.append("</tr>")
    grand = printed.get(("総数", "合計"), {}).get("区分", "合計")
    html.append(f"<tr><th scope=row>{e(grand)}（印字 / 計算）</th>")
    for c in cols:
        html.append(_total(printed.get(("相手方区分", c)), sum(cells.get((r, c)) or 0 for r in rows)))
    html.append(_total(printed.get(("総数", grand)), sum(v or 0 for v in cells.values())))
    html.append("</tr></tbody></table>")
    head = printed.get(("見出し総数", next((k[1] for k in printed if k[0] == "見出し総数"), "")))
    if head:
        html.append(f"<p>見出し「{e(head['区分'])}」（{e(head['原文行番号'])} 行目）：{e(head['印字値'])}件</p>")
    legend = ("<p class=note>黄色のセルは文書で空欄（数字が印字されていない）のためビルドが 0 として配置したセル。"
              "✓ 印字された合計と一致 / ✗ 不一致（印字値 / セルの合計）。</p>" if page.placed is not None else
              "<p class=note>黄色のセルは 0: 文書の空欄（ビルドが配置したセル）か、印字された 0 か"
              "（公開データはどちらかを記録していないため区別できない）。</p>")
    chart = _chart(*_counts_chart(rows, cols, cells))
    crop = page.crops.get(COUNT_TABLE)
    source = "" if crop is None else (
        f'<figure class=crop id=count-table-source><img src="{crop.data_uri()}" width={crop.size[0]} '
        f'height={crop.size[1]} data-box="{",".join(map(str, crop.box))}" alt="原文の協定数の表（{crop.page} ページ、'
        f'各行を枠で囲む）"><figcaption>原文の表（{crop.page} ページ）：空欄のセルを含む各行が、文書に印字されたとおり'
        "</figcaption></figure>")
    return ('<section id="counts"><h2>協定数（協定種別 × 相手方区分）</h2>' + "".join(html) + legend + source
            + _blanks(page, rows, cols) + f'<figure class="chart" id="chart-counts">{chart}</figure></section>')


def _blank_id(rows: list[str], cols: list[str], row: str, col: str) -> str:
    """The anchor of a placed cell's evidence, by its place in the matrix: names from the document
    could hold '%' (which a browser decodes in a link) or '-'."""
    return f"blank-{rows.index(row) + 1}-{cols.index(col) + 1}"


def _blanks(page: Page, rows: list[str], cols: list[str]) -> str:
    """Each cell the build placed, with its evidence: for a PDF the crop of the page where its row is
    printed, the cell's empty place outlined; for a text the numbered lines of the header and the row."""
    figures = []
    for row, col in ((r, c) for r in rows for c in cols if (r, c) in page.blank_lines):
        blank = page.blank_lines[(row, col)]
        header, line = blank.header, blank.row
        crop = page.crops.get(("blank", row, col))
        if crop is not None:
            body = (f'<img src="{crop.data_uri()}" width={crop.size[0]} height={crop.size[1]} data-line={line} '
                    f'data-box="{",".join(map(str, crop.box))}" alt="原文 {line} 行目（{crop.page} ページ）：'
                    f'{e(page.lines[line - 1])}。{e(col)} の欄は空欄">')
            where = f"{crop.page} ページ、{line} 行目（枠：{e(col)} の欄）"
        else:
            body = (f'<pre class=source aria-label="原文 {header} 行目と {line} 行目"><span class=ln>{header}</span> '
                    f'{e(page.lines[header - 1])}\n<mark><span class=ln>{line}</span> {e(page.lines[line - 1])}</mark></pre>')
            where = f"{header} 行目（見出し）と {line} 行目"
        figures.append(f'<figure class=blank id="{_blank_id(rows, cols, row, col)}">{body}<figcaption>{e(row)} × {e(col)}：'
                       f"文書では空欄、0 として配置。{where}</figcaption></figure>")
    if not figures:
        return ""
    return ("<div class=blanks><h3>0 として配置したセルの原文</h3><div class=figures>" + "".join(figures)
            + "</div></div>")


def _chart(name: str, args: tuple) -> str:
    """A chart (etl.report.charts: drawn by the child of etl.report.drawer, or here with matplotlib,
    imported only now), or why it is missing."""
    from etl.report import charts, drawer

    try:
        return drawer.result(name, *args)
    except charts.ChartError as exc:  # the page is written all the same
        return f'<p class="bad">グラフを描けませんでした: {e(exc)}</p>'


def _cell(page: Page, row: str, col: str, value: int | None, anchor: str) -> str:
    placed = (row, col) in page.placed if page.placed is not None else value == 0
    title = ' title="文書では空欄: 0 として配置"' if page.placed is not None else ' title="0（空欄または印字された 0）"'
    shown = e(value)
    if (row, col) in page.blank_lines:  # to the cell's evidence below the table
        shown = f'<a href="#{anchor}">{shown}</a>'
    return f'<td class="n{" placed" if placed else ""}"{title if placed else ""}>{shown}</td>'


def _total(printed: dict | None, computed: int) -> str:
    if printed is None:
        return f'<td class="n bad">印字なし / {e(computed)}</td>'
    ok = printed["印字値"] == computed
    mark = '<span class="ok">✓</span>' if ok else '<span class="bad">✗</span>'
    return (f'<td class="n{"" if ok else " bad"}" title="line {e(printed["原文行番号"])}">'
            f'{mark} {e(printed["印字値"])} / {e(computed)}</td>')


def _by_field(initiatives: pl.DataFrame) -> pl.DataFrame:
    return (initiatives.group_by("分野", maintain_order=True)
            .agg(pl.len().alias("取組数"), pl.col("予算額_千円").sum(), pl.col("うち額_千円").sum(),
                 pl.col("うち額_内容").drop_nulls().str.join("、")))


def _budgets(initiatives: pl.DataFrame) -> str:
    by = _by_field(initiatives)
    rows = "".join(f"<tr><td>{e(r['分野'])}</td><td class=n>{e(r['取組数'])}</td>"
                   f"<td class=n>{r['予算額_千円']:,}</td><td class=n>{_amount(r['うち額_千円'])}</td>"
                   f"<td>{e(r['うち額_内容'])}</td></tr>" for r in by.iter_rows(named=True))
    total = initiatives["予算額_千円"].sum()
    chart = _chart(*_budget_chart(by))
    return ('<section id="budgets"><h2>分野別の予算額（千円）</h2><table><thead><tr><th scope=col>分野</th>'
            "<th scope=col class=n>取組数</th><th scope=col class=n>予算額_千円</th><th scope=col class=n>うち額_千円</th><th scope=col>うち額_内容</th>"
            f"</tr></thead><tbody>{rows}<tr><th scope=row>計</th><td></td><td class=n>{total:,}</td><td></td><td></td></tr>"
            f'</tbody></table><figure class="chart" id="chart-budgets">{chart}</figure></section>')


def _amount(v: Any) -> str:
    return f"{v:,}" if v else ""


def _partners(page: Page) -> str:
    t = page.tables
    partners = t["partnership_partners"]
    sec2 = t.get("initiative_partners", pl.DataFrame())
    initiatives = t.get("initiatives", pl.DataFrame())
    names2 = ({r["取組ID"]: r["協定名称"] for r in initiatives.iter_rows(named=True)} if initiatives.height else {})
    sec3 = t.get("activity_partners", pl.DataFrame())
    rows = []
    for p in partners.iter_rows(named=True):
        pid = p["協定先ID"]
        in2 = [f"取組ID {r['取組ID']}「{names2.get(r['取組ID'], '')}」(line {r['原文行番号']})"
               for r in sec2.iter_rows(named=True) if r.get("協定先ID") == pid] if sec2.height else []
        in3 = [f"掲載行 {r['掲載行番号']} (line {r['原文行番号']})"
               for r in sec3.iter_rows(named=True) if r.get("協定先ID") == pid] if sec3.height else []
        rows.append(f"<tr><td class=n>{e(pid)}</td><td>{e(p['協定先名称'])}</td><td class=n>{e(p['原文行番号'])}</td>"
                    f"<td>{'<br>'.join(map(e, in2))}</td><td>{'<br>'.join(map(e, in3))}</td></tr>")
    named = f"（{e(page.programme)}）" if page.programme else ""
    html = [f'<section id="partners"><h2>協定先{named}と掲載箇所</h2>',
            ("<table><thead><tr><th scope=col class=n>協定先ID</th><th scope=col>協定先名称</th><th scope=col class=n>行</th>"
             "<th scope=col>2 連携協定に基づく取組</th><th scope=col>3 包括連携協定締結企業等との取組</th></tr></thead><tbody>"),
            *rows, "</tbody></table>"]
    html.append(_unresolved(page))
    return "".join(html) + "</section>"


def _unresolved(page: Page) -> str:
    """Section-2 names that are not listed partners, and every failed name resolution."""
    sec2 = page.tables.get("initiative_partners", pl.DataFrame())
    rows = [(r["協定先名称"], "2", r["原文行番号"], "協定先一覧にない名称（別の協定の相手方）")
            for r in sec2.iter_rows(named=True) if r.get("協定先ID") is None] if sec2.height else []
    rows += [(r.label, r.table, r.line or "", r.message) for r in page.report.failures
             if r.check.endswith("partner_resolution")]
    if not rows:
        return "<p>協定先一覧に解決できなかった名称はありません。</p>"
    body = "".join(f"<tr><td>{e(a)}</td><td>{e(b)}</td><td class=n>{e(c)}</td><td>{e(d)}</td></tr>"
                   for a, b, c, d in rows)
    return ('<h3 id="unresolved">協定先一覧に解決されなかった名称</h3><table><thead><tr><th scope=col>名称</th>'
            f"<th scope=col>節 / 表</th><th scope=col class=n>行</th><th scope=col>理由</th></tr></thead><tbody>{body}</tbody></table>")


def _diff(page: Page) -> str:
    html = [f'<section id="diff"><h2>前の版との差分（{e(page.against)} → この版）</h2>']
    for d in page.diff or []:
        if d.only_in:
            html.append(f"<h3>{e(d.table)}</h3><p class=bad>only in the {e(d.only_in)} release</p>")
            continue
        if d.empty:
            continue
        html.append(f"<h3>{e(d.table)}: {len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed</h3>"
                    "<table><tbody>")
        html += [f"<tr class=changed><td>=</td><td>{e(c)}</td><td>{e(a)} → {e(b)}（全行）</td></tr>"
                 for c, a, b in d.edition]
        html += [f"<tr class=added><td>+</td><td colspan=2>{e(_key(k))}</td></tr>" for k in d.added]
        html += [f"<tr class=removed><td>−</td><td colspan=2>{e(_key(k))}</td></tr>" for k in d.removed]
        html += [f"<tr class=changed><td>~</td><td>{e(_key(k))}</td><td>{e(c)}: {e(a)} → {e(b)}</td></tr>"
                 for k, c, a, b in d.changed]
        html.append("</tbody></table>")
    if all(d.empty for d in page.diff or []):
        html.append("<p>No differences in the data.</p>")
    return "".join(html) + "</section>"


def _key(k: dict[str, Any]) -> str:
    return ", ".join(f"{n}={v}" for n, v in k.items())


def write(page: Page, path: Path) -> None:
    path.write_text(render(page), encoding="utf-8")


# ── pages for the two commands ───────────────────────────────────────────────────────────


def build_page(report: Report, source: Path, dataset=None, version: str | None = None, terminal: str = "") -> Page:
    """The report of one `etl build`: whatever it got to (no tables when the input was refused)."""
    import hashlib

    from etl.shared import schemas

    facts = {"データセット": schemas.package_metadata()["name"]}
    if dataset is not None:
        facts |= {"版": version or dataset.as_of, "時点": dataset.as_of,
                  "年度": str(dataset.fiscal_year or ""), "資料": dataset.title}
    facts["入力ファイル"] = str(source)
    data, unread = _source_bytes(Path(source))  # read once: the hash and the crops are of the same bytes
    facts["SHA-256"] = unread or hashlib.sha256(data).hexdigest()
    outcome = report.outcome or {}
    facts["結果"] = f"{outcome.get('status', '')} (exit {outcome.get('exit_code', '')})"
    tables = dataset.tables if dataset is not None else {}
    page = Page(report, f"{facts['データセット']} ビルドレポート", facts, terminal, tables, placed=set(),
                programme=dataset.programme if dataset is not None else "")
    if dataset is not None and dataset.evidence is not None:
        _with_evidence(page, report, dataset.evidence.raw, data)
    return page


def _with_evidence(page: Page, checked: Report, raw, data: bytes) -> None:
    """The page's evidence from the source as extract read it (etl.extract's `raw`): its numbered lines,
    the cells placed (by the placement check among `checked`) and where each shows, and for a PDF
    (`data`) the crops of the failures of `checked`, of the count table and of the placed cells."""
    columns = page.tables["agreement_counts"]["相手方区分"].unique(maintain_order=True).to_list()
    page.placed = placed_cells(checked, columns)
    page.lines = tuple(raw.text.split("\n"))
    page.blank_lines = _blank_lines(raw, page.placed, page.lines)
    page.crops = _pdf_crops(checked, data, page.lines, raw.count_rows["原文行番号"].to_list(), page.blank_lines,
                            raw.pages)


def _blank_lines(raw, placed: set[tuple[str, str]], lines: tuple[str, ...]) -> dict[tuple[str, str], Blank]:
    """Where each placed cell shows, from what extract read (etl.extract): the categories' header, the
    count rows, and the last row that prints every column (the totals) as the reference."""
    columns = raw.categories.text.split()
    rows = raw.count_rows.to_dicts()
    complete = [r for r in rows if len(r["値"]) == len(columns) + 1]  # its total, then every column
    if not complete or not all(1 <= n <= len(lines) for n in (raw.categories.line, complete[-1]["原文行番号"])):
        return {}
    reference = complete[-1]
    # The values are the line's last words, after its label: its total, then one word per column.
    first = len(lines[reference["原文行番号"] - 1].split()) - len(columns)
    by_label = {r["ラベル"]: r["原文行番号"] for r in rows}
    return {(r, c): Blank(raw.categories.line, by_label[r], reference["原文行番号"], first + columns.index(c))
            for r, c in sorted(placed) if r in by_label and c in columns and 1 <= by_label[r] <= len(lines)}


COUNT_TABLE = "count-table"  # the key of the crop of the whole count table


def _pdf_crops(report: Report, data: bytes, lines: tuple[str, ...], count_lines: list[int],
               blanks: dict[tuple[str, str], Blank] | None = None, pages: tuple[int, ...] = ()) -> dict:
    """For a PDF input, the crops of the lines its failures name, of the count table (its rows, each
    outlined) and of each placed cell (its empty place outlined), by etl.report.crops; none for a text."""
    from etl.source.pdf import is_pdf

    if not lines or not is_pdf(data):
        return {}
    from etl.report.crops import EmptyCell, Lines, crops

    def page(n: int) -> int | None:  # where the reader found line n
        return pages[n - 1] if 1 <= n <= len(pages) else None

    wanted: dict[object, object] = {}  # the count table first: crops past MAX_CROPS are left out
    counted = [n for n in count_lines if 1 <= n <= len(lines)]
    if counted:
        wanted[COUNT_TABLE] = Lines([lines[n - 1] for n in counted], page(counted[0]))
    wanted |= {n: Lines([lines[n - 1]], page(n))
               for n in (failure_line(r) for r in report.failures) if n and 1 <= n <= len(lines)}
    wanted |= {("blank", r, c): EmptyCell(lines[b.row - 1], lines[b.reference - 1], b.word, page(b.row))
               for (r, c), b in (blanks or {}).items()}
    return crops(data, wanted)


def _source_bytes(source: Path) -> tuple[bytes, str]:
    """The source file's bytes, or why they were not read: a refused build may not have read it, and a
    link (refused before anything is read), a folder or a FIFO is not opened here either."""
    import stat

    try:
        if not stat.S_ISREG(source.lstat().st_mode):
            return b"", "(not read: not a regular file)"
        return source.read_bytes(), ""
    except OSError as exc:
        return b"", f"(cannot be read: {exc.strerror})"


def release_page(release: Path, against: Path | None = None, report: Report | None = None,
                 document: Path | None = None) -> Page:
    """The report of a published release, re-validated from its files (as `etl validate` does)
    unless the caller has just done so and passes its `report`. Given the `document` it was built
    from, the page also shows where the count table and each placed cell are printed (see
    `_with_source`)."""
    from etl.shared import schemas
    from etl.shared.safety import release_descriptor
    from etl.validate.run import descriptor_entry, read_csv, read_resource, validate_release

    root, package = release_descriptor(release)  # every path checked to stay inside (etl.shared.safety)
    report = report if report is not None else validate_release(root)  # its limits hold before any parsing
    by_name = {r.get("name"): r for r in package["resources"]}
    tables = {}
    for ts in schemas.tables():
        try:
            data = read_resource(root, by_name[ts.name]) if ts.name in by_name else None
        except OSError:  # missing or unreadable: reported by the checks
            data = None
        if data is not None:
            frame, results = read_csv(ts, data, by_name[ts.name]["path"])
            if frame is not None and all(r.passed for r in results):
                tables[ts.name] = frame  # a damaged table is shown by its failures, not drawn
    source = descriptor_entry(package, "sources")
    facts = {"データセット": package.get("name", ""), "版": package.get("version", ""),
             "時点": package.get("x-as-of", ""), "年度": str(package.get("x-fiscal-year", "")),
             "資料": source.get("title", "")}  # no local path: the page of a release is the same anywhere
    page = Page(report, f"{facts['データセット']} {facts['版']} リリースレポート", facts, terminal(report), tables,
                programme=schemas.programme_of(package))
    if against is not None:
        from etl.release.diff import diff_releases

        page.diff, page.against = diff_releases(against, root), str(against)
    if document is not None:
        _with_source(page, Path(document))
    return page


def _with_source(page: Page, source: Path) -> None:
    """The release's document, read again: it must give the release's tables (原文行番号 aside, since
    a PDF and its text number their lines differently), or UsageError. The page then says which
    cells were placed, and shows the count table and each placed cell as printed (crops of a PDF,
    numbered lines of a text)."""
    import hashlib

    from etl.errors import EtlError, UsageError
    from etl.extract import extract
    from etl.shared import schemas
    from etl.source.registry import check_document
    from etl.source.text import from_bytes, read_bytes
    from etl.transform import transform
    from etl.validate.checks import run_text_checks

    try:
        check_document(source)  # a link is refused before anything is read
        data = read_bytes(source)
        dataset = transform(extract(from_bytes(source, data)))
    except EtlError as exc:
        raise UsageError(f"--source {source}: {exc}") from None
    unread = [ts.name for ts in schemas.tables() if ts.name not in page.tables]
    if unread:
        raise UsageError(f"--source {source}: the release's {', '.join(unread)} could not be read (see `etl validate` "
                         "on the release), so the document cannot be compared with it.")
    differing = [name for name, frame in page.tables.items() if not _same_values(frame, dataset.tables.get(name))]
    if differing:
        raise UsageError(f"--source {source} does not give this release's tables ({', '.join(differing)} differ, "
                         "原文行番号 aside): pass the document the release was built from.")
    _with_evidence(page, Report(run_text_checks(dataset.evidence)), dataset.evidence.raw, data)
    page.facts |= {"原本": str(source), "原本の SHA-256": hashlib.sha256(data).hexdigest()}


def _same_values(release: pl.DataFrame, built: pl.DataFrame | None) -> bool:
    if built is None:
        return False
    keep = [c for c in release.columns if c != "原文行番号"]
    return release.columns == built.columns and release.select(keep).equals(built.select(keep))
