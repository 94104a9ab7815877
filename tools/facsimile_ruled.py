"""The ETL in reverse: a published release printed as a city prints its document, with ruled tables.

    python tools/facsimile.py RELEASE_DIR OUT.pdf --producer weasyprint [--page A4] [--landscape]
        [--font NAME] [--size PT] [--pitch EM] [--break-after TABLE:ROW ...] [--glyph-order ORDER]

The other producers print a text edition line by line. This one starts from the release's tables and
lays sections 1–3 out as a word processor or an HTML page would: ruled tables with a header row (repeated
on every page a table continues on), text wrapped by the cell's width, the 分野 cell of section 2 spanning
its rows with its label set one character a line, empty count cells as empty boxes, ordinary word spaces
in headings, a running header from page 2 on. WeasyPrint (an HTML engine, from PyPI) lays it out.

What a reader may vary: the page size and orientation, the font, the font size and line pitch, where
pages break (after any row of any table), and the order in which the glyphs stand in the content stream
(`--glyph-order reversed|shuffled`, applied to the finished PDF with pikepdf), so that a test can
show that none of these changes what the ETL reads.

Only document-level words the release does not hold are written here (the intro and the legend are
left out); every value comes from the release's tables and its datapackage.json.
"""

from __future__ import annotations

import functools
import html
import json
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGES = {"A4": "A4", "A3": "A3", "B5": "JIS-B5", "letter": "letter"}


@dataclass
class Options:
    """How the document is laid out; the defaults are an A4 portrait page in IPAexGothic."""

    page: str = "A4"
    landscape: bool = False
    font: str = "IPAexGothic"
    size: float = 9.0  # points
    pitch: float = 1.5  # line height, in font sizes
    # rows a page break follows: "counts:K" (K-th 協定種別, 0 the header), "s2:取組ID", "s3:掲載行番号" (0 the header)
    breaks: frozenset[str] = field(default_factory=frozenset)
    glyph_order: str = "as-laid-out"  # or "reversed", "shuffled"
    seed: int = 0
    css: str = ""  # more style, after the layout's own (an indent, letter spacing, …)


def _release(folder: Path) -> tuple[dict, dict]:
    sys.path.insert(0, str(REPO))
    import polars as pl

    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    tables = {r["name"]: pl.read_csv(folder / r["path"], infer_schema=False)
              for r in package["resources"] if r.get("format") == "csv"}
    return package, tables


def _document_words(package: dict) -> dict[str, str]:
    """The title, the material and the programme's name, as the release records them."""
    sys.path.insert(0, str(REPO))
    from etl.shared.schemas import programme_of

    source = package["sources"][0]["title"]
    title = re.search(r"「(.+?)」", source)
    material = re.search(r"（(.+?)）\s*$", source)
    if not title or not material:
        raise ValueError(f"the release's source title 「{source}」 names no document 「…」 and material （…）")
    return {"title": title[1], "material": material[1], "programme": programme_of(package)}


def _era(year: int) -> str:
    return f"令和{'元' if year == 2019 else _wide(str(year - 2018))}"


def _wide(digits: str) -> str:
    return digits.translate(str.maketrans("0123456789", "０１２３４５６７８９"))


def _yen(value: str) -> str:
    return f"{int(value):,}千円"


def _esc(text: str | None) -> str:
    return "".join(f'<span class=distinct>{html.escape(ch)}</span>' if ch in _shared() else html.escape(ch)
                   for ch in text or "")


def _rows(frame, **equal):
    out = frame.to_dicts()
    return [r for r in out if all(r[k] == v for k, v in equal.items())]


def _brk(options: Options, key: str) -> str:
    return ' style="break-before: page"' if key in options.breaks else ""


# ── section 1 ───────────────────────────────────────────────────────────────────────────


