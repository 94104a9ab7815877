"""Stage 4, the checks: every check id of a report and the one function that decides it.

Owns: `checks` (the document's invariants), `run` (a build's tables and a published release
checked into one Report: schemas, keys, integrity, the release read back as a consumer would),
`verify` (a staged release holds exactly the tables that passed) and `descriptor` (frictionless'
objections to a datapackage.json, light enough for a build's helper process).
May import: `etl.errors`, `etl.shared` and the stages before it: `source`, `extract`,
`transform`.
"""
