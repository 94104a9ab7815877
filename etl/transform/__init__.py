"""Raw frames → the tidy, typed, normalised tables of the release (polars expressions).

Besides the tables, this stage keeps what only the raw text can tell, as `Evidence`: where the
count table's dropped cells went, every partner name with the listed partners it matches, and the
amounts read into the initiatives. The checks on it (placement, fiscal year, amounts, うち labels,
name resolution) are in `etl.validate.checks`, with every other check.

Stage 3. Owns: `counts` (section 1), `initiatives` (section 2), `activities` (section 3),
`rejoin` (wrapped lines into items), `resolve` (a printed name to its listed partner);
`dataset`
(`Dataset`, `Evidence`, `Placement`: what the stage hands on); `transform` here.
May import: `etl.errors`, `etl.shared` and the stages before it: `source`, `extract`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from etl.shared import schemas
from etl.shared.normalize import normalize_text
from etl.transform.activities import activities
from etl.transform.counts import MAX_PLACEMENTS, agreement_counts, partnership_partners, place_cells
from etl.transform.dataset import Dataset, Evidence, Placement
from etl.transform.initiatives import (
    WRAP_MARGIN,
    WRAP_RATIO,
    assigned_amounts,
    fiscal_year,
    initiative_items,
    initiative_partners,
    initiatives,
    line_breaks,
)

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.extract.frames import Extracted

__all__ = ["MAX_PLACEMENTS", "WRAP_MARGIN", "WRAP_RATIO", "Dataset", "Evidence", "Placement", "place_cells", "transform"]


def transform(raw: Extracted) -> Dataset:
    """Build every table of the release from the raw frames, with the evidence for the text's checks."""
    counts, totals, placement = agreement_counts(raw)
    partners = partnership_partners(raw)
    year = fiscal_year(raw)
    named, named_resolved = initiative_partners(raw, partners)
    section3, section3_resolved = activities(raw, partners, year)
    tables = {
        "agreement_counts": counts,
        "printed_totals": totals,
        "partnership_partners": partners,
        "initiatives": initiatives(raw, year),
        "initiative_items": initiative_items(raw),
        "initiative_partners": named,
        **section3,
    }
    evidence = Evidence(raw, placement, {"initiative_partners": named_resolved,
                                         "partnership_activities": section3_resolved}, assigned_amounts(raw),
                        line_breaks(raw))
    conformed = {name: schemas.table(name).conform(_with_municipality(name, f)) for name, f in tables.items()}
    return Dataset(
        tables=conformed,
        evidence=evidence,
        as_of=raw.as_of.isoformat(),
        fiscal_year=year,
        title=raw.title.text,
        material=raw.material.text if raw.material else "",
        programme=normalize_text(raw.programme.text),
    )


def _with_municipality(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    wanted = schemas.table(name).field_names
    return frame.with_columns(pl.lit(v).alias(k) for k, v in schemas.municipality().items() if k in wanted)
