"""Patterns of printed text that more than one stage reads.

Apart from `etl.shared.normalize`, which loads polars and the schemas: the source stage loads
without them, so that a PDF's reader can start before the table libraries have loaded (etl.cli).
"""

from __future__ import annotations

# A whole number as printed (thousands separated by commas or not); the same pattern serves the
# parser (Python re) and the tables (polars).
NUMBER = r"\d{1,3}(?:,\d{3})+|\d+"
