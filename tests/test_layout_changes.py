"""Same data or a refusal: a layout change that leaves the meaning gives the same tables, or exit 1 or 2.

A page break, another producer or a taller row shows in the text as a blank line lost or added.
Every single one of these in sections 2–3 is tried: each blank line removed, and a blank line
inserted between every two consecutive printed lines. The build must then publish the same tables
(原文行番号 aside), or refuse (a LayoutError, exit 2, or a failed check, exit 1); never another valid
release.
"""

from __future__ import annotations

import pytest
from conftest import data_of, dataset_of, real_lines

from etl.errors import EtlError
from etl.shared.normalize import normalize_text
from etl.validate.run import validate_dataset

LINES = real_lines()
SECTION2 = next(i for i, t in enumerate(LINES) if normalize_text(t).strip().startswith("2 "))


_build = dataset_of


BASE = data_of(_build(LINES))

CHANGES = [(f"delete-blank-line-{i + 1}", LINES[:i] + LINES[i + 1:])
           for i in range(SECTION2 + 1, len(LINES)) if not LINES[i].strip()]
CHANGES += [(f"insert-blank-after-line-{i + 1}", LINES[:i + 1] + [""] + LINES[i + 1:])
            for i in range(SECTION2, len(LINES) - 1) if LINES[i].strip() and LINES[i + 1].strip()]


def test_every_change_is_tried() -> None:
    """Both kinds of change, over the whole of sections 2 and 3."""
    assert sum(name.startswith("delete") for name, _ in CHANGES) > 50
    assert sum(name.startswith("insert") for name, _ in CHANGES) > 50


@pytest.mark.parametrize("lines", [c[1] for c in CHANGES], ids=[c[0] for c in CHANGES])
def test_a_blank_line_lost_or_added_gives_the_same_data_or_a_refusal(lines: list[str]) -> None:
    try:
        ds = _build(lines)
    except EtlError as exc:
        assert exc.exit_code in (1, 2) and str(exc)
        return
    report = validate_dataset(ds)
    if not report.valid:
        return  # exit 1, with the failed checks in the report
    got = data_of(ds)
    for name, frame in BASE.items():
        assert got[name].equals(frame), (name, got[name].join(frame, on=frame.columns, how="anti",
                                                               nulls_equal=True).rows()[:3])


def test_a_label_glued_to_an_item_names_its_line_and_both_columns() -> None:
    """Section 3: a 分野 label under a 「・」 item without its blank line is refused, not absorbed."""
    i = next(i for i, t in enumerate(LINES) if t == "安全・安心") - 1
    assert not LINES[i].strip()
    with pytest.raises(EtlError) as caught:
        _build(LINES[:i] + LINES[i + 1:])
    message = str(caught.value)
    assert message.startswith(f"line {i + 1}: section 3: the row of 「")
    assert "「安全・安心」" in message and "取組内容" in message and "分野" in message


def test_a_glued_label_of_any_shape_is_refused() -> None:
    """A label too long for a 分野 shape, glued to the item above, still leaves its row without labels."""
    i = next(i for i, t in enumerate(LINES) if t == "福祉" and LINES[i + 1] == "学術連携")
    lines = LINES[:i - 1] + ["観光・シティプロモーションの推進体制"] + LINES[i + 2:]
    with pytest.raises(EtlError, match="has no 分野 label of its own"):
        _build(lines)


def test_a_wrapped_item_before_a_row_with_its_own_labels_builds() -> None:
    """A short wrapped end of an item (「協力」) before the next row's labels is the end of the item."""
    i = next(i for i, t in enumerate(LINES) if t == "・福島大学公開授業開催の周知への協力")
    got = data_of(_build(LINES[:i] + ["・福島大学公開授業開催の周知への", "協力"] + LINES[i + 1:]))
    assert got["partnership_activities"].equals(BASE["partnership_activities"])


def test_a_label_after_a_note_is_still_the_label() -> None:
    """Section 2: a new row's vertical label glued to the ※ note that ends the row above."""
    end = max(i for i, t in enumerate(LINES) if t == "で対応")
    lines = LINES[:end + 1] + ["観", "光", "", "観光振興に関する連携協定 株式会社日本旅行 観光PRｲﾍﾞﾝﾄの開催", "",
                               "1,200千円", ""] + LINES[end + 1:]
    ds = _build(lines)
    assert validate_dataset(ds).valid
    rows = ds.tables["initiatives"]
    assert rows["分野"].to_list()[-2:] == ["防災", "観光"]
    assert rows["備考"].to_list()[-2] == BASE["initiatives"]["備考"].to_list()[-1]


