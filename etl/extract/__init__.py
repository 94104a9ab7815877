"""Finding the document's sections and tables in its text.

The output is raw: polars frames of printed strings with their source line numbers, so that a
later error can point at the line. Nothing here types, normalises values or checks sums; it only
recognises layout (headings, table rows, wrapped cells, vertical labels, page furniture) and
raises `LayoutError` naming the line when the layout is not the expected one.

Stage 2. Owns: `layout` (sections, headings, paragraphs, page furniture), `counts` (section 1's
table and partner list), `initiatives` (section 2), `activities` (section 3); `frames` (`Extracted`,
`Located`: what the stage hands on); `extract` here.
May import: `etl.errors`, `etl.shared` and the stage before it: `source`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etl.extract.activities import activities
from etl.extract.counts import HEADLINE, count_table, partner_list
from etl.extract.frames import Extracted, Located
from etl.extract.initiatives import initiatives
from etl.extract.layout import as_of_date, material, one, programme, sections, title
from etl.shared.normalize import fiscal_years
from etl.shared.normalize import normalize_text as N

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.source.text import SourceText

__all__ = ["Extracted", "Located", "extract"]


def extract(source: SourceText) -> Extracted:
    """Split the document into its three sections and read every table in them."""
    lines = [(i, t.strip()) for i, t in enumerate(source.lines, start=1)]
    printed = dict(lines)
    ruled = source.ruled  # what a PDF's geometry says of its lines (nothing, for a text)
    s1, s2, s3 = sections(lines)
    as_of = as_of_date(s1[0])
    counts, categories = count_table(s1, ruled.page_starts)
    partners, partner_count = partner_list(s1, printed, ruled.page_starts)
    init = initiatives(s2, printed, ruled)
    act = activities(s3, printed, ruled)
    years = [(era, greg, n) for n, t in (s2[0], s3[0]) for era, greg in fiscal_years(t)]
    years += [(era, greg, n) for n, t in s2[1:] if "当初予算" in N(t) for era, greg in fiscal_years(t)]
    return Extracted(
        title=title(lines, printed),
        material=material(lines, printed),
        as_of=as_of,
        headline=(headline := one(s1, HEADLINE, "the headline 「他の機関との連携協定数：N件」")),
        headline_label=HEADLINE.search(N(printed[headline.line]))[1],
        programme=programme(s1, s3[0], printed),
        categories=categories,
        count_rows=counts,
        partners=partners,
        partner_count=partner_count,
        fiscal_years=years,
        text="\n".join(source.lines),
        pages=tuple(source.pages),
        **init,
        **act,
    )
