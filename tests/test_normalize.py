"""Property and example tests of etl.shared.normalize: NFKC + dash fold, name keys, 和暦, amounts."""

from __future__ import annotations

import datetime as dt
import unicodedata

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.shared.normalize import (
    DASHES,
    ERAS,
    LEGAL_FORMS,
    amount_only,
    amounts_in,
    era_to_gregorian,
    fiscal_years,
    name_key,
    name_key_expr,
    normalize_expr,
    normalize_text,
    parse_date,
)

FAST = settings(deadline=None, max_examples=200)
SERIES = settings(deadline=None, max_examples=60)

NFKC = lambda s: unicodedata.normalize("NFKC", s)  # noqa: E731
FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")

# Characters a document can hold. Python 3.11's unicodedata is Unicode 14 while polars (Rust)
# normalises with a newer Unicode, so code points unassigned in Python (category Cn) may be
# NFKC-folded by polars only; that divergence is pinned separately by an xfail test below.
assigned_text = st.text(st.characters(exclude_categories=("Cs", "Cn")))

# Kana (full- and half-width), kanji, ASCII: NFKC maps each to one character, no dash among them.
SAFE = (
    "あいうえおかきくけこがぎぐさしすたちつなにぬはひふまみむやゆよらりるわをん"
    "アイウエオカキクケコガギグサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨ"
    "ラリルレロワヲンー"
    "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｰ"
    "市郡山協定連携大学株会社東北電力福島支店日本生命保険"
    "ABCxyz0123456789ＡＢＣ０１２、。「」"
)
safe_text = st.text(alphabet=SAFE)

# Text with legal forms and branch-like words mixed in, so that name_key's regexes really fire.
name_parts = st.one_of(
    st.sampled_from(LEGAL_FORMS),
    st.sampled_from(["東北電力", "ﾈｯﾄﾜｰｸ", "郡山営業所", "支店", "-", "‐", " ", "　", "(株)"]),
    assigned_text,
)
name_like = st.lists(name_parts, max_size=6).map("".join)


def _series(values: list[str], expr) -> list[str]:
    return pl.DataFrame({"s": values}, schema={"s": pl.String}).select(expr(pl.col("s")))["s"].to_list()


# ── normalize_text ────────────────────────────────────────────────────────────────────────


@FAST
@given(st.text())
def test_normalize_text_is_idempotent(s):
    """normalize_text applied twice gives the same text as applied once, for any text."""
    once = normalize_text(s)
    assert normalize_text(once) == once


@FAST
@given(st.text())
def test_long_vowel_mark_is_never_altered(s):
    """The count of ー (U+30FC) in the output equals its count in NFKC(input): ー is never a dash."""
    assert normalize_text(s).count("ー") == NFKC(s).count("ー")


@FAST
@given(st.lists(st.one_of(st.sampled_from(DASHES).map(lambda d: (d, "-")),
                          safe_text.map(lambda t: (t, NFKC(t)))), max_size=12))
def test_every_dash_variant_becomes_ascii_hyphen(parts):
    """Each DASHES character becomes "-" in place; the text around it is only NFKC-normalised."""
    s = "".join(p for p, _ in parts)
    expected = "".join(e for _, e in parts)
    assert normalize_text(s) == expected


@FAST
@given(st.lists(st.one_of(st.sampled_from(DASHES), st.text()), max_size=8))
def test_no_dash_variant_survives(parts):
    """No character of DASHES survives normalize_text, and each one yields exactly one "-"."""
    s = "".join(parts)
    out = normalize_text(s)
    assert not set(out) & set(DASHES)
    nfkc = NFKC(s)
    assert out.count("-") == nfkc.count("-") + sum(nfkc.count(d) for d in DASHES)


def test_normalize_text_examples():
    """Half-width katakana widen, full-width ASCII narrows, ‐/－/— fold to "-", ー and ｰ end as ー."""
    assert normalize_text("ﾖｰｸﾍﾞﾆﾏﾙ") == "ヨークベニマル"
    assert normalize_text("ＳＯＳ２０２３") == "SOS2023"
    assert normalize_text("セブン‐イレブン－ジャパン—x") == "セブン-イレブン-ジャパン-x"
    assert normalize_text("ｽﾎﾟｰﾂ・スポーツ") == "スポーツ・スポーツ"


# ── scalar vs polars ──────────────────────────────────────────────────────────────────────


