"""What changed between two releases, table by table (rows added, removed, values changed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from etl import schemas
from etl.validate import read_csv, release_descriptor

# Where a value came from in the text moves with every edition; it is not a change of data.
PROVENANCE = {"原文行番号"}


@dataclass
class TableDiff:
    table: str
    key: list[str]
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[tuple[dict[str, Any], str, Any, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _tables(path: Path) -> dict[str, pl.DataFrame]:
    root, package = release_descriptor(path)
    paths = {r.get("name"): r.get("path") for r in package["resources"] if r.get("path")}
    return {ts.name: read_csv(ts, root / paths[ts.name])[0] for ts in schemas.tables() if ts.name in paths}


def diff_releases(old: Path, new: Path) -> list[TableDiff]:
    a, b = _tables(old), _tables(new)
    return [diff_table(schemas.table(n), a[n], b[n]) for n in a if n in b]


def diff_table(ts: schemas.TableSchema, old: pl.DataFrame, new: pl.DataFrame) -> TableDiff:
    """Rows matched on the primary key, leaving out key fields constant in both (the 時点)."""
    key = [k for k in ts.primary_key if old[k].n_unique() > 1 or new[k].n_unique() > 1] or ts.primary_key
    values = [c for c in ts.field_names if c not in key and c not in PROVENANCE and c not in ts.primary_key]
    result = TableDiff(ts.name, key)
    result.added = new.join(old, on=key, how="anti").select(key).to_dicts()
    result.removed = old.join(new, on=key, how="anti").select(key).to_dicts()
    both = old.join(new, on=key, how="inner", suffix="__new")
    for col in values:
        moved = both.filter(pl.col(col).ne_missing(pl.col(f"{col}__new")))
        for r in moved.iter_rows(named=True):
            result.changed.append(({k: r[k] for k in key}, col, r[col], r[f"{col}__new"]))
    return result


def render(diffs: list[TableDiff], limit: int = 50) -> str:
    lines = []
    for d in diffs:
        lines.append(f"[{d.table}] {len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed")
        shown = [f"  + {_key(k)}" for k in d.added] + [f"  - {_key(k)}" for k in d.removed]
        shown += [f"  ~ {_key(k)}: {col} {a} → {b}" for k, col, a, b in d.changed]
        lines.extend(shown[:limit])
        if len(shown) > limit:
            lines.append(f"  … and {len(shown) - limit} more")
    return "\n".join(lines)


def _key(k: dict[str, Any]) -> str:
    return ", ".join(f"{n}={v}" for n, v in k.items())