def section1(package: dict, tables: dict, words: dict[str, str], options: Options) -> str:
    as_of = package["x-as-of"]
    y, m, d = (int(p) for p in as_of.split("-"))
    totals = tables["printed_totals"].to_dicts()
    total = {(t["集計軸"], t["区分"]): t["印字値"] for t in totals}
    counts = tables["agreement_counts"]
    kinds = list(dict.fromkeys(counts["協定種別"].to_list()))
    categories = list(dict.fromkeys(counts["相手方区分"].to_list()))
    header = ("<thead><tr><th rowspan=2>協定種別</th><th rowspan=2>協定数</th>"
              f"<th colspan={len(categories)}>相手方区分</th></tr><tr>"
              + "".join(f"<th>{_esc(c)}</th>" for c in categories) + "</tr></thead>")
    body = []
    for i, kind in enumerate(kinds):  # row K of the body follows row K-1 (0: the header)
        cells = {r["相手方区分"]: r["協定数"] for r in _rows(counts, 協定種別=kind)}
        body.append(f"<tr{_brk(options, f'counts:{i}')}><th>{_esc(kind)}</th><td>{total[('協定種別', kind)]}</td>"
                    + "".join(f"<td>{'' if cells[c] == '0' else cells[c]}</td>" for c in categories) + "</tr>")
    grand = next(v for (axis, _), v in total.items() if axis == "総数")
    grand_label = next(k for (axis, k) in total if axis == "総数")
    body.append(f"<tr{_brk(options, f'counts:{len(kinds)}')}><th>{_esc(grand_label)}</th><td>{grand}</td>"
                + "".join(f"<td>{total[('相手方区分', c)]}</td>" for c in categories) + "</tr>")
    headline_label, headline = next((k, v) for (axis, k), v in total.items() if axis == "見出し総数")
    partner_label, partner_count = next((k, v) for (axis, k), v in total.items() if axis == "団体数")
    names = "".join(f"<div>{_esc(r['協定先名称_原文'])}</div>" for r in tables["partnership_partners"].to_dicts())
    return f"""
<h1>{_esc(words['title'])}</h1>
<h2>１ 他機関との連携協定の状況（{y}年{_wide(str(m))}月{_wide(str(d))}日現在）</h2>
<p class=unit>単位:件</p>
<table class=counts>{header}<tbody>{''.join(body)}</tbody></table>
<p class=headline>{_esc(headline_label)}：{headline}件</p>
<div class=box><p class=programme>{_esc(words['programme'])}</p><div class=names>{names}</div></div>
<p>【{_esc(partner_label)}:{partner_count}団体(順不同)】</p>
"""


# ── section 2 ───────────────────────────────────────────────────────────────────────────


def section2(package: dict, tables: dict, options: Options) -> str:
    year = int(package["x-fiscal-year"])
    rows = tables["initiatives"].to_dicts()
    groups: list[list[dict]] = []
    for r in rows:
        if groups and groups[-1][0]["分野"] == r["分野"]:
            groups[-1].append(r)
        else:
            groups.append([r])
    body = []
    previous = "0"  # a break after 取組ID K goes before the row that follows it (0: the header)
    for group in groups:
        for k, r in enumerate(group):
            label = (f'<td class=label rowspan={len(group)}>{_esc(r["分野"])}</td>' if k == 0 else "")
            brk, previous = _brk(options, f"s2:{previous}"), r["取組ID"]
            body.append(f"<tr{brk}>{label}<td>{_esc(r['協定名称'])}</td>"
                        f"<td>{_partners(tables, r)}</td><td>{_items(tables, r)}</td>"
                        f"<td class=amount>{_budget(r)}</td></tr>")
    return f"""
<h2 class=section>２ {year}（{_era(year)}）年度に予定されている他機関との連携協定に基づく主な取組（関連予算等）</h2>
<table class=initiatives><colgroup><col class=label><col class=title><col class=partner><col class=items>
<col class=amount></colgroup>
<thead><tr><th class=label>分野</th><th>協定名称</th><th>協定先</th><th>取組内容</th>
<th>{_era(year)}年度当初予算<br>関連予算</th></tr></thead><tbody>{''.join(body)}</tbody></table>
"""


def _partners(tables: dict, initiative: dict) -> str:
    names = [p["協定先名称_原文"] for p in _rows(tables["initiative_partners"], 取組ID=initiative["取組ID"])]
    if not names:
        return f"{_esc(initiative['協定先数'])}団体"
    return "".join(f"<div>{_esc(n)}{'、' if i < len(names) - 1 else ''}</div>" for i, n in enumerate(names))


def _items(tables: dict, initiative: dict) -> str:
    items = [i["取組内容"] for i in _rows(tables["initiative_items"], 取組ID=initiative["取組ID"])]
    mark = "・" if len(items) > 1 else ""
    return "".join(f"<div>{mark}{_esc(i)}</div>" for i in items)


