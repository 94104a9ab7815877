"""The contract: Table Schemas in `schemas/`, and everything derived from them.

`schemas/<table>.json` is the only place where a published table's field names, types,
constraints, keys and column order are written. This module reads them and derives the pandera
(polars) schemas, the polars dtypes for reading published files back, and the resource
descriptors embedded in `datapackage.json`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"

_DTYPES: dict[str, type[pl.DataType]] = {
    "string": pl.String,
    "integer": pl.Int64,
    "number": pl.Float64,
    "boolean": pl.Boolean,
    "date": pl.Date,
}


# The programme's name in a title or description of schemas/: the document names it (section 1),
# so that an edition that renames it needs no change here.
PROGRAMME = "{programme}"


@dataclass(frozen=True)
class TableSchema:
    """One published table's schema as written in `schemas/`."""

    name: str
    descriptor: dict[str, Any]

    @property
    def title(self) -> str:
        return self.descriptor.get("x-title", self.name)

    @property
    def description(self) -> str:
        return self.descriptor.get("x-description", "")

    def title_for(self, programme: str) -> str:
        """The title with the programme's name the document gives (x-title may name it as {programme})."""
        return self.title.replace(PROGRAMME, programme)

    def description_for(self, programme: str) -> str:
        return self.description.replace(PROGRAMME, programme)

    @property
    def fields(self) -> list[dict[str, Any]]:
        return self.descriptor["fields"]

    @property
    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields]

    @property
    def primary_key(self) -> list[str]:
        return list(self.descriptor.get("primaryKey", []))

    @property
    def foreign_keys(self) -> list[dict[str, Any]]:
        return list(self.descriptor.get("foreignKeys", []))

    def polars_schema(self) -> dict[str, type[pl.DataType]]:
        return {f["name"]: _DTYPES[f["type"]] for f in self.fields}

    def frictionless(self) -> dict[str, Any]:
        """The Table Schema as embedded in datapackage.json (our x- annotations removed, the table's
        and its fields'; a field's x-shape is checked by etl.validate.shapes, not by a reader)."""
        schema = {k: v for k, v in self.descriptor.items() if not k.startswith("x-") and k != "$schema"}
        schema["fields"] = [{k: v for k, v in f.items() if not k.startswith("x-")} for f in self.fields]
        return schema

    def shaped_fields(self) -> list[tuple[str, str]]:
        """(field, shape name) for every field that points at a shape of schemas/shapes.json."""
        return [(f["name"], f["x-shape"]) for f in self.fields if "x-shape" in f]

    def pandera(self) -> pa.DataFrameSchema:
        """A pandera-polars schema enforcing every type and constraint of this Table Schema."""
        columns = {f["name"]: _column(f) for f in self.fields}
        return pa.DataFrameSchema(
            columns,
            name=self.name,
            strict=True,
            ordered=True,
            unique=self.primary_key or None,
        )

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Columns in schema order, cast to schema dtypes (a missing column is an error)."""
        return frame.select(pl.col(n).cast(t) for n, t in self.polars_schema().items())


def _column(field: dict[str, Any]) -> pa.Column:
    c = field.get("constraints", {})
    checks = []
    if "enum" in c:
        checks.append(pa.Check.isin(c["enum"]))
    if "minimum" in c:
        checks.append(pa.Check.ge(c["minimum"]))
    if "maximum" in c:
        checks.append(pa.Check.le(c["maximum"]))
    if "pattern" in c:
        checks.append(pa.Check.str_matches(f"^(?:{c['pattern']})$"))
    if "minLength" in c or "maxLength" in c:
        checks.append(pa.Check.str_length(c.get("minLength"), c.get("maxLength")))
    return pa.Column(
        _DTYPES[field["type"]],
        checks=checks,
        nullable=not c.get("required", False),
        unique=bool(c.get("unique", False)),
        title=field.get("title"),
        description=field.get("description"),
    )


@cache
def package_metadata() -> dict[str, Any]:
    """Package-level metadata (name, title, licences, municipality, resource order)."""
    return json.loads((SCHEMA_DIR / "package.json").read_text(encoding="utf-8"))


@cache
def table(name: str) -> TableSchema:
    descriptor = json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    descriptor["fields"] = [_resolve(f) for f in descriptor["fields"]]
    return TableSchema(name, descriptor)


def _resolve(field: dict[str, Any]) -> dict[str, Any]:
    """`{"name": N, "x-field-of": T}` is field N of schemas/T.json: a field is written once."""
    if "x-field-of" not in field:
        return field
    source = {f["name"]: f for f in table(field["x-field-of"]).fields}
    return dict(source[field["name"]])


@cache
def _shapes_file() -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / "shapes.json").read_text(encoding="utf-8"))


def legal_forms() -> tuple[str, ...]:
    """The legal forms (法人格) of schemas/shapes.json, as printed after NFKC, longest first."""
    return tuple(_shapes_file()["legalForms"])


@cache
def shapes() -> dict[str, dict[str, Any]]:
    """The shapes of text cells (schemas/shapes.json), each with the rules of the shapes it extends."""
    declared = _shapes_file()["shapes"]
    forms = "(?:" + "|".join(re.escape(f) for f in legal_forms()) + ")"

    def resolved(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if name not in declared or name in seen:
            raise ValueError(f"schemas/shapes.json: shape {name!r} is not declared (or extends itself)")
        shape = json.loads(json.dumps(declared[name]).replace("{legalForm}", json.dumps(forms)[1:-1]))
        parent = resolved(shape["extends"], (*seen, name)) if "extends" in shape else {}
        shape["noneOf"] = [*parent.get("noneOf", []), *shape.get("noneOf", [])]
        shape["notShapes"] = [*parent.get("notShapes", []), *shape.get("notShapes", [])]
        for key in ("minLength", "maxLength"):
            if key not in shape and key in parent:
                shape[key] = parent[key]
        return shape

    return {name: resolved(name) for name in declared}


def programme_of(package: dict[str, Any]) -> str:
    """The programme's name a release was built with, read back from a resource title that names it
    ("" when none does): the cumulative tables and a release's report take it from the release."""
    for ts in tables():
        pre, found, post = ts.title.partition(PROGRAMME)
        if not found:
            continue
        for r in package.get("resources", []):
            title = r.get("title") if isinstance(r, dict) and r.get("name") == ts.name else None
            if isinstance(title, str) and title.startswith(pre) and title.endswith(post) \
                    and len(title) > len(pre) + len(post):
                return title[len(pre):len(title) - len(post)]
    return ""


