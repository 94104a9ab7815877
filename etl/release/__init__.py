"""Stage 5, the release: files written, verified and moved into the catalog as one release.

Owns: `publish` (CSV, Parquet and datapackage.json, deterministically), `catalog` (versions,
immutability, the lock, the atomic move, catalog.json, the latest alias), `cumulative` (the tables
across every release), `dcat` (the catalog's DCAT description, written with catalog.json) and
`diff` (what changed between two releases).
May import: `etl.errors`, `etl.shared` and the stages before it: `source`, `extract`,
`transform`, `validate`.
"""