def _budget(r: dict) -> str:
    out = [f"<div>{_yen(r['予算額_千円'])}</div>"]
    if r.get("うち額_千円"):
        out.append(f"<div>※うち{_esc(r['うち額_内容'])}</div><div>{_yen(r['うち額_千円'])}</div>")
    if r.get("備考"):
        out.append(f"<div class=note>※{_esc(r['備考'])}</div>")
    return "".join(out)


# ── section 3 ───────────────────────────────────────────────────────────────────────────


def section3(package: dict, tables: dict, words: dict[str, str], options: Options) -> str:
    year = int(package["x-fiscal-year"])
    rows = [r["掲載行番号"] for r in tables["activity_rows"].to_dicts()]
    labels = {n: [f["分野"] for f in _rows(tables["activity_fields"], 掲載行番号=n)] for n in rows}
    spans: list[list[str]] = []
    for n in rows:
        if spans and labels[spans[-1][0]] == labels[n]:
            spans[-1].append(n)
        else:
            spans.append([n])
    body = []
    previous = "0"  # a break after 掲載行番号 K goes before the row that follows it (0: the header)
    for span in spans:
        for k, n in enumerate(span):
            label = (f'<td rowspan={len(span)}>' + "".join(f"<div>{_esc(f)}</div>" for f in labels[n]) + "</td>"
                     if k == 0 else "")
            partners = "".join(f"<div>{_esc(p['協定先名称_原文'])}</div>"
                               for p in _rows(tables["activity_partners"], 掲載行番号=n))
            items = "".join(f"<div>・{_esc(a['取組内容'])}</div>"
                            for a in _rows(tables["partnership_activities"], 掲載行番号=n))
            brk, previous = _brk(options, f"s3:{previous}"), n
            body.append(f"<tr{brk}>{label}<td>{partners}</td><td>{items}</td></tr>")
    return f"""
<h2 class=section>３ {year}({_era(year)})年度に予定されている{_esc(words['programme'])}締結企業等との主な取組</h2>
<table class=activities><colgroup><col class=fields><col class=partner><col class=items></colgroup>
<thead><tr><th>分野</th><th>協定締結企業等</th><th>取組内容</th></tr></thead><tbody>{''.join(body)}</tbody></table>
"""


# ── the page ────────────────────────────────────────────────────────────────────────────


FONTS = {  # name → a file or a fontconfig name; IPAexGothic comes from PyPI (japanize-matplotlib)
    "IPAexGothic": None,
    "IPAexMincho": "IPAexMincho",
    "Noto Sans CJK JP": "Noto Sans CJK JP",
    "Noto Serif CJK JP": "Noto Serif CJK JP",
}


def _font_face(font: str) -> str:
    if FONTS.get(font) is None:
        sys.path.insert(0, str(REPO))
        from etl.report.charts import font_path

        return f'@font-face {{ font-family: "Facsimile"; src: url("{font_path().as_uri()}"); }}'
    return f'@font-face {{ font-family: "Facsimile"; src: local("{FONTS[font]}"); }}'


@functools.cache
def _shared() -> frozenset[str]:
    """The few characters IPAex fonts draw with a glyph they share with a lower code point (U+2010 ‐
    and U+002D -): a PDF names a glyph by one code point, so one of the two would read back as the
    other. They are set in Noto Sans CJK JP (tools/facsimile.py's _shared_ranges)."""
    sys.path.insert(0, str(REPO / "tools"))
    from facsimile import _shared_ranges

    return frozenset(chr(int(u[2:], 16)) for u in _shared_ranges().split(", ") if u)


def html_page(folder: Path, options: Options) -> str:
    package, tables = _release(folder)
    words = _document_words(package)
    size = f"{PAGES[options.page]} {'landscape' if options.landscape else 'portrait'}"
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>{_esc(words['title'])}</title>
<style>
{_font_face(options.font)}
@page {{ size: {size}; margin: 18mm 14mm;
         @top-left {{ content: "{words['material']}"; font-family: "Facsimile"; font-size: {options.size}pt; }} }}
