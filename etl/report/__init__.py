"""Stage 6, what a steward reads: the report of a build or of a published release.

Owns: `text` (the terminal's summary and the JSON of `--report`), `html` (one self-contained
page: verdict, checks, the count matrix, partners, the diff) and `charts` (its SVG charts,
matplotlib imported only when a page is asked for).
May import: `etl.errors`, `etl.shared` and the stages before it: `source`, `extract`,
`transform`, `validate`, `release`.
"""
