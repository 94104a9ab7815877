"""Property tests of the table parsers, driven through split_lines → extract → transform.

Every document here is the real one with one table rewritten, so that the rest stays valid and
any difference in the output comes from the rewritten part.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

import polars as pl
import pytest
from conftest import REAL, dataset_of, drop, edit, real_lines
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from etl.report.text import render
from etl.shared.normalize import normalize_text
from etl.shared.results import CheckResult
from etl.transform import MAX_PLACEMENTS, Dataset
from etl.transform import place_cells as place
from etl.validate.checks import placement_results, run_text_checks
from etl.validate.run import validate_dataset

LABELS = ("人事", "包括", "事業", "災害")
CATEGORIES = ("官", "民", "学", "その他")
# The printed count table of the real document: line number → text.
COUNT_LINES = {25: "人事 14 8 6", 26: "包括 48 16 20 11 1", 27: "事業 97 13 73 10 1",
               28: "災害 136 17 116 1 2"}
TOTAL_LINE, HEADLINE_LINE = 30, 43


def build(lines: list[str]) -> Dataset:
    """The document as text → SourceText → extract → transform (what `etl build` does before validating)."""
    return dataset_of(lines)


REAL_DATASET = build(real_lines())


def _num(n: int) -> str:
    return f"{n:,}"


def _mentions(message: str, n: int) -> bool:
    return re.search(rf"(?<![\d,]){n}(?!\d|,\d)", message) is not None


# ── count table ───────────────────────────────────────────────────────────────────────────

cell = st.one_of(st.just(0), st.integers(1, 30), st.integers(31, 3000))
matrices = st.lists(st.lists(cell, min_size=4, max_size=4), min_size=4, max_size=4)
full_matrices = st.lists(st.lists(st.integers(1, 3000), min_size=4, max_size=4), min_size=4, max_size=4)


def count_document(matrix: list[list[int]], *, row_totals=None, col_totals=None, grand=None,
                   headline=None) -> list[str]:
    """The real document with the count table printed from `matrix` as the city prints it.

    Each row is 「label rowtotal nonzero-cells…」 (empty cells dropped, like 人事); the 合計 row
    prints the grand total and every column total. Totals can be overridden to print wrong ones.
    """
    row_totals = row_totals or [sum(r) for r in matrix]
    col_totals = col_totals or [sum(c) for c in zip(*matrix)]
    grand = sum(map(sum, matrix)) if grand is None else grand
    headline = grand if headline is None else headline
    lines = real_lines()
    for (n, old), label, row, total in zip(COUNT_LINES.items(), LABELS, matrix, row_totals):
        lines = edit(lines, n, old, " ".join([label, _num(total), *(_num(v) for v in row if v)]))
    lines = edit(lines, TOTAL_LINE, "合計 295 54 215 22 4",
                 " ".join(["合計", _num(grand), *map(_num, col_totals)]))
    return edit(lines, HEADLINE_LINE, "295件", f"{_num(headline)}件")


def placements(rows: list[list[int]], width: int):
    """Every table that prints as `rows`: each row's numbers kept in order, zeros in the other columns."""
    for combo in itertools.product(*[itertools.combinations(range(width), len(p)) for p in rows]):
        table = []
        for p, cols in zip(rows, combo):
            row = [0] * width
            for c, v in zip(cols, p):
                row[c] = v
            table.append(tuple(row))
        yield tuple(table)


def solutions(printed: list[list[int]], width: int, col_totals: list[int] | None) -> set[tuple]:
    """Brute force: every distinct table whose rows print as `printed` and whose columns sum to col_totals.

    A row printing `width` numbers is placed as is; a shorter one has its numbers kept in order
    with zeros in the other columns. Rows printing more than `width` numbers are left out.
    """
    rows = [p for p in printed if len(p) <= width]
    if col_totals is None:
        return set()
    return {table for table in placements(rows, width)
            if [sum(c) for c in zip(*table)] == list(col_totals) or (not table and not any(col_totals))}


def best_solutions(printed: list[list[int]], width: int, col_totals: list[int]) -> tuple[set[tuple], int]:
    """Brute force: the distinct tables that miss the fewest printed column totals, and how many they miss."""
    rows = [p for p in printed if len(p) <= width]
    scored: dict[tuple, int] = {}
    for table in placements(rows, width):
        sums = [sum(r[j] for r in table) for j in range(width)]
        scored[table] = sum(s != t for s, t in zip(sums, col_totals))
    fewest = min(scored.values())
    return {t for t, n in scored.items() if n == fewest}, fewest