@SERIES
@given(st.lists(assigned_text, max_size=20))
def test_normalize_expr_equals_normalize_text(values):
    """normalize_expr over a polars Series gives exactly normalize_text of each value."""
    assert _series(values, normalize_expr) == [normalize_text(v) for v in values]


@SERIES
@given(st.lists(name_like, max_size=20))
def test_name_key_expr_equals_name_key(values):
    """name_key_expr over a polars Series gives exactly name_key of each value."""
    assert _series(values, name_key_expr) == [name_key(v) for v in values]


@pytest.mark.xfail(strict=True, reason="KNOWN LIMITATION: polars NFKC uses a newer Unicode than Python's "
                   "unicodedata, so normalize_expr folds U+1CCD6 (and U+A7F1 …) but normalize_text does not")
def test_normalize_expr_matches_normalize_text_on_newer_unicode():
    """normalize_expr and normalize_text agree on code points that are new in Unicode 16."""
    values = ["\U0001ccd6", "\ua7f1"]  # OUTLINED LATIN CAPITAL LETTER A; MODIFIER LETTER CAPITAL S
    assert _series(values, normalize_expr) == [normalize_text(v) for v in values]


def test_name_key_expr_matches_name_key_with_trailing_newline():
    """name_key and name_key_expr agree on a name that ends with a newline."""
    values = ["東北電力株式会社郡山営業所\n"]
    assert _series(values, name_key_expr) == [name_key(v) for v in values]


# ── name_key examples ─────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("a, b", [
    ("株式会社ﾖｰｸﾍﾞﾆﾏﾙ", "株式会社ヨークベニマル"),
    ("株式会社ｾﾌﾞﾝ-ｲﾚﾌﾞﾝ･ｼﾞｬﾊﾟﾝ", "株式会社セブン‐イレブン・ジャパン"),
    ("福島ｽﾎﾟｰﾂｴﾝﾀﾃｲﾝﾒﾝﾄ株式会社", "福島スポーツエンタテインメント株式会社"),
    ("学校法人国際総合学園FSGｶﾚｯｼﾞﾘｰｸﾞ", "学校法人国際総合学園FSGカレッジリーグ"),
    ("あいおいﾆｯｾｲ同和損害保険株式会社", "あいおいニッセイ同和損害保険株式会社福島支店"),
])
def test_name_key_same_firm_same_key(a, b):
    """Half-/full-width katakana, ‐ vs - and a trailing branch do not change a firm's key."""
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize("name, key", [
    ("株式会社東邦銀行", "東邦銀行"),
    ("東京海上日動火災保険株式会社", "東京海上日動火災保険"),
    ("国立大学法人福島大学", "福島大学"),
    ("日本生命保険相互会社", "日本生命保険"),
    ("明治安田生命保険相互会社", "明治安田生命保険"),
    ("公益財団法人三菱商事復興支援財団", "三菱商事復興支援財団"),
    ("国立研究開発法人国立環境研究所", "国立環境研究所"),
    ("大塚製薬株式会社仙台支店", "大塚製薬"),
    ("あいおいニッセイ同和損害保険株式会社福島支店", "あいおいニッセイ同和損害保険"),
    ("東北電力株式会社郡山営業所", "東北電力"),
    ("日本大学工学部", "日本大学工学部"),
    ("株式会社", "株式会社"),
])
def test_name_key_drops_legal_forms_and_branches(name, key):
    """Legal forms at the front or end are dropped, with any branch after a trailing form."""
    assert name_key(name) == key


def test_name_key_no_prefix_matching():
    """東北電力株式会社郡山営業所 and 東北電力ネットワーク株式会社郡山電力センター get different keys."""
    a = name_key("東北電力株式会社郡山営業所")
    b = name_key("東北電力ネットワーク株式会社郡山電力センター")
    assert a == "東北電力"
    assert b == "東北電力ネットワーク"
    assert a != b
    assert name_key("福島大学") == name_key("国立大学法人福島大学") != name_key("福島県立医科大学")


# ── 和暦, 年度, dates ───────────────────────────────────────────────────────────────────────


def test_era_to_gregorian_examples():
    """令和元年 = 2019, 令和5 = 2023, 平成31 = 2019, 昭和64 = 1989; unknown eras and year 0 raise."""
    assert era_to_gregorian("令和", "元") == 2019
    assert era_to_gregorian("令和", 5) == 2023
    assert era_to_gregorian("令和", "5") == 2023
    assert era_to_gregorian("平成", 31) == 2019
    assert era_to_gregorian("昭和", "64") == 1989
    with pytest.raises(ValueError):
        era_to_gregorian("西暦", 5)
    with pytest.raises(ValueError):
        era_to_gregorian("令和", 0)


