"""Running every check (schemas, keys, invariants) into one Report, for a build or a release."""

from __future__ import annotations

import errno
import hashlib
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pandera.polars as pandera
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from etl.errors import EtlError, LayoutError, RegistrationError, SourceError
from etl.shared import safety, schemas
from etl.shared.results import CheckResult, Report, failed, passed
from etl.shared.safety import release_descriptor
from etl.shared.schemas import file_stem, parquet_resource_name, resource_schema
from etl.shared.shapes import reasons as shape_reasons
from etl.validate.checks import CHECKS, run_invariants, run_text_checks

if TYPE_CHECKING:  # annotations only: the module runs without importing an earlier stage's code
    from etl.transform.dataset import Dataset

Tables = dict[str, pl.DataFrame]


def validate_dataset(dataset: Dataset) -> Report:
    """The build's checks: those of the raw text, then everything a consumer can re-check."""
    report = Report()
    if dataset.evidence is not None:
        report.add(run_text_checks(dataset.evidence))
    report.add(validate_tables(dataset.tables))
    return report


def validate_tables(tables: Tables) -> list[CheckResult]:
    out: list[CheckResult] = []
    for ts in schemas.tables():
        out.extend(schema_results(ts, tables.get(ts.name)))
        if ts.name in tables:
            out.extend(foreign_key_results(ts, tables))
            out.extend(formula_results(ts, tables[ts.name]))
            if ts.shaped_fields():
                out.extend(shape_results(ts, tables))
    out.extend(run_invariants(tables))
    return out


# A failing check lists this many failures, then counts the rest: a million bad cells are one line.
MAX_FAILURES = 100


def _more(check: str, table: str, more: int) -> list[CheckResult]:
    """The one result that counts the failures of a check beyond MAX_FAILURES."""
    if more <= 0:
        return []
    return [failed(check, table, f"… and {more:,} more failures of {check}, not listed.", label="…",
                   expected=MAX_FAILURES, actual=MAX_FAILURES + more)]


# What a spreadsheet runs as a formula when the cell is opened (CSV injection): no cell of the
# document starts so, unless it is a number (-5, +81).
_FORMULA = r"^[=+\-@\t\r]"
_NUMBER = r"^[+-]?[0-9]+([.,][0-9]+)*$"


def formula_results(ts: schemas.TableSchema, frame: pl.DataFrame) -> list[CheckResult]:
    """`<table>.formula_cells`: no text cell starts with =, +, -, @, a tab or a CR unless it is a number."""
    check, out, more = f"{ts.name}.formula_cells", [], 0
    fields = [f["name"] for f in ts.fields if f["type"] == "string" and f["name"] in frame.columns]
    # One query tells which columns have such a cell at all (none, in any edition): a build runs this
    # on every table, and a query per column cost more than the rest of the check.
    flagged = frame.select(_formula(name).any() for name in fields).row(0) if fields else ()
    for name in (name for name, found in zip(fields, flagged, strict=True) if found):
        column = frame[name].cast(pl.String, strict=False)
        hits = frame.select(_formula(name)).to_series().arg_true()
        more += max(0, len(hits) - (MAX_FAILURES - len(out)))
        for i in hits.head(max(0, MAX_FAILURES - len(out))).to_list():
            label = _row_label(ts, frame, i)
            out.append(failed(check, ts.name, f"{label}, {name}: 「{column[i]}」 starts with "
                              f"{column[i][0]!r}, so a spreadsheet (Excel, LibreOffice) would run it as a formula "
                              "when the CSV is opened; no cell of the document is one. Check the source line.",
                              label=label, field=name, expected="text, not a formula", actual=column[i]))
    return out + _more(check, ts.name, more) if out else [passed(check, ts.name)]


def _formula(name: str) -> pl.Expr:
    """True where the cell of column `name` would be run as a formula (see formula_results)."""
    column = pl.col(name).cast(pl.String, strict=False)
    return (column.str.contains(_FORMULA) & ~column.str.contains(_NUMBER)).fill_null(False)


