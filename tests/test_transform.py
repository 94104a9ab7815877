"""Layout variants a new edition may print, and how the tables come out of them."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from conftest import edit, real_lines

from etl.extract import extract
from etl.source.text import SourceText, split_lines
from etl.transform import Dataset, transform
from etl.validate.run import validate_dataset


def build(lines: list[str]) -> Dataset:
    return transform(extract(SourceText(Path("doc.txt"), "utf-8", split_lines("\n".join(lines)))))


def _insert(lines: list[str], after: int, text: str) -> list[str]:
    return lines[:after] + [text] + lines[after:]


def test_a_bullet_that_mentions_a_qr_code_is_data_not_furniture() -> None:
    """Only a short caption paragraph beside a QR code is dropped; a bullet mentioning one stays."""
    ds = build(edit(real_lines(), 231, "を実施", "を実施（QRコードで申込）"))
    assert validate_dataset(ds).valid
    activities = ds.tables["partnership_activities"]
    row = activities.filter(pl.col("取組内容").str.contains("QRコードで申込"))
    assert row.height == 1
    links = ds.tables["activity_partners"].filter(pl.col("掲載行番号") == row["掲載行番号"].item())
    assert links["協定先ID"].to_list() == [13]  # あいおいニッセイ同和損害保険, as printed


def test_partners_printed_one_per_line_without_commas_stay_separate() -> None:
    """A name that ends in a legal form ends there; a wrapped 「公立大学法人 / 福島県立医科大学」 stays one."""
    lines = edit(edit(real_lines(), 125, "協同組合、", "協同組合"), 126, "株式会社、", "株式会社")
    ds = build(lines)
    names = ds.tables["initiative_partners"].filter(pl.col("取組ID") == 4)["協定先名称"].to_list()
    assert names == ["郡山地区ハイヤータクシー協同組合", "福島交通株式会社", "会津乗合自動車株式会社"]
    assert ds.tables["initiatives"].filter(pl.col("取組ID") == 4)["協定先数"].item() == 3
    wrapped = ds.tables["initiative_partners"].filter(pl.col("取組ID") == 3)["協定先名称"].to_list()
    assert wrapped == ["公立大学法人福島県立医科大学"]


def test_item_boundary_uses_the_width_of_the_whole_column() -> None:
    """A short line ends an item even when every line of that one cell is short."""
    ds = build(edit(real_lines(), 89, "子ども食堂への支援", "子ども食堂への支援協力と運営"))
    items = ds.tables["initiative_items"].filter(pl.col("取組ID") == 1)["取組内容"].to_list()
    assert items == ["子ども食堂への支援協力と運営", "子ども食堂に対する商品券の譲与"]


def test_an_amount_printed_with_a_space_is_still_the_budget() -> None:
    """「6,536 千円」 and 「17,095 千円」 (after the content, on its line) are budgets, nothing left over."""
    ds = build(edit(edit(real_lines(), 104, "6,536千円", "6,536 千円"), 112, "17,095千円", "17,095 千円"))
    assert validate_dataset(ds).valid
    budgets = ds.tables["initiatives"].filter(pl.col("取組ID").is_in([2, 3]))["予算額_千円"].to_list()
    assert budgets == [6536, 17095]


def test_a_count_row_printed_twice_is_reported() -> None:
    """The same 協定種別 twice fails the placement check naming both lines (never silently overwritten)."""
    ds = build(_insert(real_lines(), 26, "包括 48 16 20 11 1"))
    failures = [r for r in validate_dataset(ds).failures if r.check == "agreement_counts.placement"]
    assert failures and "printed twice (lines 26 and 27)" in failures[0].message


def test_a_document_cut_at_any_line_is_refused_unless_the_cut_falls_among_section3_bullets() -> None:
    """From the text alone every cut is a layout error, except one among section 3's bullets: nothing
    in the text (no printed count, no end mark) tells it from a shorter edition. Such a cut keeps
    every row before it unchanged, and the last activity is a prefix of the printed one. `etl build`
    refuses those cuts too, by the registered size and hash (test_registry.py)."""
    from etl.errors import LayoutError

    lines = real_lines()
    full = build(lines).tables["partnership_activities"]
    first_bullet = full["原文行番号"].min()
    accepted = 0
    for cut in range(len(lines) - 1):
        try:
            ds = build(lines[:cut])
        except LayoutError:
            continue
        assert cut >= first_bullet, f"a cut after line {cut} was accepted"
        assert validate_dataset(ds).valid
        got = ds.tables["partnership_activities"]
        assert got.head(-1).equals(full.head(got.height - 1)), cut
        assert full["取組内容"][got.height - 1].startswith(got["取組内容"][-1]), cut
        accepted += 1
    assert accepted


def test_an_overlong_bullet_line_does_not_move_the_item_boundaries_of_other_cells() -> None:
    """The wrap-or-new-item width is measured on cells without bullets (found by hypothesis)."""
    lines = real_lines()
    variant = lines[:156] + ["・00" + "‐" * 29] + lines[160:]  # 農業's four bullets → one very long one
    items = build(variant).tables["initiative_items"].filter(pl.col("取組ID") != 6).drop("原文行番号")
    real = build(lines).tables["initiative_items"].filter(pl.col("取組ID") != 6).drop("原文行番号")
    assert items.equals(real)
