"""A release is only what is inside its folder: containment and size limits for files read from it.

`etl validate` is what a consumer runs on a release downloaded from anywhere, so nothing in a
release is trusted: a resource path must be a plain relative path (no parent reference, absolute
path, URL or scheme, drive letter, backslash or NUL), and no symbolic link may be on the way (the
release folder, a folder on the path, the file itself). Everything is checked before anything is
read, and files are then opened component by component with O_NOFOLLOW, relative to the folder
already opened, so that a link swapped in meanwhile is refused rather than followed.

The limits are far beyond any real release (the real one is about a hundred kilobytes in a score of files) and keep a hostile
but well-formed release from costing unbounded time or memory.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from etl.errors import UsageError

MiB = 1024 * 1024
MAX_DESCRIPTOR_BYTES = 8 * MiB  # datapackage.json / catalog.json (the real one: tens of kilobytes)
MAX_JSON_DEPTH = 32  # nesting of datapackage.json (the real one: 7)
MAX_RESOURCES = 500  # resources in one release (the real one: 20)
MAX_FIELDS = 500  # fields of one schema, columns of one CSV or Parquet file (the real maximum: about a dozen)
MAX_FILE_BYTES = 64 * MiB  # one CSV or Parquet file (the real largest: 10 KB)
MAX_RELEASE_BYTES = 256 * MiB  # all files of one release together (the real one: 120 KB)
MAX_SOURCE_BYTES = 64 * MiB  # the source document, a PDF or its text (the city's text: some kilobytes)
MAX_LINE_BYTES = 1 * MiB  # one line of a CSV file (the real longest: under 1 KB)
MAX_ROWS = 100_000  # rows of one table, counted in the CSV or claimed by Parquet metadata (the real
# maximum: 107); checking that many bad rows takes about 0.5 GB, a million took 2.5 GB
MAX_ROW_GROUPS = 10_000  # row groups of one Parquet file
MAX_UNCOMPRESSED_BYTES = 256 * MiB  # what one Parquet file's metadata says it decompresses to
MAX_DECODED_BYTES = 256 * MiB  # what its values take once read, counted batch by batch (the real: 10 KB)
PARQUET_BATCH_ROWS = 64  # rows read at a time: a batch of values each as large as the file allows stays small

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DRIVE = re.compile(r"^[A-Za-z]:")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
# O_NONBLOCK: opening a FIFO planted in a release must not wait forever for a writer.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class UnsafeRelease(UsageError):
    """A release (or catalog, or raw/ folder) refers outside itself, or exceeds a limit (exit 2)."""


CONTAINED = ("A release is only what is inside its folder: every resource must be a plain file in it, named "
             "by a relative path without '..', and no file or folder of it may be a symbolic link.")
BEYOND_LIMITS = ("The limits (README, 'Validating a release you downloaded') are far beyond any real release: "
                 "the file is damaged, or made to exhaust the reader.")


def _refuse(what: str, path: object, why: str, hint: str = CONTAINED) -> UnsafeRelease:
    return UnsafeRelease(f"{what} (path {path!r}) is refused: {why}. {hint}")


def _too_large(what: str, path: object, why: str) -> UnsafeRelease:
    return _refuse(what, path, why, BEYOND_LIMITS)


def path_parts(path: object, what: str) -> tuple[str, ...]:
    """The components of a resource path, or UnsafeRelease when it could point outside the folder."""
    if not isinstance(path, str) or not path:
        raise _refuse(what, path, "the path must be a non-empty text")
    if "\x00" in path:
        raise _refuse(what, path, "the path contains a NUL character")
    if "\\" in path:
        raise _refuse(what, path, "the path contains a backslash (a Windows path)")
    if _DRIVE.match(path):
        raise _refuse(what, path, "the path starts with a drive letter")
    if _SCHEME.match(path) or "://" in path:
        raise _refuse(what, path, "the path is a URL; only files inside the release are read")
    if path.startswith("/"):
        raise _refuse(what, path, "the path is absolute")
    parts = tuple(path.split("/"))
    if ".." in parts:
        raise _refuse(what, path, "the path refers to a parent folder ('..')")
    if any(p in ("", ".") for p in parts):
        raise _refuse(what, path, "the path has an empty or '.' component")
    return parts


def check_not_link(path: Path, what: str) -> None:
    """UnsafeRelease when `path` itself is a symbolic link (a missing path is left to the caller)."""
    try:
        is_link = stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return
    if is_link:
        raise _refuse(what, str(path), "it is a symbolic link")


def check_file(root: Path, path: object, what: str) -> bool:
    """Containment of one resource, checked without reading it: True when it exists as a regular file.

    False when it is missing (the caller reports that as data); UnsafeRelease when the path or
    anything on the way is unsafe, or the file is not a regular file.
    """
    parts = path_parts(path, what)
    check_not_link(root, f"the release folder of {what}")
    here = Path(root)
    for i, part in enumerate(parts):
        here = here / part
        try:
            mode = os.lstat(here).st_mode
        except OSError:
            return False
        if stat.S_ISLNK(mode):
            on_the_way = "a folder on its path" if i < len(parts) - 1 else "the file"
            raise _refuse(what, path, f"{on_the_way} ({'/'.join(parts[:i + 1])}) is a symbolic link")
        if i < len(parts) - 1 and not stat.S_ISDIR(mode):
            return False
    if not stat.S_ISREG(mode):
        raise _refuse(what, path, "it is not a regular file")
    return True


@contextmanager
def open_file(root: Path, path: str, what: str, limit: int = MAX_FILE_BYTES) -> Iterator[tuple[BinaryIO, int]]:
    """(handle, size) of a release file, opened without following any link; refused above `limit`.

    FileNotFoundError when it is missing. Each folder is opened relative to the one before it, so
    no component can be swapped for a link between the check and the open.
    """
    parts = path_parts(path, what)
    fds = []
    try:
        try:
            fds.append(_open_folder(str(root), None, what, path))
            for part in parts[:-1]:
                fds.append(_open_folder(part, fds[-1], what, path))
            fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=fds[-1])
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link
                raise _refuse(what, path, "a symbolic link is on the way") from None
            raise
        handle = os.fdopen(fd, "rb")
    finally:
        for d in fds:
            os.close(d)
    with handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(what, path, "it is not a regular file")
        if info.st_nlink > 1:  # another name of the same file, which may lie outside the folder
            raise _refuse(what, path, f"it is a hard link ({info.st_nlink} names for one file)")
        if info.st_size > limit:
            raise _too_large(what, path, f"it has {info.st_size} bytes, more than the limit of {limit} bytes "
                                      "that no real release comes near")
        yield handle, info.st_size


def _open_folder(name: str, parent: int | None, what: str, path: str) -> int:
    """A folder (inside the one open as `parent`); a link is refused (Linux says ENOTDIR or ELOOP)."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP) and stat.S_ISLNK(os.lstat(name, dir_fd=parent).st_mode):
            which = "the release folder" if parent is None else f"a folder on its path ({name})"
            raise _refuse(what, path, f"{which} is a symbolic link") from None
        raise


