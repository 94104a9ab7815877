"""Raw frames → the tidy, typed, normalised tables of the release (polars expressions).

Besides the tables, this stage reports the checks that only the raw text can answer: where the
count table's dropped cells belong, whether the fiscal years agree, whether every 「N千円」 was
assigned, and whether every partner named in section 3 resolves to one listed partner.

Stage 3. Owns: `counts` (section 1), `initiatives` (section 2), `activities` (section 3),
`rejoin` (wrapped lines into items), `resolve` (a printed name to its listed partner);
`transform` and `Dataset` here.
May import: `etl.errors`, `etl.shared` and the stages before it: `source`, `extract`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from etl.shared import schemas
from etl.shared.results import CheckResult
from etl.transform.activities import activities
from etl.transform.counts import MAX_PLACEMENTS, agreement_counts, partnership_partners, place_cells
from etl.transform.initiatives import (
    WRAP_RATIO,
    check_amounts,
    check_sub_labels,
    fiscal_year,
    initiative_items,
    initiative_partners,
    initiatives,
)

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.extract import Extracted

__all__ = ["MAX_PLACEMENTS", "WRAP_RATIO", "Dataset", "place_cells", "transform"]


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
    """Build every table of the release from the raw frames, with the build-time checks."""
    results: list[CheckResult] = []
    counts, totals = agreement_counts(raw, results)
    partners = partnership_partners(raw)
    year = fiscal_year(raw, results)
    tables = {
        "agreement_counts": counts,
        "printed_totals": totals,
        "partnership_partners": partners,
        "initiatives": initiatives(raw, year),
        "initiative_items": initiative_items(raw),
        "initiative_partners": initiative_partners(raw, partners, results),
        **activities(raw, partners, year, results),
    }
    check_amounts(raw, results)
    check_sub_labels(raw, results)
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
