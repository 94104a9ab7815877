"""What changed between two releases, table by table (rows added, removed, values changed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from etl.errors import UsageError
from etl.shared import schemas
from etl.shared.results import shown
from etl.shared.safety import release_descriptor
from etl.validate.run import read_csv, read_resource

# Where a value came from in the text moves with every edition; it is not a change of data.
PROVENANCE = {"原文行番号"}


@dataclass
class TableDiff:
    table: str
    key: list[str]
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[tuple[dict[str, Any], str, Any, Any]] = field(default_factory=list)
    edition: list[tuple[str, Any, Any]] = field(default_factory=list)
    only_in: str = ""  # "old" or "new" when the table exists in one release only

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.edition or self.only_in)


def _tables(path: Path) -> dict[str, pl.DataFrame]:
    """Every table of a release, typed by its schema; a damaged table stops the diff (exit 2)."""
    root, package = release_descriptor(path)  # every path checked to stay inside the release
    resources = {r.get("name"): r for r in package["resources"] if r.get("path")}
    tables = {}
    for ts in (t for t in schemas.tables() if t.name in resources):
        try:
            data = read_resource(root, resources[ts.name])
        except OSError as exc:
            raise UsageError(f"{path}: {resources[ts.name]['path']} of {ts.name} cannot be read ({exc.strerror}); "
                             "run etl validate on it first.") from None
        frame, results = read_csv(ts, data, resources[ts.name]["path"])
        broken = [r.message for r in results if not r.passed]
        if frame is None or broken:
            raise UsageError(f"{path}: {ts.name} cannot be read as published ({broken[0]}); "
                             "run etl validate on it first.")
        tables[ts.name] = frame
    return tables


def diff_releases(old: Path, new: Path) -> list[TableDiff]:
    a, b = _tables(old), _tables(new)
    diffs = []
    for name in dict.fromkeys([*a, *b]):
        if name not in a or name not in b:
            diffs.append(TableDiff(name, [], only_in="new" if name in b else "old"))
            continue
        ts = schemas.table(name)
        (old_frame, key), (new_frame, _) = _natural(ts, a), _natural(ts, b)
        diffs.append(diff_table(name, old_frame, new_frame, key))
    return diffs


def _natural(ts: schemas.TableSchema, tables: dict[str, pl.DataFrame]) -> tuple[pl.DataFrame, list[str] | None]:
    """The table as its data, not its numbering, with the key to match its rows on.

    Positions such as 協定先ID, 取組ID or 掲載行番号 change when an edition adds, removes or
    reorders a row. Each foreign key is replaced by the referenced row's natural key
    (`x-naturalKey` in schemas/) where it has one; every other integer ID or position is left
    out, and so is provenance. Rows are then matched on the table's own natural key, or as
    whole rows (a multiset) where it has none.
    """
    frame = tables[ts.name]
    for fk in ts.foreign_keys:
        ref = schemas.table(fk["reference"]["resource"])
        natural = ref.descriptor.get("x-naturalKey")
        if not natural or ref.name not in tables:
            continue
        label = "+".join(fk["fields"])
        lookup = tables[ref.name].select(
            *[pl.col(r).alias(f) for f, r in zip(fk["fields"], fk["reference"]["fields"], strict=True)],
            *[pl.col(n).alias(f"{label}:{n}") for n in natural],
        )
        frame = frame.join(lookup, on=fk["fields"], how="left", nulls_equal=True).drop(fk["fields"])
    key = ts.descriptor.get("x-naturalKey")
    types = {f["name"]: f["type"] for f in ts.fields}
    linked = {f for fk in ts.foreign_keys for f in fk["fields"]}
    numbering = {k for k in (set(ts.primary_key) | linked) if types[k] == "integer" and k not in (key or [])}
    frame = frame.drop([c for c in frame.columns if c in PROVENANCE | numbering])
    return frame, key


def diff_table(name: str, old: pl.DataFrame, new: pl.DataFrame, key: list[str] | None) -> TableDiff:
    """Rows matched on the natural key (values compared), or as whole rows where there is none.

    A column with one value in each release (時点, 年度) describes the edition, not a row: it is
    reported once, not as a change of every row. A natural key that is not unique in either
    release cannot match rows one to one, so the rows are then compared as whole rows.
    """
    edition = [c for c in old.columns if c not in (key or []) and old[c].n_unique() == 1 and new[c].n_unique() == 1]
    result = TableDiff(name, key or [], edition=[(c, old[c][0], new[c][0]) for c in edition if old[c][0] != new[c][0]])
    old, new = old.drop(edition), new.drop(edition)
    if not key or old.select(key).is_duplicated().any() or new.select(key).is_duplicated().any():
        result.added, result.removed = _multiset_difference(old, new)
        return result
    result.added = new.join(old, on=key, how="anti", nulls_equal=True).select(key).to_dicts()
    result.removed = old.join(new, on=key, how="anti", nulls_equal=True).select(key).to_dicts()
    both = old.join(new, on=key, how="inner", suffix="__new", nulls_equal=True)
    for col in (c for c in old.columns if c not in key):
        moved = both.filter(pl.col(col).ne_missing(pl.col(f"{col}__new")))
        for r in moved.iter_rows(named=True):
            result.changed.append(({k: r[k] for k in key}, col, r[col], r[f"{col}__new"]))
    return result


def _multiset_difference(old: pl.DataFrame, new: pl.DataFrame) -> tuple[list[dict], list[dict]]:
    """Whole rows added and removed, counting repeats (the same bullet printed for two partners)."""
    if not old.columns:
        return [], []
    counts = old.group_by(old.columns).len("旧").join(new.group_by(new.columns).len("新"), on=old.columns,
                                                     how="full", coalesce=True, nulls_equal=True)
    counts = counts.with_columns(pl.col("旧", "新").fill_null(0))
    added = counts.filter(pl.col("新") > pl.col("旧")).with_columns(n=pl.col("新") - pl.col("旧"))
    removed = counts.filter(pl.col("旧") > pl.col("新")).with_columns(n=pl.col("旧") - pl.col("新"))
    rows = lambda f: [r for r in f.drop("旧", "新").iter_rows(named=True) for _ in range(r.pop("n"))]  # noqa: E731
    return rows(added), rows(removed)


def render(diffs: list[TableDiff], limit: int = 50) -> str:
    lines = []
    for d in diffs:
        if d.only_in:
            lines.append(f"[{d.table}] only in the {d.only_in} release")
            continue
        lines.append(f"[{d.table}] {len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed")
        lines.extend(f"  = {col}: {_v(a)} → {_v(b)} (every row)" for col, a, b in d.edition)
        listed = [f"  + {_key(k)}" for k in d.added] + [f"  - {_key(k)}" for k in d.removed]
        listed += [f"  ~ {_key(k)}: {col} {_v(a)} → {_v(b)}" for k, col, a, b in d.changed]
        lines.extend(listed[:limit])
        if len(listed) > limit:
            lines.append(f"  … and {len(listed) - limit} more")
    return "\n".join(lines)


def _v(value: Any) -> str:
    """A cell as the terminal may show it (control characters escaped, at most 200 characters)."""
    return shown(str(value))


def _key(k: dict[str, Any]) -> str:
    return ", ".join(f"{n}={_v(v)}" for n, v in k.items())
