"""Raw frames → the tidy, typed, normalised tables of the release (polars expressions).

Besides the tables, this stage reports the checks that only the raw text can answer: where the
count table's dropped cells belong, whether the fiscal years agree, whether every 「N千円」 was
assigned, and whether every partner named in section 3 resolves to one listed partner.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import polars as pl

from etl import schemas
from etl.extract import Extracted
from etl.normalize import AMOUNT, LEGAL_FORM, NUMBER, name_key_expr, normalize_expr
from etl.report import CheckResult, failed, passed

# A line of a multi-line cell without 「・」 bullets ends an item (rather than wrapping) when it
# is clearly shorter than the column: less than this share of the widest line in the column.
WRAP_RATIO = 0.8
# Placing dropped cells tries every arrangement; beyond this many the table is refused.
MAX_PLACEMENTS = 100_000


@dataclass
class Dataset:
    """The tidy tables of one edition, plus the checks that ran while building them."""

    tables: dict[str, pl.DataFrame]
    results: list[CheckResult] = field(default_factory=list)
    as_of: str = ""
    fiscal_year: int | None = None
    title: str = ""
    material: str = ""


def transform(raw: Extracted) -> Dataset:
    results: list[CheckResult] = []
    counts, totals = _agreement_counts(raw, results)
    partners = _partners(raw)
    year = _fiscal_year(raw, results)
    initiatives = _initiatives(raw, year)
    tables = {
        "agreement_counts": counts,
        "printed_totals": totals,
        "partnership_partners": partners,
        "initiatives": initiatives,
        "initiative_items": _initiative_items(raw),
        "initiative_partners": _initiative_partners(raw, partners, results),
        **_activities(raw, partners, year, results),
    }
    _check_amounts(raw, results)
    _check_sub_labels(raw, results)
    conformed = {name: schemas.table(name).conform(_with_municipality(name, f)) for name, f in tables.items()}
    return Dataset(
        tables=conformed,
        results=results,
        as_of=raw.as_of.isoformat(),
        fiscal_year=year,
        title=raw.title.text,
        material=raw.material.text if raw.material else "",
    )


def _with_municipality(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    wanted = schemas.table(name).field_names
    return frame.with_columns(pl.lit(v).alias(k) for k, v in schemas.municipality().items() if k in wanted)


# ── section 1 ─────────────────────────────────────────────────────────────────────────────


def _agreement_counts(raw: Extracted, results: list[CheckResult]) -> tuple[pl.DataFrame, pl.DataFrame]:
    categories = raw.categories.text.split()
    rows = raw.count_rows.with_columns(
        pl.col("値").list.eval(pl.element().str.replace_all(",", "").cast(pl.Int64))
    )
    body, total = rows.head(-1), rows.tail(1)
    col_totals = total["値"].list.slice(1).item().to_list()
    total_line = total["原文行番号"].item()
    if len(col_totals) != len(categories):
        results.append(failed(
            "agreement_counts.placement", "agreement_counts",
            f"合計 row (line {total_line}) prints {len(col_totals)} column totals for "
            f"{len(categories)} 相手方区分 ({' '.join(categories)}); every column total must be printed.",
            label="合計", expected=len(categories), actual=len(col_totals)))
        col_totals = None
    printed = zip(body["ラベル"], body["原文行番号"], body["値"].list.slice(1).to_list(), strict=True)
    placed = place_cells(list(printed), len(categories), col_totals, results)
    cells = (
        pl.DataFrame({"協定種別": list(placed), "値": list(placed.values())},
                     schema={"協定種別": pl.String, "値": pl.List(pl.Int64)})
        .with_row_index("行順")
        .with_columns(pl.col("値").list.to_struct(fields=categories))
        .unnest("値")
        .unpivot(index=["行順", "協定種別"], variable_name="相手方区分", value_name="協定数")
        .sort("行順", pl.col("相手方区分").cast(pl.Enum(categories)))
        .with_columns(pl.lit(raw.as_of).alias("時点"))
    )
    return cells, _printed_totals(raw, body, total, categories)


def place_cells(
    rows: list[tuple[str, int, list[int]]],
    width: int,
    col_totals: list[int] | None,
    results: list[CheckResult],
) -> dict[str, list[int]]:
    """Put each row's printed numbers into columns; dropped (empty) cells become 0.

    A row with fewer numbers than columns lost its empty cells in the text. The arrangement is
    the unique one whose column sums equal the printed column totals; none or several fail the
    `agreement_counts.placement` check and leave those rows out.
    """
    placed: dict[str, list[int]] = {}
    short: list[tuple[str, int, list[int]]] = []
    seen: dict[str, int] = {}
    for label, line, values in rows:
        if label in seen:
            results.append(failed(
                "agreement_counts.placement", "agreement_counts",
                f"{label} row is printed twice (lines {seen[label]} and {line}); the second is left out.",
                label=label, expected=1, actual=2))
            continue
        seen[label] = line
        if len(values) > width:
            results.append(failed(
                "agreement_counts.placement", "agreement_counts",
                f"{label} row (line {line}) prints {len(values)} numbers for {width} 相手方区分.",
                label=label, expected=width, actual=len(values)))
        elif len(values) == width:
            placed[label] = list(values)
        else:
            short.append((label, line, values))
    if not short:
        results.append(passed("agreement_counts.placement", "agreement_counts"))
        return placed
    solutions = _arrangements(short, width, placed, col_totals)
    if solutions is not None and len(solutions) == 1:
        placed.update(solutions[0])
        results.append(passed("agreement_counts.placement", "agreement_counts"))
        return {label: placed[label] for label in seen if label in placed}
    for label, line, values in short:
        results.append(failed(
            "agreement_counts.placement", "agreement_counts",
            _placement_message(label, line, values, width, solutions),
            label=label, expected="exactly one arrangement",
            actual="too many to try" if solutions is None else len(solutions)))
    return placed


def _arrangements(short, width, placed, col_totals) -> list[dict[str, list[int]]] | None:
    if col_totals is None:
        return []
    options = [list(itertools.combinations(range(width), len(v))) for _, _, v in short]
    n = 1
    for o in options:
        n *= len(o)
    if n > MAX_PLACEMENTS:
        return None
    fixed = [sum(r[j] for r in placed.values()) for j in range(width)]
    # Keyed by the resulting cells: two arrangements that give the same table (a printed 0
    # that could sit in either empty column) are one answer, not an ambiguity.
    found: dict[tuple, dict[str, list[int]]] = {}
    for combo in itertools.product(*options):
        filled = {}
        sums = list(fixed)
        for (label, _, values), cols in zip(short, combo):
            row = [0] * width
            for col, v in zip(cols, values):
                row[col] = v
                sums[col] += v
            filled[label] = row
        if sums == list(col_totals):
            found.setdefault(tuple(tuple(r) for r in filled.values()), filled)
            if len(found) > 1:
                break
    return list(found.values())


def _placement_message(label, line, values, width, solutions) -> str:
    nums = " ".join(map(str, values))
    if solutions is None:
        why = "too many arrangements to try"
    elif not solutions:
        why = "no arrangement makes every column add up to its printed 合計"
    else:
        why = "more than one arrangement makes the columns add up (e.g. " + " / ".join(
            " ".join(map(str, s[label])) for s in solutions) + ")"
    return (f"{label} row (line {line}) prints {len(values)} numbers ({nums}) for {width} "
            f"相手方区分 and the empty cells cannot be placed: {why}.")


def _printed_totals(raw: Extracted, body: pl.DataFrame, total: pl.DataFrame, categories: list[str]) -> pl.DataFrame:
    """Every total the document prints, one row each, so that anyone can re-check the sums."""
    def block(table: str, axis: str, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(pl.lit(table).alias("対象表"), pl.lit(axis).alias("集計軸"),
                            pl.col("区分"), pl.col("印字値").cast(pl.Int64), pl.col("原文行番号").cast(pl.Int64))

    first = pl.col("値").list.first().alias("印字値")
    columns = (total.select(pl.col("値").list.slice(1).alias("印字値"), "原文行番号").explode("印字値")
               .with_row_index("j").join(pl.DataFrame({"区分": categories}).with_row_index("j"), on="j"))
    scalars = pl.DataFrame({
        "区分": [raw.headline_label, "協定先"],
        "印字値": [int(raw.headline.text), int(raw.partner_count.text)],
        "原文行番号": [raw.headline.line, raw.partner_count.line],
    })
    return pl.concat([
        block("agreement_counts", "協定種別", body.select(pl.col("ラベル").alias("区分"), first, "原文行番号")),
        block("agreement_counts", "相手方区分", columns),
        block("agreement_counts", "総数", total.select(pl.col("ラベル").alias("区分"), first, "原文行番号")),
        block("agreement_counts", "見出し総数", scalars.head(1)),
        block("partnership_partners", "団体数", scalars.tail(1)),
    ])


def _partners(raw: Extracted) -> pl.DataFrame:
    return raw.partners.with_row_index("協定先ID", offset=1).select(
        pl.col("協定先ID").cast(pl.Int64),
        normalize_expr(pl.col("名称_原文")).alias("協定先名称"),
        pl.col("名称_原文").alias("協定先名称_原文"),
        "原文行番号",
    )


# ── section 2 ─────────────────────────────────────────────────────────────────────────────


def _fiscal_year(raw: Extracted, results: list[CheckResult]) -> int | None:
    """The 年度 all headings agree on (era converted; the printed Gregorian year must match)."""
    check = "initiatives.fiscal_year"
    for era, _, line in raw.fiscal_years:
        if era is None:
            results.append(failed(check, "initiatives", f"line {line}: the 和暦 year of the 年度 is impossible "
                                  "(such as 令和0年度).", label=f"line {line}", expected="a year of the era"))
    years = [y for y in raw.fiscal_years if y[0] is not None]
    bad = [(era, greg, line) for era, greg, line in years if greg is not None and greg != era]
    eras = sorted({era for era, _, _ in years})
    for era, greg, line in bad:
        results.append(failed(check, "initiatives", f"line {line}: {greg}年度 is printed beside a 和暦 "
                              f"year that is {era}.", label=f"line {line}", expected=era, actual=greg))
    if len(eras) > 1:
        results.append(failed(check, "initiatives", "the headings name different 年度: " + ", ".join(
            f"{era} (line {line})" for era, _, line in years), expected=eras[0], actual=eras))
    if not eras:
        results.append(failed(check, "initiatives", "no 年度 (such as 令和５年度) found in sections 2 and 3."))
    if not bad and len(eras) == 1 and len(years) == len(raw.fiscal_years):
        results.append(passed(check, "initiatives"))
    return eras[0] if eras else None


def _amount(expr: pl.Expr) -> pl.Expr:
    return normalize_expr(expr).str.extract(AMOUNT).str.replace_all(",", "").cast(pl.Int64)


def _partner_names(raw: Extracted) -> pl.DataFrame:
    """Section 2 partner cells split into names: one row per name with the line it starts on.

    A name ends at 「、」 or at a line that ends in a legal form after a name (…協同組合), and a
    line that starts with a legal form (株式会社…) starts a name; but a line that is only a legal
    form (公立大学法人 / 福島県立医科大学) is the start of a name wrapped onto the next line.
    """
    text = normalize_expr(pl.col("原文")).str.strip_chars()
    only_form = text.str.contains(f"^{LEGAL_FORM}+$")
    after_form_only = only_form.shift(1).over("取組順").fill_null(False)
    prev = text.shift(1).over("取組順")
    new_line_name = (
        prev.is_null()
        | prev.str.ends_with("、")
        | (prev.str.contains(f"{LEGAL_FORM}$") & ~after_form_only)
        | (text.str.contains(f"^{LEGAL_FORM}") & ~after_form_only)
    )
    pieces = (
        raw.initiative_partners.with_columns(new_line_name.alias("改名"), pl.col("原文").str.split("、").alias("片"))
        .explode("片", keep_nulls=False)
        .with_columns(pl.int_range(pl.len()).over("取組順", "原文行番号").alias("k"))
        .with_columns(((pl.col("k") > 0) | pl.col("改名")).cast(pl.Int64).cum_sum().over("取組順").alias("名前番号"))
    )
    return (
        pieces.filter(pl.col("片").str.strip_chars() != "")
        .group_by("取組順", "名前番号", maintain_order=True)
        .agg(pl.col("片").str.strip_chars().str.join(""), pl.col("原文行番号").first())
        .rename({"片": "協定先名称_原文"})
    )


def _initiatives(raw: Extracted, year: int | None) -> pl.DataFrame:
    names = _partner_names(raw)
    group = names.with_columns(
        normalize_expr(pl.col("協定先名称_原文")).str.extract(rf"^({NUMBER})団体$").str.replace_all(",", "")
        .cast(pl.Int64).alias("団体数")
    ).group_by("取組順").agg(
        pl.when(pl.col("団体数").is_not_null().any()).then(pl.col("団体数").max())
        .otherwise(pl.len()).cast(pl.Int64).alias("協定先数")
    )
    return raw.initiatives.join(group, on="取組順", how="left").select(
        pl.col("取組順").alias("取組ID"),
        pl.lit(year, dtype=pl.Int64).alias("年度"),
        normalize_expr(pl.col("分野_原文")).alias("分野"),
        normalize_expr(pl.col("協定名称_原文")).alias("協定名称"),
        "協定先数",
        _amount(pl.col("予算_原文")).alias("予算額_千円"),
        _amount(pl.col("うち額_原文")).alias("うち額_千円"),
        normalize_expr(pl.col("うち_原文")).alias("うち額_内容"),
        normalize_expr(pl.col("備考_原文")).str.strip_prefix("※").str.strip_chars().alias("備考"),
        "原文行番号",
    )


def _items(lines: pl.DataFrame, by: str, new_item: pl.Expr) -> pl.DataFrame:
    """Rejoin printed lines into items: `new_item` marks a line that starts one.

    The printed pieces are joined first and normalised after, so that a wrap that split a
    character from its half-width sound mark (ｷ / ﾞｰ) still gives ギー.
    """
    piece = pl.col("原文").str.replace(r"^[・･]", "").str.strip_chars()
    return (
        lines.with_columns(new_item.cast(pl.Int64).cum_sum().over(by).alias("項目番号"))
        .group_by(by, "項目番号", maintain_order=True)
        .agg(piece.str.join("").alias("取組内容"), pl.col("原文行番号").first())
        .with_columns(normalize_expr(pl.col("取組内容")).str.strip_chars())
    )


def _initiative_items(raw: Extracted) -> pl.DataFrame:
    is_bullet = normalize_expr(pl.col("原文")).str.starts_with("・")
    first = pl.int_range(pl.len()).over("取組順") == 0
    widest = raw.initiative_lines["表示幅"].max() or 0  # of the whole column, not of one cell
    short_before = pl.col("表示幅").shift(1).over("取組順") < WRAP_RATIO * widest
    new_item = first | is_bullet | (~is_bullet.any().over("取組順") & short_before)
    return _items(raw.initiative_lines, "取組順", new_item).rename({"取組順": "取組ID"})


def _resolve(names: pl.DataFrame, partners: pl.DataFrame) -> pl.DataFrame:
    """Add 協定先ID and the candidate count by exact name key (never substring or prefix)."""
    keyed = partners.select("協定先ID", "協定先名称", name_key_expr(pl.col("協定先名称")).alias("key"))
    candidates = keyed.group_by("key").agg(
        pl.len().alias("候補数"), pl.col("協定先ID").first(), pl.col("協定先名称").str.join("、").alias("候補")
    )
    return names.with_columns(name_key_expr(pl.col("協定先名称_原文")).alias("key")).join(
        candidates, on="key", how="left"
    ).with_columns(
        pl.col("候補数").fill_null(0),
        pl.when(pl.col("候補数") == 1).then(pl.col("協定先ID")).alias("協定先ID"),
    )


def _resolution_failures(resolved: pl.DataFrame, table: str, required: bool) -> list[CheckResult]:
    check = f"{table}.partner_resolution"
    bad = resolved.filter((pl.col("候補数") > 1) | (pl.col("候補数") == 0) if required else pl.col("候補数") > 1)
    out = []
    for r in bad.iter_rows(named=True):
        if r["候補数"] == 0:
            msg = (f"「{r['協定先名称_原文']}」 (line {r['原文行番号']}) matches no partner in the "
                   "【協定先】 list of section 1; add it there or correct the spelling.")
        else:
            msg = (f"「{r['協定先名称_原文']}」 (line {r['原文行番号']}) is ambiguous: it matches "
                   f"{r['候補数']} listed partners ({r['候補']}).")
        out.append(failed(check, table, msg, label=r["協定先名称_原文"], field="協定先ID",
                          expected="exactly one listed partner", actual=r["候補数"]))
    return out or [passed(check, table)]


def _initiative_partners(raw: Extracted, partners: pl.DataFrame, results: list[CheckResult]) -> pl.DataFrame:
    named = _partner_names(raw).filter(
        ~normalize_expr(pl.col("協定先名称_原文")).str.contains(rf"^({NUMBER})団体$")
    )
    resolved = _resolve(named, partners)
    results.extend(_resolution_failures(resolved, "initiative_partners", required=False))
    return resolved.select(
        pl.col("取組順").alias("取組ID"),
        pl.int_range(1, pl.len() + 1).over("取組順").alias("協定先番号"),
        normalize_expr(pl.col("協定先名称_原文")).alias("協定先名称"),
        "協定先名称_原文",
        "協定先ID",
        "原文行番号",
    )


def _check_amounts(raw: Extracted, results: list[CheckResult]) -> None:
    """Every 「N千円」 printed in section 2 is a budget or a sub-amount, exactly once."""
    check = "initiatives.amounts_assigned"
    used = pl.concat([
        raw.initiatives.select(pl.col("予算行").alias("原文行番号"), _amount(pl.col("予算_原文")).alias("値")),
        raw.initiatives.select(pl.col("うち行").alias("原文行番号"), _amount(pl.col("うち額_原文")).alias("値")),
    ]).drop_nulls()
    found = raw.amounts.group_by("原文行番号", "値").agg(pl.len().alias("印字"), pl.col("原文").first())
    tally = found.join(used.group_by("原文行番号", "値").len("割当"), on=["原文行番号", "値"], how="full",
                       coalesce=True).with_columns(pl.col("印字", "割当").fill_null(0))
    for r in tally.filter(pl.col("印字") != pl.col("割当")).sort("原文行番号").iter_rows(named=True):
        what = "is not assigned to any initiative or うち sub-amount" if r["割当"] < r["印字"] else "is used twice"
        text = r["原文"] or f"{r['値']}千円"
        results.append(failed(check, "initiatives", f"「{text}」 on line {r['原文行番号']} {what}.",
                              label=f"line {r['原文行番号']}", expected=r["印字"], actual=r["割当"]))
    if tally.filter(pl.col("印字") != pl.col("割当")).is_empty():
        results.append(passed(check, "initiatives", expected=tally["印字"].sum(), actual=tally["割当"].sum()))


def _check_sub_labels(raw: Extracted, results: list[CheckResult]) -> None:
    """One 「※うち…」 per initiative: a second label would silently replace the first."""
    check = "initiatives.sub_amount_within_budget"
    for r in raw.initiatives.filter(pl.col("追加うち行").is_not_null()).iter_rows(named=True):
        results.append(failed(
            check, "initiatives",
            f"取組ID {r['取組順']} 「{r['協定名称_原文']}」 (line {r['原文行番号']}) prints a second 「※うち…」 "
            f"label on line {r['追加うち行']}; only one sub-amount per budget can be read. Check the text.",
            label=str(r["取組順"]), field="うち額_内容", expected=1, actual=2))


# ── section 3 ─────────────────────────────────────────────────────────────────────────────


def _activities(raw: Extracted, partners: pl.DataFrame, year: int | None,
                results: list[CheckResult]) -> dict[str, pl.DataFrame]:
    """Section 3: one row per 「・」 activity; partners and 分野 belong to the printed row."""
    is_bullet = normalize_expr(pl.col("原文")).str.starts_with("・")
    first = pl.int_range(pl.len()).over("掲載行番号") == 0
    items = _items(raw.activity_lines, "掲載行番号", first | is_bullet).with_row_index("活動ID", offset=1)
    activities = items.select(
        pl.col("活動ID").cast(pl.Int64), pl.lit(year, dtype=pl.Int64).alias("年度"),
        "掲載行番号", "取組内容", "原文行番号",
    )
    rows = raw.activity_partners.group_by("掲載行番号", maintain_order=True).agg(pl.col("原文行番号").min()).join(
        activities.group_by("掲載行番号").len("取組数"), on="掲載行番号", how="left"
    ).with_columns(pl.lit(year, dtype=pl.Int64).alias("年度"), pl.col("取組数").cast(pl.Int64))
    resolved = _resolve(raw.activity_partners.rename({"名称_原文": "協定先名称_原文"}), partners)
    results.extend(_resolution_failures(resolved, "partnership_activities", required=True))
    fields = raw.activity_fields.with_columns(normalize_expr(pl.col("分野_原文")).alias("分野"))
    return {
        "activity_rows": rows,
        "partnership_activities": activities,
        "activity_partners": resolved.filter(pl.col("協定先ID").is_not_null()),
        "activity_fields": fields,
    }