def _table(ds: Dataset) -> dict[tuple[str, str], int]:
    t = ds.tables["agreement_counts"]
    return {(r["協定種別"], r["相手方区分"]): r["協定数"] for r in t.iter_rows(named=True)}


def _failures(results: list[CheckResult], check: str) -> list[CheckResult]:
    return [r for r in results if r.check == check and not r.passed]


@settings(deadline=None, max_examples=30)
@given(matrices)
def test_count_table_round_trip(matrix):
    """A consistent table comes back cell for cell if its zeros place uniquely, else placement fails naming row and line."""
    ds = build(count_document(matrix))
    report = validate_dataset(ds)
    printed = [[v for v in row if v] for row in matrix]
    found = solutions(printed, 4, [sum(c) for c in zip(*matrix)])
    assert tuple(map(tuple, matrix)) in found
    event("placement unique" if len(found) == 1 else "placement ambiguous")
    if len(found) == 1:
        expected = {(lab, cat): v for lab, row in zip(LABELS, matrix) for cat, v in zip(CATEGORIES, row)}
        assert _table(ds) == expected
        assert report.valid, render(report)
        assert ds.tables["agreement_counts"].height == 16
    else:
        fails = _failures(report.results, "agreement_counts.placement")
        assert fails, render(report)
        ambiguous = {i for i in range(4) if len({table[i] for table in found}) > 1}
        for i in ambiguous:
            label, line = LABELS[i], list(COUNT_LINES)[i]
            assert any(label in f.message and f"line {line}" in f.message for f in fails), fails
        short_rows = {(LABELS[i], list(COUNT_LINES)[i]) for i in range(4) if len(printed[i]) < 4}
        for f in fails:
            assert any(label in f.message and f"line {line}" in f.message for label, line in short_rows)
        assert not report.valid


@settings(deadline=None, max_examples=24)
@given(matrices, st.sampled_from(["row", "grand", "headline"]), st.integers(0, 3),
       st.integers(1, 500), st.booleans())
def test_wrong_printed_total_is_reported(matrix, kind, which, delta, down):
    """A wrong row total, 合計 total or headline is refused by its own check, naming printed and true numbers."""
    printed = [[v for v in row if v] for row in matrix]
    assume(len(solutions(printed, 4, [sum(c) for c in zip(*matrix)])) == 1)
    grand = sum(map(sum, matrix))
    true = {"row": sum(matrix[which]), "grand": grand, "headline": grand}[kind]
    wrong = true - delta if down and true - delta >= 0 else true + delta
    if kind == "row":
        rows = [sum(r) for r in matrix]
        rows[which] = wrong
        doc, check = count_document(matrix, row_totals=rows), "agreement_counts.row_totals"
    elif kind == "grand":  # the headline repeats the wrong total, so only the cells disagree
        doc, check = count_document(matrix, grand=wrong, headline=wrong), "agreement_counts.grand_total"
    else:
        doc, check = count_document(matrix, headline=wrong), "agreement_counts.headline_total"
    report = validate_dataset(build(doc))
    assert {r.check for r in report.failures} == {check}, render(report)
    (failure,) = report.failures
    assert _mentions(failure.message, wrong) and _mentions(failure.message, true), failure.message
    if kind == "row":
        assert LABELS[which] in failure.message and f"line {list(COUNT_LINES)[which]}" in failure.message


@settings(deadline=None, max_examples=12)
@given(full_matrices, st.integers(0, 3), st.integers(1, 500), st.booleans())
def test_wrong_column_total_is_reported(matrix, which, delta, down):
    """With no dropped cells, a wrong column total fails agreement_counts.column_totals naming both numbers."""
    cols = [sum(c) for c in zip(*matrix)]
    true = cols[which]
    cols[which] = true - delta if down and true - delta >= 0 else true + delta
    report = validate_dataset(build(count_document(matrix, col_totals=cols)))
    assert {r.check for r in report.failures} == {"agreement_counts.column_totals"}, render(report)
    (failure,) = report.failures
    assert CATEGORIES[which] in failure.message and f"line {TOTAL_LINE}" in failure.message
    assert _mentions(failure.message, cols[which]) and _mentions(failure.message, true), failure.message