def shape_results(ts: schemas.TableSchema, tables: Tables) -> list[CheckResult]:
    """`<table>.shapes`: each text cell reads as what its column holds (the field's x-shape in schemas/,
    whose rules are in schemas/shapes.json). The sums and keys test numbers; a cell that slid into
    its neighbouring column leaves them as they were, so only its text can tell."""
    check, frame, out, more = f"{ts.name}.shapes", tables[ts.name], [], 0
    for field, shape_name in ts.shaped_fields():
        if field not in frame.columns or frame[field].dtype != pl.String:
            continue  # a missing or mistyped column is the schema check's failure
        why = shape_reasons(frame[field], shape_name, tables)
        hits = why.is_not_null().arg_true()
        more += max(0, len(hits) - (MAX_FAILURES - len(out)))
        for i in hits.head(max(0, MAX_FAILURES - len(out))).to_list():
            label, value = _row_label(ts, frame, i), frame[field][i]
            out.append(failed(check, ts.name, f"{label}, {field}: 「{value}」 does not read as "
                              f"{schemas.shapes()[shape_name]['title']} ({shape_name}): it {why[i]}. A cell may have "
                              "moved here from its neighbouring column (a blank line lost or added, a page break); "
                              "check the source line.", label=label, field=field, expected=shape_name, actual=value))
    return out + _more(check, ts.name, more) if out else [passed(check, ts.name)]


def schema_results(ts: schemas.TableSchema, frame: pl.DataFrame | None) -> list[CheckResult]:
    """`<table>.schema`: pandera (built from schemas/) over an eager frame, every failure case kept."""
    check = f"{ts.name}.schema"
    if frame is None:
        return [failed(check, ts.name, f"table {ts.name} is missing from the release.")]
    try:
        ts.pandera().validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return ([_schema_failure(ts, frame, check, case) for case in cases.head(MAX_FAILURES).to_dicts()]
                + _more(check, ts.name, cases.height - MAX_FAILURES))
    return [passed(check, ts.name)]


def _schema_failure(ts: schemas.TableSchema, frame: pl.DataFrame, check: str, case: dict) -> CheckResult:
    index, column, rule = case.get("index"), case.get("column"), case.get("check")
    label = _row_label(ts, frame, index)
    where = f"{label}, {column}" if column else label or "table"
    value = (str(case.get("failure_case")).splitlines() or [""])[0]
    if str(rule).startswith("column_in_"):  # the failure case is the column's name
        said = f"{in_words(str(rule))}: {value}"
    elif "Error(" in value:  # pandera could not run the check, e.g. on a column of the wrong type
        said = f"{in_words(str(rule))}, but could not be checked ({value.split('(', 1)[0]})"
    else:
        said = f"{in_words(str(rule))} (found: {value})"
    return failed(check, ts.name, f"{where}: {said}.",
                  label=label, field=column or "", expected=rule, actual=case.get("failure_case"))


# pandera's check ids, said as a steward would; `expected` in the JSON keeps the id itself.
_RULES = [
    (re.compile(r"greater_than_or_equal_to\((.*)\)"), "must be at least {0}"),
    (re.compile(r"less_than_or_equal_to\((.*)\)"), "must be at most {0}"),
    (re.compile(r"greater_than\((.*)\)"), "must be more than {0}"),
    (re.compile(r"less_than\((.*)\)"), "must be less than {0}"),
    (re.compile(r"isin\(\[(.*)\]\)"), "must be one of {0}"),
    (re.compile(r"str_matches\('\^\(\?:(.*)\)\$'\)"), "must match the pattern {0}"),
    (re.compile(r"str_length\((\d+), None\)"), "must be at least {0} characters long"),
    (re.compile(r"str_length\(None, (\d+)\)"), "must be at most {0} characters long"),
    (re.compile(r"str_length\((\d+), (\d+)\)"), "must be {0} to {1} characters long"),
    (re.compile(r"dtype\('(.*)'\)"), "must be of type {0}"),
    (re.compile(r"not_nullable"), "must not be empty"),
    (re.compile(r"(multiple_)?fields?_uniqueness"), "must be unique (the key appears more than once)"),
    (re.compile(r"column_in_dataframe"), "a column the schema requires is missing"),
    (re.compile(r"column_in_schema"), "a column is not in the schema"),
]