def cumulative_tables() -> list[TableSchema]:
    """The tables built across every release of the catalog (see etl.release.cumulative)."""
    return [table(n) for n in package_metadata()["x-cumulative"]["resources"]]


def tables() -> list[TableSchema]:
    """Every published table, in the package's resource order."""
    return [table(n) for n in package_metadata()["x-resources"]]


def municipality() -> dict[str, str]:
    """全国地方公共団体コード, 都道府県名, 市区町村名 of the publishing municipality."""
    return dict(package_metadata()["x-municipality"])


# How a table is laid out in a release: derived from its schema, and shared by the writer
# (etl.release.publish) and every reader of a release (etl.validate).
PARQUET_SUFFIX = "_parquet"


def file_stem(table: str) -> str:
    """`072036_<table>`: the national file-name convention (city code, English slug)."""
    return f"{municipality()['全国地方公共団体コード']}_{table}"


def parquet_resource_name(table: str) -> str:
    """The Parquet copy of a table is its own resource; the CSV one carries the table's name."""
    return table + PARQUET_SUFFIX


def resource_schema(ts: TableSchema, fmt: str) -> dict[str, Any]:
    """The Table Schema embedded in datapackage.json for the CSV or the Parquet copy of a table."""
    schema = ts.frictionless()
    if fmt == "parquet":
        # Foreign keys of a Parquet resource point at the Parquet copy of the referenced table,
        # so that each format validates on its own.
        schema["foreignKeys"] = [
            {**fk, "reference": {**fk["reference"], "resource": parquet_resource_name(fk["reference"]["resource"])}}
            for fk in schema.get("foreignKeys", [])
        ]
        if not schema["foreignKeys"]:
            del schema["foreignKeys"]
    return schema


def pandas_columns(ts: TableSchema) -> list[dict[str, Any]]:
    """The pandas metadata of a table's Parquet columns (see etl.release.publish.write_parquet)."""
    return [{"name": f["name"], "field_name": f["name"], "metadata": None, **_pandas_type(f)} for f in ts.fields]


def _pandas_type(field: dict[str, Any]) -> dict[str, str]:
    kind, required = field["type"], field.get("constraints", {}).get("required", False)
    if kind == "integer":
        return {"pandas_type": "int64", "numpy_type": "int64" if required else "Int64"}
    if kind == "date":
        return {"pandas_type": "date", "numpy_type": "object"}
    if kind == "number":
        return {"pandas_type": "float64", "numpy_type": "float64"}
    if kind == "boolean":
        return {"pandas_type": "bool", "numpy_type": "bool" if required else "boolean"}
    return {"pandas_type": "unicode", "numpy_type": "object"}