@settings(deadline=None, max_examples=12)
@given(matrices.filter(lambda m: any(0 in r for r in m)), st.integers(0, 3), st.integers(1, 500))
def test_wrong_column_total_with_dropped_cells_is_named(matrix, which, delta):
    """With dropped cells, a wrong column total is the one failure (both numbers), unless it makes placement ambiguous."""
    cols = [sum(c) for c in zip(*matrix)]
    true, cols[which] = cols[which], cols[which] + delta
    printed = [[v for v in row if v] for row in matrix]
    best, _ = best_solutions([p for p in printed if len(p) < 4], 4,
                             [c - sum(r[j] for r in matrix if 0 not in r) for j, c in enumerate(cols)])
    report = validate_dataset(build(count_document(matrix, col_totals=cols)))
    if len(best) == 1:
        assert [r.check for r in report.failures] == ["agreement_counts.column_totals"], render(report)
        (failure,) = report.failures
        assert f"{CATEGORIES[which]} (line {TOTAL_LINE})" in failure.message
        assert _mentions(failure.message, cols[which]) and _mentions(failure.message, true), failure.message
    else:  # moving `delta` between columns of a short row fits the totals as well: refused, not guessed
        fails = _failures(report.results, "agreement_counts.placement")
        assert fails and all("more than one misses the fewest" in f.message for f in fails), render(report)


# ── place_cells directly ──────────────────────────────────────────────────────────────────


def place_cells(rows, width, col_totals, results: list[CheckResult]) -> dict[str, list[int]]:
    """etl.transform.place_cells, with agreement_counts.placement's results of it added to `results`."""
    placed, placement = place(rows, width, col_totals)
    results.extend(placement_results(placement))
    return placed


@st.composite
def placement_problems(draw):
    width = draw(st.integers(1, 5))
    n_rows = draw(st.integers(1, 4))
    matrix = [draw(st.lists(st.integers(0, 6), min_size=width, max_size=width)) for _ in range(n_rows)]
    rows = []
    for i, row in enumerate(matrix):
        if draw(st.integers(0, 9)) == 0:  # now and then a row prints too many numbers
            printed = row + draw(st.lists(st.integers(0, 6), min_size=1, max_size=2))
        else:  # zeros are dropped, mostly all of them, sometimes only some (a printed 0)
            keep_zero = draw(st.lists(st.booleans(), min_size=width, max_size=width))
            printed = [v for v, keep in zip(row, keep_zero) if v or keep]
        rows.append((f"R{i}", 100 + i, printed))
    totals = draw(st.sampled_from(["true", "random", "none"]))
    if totals == "true":
        col_totals = [sum(c) for c in zip(*matrix)]
    elif totals == "random":
        col_totals = draw(st.lists(st.integers(0, 20), min_size=width, max_size=width))
    else:
        col_totals = None
    return width, rows, col_totals


@settings(deadline=None, max_examples=300)
@given(placement_problems())
def test_place_cells_returns_unique_placements_and_reports_the_rest(problem):
    """place_cells never raises, returns the unique best placement if there is one, else fails every short row."""
    width, rows, col_totals = problem
    results: list[CheckResult] = []
    placed = place_cells(rows, width, col_totals, results)
    over = [(lab, n) for lab, n, v in rows if len(v) > width]
    full = {lab: v for lab, _, v in rows if len(v) == width}
    short = [(lab, n, v) for lab, n, v in rows if len(v) < width]
    fails = _failures(results, "agreement_counts.placement")
    for lab, n in over:
        assert any(f"{lab} row (line {n})" in f.message for f in fails)
    if not short:
        assert placed == full
        assert any(r.passed for r in results)
        assert len(fails) == len(over)
        return
    if col_totals is None:
        found, missed = set(), 0
    else:
        found, missed = best_solutions([v for _, _, v in rows if len(v) == width] + [v for _, _, v in short],
                                       width, col_totals)
    if len(found) == 1:
        (table,) = found
        expected = dict(full)
        expected.update({lab: list(row) for (lab, _, _), row in zip(short, table[len(full):])})
        assert placed == expected
        assert list(placed) == [lab for lab, _, v in rows if len(v) <= width]  # the rows' order
        oks = [r for r in results if r.passed]
        assert [(r.label, r.line) for r in oks] == [(lab, n) for lab, n, _ in short]
        for r, (_, _, values) in zip(oks, short):  # the printed numbers, and None where a cell was dropped
            assert [v for v in r.actual if v is not None] == values and len(r.actual) == width
        assert len(fails) == len(over)
    else:
        assert placed == full
        assert not any(r.passed for r in results)
        for lab, n, _ in short:
            assert any(f"{lab} row (line {n})" in f.message for f in fails)
        why = "no arrangement" if not found or missed else "more than one arrangement"
        assert all(why in f.message for f in fails if any(f.label == lab for lab, _, _ in short))