def in_words(rule: str) -> str:
    """'greater_than_or_equal_to(1)' → 'must be at least 1'; an unknown id is shown as it is."""
    for pattern, words in _RULES:
        m = pattern.fullmatch(rule)
        if m:
            return words.format(*(g for g in m.groups() if g is not None))
    return f"fails {rule}"


def _row_label(ts: schemas.TableSchema, frame: pl.DataFrame, index: Any) -> str:
    """'row N (key=value…)' for a failing row, so the steward can find it in the CSV."""
    if index is None or not isinstance(index, int) or index >= frame.height:
        return ""
    row = frame.row(index, named=True)
    key = ", ".join(f"{k}={row.get(k)}" for k in ts.primary_key if k in row)
    line = f", line {row['原文行番号']}" if row.get("原文行番号") else ""
    return f"row {index + 1} ({key}{line})" if key else f"row {index + 1}"


def foreign_key_results(ts: schemas.TableSchema, tables: Tables) -> list[CheckResult]:
    """Every non-empty foreign key value exists in the referenced table."""
    out = []
    for fk in ts.foreign_keys:
        ref = fk["reference"]
        check = f"{ts.name}.foreign_key.{'+'.join(fk['fields'])}"
        local, target = tables[ts.name], tables.get(ref["resource"])
        if target is None or not set(fk["fields"]) <= set(local.columns):
            out.append(failed(check, ts.name, f"cannot check: {ref['resource']} or a key column is missing."))
            continue
        try:
            keys = target.select([pl.col(r).alias(f) for f, r in zip(fk["fields"], ref["fields"], strict=True)])
            orphans = local.with_row_index("_row").drop_nulls(fk["fields"]).join(keys.unique(), on=fk["fields"],
                                                                                 how="anti")
        except pl.exceptions.PolarsError as exc:
            out.append(failed(check, ts.name, f"cannot check against {ref['resource']}: {exc}".splitlines()[0]))
            continue
        for r in orphans.head(MAX_FAILURES).iter_rows(named=True):
            value = ", ".join(str(r[f]) for f in fk["fields"])
            out.append(failed(check, ts.name, f"{_row_label(ts, local, r['_row'])}: {'+'.join(fk['fields'])} "
                              f"{value} does not exist in {ref['resource']}.", label=_row_label(ts, local, r["_row"]),
                              field="+".join(fk["fields"]), expected=f"a key of {ref['resource']}", actual=value))
        out.extend(_more(check, ts.name, orphans.height - MAX_FAILURES))
        if orphans.is_empty():
            out.append(passed(check, ts.name))
    return out


# ── a published release, read back as a consumer would ────────────────────────────────────


def descriptor_results(package: dict[str, Any],
                       table_schemas: list[schemas.TableSchema] | None = None) -> list[CheckResult]:
    """`datapackage.resources`: the release holds the schema's tables (those of a release unless
    `table_schemas` says which), each resource named once and at its file, read as it was written,
    and nothing else. `<table>.descriptor_schema`: the Table Schema that datapackage.json embeds for
    a table's CSV and Parquet copies is the one of schemas/ (fields, types, constraints, keys)."""
    check, out = "datapackage.resources", []
    table_schemas = schemas.tables() if table_schemas is None else table_schemas
    resources = [r for r in package.get("resources", []) if isinstance(r, dict)]
    expected = {name: (ts, fmt) for ts in table_schemas for name, fmt in
                ((ts.name, "csv"), (parquet_resource_name(ts.name), "parquet"))}
    names = [r.get("name") for r in resources]
    for name in dict.fromkeys(n for n in names if names.count(n) > 1):
        paths = ", ".join(str(r.get("path")) for r in resources if r.get("name") == name)
        out.append(failed(check, "datapackage", f"resource name {name!r} is given {names.count(name)} times "
                          f"(paths {paths}); each resource is named once, so a reader cannot be shown one file "
                          "while another is checked.", label=str(name), field="name", expected=1,
                          actual=names.count(name)))
    for r in resources:
        name, path = r.get("name"), r.get("path")
        if name not in expected:
            out.append(failed(check, "datapackage", f"resource {name!r} ({path}) is not one of the release's "
                              "tables; a release holds only the tables of schemas/.", label=str(name),
                              field="name", expected="a table of schemas/", actual=name))
            continue
        ts, fmt = expected[name]
        wanted = f"{file_stem(ts.name)}.{fmt}"
        if path != wanted or r.get("format") != fmt:
            out.append(failed(check, "datapackage", f"resource {name!r} is {path!r} ({r.get('format')}); the "
                              f"release's {fmt} copy of {ts.name} is {wanted!r}.", label=str(name), field="path",
                              expected=wanted, actual=path))
            continue
        out.extend(_reading_properties(check, r, fmt))
    if not out:
        out.append(passed(check, "datapackage", expected=len(expected), actual=len(resources)))
    for ts in table_schemas:
        out.extend(_descriptor_schema(ts, [r for r in resources if r.get("name") in
                                           (ts.name, parquet_resource_name(ts.name))]))
    return out