@page :first {{ @top-left {{ content: none; }} }}
.distinct {{ font-family: "Noto Sans CJK JP"; }}
html {{ font-family: "Facsimile"; font-size: {options.size}pt; line-height: {options.pitch}; }}
h1 {{ font-size: 1.4em; margin: 0 0 1em; }}
h2 {{ font-size: 1.1em; margin: 1.5em 0 0.8em; }}
h2.section {{ break-before: page; }}
p {{ margin: 0.8em 0; }}
table {{ border-collapse: collapse; width: 100%; margin: 0.8em 0; }}
tr {{ break-inside: avoid; }}
th, td {{ border: 0.5pt solid #000; padding: 0.25em 0.4em; vertical-align: top; text-align: left; }}
th {{ font-weight: normal; background: #eee; }}
table.counts {{ width: auto; }}
table.counts td {{ text-align: right; min-width: 2.5em; }}
td.label, th.label {{ width: 1em; text-align: center; vertical-align: middle; word-break: break-all; }}
col.label {{ width: 1.8em; }} col.title {{ width: 22%; }} col.partner {{ width: 18%; }} col.amount {{ width: 12%; }}
col.fields {{ width: 18%; }}
table.activities col.partner {{ width: 34%; }}
td.amount {{ text-align: right; }}
div.note {{ text-align: left; margin-top: 1.5em; }}
.box {{ border: 0.5pt solid #000; padding: 0.5em 1em; margin: 1.5em 0; }}
.box .programme {{ margin: 0 0 1.5em; }}
{options.css}
</style></head><body>
{section1(package, tables, words, options)}
{section2(package, tables, options)}
{section3(package, tables, words, options)}
</body></html>
"""


def with_weasyprint(folder: Path, out: Path, options: Options | None = None) -> Path:
    import weasyprint

    options = options or Options()
    logger = __import__("logging").getLogger("weasyprint")
    logger.setLevel("ERROR")  # it warns about CSS it ignores; the PDF is what is tested
    pdf = weasyprint.HTML(string=html_page(folder, options), base_url=str(folder)).write_pdf()
    out.write_bytes(reorder_glyphs(pdf, options.glyph_order, options.seed) if options.glyph_order != "as-laid-out"
                    else pdf)
    return out


# Text-state operators: a run moved elsewhere in its text object takes the state it was drawn in
_STATE = {"Tf", "Tc", "Tw", "Tz", "TL", "Ts", "Tr", "rg", "g", "k", "cs", "sc", "scn"}


def reorder_glyphs(pdf: bytes, order: str, seed: int = 0) -> bytes:
    """The same pages with their runs of glyphs in another order in each content stream.

    A run is what one text matrix (Tm) places: it is moved with the text state it was drawn in, so the
    page looks the same; only the order in which a reader meets the glyphs changes (bottom row first,
    or any order), as it does between producers."""
    import io

    import pikepdf

    rng = random.Random(seed)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for page in doc.pages:
            out: list = []
            block: list | None = None
            for instruction in pikepdf.parse_content_stream(page):
                op = str(instruction.operator)
                if op == "BT":
                    block = []
                elif op == "ET" and block is not None:
                    out += [instruction_of("BT"), *_reordered(block, order, rng), instruction]
                    block = None
                elif block is not None:
                    block.append(instruction)
                else:
                    out.append(instruction)
            page.Contents = doc.make_stream(pikepdf.unparse_content_stream(out))
        buffer = io.BytesIO()
        doc.save(buffer, deterministic_id=True)
        return buffer.getvalue()


def instruction_of(op: str, *operands):  # noqa: ANN202 - a pikepdf content-stream instruction
    import pikepdf

    return pikepdf.ContentStreamInstruction(list(operands), pikepdf.Operator(op))


def _reordered(block: list, order: str, rng: random.Random) -> list:
    """A text object's instructions with its runs (from one Tm to the next) reordered."""
    state: dict[str, object] = {}
    head: list = []
    runs: list[list] = []
    for instruction in block:
        op = str(instruction.operator)
        if op == "Tm":
            runs.append([*state.values(), instruction])
        elif runs:
            runs[-1].append(instruction)
        else:
            head.append(instruction)
        if op in _STATE:
            state[op] = instruction
    if order == "reversed":
        runs.reverse()
    else:
        rng.shuffle(runs)
    return head + [i for run in runs for i in run]