def test_place_cells_too_many_arrangements_is_a_failure_not_a_hang():
    """Beyond MAX_PLACEMENTS arrangements place_cells reports 「too many」 instead of trying them."""
    width = 14
    rows = [(f"R{i}", i + 1, [1] * 7) for i in range(2)]
    assert len(list(itertools.combinations(range(width), 7))) ** 2 > MAX_PLACEMENTS
    results: list[CheckResult] = []
    assert place_cells(rows, width, [1] * width, results) == {}
    fails = _failures(results, "agreement_counts.placement")
    assert len(fails) == 2 and all("too many" in f.message for f in fails)


def test_place_cells_printed_zero_is_not_an_ambiguity():
    """A printed 0 that could sit in either empty column gives one table, so it is placed, not refused."""
    results: list[CheckResult] = []
    placed = place_cells([("人事", 25, [0, 5]), ("包括", 26, [1, 2, 3, 4])], 4, [1, 2, 3, 9], results)
    assert placed == {"人事": [0, 0, 0, 5], "包括": [1, 2, 3, 4]}
    assert all(r.passed for r in results)


# ── wrapped lines and bullets ─────────────────────────────────────────────────────────────

KANJI = "".join(sorted({c for c in REAL.read_text(encoding="utf-8") if "\u4e00" <= c <= "\u9fff"}))
ITEM_ALPHABET = (
    "".join(chr(c) for c in range(0x3041, 0x3097))  # hiragana
    + "".join(chr(c) for c in range(0x30A1, 0x30FB)) + "ー"  # katakana
    + "".join(chr(c) for c in range(0xFF66, 0xFFA0))  # half-width katakana, ｰ ﾞ ﾟ
    + KANJI
    + "ABCFLQRSXaxyz0123456789０１２３ＡＳ、。「」（）()【】・･-‐－"
)
# A wrapped line never starts with a bullet mark (it would be a new item). It may start with a
# half-width sound mark (ｷ / ﾞｰ): the pieces are joined before NFKC composes them.
NO_BREAK_BEFORE = "・･"


def _usable_item(item: str) -> bool:
    t = normalize_text(item)
    return (
        len(item) >= 2
        and t[0] != "・"
        and "※" not in t
        and not re.search(r"\d千円", t)
        and "QR" not in t  # a paragraph mentioning a QR code is a caption (page furniture)
        and "年度" not in t and "単位" not in t
    )


items_strategy = st.lists(st.text(ITEM_ALPHABET, min_size=2, max_size=40).filter(_usable_item),
                          min_size=1, max_size=5)


@st.composite
def wrapped_items(draw):
    """Items, each cut at arbitrary points into printed lines, and whether a blank line follows each."""
    items = draw(items_strategy)
    pieces = []
    for item in items:
        allowed = [i for i in range(1, len(item)) if item[i] not in NO_BREAK_BEFORE]
        cuts = sorted(draw(st.sets(st.sampled_from(allowed), max_size=6))) if allowed else []
        bounds = [0, *cuts, len(item)]
        pieces.append([item[a:b] for a, b in zip(bounds, bounds[1:])])
    blanks = draw(st.lists(st.booleans(), min_size=len(items), max_size=len(items)))
    return items, pieces, blanks


def print_bullets(first_prefix: str, pieces: list[list[str]], blanks: list[bool], start: int):
    """The bullet lines (first on 「first_prefix・…」) and the line number each item starts on."""
    block, starts = [], []
    for i, item_pieces in enumerate(pieces):
        if i and blanks[i - 1]:
            block.append("")
        starts.append(start + len(block))
        block.append((first_prefix if i == 0 else "") + "・" + item_pieces[0])
        block.extend(item_pieces[1:])
    return block, starts