# How a release's resources are read, as etl.release.publish writes them; any other property (a dialect,
# another encoding) would make a reader see other data than the data that was checked.
_READING = {"csv": {"type": "table", "mediatype": "text/csv", "encoding": "utf-8"},
            "parquet": {"type": "table", "mediatype": "application/parquet"}}
_DESCRIBING = {"name", "path", "format", "title", "description", "bytes", "x-bytes", "hash", "schema"}


def _reading_properties(check: str, r: dict[str, Any], fmt: str) -> list[CheckResult]:
    out = []
    for key, value in _READING[fmt].items():
        if r.get(key) != value:
            out.append(failed(check, "datapackage", f"resource {r.get('name')!r}: {key} is {r.get(key)!r}; the "
                              f"release writes {value!r}, and it was checked so.", label=str(r.get("name")),
                              field=key, expected=value, actual=r.get(key)))
    for key in sorted(set(r) - _DESCRIBING - set(_READING[fmt])):
        out.append(failed(check, "datapackage", f"resource {r.get('name')!r} has the property {key!r}, which a "
                          "release does not write and a reader would apply (so it would read other data than "
                          "was checked).", label=str(r.get("name")), field=key, expected="absent",
                          actual=str(r.get(key))))
    return out


def _descriptor_schema(ts: schemas.TableSchema, resources: list[dict[str, Any]]) -> list[CheckResult]:
    check, out = f"{ts.name}.descriptor_schema", []
    for r in resources:
        fmt = "parquet" if r.get("name") == parquet_resource_name(ts.name) else "csv"
        wanted, given = resource_schema(ts, fmt), r.get("schema")
        if given != wanted:
            out.append(failed(check, ts.name, f"resource {r.get('name')!r}: the Table Schema in datapackage.json "
                              f"is not the one of schemas/{ts.name}.json ({_schema_difference(given, wanted)}); "
                              "a release is checked against schemas/, so it must describe itself by it.",
                              label=str(r.get("name")), field="schema", expected="schemas/" + ts.name + ".json",
                              actual=_schema_difference(given, wanted)))
    return out or [passed(check, ts.name)]


def _schema_difference(given: Any, wanted: dict[str, Any]) -> str:
    """The first difference, said briefly: a key, a field, or a property of a field."""
    if not isinstance(given, dict):
        return f"it is a {type(given).__name__}, not a schema"
    for key in wanted.keys() | given.keys():
        if key == "fields" or given.get(key) == wanted.get(key):
            continue
        return f"{key} is {str(given.get(key))[:100]}, schemas/ says {str(wanted.get(key))[:100]}"
    fields = given.get("fields") if isinstance(given.get("fields"), list) else []
    names = [f.get("name") if isinstance(f, dict) else f for f in fields]
    if names != [f["name"] for f in wanted["fields"]]:
        return f"fields are {', '.join(map(str, names))[:200]}"
    for f, w in zip(fields, wanted["fields"]):
        if not isinstance(f, dict):
            return f"field {w['name']} is {str(f)[:100]}, not a field description"
        for prop in w.keys() | f.keys():
            if f.get(prop) != w.get(prop):
                return f"field {w['name']}: {prop} is {str(f.get(prop))[:100]}, schemas/ says {str(w.get(prop))[:100]}"
    return "they differ"


