"""Stage 6, what a steward reads: the report of a build or of a published release.

Owns: `text` (the terminal's summary and the JSON of `--report`), `html` (one self-contained
page: verdict, checks, the count matrix, partners, the diff), `charts` (its SVG charts,
matplotlib imported only when a page is asked for), `crops` (the PDF page where a failed value
or the count table is printed, rendered by pypdfium2) and `drawer` (the charts drawn in a child
process while the command loads its libraries and validates).
May import: `etl.errors`, `etl.shared` and the stages before it: `source`, `extract`,
`transform`, `validate`, `release`.
"""