def _activity_rows(ds: Dataset) -> list[dict]:
    """Section 3 as rows: partners, fields (with lines), items and the line each item starts on."""
    acts = ds.tables["partnership_activities"]
    partners, fields = ds.tables["activity_partners"], ds.tables["activity_fields"]
    out = []
    for row in acts.partition_by("掲載行番号", maintain_order=True):
        number = row["掲載行番号"][0]
        f = fields.filter(pl.col("掲載行番号") == number)
        out.append({
            "partners": tuple(partners.filter(pl.col("掲載行番号") == number)["協定先名称_原文"]),
            "partner_lines": tuple(partners.filter(pl.col("掲載行番号") == number)["原文行番号"]),
            "fields": tuple(f["分野"]), "field_lines": tuple(f["原文行番号"]),
            "items": tuple(row["取組内容"]), "lines": tuple(row["原文行番号"]),
        })
    return out


@settings(deadline=None, max_examples=40)
@given(wrapped_items())
def test_section3_bullets_round_trip(generated):
    """Section-3 bullets wrapped at any points come back as whole items: no character lost or duplicated."""
    items, pieces, blanks = generated
    lines = real_lines()
    assert lines[280].startswith("日本大学工学部 ・") and not "".join(lines[283:]).strip()
    block, starts = print_bullets("日本大学工学部 ", pieces, blanks, 281)
    ds = build(lines[:280] + block + lines[283:])
    rows = _activity_rows(ds)
    before = _activity_rows(REAL_DATASET)
    assert rows[:-1] == before[:-1]
    last = rows[-1]
    assert last["partners"] == ("日本大学工学部",) and last["fields"] == ("気候変動",)
    assert list(last["items"]) == [normalize_text(item) for item in items]
    assert list(last["lines"]) == starts


@settings(deadline=None, max_examples=40)
@given(wrapped_items())
def test_section2_bullets_round_trip(generated):
    """Section-2 「・」 items wrapped at any points come back as whole items of their initiative only."""
    items, pieces, blanks = generated
    lines = real_lines()
    assert [ln[:1] for ln in lines[156:160]] == ["・"] * 4 and lines[160] == ""
    block, starts = print_bullets("", pieces, blanks, 157)
    ds = build(lines[:156] + block + lines[160:])
    shift = len(block) - 4
    got = ds.tables["initiative_items"]
    farming = got.filter(pl.col("取組ID") == 6)
    assert farming["取組内容"].to_list() == [normalize_text(item) for item in items]
    assert farming["原文行番号"].to_list() == starts
    real = REAL_DATASET.tables["initiative_items"].filter(pl.col("取組ID") != 6).with_columns(
        pl.when(pl.col("原文行番号") > 160).then(pl.col("原文行番号") + shift)
        .otherwise(pl.col("原文行番号")).alias("原文行番号"))
    assert got.filter(pl.col("取組ID") != 6).equals(real)
    initiatives = ds.tables["initiatives"]
    assert initiatives.height == 9
    assert initiatives.filter(pl.col("取組ID") == 6)["予算額_千円"].item() == 1626
    assert _failures(run_text_checks(ds.evidence), "initiatives.amounts_assigned") == []


def test_wrap_before_halfwidth_voiced_mark_gives_nfkc_text():
    """A cell wrapped between ｷ and ﾞ (as in ｴﾈﾙ/ｷﾞｰ) rejoins as NFKC text: エネルギー, not エネルキ\u3099ー."""
    lines = edit(edit(real_lines(), 139, "ｴﾈﾙ", "ｴﾈﾙｷ"), 140, "ｷﾞｰ", "ﾞｰ")
    items = build(lines).tables["initiative_items"].filter(pl.col("取組ID") == 5)["取組内容"].to_list()
    assert len(items) == 1
    assert "エネルギー" in items[0]
    assert items[0] == unicodedata.normalize("NFKC", items[0])


def test_wrapped_section3_bullet_before_voiced_mark_gives_nfkc_text():
    """A section-3 bullet wrapped between ｷ and ﾞ rejoins as the NFKC item ギー."""
    lines = real_lines()[:280] + ["日本大学工学部 ・ｷ", "ﾞｰ"] + real_lines()[283:]
    items = _activity_rows(build(lines))[-1]["items"]
    assert items == ("ギー",)


