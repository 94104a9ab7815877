"""Stage 7, the portal: a published release put on an open-data portal.

Owns: `ckan` (the CKAN Action API client: one dataset per edition, a stable dataset for the latest,
the DataStore, the report page).
May import: `etl.errors`, `etl.shared` and the stages before it: `source`, `extract`,
`transform`, `validate`, `release`, `report`.
"""
