"""The shapes of text cells (schemas/shapes.json) as polars expressions.

Which rule a value breaks, if any: used by the check `<table>.shapes` (etl.validate.run).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from etl.shared import schemas

Tables = dict[str, pl.DataFrame]


def reasons(column: pl.Series, shape_name: str, tables: Tables | None = None) -> pl.Series:
    """Why each value does not fit the shape (null where it fits): the first broken rule."""
    text = column.cast(pl.String).str.normalize("NFKC")
    frame = pl.DataFrame({"v": text})
    checks = _rules(shape_name, tables or {})
    reason = pl.coalesce([pl.when(broken.fill_null(False)).then(pl.lit(says)) for broken, says in checks]
                         + [pl.lit(None, pl.String)])
    return frame.select(pl.when(pl.col("v").is_null()).then(None).otherwise(reason)).to_series()


def _rules(shape_name: str, tables: Tables) -> list[tuple[pl.Expr, str]]:
    """(expression that is true where the rule is broken, what the steward reads), in order."""
    shape = schemas.shapes()[shape_name]
    v = pl.col("v")
    rules: list[tuple[pl.Expr, str]] = []
    if "minLength" in shape:
        rules.append((v.str.len_chars() < shape["minLength"],
                      f"is shorter than {shape['minLength']} characters (a piece of a wrapped cell or of a "
                      "vertical label)"))
    if "maxLength" in shape:
        rules.append((v.str.len_chars() > shape["maxLength"], f"is longer than {shape['maxLength']} characters"))
    rules.extend((v.str.contains(r["pattern"]), r["says"]) for r in shape["noneOf"])
    if shape.get("anyOf"):
        fitting = pl.any_horizontal([v.str.contains(r["pattern"]) for r in shape["anyOf"]])
        listed = _listed(shape.get("orListed"), tables)
        if listed is not None:
            fitting = fitting | v.is_in(listed.implode())
        rules.append((~fitting, shape["anyOfSays"]))
    for other in shape["notShapes"]:
        rules.append((_fit(other, tables), f"reads as {schemas.shapes()[other]['title']} ({other})"))
    return rules


def _fit(shape_name: str, tables: Tables) -> pl.Expr:
    """True where a value fits the shape: no rule of it is broken."""
    return ~pl.any_horizontal([broken.fill_null(False) for broken, _ in _rules(shape_name, tables)])


def _listed(ref: dict[str, Any] | None, tables: Tables) -> pl.Series | None:
    """The names of the referenced table (normalised as the cells are), or None without a reference."""
    if ref is None:
        return None
    frame = tables.get(ref["resource"])
    if frame is None or ref["field"] not in frame.columns or frame[ref["field"]].dtype != pl.String:
        return pl.Series([], dtype=pl.String)
    return frame[ref["field"]].str.normalize("NFKC").drop_nulls().unique()