@pytest.mark.parametrize("where", ["after an item's end", "under a cell's last line"])
def test_a_qr_caption_inside_a_cell_is_refused_not_cut(where: str) -> None:
    """A caption after a cell's lines cannot be told from the cell's end: refused, never silently cut."""
    if where == "after an item's end":
        i = next(i for i, t in enumerate(LINES) if t == "への受診勧奨・保健指導等を行う")
        lines = LINES[:i + 1] + ["QRコードで案内"] + LINES[i + 1:]
    else:
        i = next(i for i, t in enumerate(LINES) if t == "災害時の応急対策業務")
        qr = next(j for j in range(i, 0, -1) if "QRコード" in LINES[j])
        caption = LINES[qr - 2:qr + 1]
        lines = [t for t in LINES[:i + 1] if t not in caption] + caption + LINES[i + 1:]
    with pytest.raises(EtlError, match="reads as the caption of a QR code, but it follows the lines of a cell"):
        _build(lines)


def test_a_vertical_label_glued_to_its_row_is_still_the_label() -> None:
    """Section 2: the label's characters stand out even when no blank line parts them from the cells."""
    i = next(i for i, t in enumerate(LINES) if t == "全") + 1  # 交/通/安/全, then the row
    assert not LINES[i].strip()
    got = data_of(_build(LINES[:i] + LINES[i + 1:]))
    assert got["initiatives"].equals(BASE["initiatives"])


def test_a_qr_line_as_long_as_a_caption_may_be_is_refused_not_guessed() -> None:
    """A line that mentions a QR code near the caption width is a caption or a cell: refused, named."""
    i = next(i for i, t in enumerate(LINES) if i > SECTION2 and "QRコード" in t)
    longer = LINES[i] + "市Webサイトでご覧ください"
    with pytest.raises(EtlError) as caught:
        _build(LINES[:i] + [longer] + LINES[i + 1:])
    assert str(caught.value).startswith(f"line {i + 1}: 「{longer}」 mentions a QR code and is ")


def test_a_section_the_extractor_does_not_know_is_refused_by_name() -> None:
    """A section 4 appended to an edition was read into section 3's table; it is refused, named."""
    with pytest.raises(EtlError) as caught:
        _build([*LINES, "", "４ 今後の予定", "", "・次年度も協定を拡充"])
    assert str(caught.value).startswith(f"line {len(LINES) + 2}: a section 4 「４ 今後の予定」, which the extractor "
                                        "does not know")


def _header_and_first_row() -> tuple[int, int]:
    """The indexes of section 2's header line and of its first row's line (cells on one line)."""
    header = next(i for i, t in enumerate(LINES) if i > SECTION2 and "取組内容" in t)
    return header, next(i for i, t in enumerate(LINES) if i > header and "ﾖｰｸﾍﾞﾆﾏﾙ " in t)


def test_a_column_the_extractor_does_not_know_is_refused_by_name() -> None:
    """One more column in section 2 (担当課) was merged into 取組内容; it is refused, named."""
    header, first = _header_and_first_row()
    lines = list(LINES)
    lines[header] = lines[header].replace("取組内容", "担当課 取組内容")
    lines[first] = lines[first].replace("ﾖｰｸﾍﾞﾆﾏﾙ ", "ﾖｰｸﾍﾞﾆﾏﾙ こども政策課 ")
    with pytest.raises(EtlError) as caught:
        _build(lines)
    assert str(caught.value).startswith(f"line {header + 1}: section 2's table has a column 「担当課」 that the "
                                        "extractor does not know")


def test_a_section_2_in_another_column_order_reads_by_its_header() -> None:
    """The text columns are read in the order the header prints them (its first row, printed so)."""
    header, first = _header_and_first_row()
    lines = list(LINES)
    lines[header] = lines[header].replace("協定名称 協定先", "協定先 協定名称")
    title, partner, rest = lines[first].split(" ", 2)
    lines[first] = " ".join([partner, title, rest])
    ds = _build(lines)
    assert ds.tables["initiatives"].row(0, named=True)["協定名称"] == BASE["initiatives"].row(0, named=True)["協定名称"]
    assert ds.tables["initiative_partners"].drop("原文行番号").row(0) == BASE["initiative_partners"].row(0)