def descriptor_entry(package: dict[str, Any], key: str) -> dict[str, Any]:
    """The first object of a list property of datapackage.json (sources, licenses), or {}: the checks
    do not test these, so a release that passes may still give them in another shape."""
    value = package.get(key)
    first = value[0] if isinstance(value, list) and value else None
    return first if isinstance(first, dict) else {}


def validate_release(path: Path) -> Report:
    """Re-validate a published release from its files: integrity, types, keys and invariants."""
    root, package = release_descriptor(path)
    report = Report(descriptor_results(package))
    csv_tables: Tables = {}
    files: dict[str, bytes] = {}  # each file read once: the bytes hashed are the bytes parsed
    total = 0
    for resource in package.get("resources", []):
        data, results = integrity_results(root, resource)
        report.add(results)
        if data is not None:
            files[resource["path"]] = data
            total += len(data)
            if total > safety.MAX_RELEASE_BYTES:  # every file within its limit, but so many of them
                raise safety.UnsafeRelease(f"the files of {root} add up to more than the limit of "
                                           f"{safety.MAX_RELEASE_BYTES} bytes for one release (the limit is "
                                           f"passed at {resource.get('path')!r}). {safety.BEYOND_LIMITS}")
    by_name = {r.get("name"): r for r in package.get("resources", [])}
    for ts in schemas.tables():
        csv_res, pq_res = by_name.get(ts.name), by_name.get(parquet_resource_name(ts.name))
        if csv_res is None or pq_res is None or csv_res.get("path") not in files:
            report.add(failed(f"{ts.name}.files", ts.name, f"the CSV or Parquet resource of {ts.name} is missing."))
            continue
        frame, results = read_csv(ts, files[csv_res["path"]], csv_res["path"])
        report.add(results)
        if frame is None:  # not even the columns are there: reported above, nothing more to check
            continue
        report.add(_parquet_matches(ts, files.get(pq_res.get("path")), pq_res.get("path"), frame))
        csv_tables[ts.name] = frame
    report.add(validate_tables(csv_tables))
    return report


def read_resource(root: Path, resource: dict[str, Any]) -> bytes:
    """The bytes of one resource of a release, read without leaving the release folder."""
    return safety.read_file(root, resource.get("path"), f"resource {resource.get('name')!r}")


def integrity_results(root: Path, resource: dict[str, Any]) -> tuple[bytes | None, list[CheckResult]]:
    """The bytes of a resource's file (read once, inside the release folder; None when it cannot be
    read), and whether its size and sha256 hash are the ones datapackage.json gives."""
    name = resource.get("name", "?")
    check = f"{name}.integrity"
    try:
        data = read_resource(root, resource)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None, [failed(check, name, f"{resource.get('path')} is listed in datapackage.json but missing.")]
        return None, [failed(check, name, f"{resource.get('path')} cannot be read ({exc.strerror}).")]
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    out = []
    size = resource.get("bytes", resource.get("x-bytes"))
    label = Path(resource["path"]).name
    if size != len(data):
        out.append(failed(check, name, f"{label} has {len(data)} bytes, datapackage.json says "
                          f"{size}.", field="bytes", expected=size, actual=len(data)))
    if resource.get("hash") != digest:
        out.append(failed(check, name, f"{label} has hash {digest}, datapackage.json says {resource.get('hash')}: "
                          "the file was changed after publishing.", field="hash",
                          expected=resource.get("hash"), actual=digest))
    return data, out or [passed(check, name)]