# ── independence from this edition's row count ───────────────────────────────────────────

INITIATIVE_COLUMNS = ["年度", "分野", "協定名称", "協定先数", "予算額_千円", "うち額_千円", "うち額_内容", "備考"]


def _shifted(frame: pl.DataFrame, first: int, last: int, column: str = "原文行番号") -> pl.DataFrame:
    k = last - first + 1
    return frame.with_columns(
        pl.when(pl.col(column) > last).then(pl.col(column) - k).otherwise(pl.col(column)).alias(column))


@pytest.mark.parametrize(("first", "last", "removed"), [
    (117, 134, 4),  # 交通安全: its vertical label and its one row
    (85, 93, 1),  # こども, the first initiative
    (147, 163, 6),  # 農業, whose items are 「・」 bullets
    (106, 116, 3),  # the 医療 row with the only ※うち: the column is then empty, never a crash
    (189, 207, 9),  # 防災, the only ※ note; the last row
])
def test_removing_an_initiative_leaves_the_others_unchanged(first, last, removed):
    """Without one initiative's lines the other initiatives, their items and partners come out unchanged."""
    ds = build(drop(real_lines(), first, last))
    assert validate_dataset(ds).valid
    real = REAL_DATASET.tables
    assert ds.tables["initiatives"].height == 8
    ids = [i for i in range(1, 10) if i != removed]
    renumber = pl.col("取組ID").replace_strict({old: new for new, old in enumerate(ids, start=1)})
    kept = real["initiatives"].filter(pl.col("取組ID") != removed)
    expected = _shifted(kept, first, last).with_columns(renumber)
    assert ds.tables["initiatives"].select("取組ID", *INITIATIVE_COLUMNS, "原文行番号").equals(
        expected.select("取組ID", *INITIATIVE_COLUMNS, "原文行番号"))
    for name in ("initiative_items", "initiative_partners"):
        want = _shifted(real[name].filter(pl.col("取組ID") != removed), first, last).with_columns(renumber)
        assert ds.tables[name].equals(want), name
    for name in ("agreement_counts", "partnership_partners", "printed_totals"):
        assert ds.tables[name].equals(real[name]), name
    assert _activity_rows(ds) == [
        {**r, "lines": tuple(n - (last - first + 1) for n in r["lines"]),
         "partner_lines": tuple(n - (last - first + 1) for n in r["partner_lines"]),
         "field_lines": tuple(n - (last - first + 1) for n in r["field_lines"])}
        for r in _activity_rows(REAL_DATASET)
    ]


@pytest.mark.parametrize(("first", "last", "gone", "relabelled"), [
    # the 国立環境研究所 row only: 日本大学工学部 keeps the 気候変動 label printed above both rows
    (279, 280, "国立研究開発法人国立環境研究所", None),
    # the 気候変動 label with that row: 日本大学工学部 now sits under the スポーツ label (line 271)
    (277, 280, "国立研究開発法人国立環境研究所", (("スポーツ",), (271,))),
    # a row that shares its 農業 label with the next: 三菱商事復興支援財団 keeps 農業
    (265, 267, "福島大学", None),
    # a row with its own two labels, between others
    (257, 262, "明治安田生命保険相互会社", None),
    # the first row with its six labels
    (212, 229, "株式会社東邦銀行", None),
])
def test_removing_a_section3_row_leaves_the_others_unchanged(first, last, gone, relabelled):
    """Without one section-3 row the other rows keep their partners, items and 分野 labels."""
    ds = build(drop(real_lines(), first, last))
    assert validate_dataset(ds).valid
    k = last - first + 1
    expected = []
    for r in _activity_rows(REAL_DATASET):
        if r["partners"][0] == gone:
            continue
        moved = {key: tuple(n - k if n > last else n for n in r[key])
                 for key in ("lines", "partner_lines", "field_lines")}
        expected.append({**r, **moved})
    if relabelled:
        expected[-1]["fields"], expected[-1]["field_lines"] = relabelled
    assert _activity_rows(ds) == expected
    assert ds.tables["partnership_activities"]["活動ID"].to_list() == list(
        range(1, sum(len(r["items"]) for r in expected) + 1))