def read_file(root: Path, path: str, what: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a release file (see `open_file`); never more than `limit`, even if it grows."""
    with open_file(root, path, what, limit) as (handle, _size):
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise _too_large(what, path, f"it grew beyond the limit of {limit} bytes while being read")
    return data


# ── what is inside a file ───────────────────────────────────────────────────────────────


def load_json(data: bytes, what: str) -> Any:
    """JSON within the size and nesting limits; ValueError (with the reason) when it is not JSON."""
    if len(data) > MAX_DESCRIPTOR_BYTES:
        raise UnsafeRelease(f"{what} has {len(data)} bytes, more than the limit of {MAX_DESCRIPTOR_BYTES}. "
                            + BEYOND_LIMITS)
    try:
        value = json.loads(data.decode("utf-8"))
    except RecursionError:  # Python's parser recurses once per level
        raise UnsafeRelease(_too_deep(what)) from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise UnsafeRelease(_too_deep(what))
    return value


def _too_deep(what: str) -> str:
    return f"{what} is nested more deeply than the limit of {MAX_JSON_DEPTH} levels. {BEYOND_LIMITS}"


def _depth(value: Any) -> int:
    """Nesting depth, iteratively (a recursive walk is what the limit protects against)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_JSON_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


# The profiles a descriptor may name in `$schema` (frictionless knows them; it would fetch any other).
PROFILES = {f"https://datapackage.org/profiles/{v}/{p}.json" for v in ("1.0", "2.0")
            for p in ("datapackage", "dataresource", "tableschema", "tabledialect")}
V1_PROFILES = {"data-package", "tabular-data-package", "data-resource", "tabular-data-resource", "table-schema"}


def check_no_remote_references(package: dict[str, Any], what: str) -> None:
    """Nothing in a descriptor makes a reader fetch anything: no `$ref`, no schema or dialect given by
    path or URL instead of inline, no `$schema` or `profile` beyond the standard ones."""
    stack: list[tuple[Any, str]] = [(package, "")]
    while stack:
        item, where = stack.pop()
        children = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, value in children:
            at = f"{where}/{key}"
            if key == "$ref" or (key in ("schema", "dialect") and isinstance(value, str)) \
                    or (key == "$schema" and (not isinstance(value, str) or value not in PROFILES)) \
                    or (key == "profile" and isinstance(value, str) and value not in V1_PROFILES | PROFILES):
                raise UnsafeRelease(f"{what} is refused: {at} is {str(value)[:200]!r}, which a reader would fetch "
                                    "or open; a descriptor gives its schemas and dialects inline, and nothing "
                                    "in it is fetched.")
            stack.append((value, at))


def check_descriptor_limits(package: dict[str, Any], what: str) -> None:
    """Resource and field counts of a datapackage.json, and nothing it refers to that a reader would
    fetch (check_no_remote_references), before any resource is looked at."""
    check_no_remote_references(package, what)
    resources = package.get("resources") or []
    if len(resources) > MAX_RESOURCES:
        raise UnsafeRelease(f"{what} lists {len(resources)} resources, more than the limit of {MAX_RESOURCES}. "
                            + BEYOND_LIMITS)
    for r in resources:
        fields = (r.get("schema") or {}).get("fields") if isinstance(r.get("schema"), dict) else None
        if isinstance(fields, list) and len(fields) > MAX_FIELDS:
            raise UnsafeRelease(f"{what}: resource {r.get('name')!r} (path {r.get('path')!r}) has a schema of "
                                f"{len(fields)} fields, more than the limit of {MAX_FIELDS}. {BEYOND_LIMITS}")


def release_descriptor(path: Path) -> tuple[Path, dict[str, Any]]:
    """The release folder and its datapackage.json, from either path.

    Every resource's path is checked to stay inside the folder (see the module's docstring) before any
    file of the release is read; UnsafeRelease (exit 2) when one does not.
    """
    path = Path(path)
    check_not_link(path, f"the release {path}")
    root, name = (path, "datapackage.json") if path.is_dir() else (path.parent, path.name)
    file = root / name
    try:
        data = read_file(root, name, f"the descriptor {file}", MAX_DESCRIPTOR_BYTES)
    except OSError:
        raise UsageError(f"{path}: no datapackage.json here. Pass a release folder or its datapackage.json.") from None
    try:
        package = load_json(data, str(file))
    except ValueError as exc:
        raise UsageError(f"{file} is not valid JSON ({exc}).") from None
    resources = package.get("resources") if isinstance(package, dict) else None
    if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
        raise UsageError(f"{file} is not a data package: it needs a list of resources.")
    unnamed = next((r.get("name") for r in resources if not isinstance(r.get("name"), str)), None)
    if unnamed is not None or not all(isinstance(r.get("name"), str) for r in resources):
        raise UsageError(f"{file} is not a data package: every resource needs a name (text), not {unnamed!r}.")
    check_descriptor_limits(package, str(file))
    for r in resources:
        check_file(root, r.get("path"), f"resource {r.get('name')!r} of {file}")
    return root, package


def check_csv_limits(data: bytes, what: str, path: str) -> None:
    """Line length, line count and columns of a CSV, by scanning its bytes before any parser sees them."""
    start, lines, longest = 0, 0, 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        longest = max(longest, end - start)
        if longest > MAX_LINE_BYTES:
            raise _too_large(what, path, f"line {lines + 1} is longer than the limit of {MAX_LINE_BYTES} bytes")
        lines += 1
        if lines > MAX_ROWS + 1:
            raise _too_large(what, path, f"it has more than the limit of {MAX_ROWS} rows")
        start = end + 1
    columns = _header_columns(data, what, path)
    if columns > MAX_FIELDS:
        raise _too_large(what, path, f"its header has {columns} columns, more than the limit of {MAX_FIELDS}")


def _header_columns(data: bytes, what: str, path: str) -> int:
    """The columns of the header record as a CSV parser sees it: a field that starts with a quote runs
    to its closing quote, line breaks included (`a,"` ⏎ `",b,c,…`), so the record ends at the first
    line break outside such a field, and it may be at most MAX_LINE_BYTES long. A quote inside a
    field is text, as for polars. (Not the csv module: it refuses a field over 128 KiB.)"""
    head, i, columns = data[: MAX_LINE_BYTES + 1], 0, 1
    newline = head.find(b"\n")
    while True:
        if head[i:i + 1] == b'"':  # a quoted field: to the closing quote (a doubled one is text)
            close = head.find(b'"', i + 1)
            while close != -1 and head[close + 1:close + 2] == b'"':
                close = head.find(b'"', close + 2)
            if close == -1:
                break  # the quote runs past the head: the record is longer than a line may be
            i = close + 1
            if newline != -1 and newline < i:
                newline = head.find(b"\n", i)
        comma = head.find(b",", i)
        if newline != -1 and (comma == -1 or newline < comma):
            return columns  # the header record ends here
        if comma == -1:
            break
        columns, i = columns + 1, comma + 1
    if len(data) > MAX_LINE_BYTES:
        raise _too_large(what, path, f"its header record is longer than the limit of {MAX_LINE_BYTES} bytes "
                                     "(a quoted field carries it over its line breaks)")
    return columns


def check_parquet_limits(data: bytes, what: str, path: str) -> None:
    """What a Parquet file's metadata claims (rows, row groups, columns, sizes), before its data is read.

    A few bytes of metadata can claim billions of rows or column chunks larger than the file; a
    reader believing them would allocate accordingly. ValueError when the footer cannot be read.
    """
    import pyarrow.parquet as pq

    try:
        _check_parquet_metadata(pq.ParquetFile(io.BytesIO(data)).metadata, len(data), what, path)
    except UnsafeRelease:
        raise
    except Exception as exc:  # noqa: BLE001 - any damage to the footer; reported by the caller
        raise ValueError(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None


def _check_parquet_metadata(meta: Any, size: int, what: str, path: str) -> None:
    if meta.num_rows > MAX_ROWS or meta.num_rows < 0:
        raise _too_large(what, path, f"its metadata claims {meta.num_rows} rows, the limit is {MAX_ROWS}")
    if meta.num_row_groups > MAX_ROW_GROUPS:
        raise _too_large(what, path, f"it has {meta.num_row_groups} row groups, the limit is {MAX_ROW_GROUPS}")
    if meta.num_columns > MAX_FIELDS:
        raise _too_large(what, path, f"it has {meta.num_columns} columns, the limit is {MAX_FIELDS}")
    rows, uncompressed = 0, 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        rows += group.num_rows
        for c in range(group.num_columns):
            chunk = group.column(c)
            if not 0 <= chunk.total_compressed_size <= size or chunk.num_values > MAX_ROWS:
                raise _too_large(what, path, f"its metadata claims a column chunk of {chunk.total_compressed_size} "
                                          f"bytes and {chunk.num_values} values in a file of {size} bytes")
            uncompressed += max(chunk.total_uncompressed_size, 0)
    if rows != meta.num_rows:
        raise _too_large(what, path, f"its row groups hold {rows} rows, its metadata claims {meta.num_rows}")
    if uncompressed > MAX_UNCOMPRESSED_BYTES:
        raise _too_large(what, path, f"its metadata claims {uncompressed} bytes of data once decompressed, "
                                  f"the limit is {MAX_UNCOMPRESSED_BYTES}")


# ── a catalog folder ────────────────────────────────────────────────────────────────────


def check_catalog(catalog: Path) -> None:
    """No symbolic link or special file anywhere in a catalog, and no path in its indexes or releases
    pointing outside."""
    catalog = Path(catalog)
    hint = ("A catalog holds only the releases and indexes the build writes, so nothing in it may point "
            "elsewhere: pass the real folder, or replace the link by the files themselves.")
    if catalog.is_symlink():
        raise UnsafeRelease(f"the catalog folder {catalog} is a symbolic link. {hint}")
    if not catalog.is_dir():
        return
    descriptors = []
    for folder, dirs, files in os.walk(catalog):
        for name in dirs + files:
            full = Path(folder) / name
            if full.is_symlink():
                raise UnsafeRelease(f"the catalog {catalog} holds a symbolic link, {full.relative_to(catalog)} "
                                    f"(to {os.readlink(full)}). {hint}")
            if name in files and not full.is_file():  # a named pipe or a device: reading it waits, or never ends
                raise UnsafeRelease(f"the catalog {catalog} holds {full.relative_to(catalog)}, which is not a "
                                    "regular file (a named pipe, a socket or a device). A catalog holds only the "
                                    "files the build writes: remove it, or pass another --out.")
            if name in ("datapackage.json", "catalog.json"):
                descriptors.append(full)
    for file in descriptors:
        _check_index_paths(catalog, file)


def _check_index_paths(catalog: Path, file: Path) -> None:
    rel = str(file.relative_to(catalog))
    try:
        content = load_json(read_file(file.parent, file.name, f"{rel} in the catalog", MAX_DESCRIPTOR_BYTES), rel)
    except (OSError, ValueError):
        return  # unreadable: a broken release is left out of the index, a broken index rewritten
    for where, path in _resource_paths(content):
        if path is not None:  # a release without paths is left out of the index, not a danger
            path_parts(path, f"{rel} in the catalog {catalog}, {where},")


def _resource_paths(content: Any) -> Iterator[tuple[str, Any]]:
    """The file paths of a datapackage.json (its resources) or of catalog.json (releases, resources)."""
    def items(value: Any, key: str) -> list[dict[str, Any]]:
        listed = value.get(key) if isinstance(value, dict) else None
        return [x for x in listed if isinstance(x, dict)] if isinstance(listed, list) else []

    for resource in items(content, "resources"):
        yield f"resource {resource.get('name')!r}", resource.get("path")
    for dataset in items(content, "datasets"):
        # The releases, and the folders rewritten with every build: the latest alias and the cumulative tables.
        derived = [dataset[k] for k in ("latest_release", "cumulative") if isinstance(dataset.get(k), dict)]
        for release in items(dataset, "releases") + derived:
            yield f"release {release.get('version')!r}", release.get("path")
            for resource in items(release, "resources"):
                yield f"resource {resource.get('name')!r} of release {release.get('version')!r}", resource.get("path")