@FAST
@given(st.sampled_from(list(ERAS)), st.integers(1, 99), st.booleans(), st.booleans())
def test_fiscal_years_reads_printed_pair(era, n, fullwidth, agree):
    """「YYYY（元号N）年度」 in any digit width gives (era year, printed year), agreeing or not."""
    year = ERAS[era] + n - 1
    printed = year if agree else year + 1
    text = f"{printed}（{era}{'元' if n == 1 else n}）年度に予定されている"
    if fullwidth:
        text = text.translate(FULLWIDTH_DIGITS)
    assert fiscal_years(text) == [(year, printed)]
    assert fiscal_years(f"{era}{n}年度当初予算") == [(year, None)]


def test_fiscal_years_examples():
    """「2023（令和５）年度」 → [(2023, 2023)]; 「2024（令和５）年度」 → [(2023, 2024)]; 令和元年度 → 2019."""
    assert fiscal_years("２ 2023（令和５）年度に予定されている") == [(2023, 2023)]
    assert fiscal_years("2024（令和５）年度") == [(2023, 2024)]
    assert fiscal_years("３ 2023(令和５)年度に予定") == [(2023, 2023)]
    assert fiscal_years("令和５年度 当初予算関連資料") == [(2023, None)]
    assert fiscal_years("令和元年度") == [(2019, None)]
    assert fiscal_years("2023年度") == []


def test_parse_date_examples():
    """2023年２月10日 and 令和5年2月10日 are 2023-02-10; 2023年2月30日 is None, as is no date."""
    assert parse_date("１ 他機関との連携協定の状況（2023年２月10日現在）") == dt.date(2023, 2, 10)
    assert parse_date("令和5年2月10日") == dt.date(2023, 2, 10)
    assert parse_date("令和元年5月1日") == dt.date(2019, 5, 1)
    assert parse_date("2023年2月30日") is None
    assert parse_date("令和5年度") is None


@FAST
@given(st.dates(dt.date(1989, 1, 8), dt.date(2099, 12, 31)), st.booleans())
def test_parse_date_round_trip(day, fullwidth):
    """Any date printed as YYYY年M月D日 (half- or full-width digits) parses back to itself."""
    text = f"（{day.year}年{day.month}月{day.day}日現在）"
    if fullwidth:
        text = text.translate(FULLWIDTH_DIGITS)
    assert parse_date(text) == day


# ── amounts ───────────────────────────────────────────────────────────────────────────────


def test_amounts_in_examples():
    """amounts_in finds 「17,095千円」 (also 「17,095 千円」) with its position but not 「5,000円分」."""
    text = "共同研究及び成果報告会の開催 17,095千円"
    found = amounts_in(text)
    assert [v for v, _, _ in found] == [17095]
    _, start, printed = found[0]
    assert normalize_text(text)[start:].startswith(printed) and printed == "17,095千円"
    assert amounts_in("予算 6,536 千円") == [(6536, 3, "6,536 千円")]
    assert amounts_in("交付している5,000円分のﾊﾞｽ･ﾀｸｼｰ利用券") == []
    assert [v for v, _, _ in amounts_in("２,４００千円と5,449千円")] == [2400, 5449]


def test_amount_only_examples():
    """amount_only accepts exactly one amount cell and nothing else."""
    assert amount_only("17,095千円") == 17095
    assert amount_only(" 2,400千円 ") == 2400
    assert amount_only("２,４００千円") == 2400
    assert amount_only("5,449千円") == 5449
    assert amount_only("17,095千円 5,449千円") is None
    assert amount_only("共同研究及び成果報告会の開催 17,095千円") is None
    assert amount_only("5,000円") is None
    assert amount_only("千円") is None
    assert amount_only("") is None


@FAST
@given(st.integers(0, 10**9), st.booleans(), st.booleans())
def test_amount_only_round_trip(n, commas, fullwidth):
    """Any whole number printed as N千円 (with or without commas, any digit width) reads back as N."""
    text = f"{n:,}千円" if commas else f"{n}千円"
    if fullwidth:
        text = text.translate(FULLWIDTH_DIGITS)
    assert amount_only(text) == n
    assert [v for v, _, _ in amounts_in(f"予算 {text} 計上")] == [n]
    assert amount_only(text.replace("千円", "円")) is None
