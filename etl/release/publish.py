"""Writing one release (CSV, Parquet, datapackage.json) into a folder, deterministically.

The files depend only on the tables and the document's metadata: no clock, no host, no path.
Building the same input twice gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from etl.shared import schemas
from etl.shared.schemas import file_stem, pandas_columns, parquet_resource_name, resource_schema

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.transform.dataset import Dataset

PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
# CSV files start with a UTF-8 BOM: Excel in Japan opens BOM-less UTF-8 as Shift_JIS and shows
# mojibake. pandas, polars, DuckDB and frictionless all read the BOM transparently.
CSV_BOM = True


def write_release(dataset: Dataset, folder: Path, version: str) -> dict[str, Any]:
    """Write every table as CSV and Parquet plus datapackage.json into `folder`; return the descriptor."""
    folder.mkdir(parents=True, exist_ok=True)
    resources = write_tables(folder, schemas.tables(), dataset.tables, dataset.programme)
    descriptor = package_descriptor(dataset, resources, version)
    write_descriptor(folder, descriptor)
    return descriptor


def write_tables(folder: Path, table_schemas: list[schemas.TableSchema],
                 tables: dict[str, pl.DataFrame], programme: str) -> list[dict[str, Any]]:
    """Each table as CSV and Parquet in `folder`; the resource descriptors of the files, in order
    (titled with the programme's name as the document gives it)."""
    resources = []
    for ts in table_schemas:
        frame = tables[ts.name]
        csv, parquet = folder / f"{file_stem(ts.name)}.csv", folder / f"{file_stem(ts.name)}.parquet"
        frame.write_csv(csv, include_bom=CSV_BOM, line_terminator="\n")
        write_parquet(ts, frame, parquet)
        resources.append(_resource(ts, csv, "csv", programme))
        resources.append(_resource(ts, parquet, "parquet", programme))
    return resources


def write_descriptor(folder: Path, descriptor: dict[str, Any]) -> None:
    text = json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n"
    (folder / "datapackage.json").write_text(text, encoding="utf-8")


def write_parquet(ts: schemas.TableSchema, frame: pl.DataFrame, file: Path) -> None:
    """Parquet with Arrow types from the schema, plus the pandas metadata that restores nullable
    integers as pandas' Int64 (not float NaN). frictionless-py reads Parquet through pandas, so
    without it an empty うち額_千円 would arrive as NaN and fail the integer type."""
    table = frame.to_arrow().cast(pa.schema([(n, _ARROW[f["type"]]) for n, f in zip(ts.field_names, ts.fields)]))
    meta = {"index_columns": [], "column_indexes": [], "columns": pandas_columns(ts)}
    table = table.replace_schema_metadata({"pandas": json.dumps(meta, ensure_ascii=False)})
    pq.write_table(table, file, compression="zstd")


_ARROW = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_(),
          "date": pa.date32()}


def _resource(ts: schemas.TableSchema, file: Path, fmt: str, programme: str) -> dict[str, Any]:
    data = file.read_bytes()
    schema = resource_schema(ts, fmt)
    name = ts.name if fmt == "csv" else parquet_resource_name(ts.name)
    resource: dict[str, Any] = {
        "name": name,
        "type": "table",
        "path": file.name,
        "title": ts.title_for(programme),
        "description": ts.description_for(programme),
        "format": fmt,
        "mediatype": "text/csv" if fmt == "csv" else "application/parquet",
    }
    if fmt == "csv":
        resource["encoding"] = "utf-8"
        resource["bytes"] = len(data)
    else:
        # frictionless-py 5 reads Parquet through pyarrow and never counts its bytes, so a
        # `bytes` property fails `frictionless validate`. The size is in catalog.json and
        # `etl validate` checks it (and the hash) for every file.
        resource["x-bytes"] = len(data)
    resource["hash"] = "sha256:" + hashlib.sha256(data).hexdigest()
    resource["schema"] = schema
    return resource


def package_descriptor(
    dataset: Dataset, resources: list[dict[str, Any]], version: str
) -> dict[str, Any]:
    """datapackage.json (Frictionless v2): metadata from schemas/package.json and the document."""
    meta = schemas.package_metadata()
    source_title = f"{schemas.municipality()['市区町村名']}「{dataset.title}」"
    if dataset.material:
        source_title += f"（{dataset.material}）"
    descriptor: dict[str, Any] = {
        "$schema": PROFILE,
        "name": meta["name"],
        "title": meta["title"],
        "description": meta["description"].replace("{title}", dataset.title).replace(schemas.PROGRAMME,
                                                                                     dataset.programme),
        "version": version,
        # The document's as-of date, not the clock: rebuilding gives the same bytes.
        "created": f"{dataset.as_of}T00:00:00+09:00",
        "keywords": meta["keywords"],
        "licenses": meta["licenses"],
        "contributors": meta["contributors"],
        "sources": [{"title": source_title, "version": dataset.as_of}],
        "x-attribution": meta["x-attribution"].format(title=dataset.title, material=dataset.material),
        "x-municipality": meta["x-municipality"],
        "x-as-of": dataset.as_of,
        "x-fiscal-year": dataset.fiscal_year,
        "resources": resources,
    }
    return descriptor