def read_csv(ts: schemas.TableSchema, data: bytes, path: str) -> tuple[pl.DataFrame | None, list[CheckResult]]:
    """Read a published CSV (its bytes, and its path in the release) as text, then type it by the
    schema; bad cells are reported, not fatal.

    The frame is None when the file cannot be read as CSV with the schema's columns at all.
    UnsafeRelease when it exceeds a limit of `etl.shared.safety` (checked before polars sees it).
    """
    check = f"{ts.name}.types"
    safety.check_csv_limits(data, f"resource {ts.name!r}", path)
    name = Path(path).name
    try:
        text = pl.read_csv(data, infer_schema=False, empty_string_is_null=False)
    except pl.exceptions.PolarsError as exc:
        return None, [failed(check, ts.name, f"{name} is not readable CSV: {exc}")]
    text = text.rename(lambda c: c.lstrip("\ufeff"))
    missing = [n for n in ts.field_names if n not in text.columns]
    if missing:
        return None, [failed(check, ts.name, f"{name} lacks columns {missing}.", expected=ts.field_names,
                             actual=text.columns)]
    typed = text.with_columns(_cast(f["name"], f["type"]) for f in ts.fields)
    # A cell is bad when it has text but no value of its type (row numbers from the mask itself, so a
    # column of the file named like a helper column cannot get in the way).
    out, more = [], 0
    for f in ts.fields:
        name = f["name"]
        bad = ((text[name] != "") & typed[name].is_null()).arg_true()
        more += max(0, len(bad) - (MAX_FAILURES - len(out)))
        for i in bad.head(max(0, MAX_FAILURES - len(out))).to_list():
            value = text[name][i]
            out.append(failed(check, ts.name, f"row {i + 1}, {name}: 「{value}」 is not a valid {f['type']}.",
                              label=f"row {i + 1}", field=name, expected=f["type"], actual=value))
    return typed, (out + _more(check, ts.name, more)) if out else [passed(check, ts.name)]


def _cast(name: str, kind: str) -> pl.Expr:
    col = pl.col(name)
    empty = col == ""
    if kind == "integer":
        value = col.str.to_integer(strict=False)
    elif kind == "date":
        value = col.str.to_date("%Y-%m-%d", strict=False)
    elif kind == "number":
        value = col.cast(pl.Float64, strict=False)
    else:
        value = col
    return pl.when(empty).then(None).otherwise(value).alias(name)


def read_parquet(file: Path | bytes, label: str = "") -> pl.DataFrame:
    """A Parquet file as a polars frame, with every way a damaged file can fail turned into ValueError.

    The metadata's claims are checked against the limits of `etl.shared.safety` first (UnsafeRelease).
    pyarrow reads it, not polars: on damaged bytes polars' Rust reader panics (printing a Rust
    backtrace, then raising pyo3's PanicException, a BaseException), where pyarrow raises. The
    file's metadata is dropped before the frame is handed to polars, for the same reason.
    """
    data = file if isinstance(file, bytes) else Path(file).read_bytes()
    label = label or (file.name if isinstance(file, Path) else "parquet")
    safety.check_parquet_limits(data, f"resource {label!r}", label)
    try:
        # ParquetFile, not read_table: the same table, without importing pyarrow.dataset (some milliseconds a build)
        table = _decoded(pq.ParquetFile(io.BytesIO(data)), label)
        table.validate(full=True)  # e.g. strings that are not UTF-8, which the reader does not check
        frame = pl.from_arrow(pa.table(table.columns, names=table.schema.names))
    except (KeyboardInterrupt, SystemExit, safety.UnsafeRelease):
        raise
    except BaseException as exc:  # noqa: BLE001 - see docstring
        raise ValueError(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    if not isinstance(frame, pl.DataFrame):
        raise ValueError("it holds no table")
    return frame


def _decoded(file: pq.ParquetFile, label: str) -> pa.Table:
    """The file's table, read a few rows at a time while its decoded bytes are counted: the metadata's
    sizes can lie, and a dictionary lets a file of a few hundred bytes hold a megabyte for every row."""
    batches, size = [], 0
    for batch in file.iter_batches(batch_size=safety.PARQUET_BATCH_ROWS, use_threads=False):
        size += batch.nbytes
        if size > safety.MAX_DECODED_BYTES:
            raise safety.UnsafeRelease(f"resource {label!r}: its values take more than the limit of "
                                       f"{safety.MAX_DECODED_BYTES} bytes once read (its metadata claims less). "
                                       + safety.BEYOND_LIMITS)
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=file.schema_arrow)


