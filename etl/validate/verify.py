"""Verifying staged files against the tables that passed validation, before they are published.

The build has already run every check of `schemas/` (pandera, primary and foreign keys, the
document's invariants) on the tables in memory. Verifying the staged release therefore proves that
its files hold exactly those tables, as a consumer reads them: every file's size and hash as
datapackage.json says, each resource's schema the one of `schemas/`, every CSV read back with the
schema's types equal to the validated table (so no cell, row, blank line or column more or less),
every Parquet file with the schema's Arrow types, the same rows, and the pandas metadata that
frictionless needs to read nullable integers; and frictionless must accept datapackage.json.

Equal tables pass the same checks, so running pandera and frictionless over the files again
(what `etl validate` does for a consumer's copy, and what the tests do for the real release)
would only repeat them: it tripled the cost of a build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from etl.shared import children, schemas
from etl.shared.safety import release_descriptor
from etl.shared.schemas import pandas_columns, parquet_resource_name
from etl.validate.descriptor import frictionless_metadata
from etl.validate.run import descriptor_results, integrity_results, read_csv, read_parquet


def release_problems(folder: Path, table_schemas: list[schemas.TableSchema],
                     tables: dict[str, pl.DataFrame]) -> list[str]:
    """`staged_problems`, then frictionless' objections to datapackage.json: those checked meanwhile in
    a build's helper process (etl.shared.children.beside), or here when there is none."""
    metadata = children.beside(frictionless_metadata, folder)
    return staged_problems(folder, table_schemas, tables) + metadata.result()


def staged_problems(folder: Path, table_schemas: list[schemas.TableSchema],
                    tables: dict[str, pl.DataFrame]) -> list[str]:
    """What is wrong with the staged package in `folder`, holding `tables` (validated); [] when right."""
    root, package = release_descriptor(folder)
    by_name = {r.get("name"): r for r in package["resources"]}
    expected = [n for ts in table_schemas for n in (ts.name, parquet_resource_name(ts.name))]
    problems = []
    if list(by_name) != expected:  # the writer's order too, which a published release need not keep
        problems.append(f"datapackage.json lists the resources {list(by_name)}, expected {expected}.")
    # every resource at its file, read as written, with the schema of schemas/: as etl validate checks it
    problems += [r.message for r in descriptor_results(package, table_schemas) if not r.passed]
    for ts in table_schemas:
        for fmt, name in (("csv", ts.name), ("parquet", parquet_resource_name(ts.name))):
            resource = by_name.get(name)
            if resource is None:
                continue  # reported above
            data, results = integrity_results(root, resource)  # inside the folder, read once (etl.shared.safety)
            problems += [r.message for r in results if not r.passed]
            if data is not None:
                check = _csv_problems if fmt == "csv" else _parquet_problems
                problems += check(ts, data, resource["path"], tables[ts.name])
    return problems


def _csv_problems(ts: schemas.TableSchema, data: bytes, path: str, table: pl.DataFrame) -> list[str]:
    frame, results = read_csv(ts, data, path)
    problems = [r.message for r in results if not r.passed]
    if frame is not None and not problems and not frame.equals(table):
        problems.append(f"{Path(path).name} does not hold the validated table {ts.name}: {_difference(frame, table)}.")
    return problems


def _parquet_problems(ts: schemas.TableSchema, data: bytes, path: str, table: pl.DataFrame) -> list[str]:
    file = Path(path)
    try:
        frame = read_parquet(data, path)  # checks etl.shared.safety's limits before pyarrow parses the metadata
        pandas = (pq.read_schema(pa.BufferReader(data)).pandas_metadata or {}).get("columns")
    except (ValueError, OSError, pa.ArrowException) as exc:
        return [f"{file.name} is not readable Parquet: {exc}"]
    if frame.schema != pl.Schema(ts.polars_schema()):
        return [f"{file.name} has types {dict(frame.schema)}, the schema says {ts.polars_schema()}."]
    problems = []
    if not frame.equals(table):
        problems.append(f"{file.name} does not hold the validated table {ts.name}: {_difference(frame, table)}.")
    if pandas != pandas_columns(ts):  # without it pandas (and frictionless) read an empty integer as NaN
        problems.append(f"{file.name} lacks the pandas metadata of its columns' types.")
    return problems


def _difference(found: pl.DataFrame, table: pl.DataFrame) -> str:
    if found.columns != table.columns:
        return f"columns {found.columns}, expected {table.columns}"
    if found.height != table.height:
        return f"{found.height} rows, expected {table.height}"
    for i, (a, b) in enumerate(zip(found.iter_rows(), table.iter_rows(), strict=True)):
        if a != b:
            return f"row {i + 1} is {_row(found.columns, a)}, expected {_row(table.columns, b)}"
    return "the same values, other types"


def _row(columns: list[str], values: tuple[Any, ...]) -> str:
    return ", ".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))
