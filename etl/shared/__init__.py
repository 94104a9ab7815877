"""What every stage shares: the contract read from `schemas/`, Japanese text normalisation,
opening files safely inside a folder (with the size limits), the check-result model and the
fault-injection points of the crash tests.

Owns: `schemas` (the tables' contract), `shapes` (what a text cell reads as), `normalize`,
`patterns` (printed numbers, light enough for the source stage), `safety`, `results` (CheckResult,
Report), `faults`, `children` (processes forked to work beside etl).
May import: `etl.errors` and one another; never a stage.
"""