def _parquet_matches(ts: schemas.TableSchema, data: bytes | None, path: str | None,
                     csv_frame: pl.DataFrame) -> list[CheckResult]:
    check = f"{ts.name}.parquet_matches_csv"
    file = Path(path or "?")
    if data is None:
        return [failed(check, ts.name, f"{file.name} is missing or unreadable, so it was not compared with the CSV.")]
    try:
        frame = read_parquet(data, str(path))
    except ValueError as exc:
        return [failed(check, ts.name, f"{file.name} is not readable Parquet: {exc}")]
    if frame.schema != pl.Schema(ts.polars_schema()):
        return [failed(check, ts.name, f"{file.name} has types {dict(frame.schema)}, the schema says "
                       f"{ts.polars_schema()}.", expected=str(ts.polars_schema()), actual=str(dict(frame.schema)))]
    if not frame.equals(csv_frame.select(frame.columns)):
        return [failed(check, ts.name, f"{file.name} and the CSV of {ts.name} hold different data.")]
    return [passed(check, ts.name)]


# ── the source checks, and where each check id is decided ───────────────────────────────────

# Each source check's id, and what it checks in Japanese (the HTML report shows it beside the id).
SOURCE_CHECKS = {
    RegistrationError.check: "原本が raw/datapackage.json に記録された大きさとハッシュのとおり完全",
    SourceError.check: "原本を文字として（PDF なら文字の層から）読める",
    LayoutError.check: "原本の節と表が、この資料の構成どおりに見つかる",
}


def source_result(check: str, path: Path, error: EtlError | None = None, expected: Any = None,
                  actual: Any = None) -> CheckResult:
    """`source.registered`, `source.readable`, `source.layout`: the document is the complete file
    recorded for it (etl.source.registry), reads as text or as a PDF (etl.source.text, etl.source.pdf)
    and has the document's layout (etl.extract). Those stages refuse an input with the EtlError that
    names its check (exit 2); this is the report's result for it, passed or refused."""
    if error is not None:
        return failed(check, "source", str(error), label=path.name, expected=error.expected, actual=error.actual)
    return passed(check, "source", label=path.name, expected=expected, actual=actual)


class Family(NamedTuple):
    """A family of per-table checks: its function, and what it checks in Japanese (the HTML report
    shows it beside the id)."""

    run: Callable[..., Any]
    title: str


# The per-table checks: `<table>.<kind>`, or `<table>.foreign_key.<fields>`.
FAMILIES: dict[str, Family] = {
    "schema": Family(schema_results, "型・必須・値の範囲などが Table Schema（schemas/）に合う"),
    "foreign_key": Family(foreign_key_results, "参照する値が参照先の表にある"),
    "integrity": Family(integrity_results, "ファイルの大きさと SHA-256 が datapackage.json の記録と一致する"),
    "types": Family(read_csv, "CSV の各セルが列の型で読める"),
    "files": Family(validate_release, "表の CSV と Parquet がそろっている"),
    "parquet_matches_csv": Family(_parquet_matches, "Parquet の内容が CSV と同じ"),
    "resources": Family(descriptor_results,  # datapackage.resources
                        "datapackage.json が表をそれぞれ一度ずつ、そのファイルの位置で挙げる"),
    "descriptor_schema": Family(descriptor_results, "datapackage.json に埋め込まれた Table Schema が schemas/ と同じ"),
    "formula_cells": Family(formula_results, "表計算ソフトが数式として実行するセルがない"),
    "shapes": Family(shape_results, "各セルの文字が、その列の値の形をしている（列のずれがない）"),
}


def find(check_id: str) -> Callable[..., Any]:
    """The one function that decides a check id of a report; KeyError for an id no check has."""
    named = {c.check: c.run for c in CHECKS}
    if check_id in named:
        return named[check_id]
    if check_id in SOURCE_CHECKS:
        return source_result
    return _family(check_id).run


def title(check_id: str) -> str:
    """What a check id checks, in Japanese (the named checks register theirs with @check); KeyError
    for an id no check has."""
    named = {c.check: c.title for c in CHECKS}
    if check_id in named:
        return named[check_id]
    if check_id in SOURCE_CHECKS:
        return SOURCE_CHECKS[check_id]
    return _family(check_id).title


def _family(check_id: str) -> Family:
    table, _, kind = check_id.partition(".")
    kind = kind.split(".")[0]
    tables = {"datapackage"} | {n for ts in schemas.tables() for n in (ts.name, parquet_resource_name(ts.name))}
    if table in tables and kind in FAMILIES:
        return FAMILIES[kind]
    raise KeyError(f"no check is named {check_id}")
