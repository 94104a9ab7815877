"""Text normalisation for Japanese values: NFKC + dash fold, name keys, 和暦, amounts.

Each rule is written once as a regex or table and offered both as a scalar function (for the
parser and for tests) and as a polars expression (for the tidy tables).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import polars as pl

from etl.shared.patterns import NUMBER
from etl.shared.schemas import legal_forms

# Dash-like characters folded to ASCII "-" after NFKC. The long-vowel mark ー (U+30FC) is not
# a dash and is never touched. NFKC already maps U+FE63 and U+FF0D to "-", and U+2011 to U+2010.
DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
_DASH_CLASS = f"[{DASHES}]"
_DASH_RE = re.compile(_DASH_CLASS)

# Legal forms (法人格) dropped when matching names across sections (schemas/shapes.json lists them,
# longest first so that 事業協同組合 wins over 協同組合). A branch name follows a legal form that ends
# the firm's name: ○○製薬株式会社△△支店 → ○○製薬.
LEGAL_FORMS = legal_forms()
_FORMS = "|".join(re.escape(f) for f in LEGAL_FORMS)
LEGAL_FORM = f"(?:{_FORMS})"  # one legal form, as a regex for normalised text
_LEADING_FORMS = f"^(?:{_FORMS})+"
# Spelled out rather than \s, which means more in Python than in polars' (Rust) regex.
_BLANKS = "[ \t\n\r\f\v]+"
_TRAILING_FORM_AND_BRANCH = f"(?:{_FORMS}).*$"

# 和暦: era name → Gregorian year of its first year (元年).
ERAS = {"令和": 2019, "平成": 1989, "昭和": 1926, "大正": 1912, "明治": 1868}
MAX_ERA_YEAR = 99  # the longest era, 昭和, had 64 years
# A 「N千円」 amount; like NUMBER, the pattern serves the parser (Python re) and the tables (polars).
AMOUNT = rf"({NUMBER})\s*千円"
_AMOUNT = re.compile(AMOUNT)


def normalize_text(value: str) -> str:
    """NFKC, then every dash variant to "-"; idempotent, never alters ー."""
    return _DASH_RE.sub("-", unicodedata.normalize("NFKC", value))


def normalize_expr(expr: pl.Expr) -> pl.Expr:
    """`normalize_text` as a polars expression."""
    return expr.str.normalize("NFKC").str.replace_all(_DASH_CLASS, "-")


def name_key(value: str) -> str:
    """The exact key two spellings of one organisation share: normalised, legal forms and branch dropped."""
    name = re.sub(_BLANKS, "", normalize_text(value))
    key = re.sub(_TRAILING_FORM_AND_BRANCH, "", re.sub(_LEADING_FORMS, "", name))
    return key or name


def name_key_expr(expr: pl.Expr) -> pl.Expr:
    """`name_key` as a polars expression."""
    name = normalize_expr(expr).str.replace_all(_BLANKS, "")
    key = name.str.replace(_LEADING_FORMS, "").str.replace(_TRAILING_FORM_AND_BRANCH, "")
    return pl.when(key == "").then(name).otherwise(key)


def era_to_gregorian(era: str, year: str | int) -> int:
    """令和7 → 2025; 元 is year 1 of the era."""
    if era not in ERAS:
        raise ValueError(f"unknown era {era!r}")
    n = 1 if year == "元" else int(year)
    if not 1 <= n <= MAX_ERA_YEAR:
        raise ValueError(f"{era}{year}年 is not a year")
    return ERAS[era] + n - 1


def fiscal_years(text: str) -> list[tuple[int | None, int | None]]:
    """Every 年度 in `text` as (year from the era, Gregorian year printed beside it or None).

    Reads 「2025（令和７）年度」, 「令和７年度」 and 「令和元年度」; an impossible era year (令和0年度)
    gives None for the era year, for the caller to report.
    """
    t = normalize_text(text)
    eras = "|".join(ERAS)
    found = []
    for m in re.finditer(rf"(?:(\d{{4}})\s*\(\s*)?({eras})\s*(元|\d+)\s*\)?\s*年度", t):
        printed = int(m[1]) if m[1] else None
        try:
            found.append((era_to_gregorian(m[2], m[3]), printed))
        except ValueError:
            found.append((None, printed))
    return found


def parse_date(text: str) -> dt.date | None:
    """The first date written 2025年4月1日 or 令和7年4月1日 in `text`, else None."""
    t = normalize_text(text)
    eras = "|".join(ERAS)
    m = re.search(rf"(?:(\d{{4}})|({eras})\s*(元|\d+))\s*年\s*(\d{{1,2}})\s*月\s*(\d{{1,2}})\s*日", t)
    if not m:
        return None
    try:
        year = int(m[1]) if m[1] else era_to_gregorian(m[2], m[3])
        return dt.date(year, int(m[4]), int(m[5]))
    except (ValueError, OverflowError):
        return None


def amounts_in(text: str) -> list[tuple[int, int, str]]:
    """Every 「N千円」 in `text` as (value, position, text as normalised); 5,000円 is not one."""
    t = normalize_text(text)
    return [(int(m[1].replace(",", "")), m.start(), m[0]) for m in _AMOUNT.finditer(t)]


def amount_only(text: str) -> int | None:
    """The value if `text` is exactly one 「N千円」 amount (a budget cell), else None."""
    t = normalize_text(text).strip()
    m = _AMOUNT.fullmatch(t)
    return int(m[1].replace(",", "")) if m else None


def display_width(text: str) -> float:
    """Printed width in full-width characters: half-width forms count one half."""
    return sum(0.5 if unicodedata.east_asian_width(c) in "HNa" else 1.0 for c in text)
