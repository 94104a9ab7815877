"""A release is only what is inside its folder: containment, limits and the token (etl.shared.safety, etl publish).

Commands run in-process (`etl.cli.main`) for speed. An audit hook (`sys.addaudithook`, installed
once for the session: it cannot be removed) records every `open` while a test watches, so a test
can prove that no file outside the release was opened, not only that the exit code is right.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import signal
import stat
import struct
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import DATASET, REAL, REPO, VERSION, run_etl, write_doc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loopback import serving

from etl.cli import main
from etl.errors import EtlError
from etl.shared import safety

PUBLISHED = REPO / "published"
RELEASE = PUBLISHED / DATASET / VERSION
CSV = "072036_initiatives.csv"  # a resource to damage (name "initiatives")
PARQUET = "072036_initiatives.parquet"
TOKEN = "secret-token-4f1c"

# ── the audit hook ───────────────────────────────────────────────────────────────────────

_RECORD: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _RECORD is not None and isinstance(args[0], str | bytes | os.PathLike):
        _RECORD.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)


@contextmanager
def watching() -> Iterator[list[str]]:
    """Every path opened (by Python code) inside the block."""
    global _RECORD
    opened: list[str] = []
    _RECORD = opened
    try:
        yield opened
    finally:
        _RECORD = None


def outside(opened: list[str], *inside: Path) -> list[str]:
    """The opened paths that resolve outside `inside` (and outside Python's and etl's own files).

    A relative name is what etl.shared.safety opens relative to a folder it opened before (O_NOFOLLOW,
    one component at a time): it cannot leave that folder unless it is '..' or has a '/'.
    """
    own = (sys.prefix, sys.base_prefix, REPO / "etl", REPO / "schemas", *REPO.glob("*.egg-info"), "/usr/share/zoneinfo")
    roots = [os.path.realpath(p) for p in (*inside, *own)]
    bad = []
    for p in opened:
        if not os.path.isabs(p):
            if "/" in p or p in ("..", "."):
                bad.append(p)
            continue
        real = os.path.realpath(p)
        if not any(real == r or real.startswith(r + os.sep) for r in roots):
            bad.append(p)
    return bad


def etl(capfd: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    """Run `etl ARGS` in-process: (exit code, stdout + stderr); never a traceback or internal error."""
    capfd.readouterr()
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    text = out + err
    for sign in ("Traceback", "internal error", "panicked"):
        assert sign not in text, text
    return code, text


# ── releases to damage ───────────────────────────────────────────────────────────────────


@pytest.fixture
def release(tmp_path: Path) -> Path:
    """A copy of the committed release, beside a secret file that nothing may open."""
    shutil.copytree(RELEASE, tmp_path / "release")
    (tmp_path / "secret.csv").write_bytes((RELEASE / CSV).read_bytes())
    return tmp_path / "release"


def secret(release: Path) -> Path:
    return release.parent / "secret.csv"


def set_path(release: Path, name: str, path: object) -> None:
    file = release / "datapackage.json"
    package = json.loads(file.read_text(encoding="utf-8"))
    next(r for r in package["resources"] if r["name"] == name)["path"] = path
    file.write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")


def refused(capfd: pytest.CaptureFixture[str], release: Path, *command: object) -> str:
    """`etl COMMAND… RELEASE` exits 2 without opening anything outside the release; its message."""
    with watching() as opened:
        code, text = etl(capfd, *command, release)
    assert code == 2, text
    assert outside(opened, release, RELEASE) == []
    return text


# ── containment ──────────────────────────────────────────────────────────────────────────

HOSTILE_PATHS = {
    "parent": lambda s: "../secret.csv",
    "deep-parent": lambda s: "../../../../../../.." + str(s),
    "absolute": lambda s: str(s),
    "file-url": lambda s: "file://" + str(s),
    "https-url": lambda s: "https://example.org/072036_initiatives.csv",
    "drive-letter": lambda s: "C:/secret.csv",
    "backslash": lambda s: "..\\secret.csv",
    "nul": lambda s: CSV + "\x00.txt",
    "dot-component": lambda s: "./" + CSV,
    "inner-parent": lambda s: "sub/../" + CSV,
    "empty": lambda s: "",
    "not-text": lambda s: 7,
}


@pytest.mark.parametrize("kind", list(HOSTILE_PATHS))
def test_a_resource_path_leaving_the_release_is_refused_before_reading(capfd, release: Path, kind: str) -> None:
    """'..', absolute paths, URLs, drive letters, backslashes, NUL: exit 2 naming resource and path, nothing read."""
    path = HOSTILE_PATHS[kind](secret(release))
    set_path(release, "initiatives", path)
    text = refused(capfd, release, "validate")
    assert "'initiatives'" in text and repr(path) in text


def _link_file_outside(release: Path) -> None:
    (release / CSV).unlink()
    (release / CSV).symlink_to(secret(release))


def _link_file_inside(release: Path) -> None:
    (release / CSV).unlink()
    (release / CSV).symlink_to("072036_activity_fields.csv")


def _link_folder_on_the_way(release: Path) -> None:
    elsewhere = release.parent / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(release / CSV, elsewhere / CSV)
    (release / "sub").symlink_to(elsewhere)
    set_path(release, "initiatives", f"sub/{CSV}")


def _link_descriptor(release: Path) -> None:
    shutil.move(release / "datapackage.json", release.parent / "datapackage.json")
    (release / "datapackage.json").symlink_to(release.parent / "datapackage.json")


LINKS = {"file-to-outside": _link_file_outside, "file-to-inside": _link_file_inside,
         "folder-on-the-way": _link_folder_on_the_way, "datapackage.json": _link_descriptor}


@pytest.mark.parametrize("kind", list(LINKS))
@pytest.mark.parametrize("command", ["validate", "diff"])
def test_symbolic_links_in_a_release_are_refused(capfd, release: Path, kind: str, command: str) -> None:
    """A link (to a file or folder, inside or outside) is never followed by etl validate or etl diff: exit 2."""
    LINKS[kind](release)
    text = refused(capfd, release, *(["diff", RELEASE] if command == "diff" else ["validate"]))
    assert "symbolic link" in text


def test_a_release_folder_that_is_a_link_is_refused(capfd, release: Path) -> None:
    """The release folder itself may not be a link either (to a folder or to its datapackage.json)."""
    link = release.parent / "link"
    link.symlink_to(release)
    for path in (link, link / "datapackage.json"):
        with watching() as opened:
            code, text = etl(capfd, "validate", path)
        assert code == 2 and "symbolic link" in text, text
        assert outside(opened, release) == []


def test_a_fifo_in_a_release_is_refused_without_waiting(capfd, release: Path) -> None:
    """A named pipe posing as a resource is refused at once (opening it for reading would wait forever)."""
    (release / CSV).unlink()
    os.mkfifo(release / CSV)
    def hung(*_: object) -> None:
        raise TimeoutError("opening the FIFO blocked")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)  # without O_NONBLOCK the open would block: fail the test rather than hang
    try:
        assert "not a regular file" in refused(capfd, release, "validate")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_link_swapped_in_after_the_check_is_not_followed(release: Path) -> None:
    """Files are opened with O_NOFOLLOW, folder by folder: a link planted after the check is refused."""
    (release / "sub").mkdir()
    shutil.copy(release / CSV, release / "sub" / CSV)
    assert safety.check_file(release, CSV, "x") and safety.check_file(release, f"sub/{CSV}", "x")
    _link_file_outside(release)
    shutil.rmtree(release / "sub")
    (release / "sub").symlink_to(release.parent)
    for path in (CSV, f"sub/{CSV}"):
        with watching() as opened, pytest.raises(safety.UnsafeRelease, match="symbolic link"):
            safety.read_file(release, path, "resource 'initiatives'")
        assert outside(opened, release) == []


def test_the_staged_verification_reads_nothing_outside_the_stage(release: Path) -> None:
    """`etl build`'s verification of its staging folder refuses a path leaving it (frictionless is not trusted)."""
    from etl.pipeline import verify_release

    set_path(release, "initiatives", "../secret.csv")
    with watching() as opened, pytest.raises(EtlError, match="parent folder"):
        verify_release(release)
    assert outside(opened, release) == []


# ── limits ───────────────────────────────────────────────────────────────────────────────


def _sparse(file: Path, size: int, head: bytes = b"") -> None:
    """A file of `size` bytes that costs no disk and no time to write (a hole after `head`)."""
    file.write_bytes(head)
    os.truncate(file, size)


def _huge_descriptor(release: Path) -> None:
    _sparse(release / "datapackage.json", 100 * safety.MiB, b'{"resources": [')


def _deep_descriptor(release: Path) -> None:
    (release / "datapackage.json").write_text("[" * 200_000 + "]" * 200_000)


def _nested_descriptor(release: Path) -> None:
    package = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    deep: object = "x"
    for _ in range(safety.MAX_JSON_DEPTH + 1):
        deep = {"x": deep}
    package["x-deep"] = deep
    (release / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")


def _many_fields(release: Path) -> None:
    package = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    package["resources"][0]["schema"]["fields"] = [{"name": f"f{i}", "type": "string"} for i in range(5000)]
    (release / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")


def _many_resources(release: Path) -> None:
    package = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    package["resources"] += [{"name": f"r{i}", "path": f"r{i}.csv"} for i in range(safety.MAX_RESOURCES)]
    (release / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")


def _huge_line(release: Path) -> None:
    _sparse(release / CSV, 100 * safety.MiB, (release / CSV).read_bytes().split(b"\n")[0] + b"\n")


def _long_line(release: Path) -> None:
    header = (release / CSV).read_bytes().split(b"\n")[0]
    (release / CSV).write_bytes(header + b"\n" + b"a" * (safety.MAX_LINE_BYTES + 1) + b"\n")


def _many_columns(release: Path) -> None:
    header = (release / CSV).read_bytes().split(b"\n")[0]
    (release / CSV).write_bytes(header + b"".join(b",c%d" % i for i in range(5000)) + b"\n")


def _many_rows(release: Path) -> None:
    (release / CSV).write_bytes((release / CSV).read_bytes() + b"\n" * (safety.MAX_ROWS + 1))


def _footer_patched(data: bytes, old: bytes, new: bytes) -> bytes:
    """A Parquet file with bytes of its footer (Thrift metadata) replaced, the footer length mended."""
    length = struct.unpack("<I", data[-8:-4])[0]
    body, footer = data[: -8 - length], data[-8 - length: -8]
    assert old in footer
    footer = footer.replace(old, new)
    return body + footer + struct.pack("<I", len(footer)) + b"PAR1"


def _varint(n: int) -> bytes:
    """Thrift compact protocol: a zigzag varint (i64)."""
    n, out = (n << 1) ^ (n >> 63), b""
    while True:
        out, n = out + bytes([(n & 0x7F) | (0x80 if n > 0x7F else 0)]), n >> 7
        if not n:
            return out


ROWS = 1234  # a row count whose encoding is unmistakable in the footer


def _parquet_of(rows: int) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(rows))}), buf, compression="zstd")
    return buf.getvalue()


def _billions_of_rows(release: Path) -> None:
    # num_rows of the file and of the row group, num_values of the column: field header 0x16, then the count
    data = _footer_patched(_parquet_of(ROWS), b"\x16" + _varint(ROWS), b"\x16" + _varint(3_000_000_000))
    assert pq.ParquetFile(io.BytesIO(data)).metadata.num_rows == 3_000_000_000
    (release / PARQUET).write_bytes(data)


def _huge_pages(release: Path) -> None:
    data = _parquet_of(ROWS)
    chunk = pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0)
    sizes = b"\x16" + _varint(chunk.total_uncompressed_size) + b"\x16" + _varint(chunk.total_compressed_size)
    data = _footer_patched(data, sizes, b"\x16" + _varint(2**40) + b"\x16" + _varint(2**40))
    assert pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0).total_compressed_size == 2**40
    (release / PARQUET).write_bytes(data)


def _inflating(release: Path) -> None:
    data = _parquet_of(ROWS)
    chunk = pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0)
    sizes = b"\x16" + _varint(chunk.total_uncompressed_size) + b"\x16" + _varint(chunk.total_compressed_size)
    data = _footer_patched(data, sizes, b"\x16" + _varint(2**40) + b"\x16" + _varint(chunk.total_compressed_size))
    assert pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0).total_uncompressed_size == 2**40
    (release / PARQUET).write_bytes(data)


def _many_row_groups(release: Path) -> None:
    pq.write_table(pa.table({"a": list(range(safety.MAX_ROW_GROUPS + 1))}), release / PARQUET, row_group_size=1,
                   compression="none")


LIMITS = {
    "datapackage.json of 100 MB": (_huge_descriptor, "more than the limit"),
    "datapackage.json 200,000 levels deep": (_deep_descriptor, "nested more deeply"),
    "datapackage.json deeper than the limit": (_nested_descriptor, "nested more deeply"),
    "schema of 5,000 fields": (_many_fields, "fields, more than the limit"),
    "too many resources": (_many_resources, "resources, more than the limit"),
    "CSV with a 100 MB line": (_huge_line, "more than the limit"),
    "CSV line over the limit": (_long_line, "longer than the limit"),
    "CSV of 5,000 columns": (_many_columns, "columns, more than the limit"),
    "CSV over the row limit": (_many_rows, "rows"),
    "Parquet claiming billions of rows": (_billions_of_rows, "claims 3000000000 rows"),
    "Parquet claiming huge pages": (_huge_pages, "column chunk of 1099511627776 bytes"),
    "Parquet inflating beyond the limit": (_inflating, "claims 1099511627776 bytes of data once decompressed"),
    "Parquet of too many row groups": (_many_row_groups, "row groups, the limit"),
}


@pytest.mark.parametrize("kind", list(LIMITS))
def test_hostile_but_well_formed_releases_are_refused_within_limits(capfd, release: Path, kind: str) -> None:
    """Sizes, nesting, fields, lines, rows and Parquet metadata beyond the limits: exit 2 at once, naming the limit."""
    damage, said = LIMITS[kind]
    damage(release)
    text = refused(capfd, release, "validate")
    assert said in text and "limit" in text, text


def test_a_long_header_field_within_the_line_limit_is_data_not_a_crash(capfd, release: Path) -> None:
    """A header cell of 200 KB (under the line limit; over the csv module's field limit) fails as data: exit 1."""
    header = (release / CSV).read_bytes().split(b"\n")[0]
    (release / CSV).write_bytes(header + b',"' + b"x" * 200_000 + b'"\n')
    code, text = etl(capfd, "validate", release)
    assert code == 1, text


def test_the_readme_states_every_limit() -> None:
    """Each limit of etl.shared.safety is in the README with its value, so a consumer knows what is refused."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Validating a release you downloaded", 1)[1].split("\n## ", 1)[0]
    for name in (n for n in dir(safety) if n.startswith("MAX_")):
        value = getattr(safety, name)
        shown = f"{value // safety.MiB} MiB" if value >= safety.MiB and value % safety.MiB == 0 else f"{value:,}"
        assert re.search(rf"`{name}`[^\n]*{re.escape(shown)}", section), f"{name} = {shown} is not in the README"


# ── raw/ and the catalog ─────────────────────────────────────────────────────────────────


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """A registered copy of the real document in its own raw/ folder."""
    return write_doc(tmp_path / "raw")


def _manifest_link(doc: Path) -> None:
    manifest = doc.parent / "datapackage.json"
    shutil.move(manifest, doc.parent.parent / "elsewhere.json")
    manifest.symlink_to(doc.parent.parent / "elsewhere.json")


def _document_link(doc: Path) -> None:
    shutil.move(doc, doc.parent.parent / "elsewhere.txt")
    doc.symlink_to(doc.parent.parent / "elsewhere.txt")


def _record_outside(doc: Path) -> None:
    manifest = doc.parent / "datapackage.json"
    package = json.loads(manifest.read_text(encoding="utf-8"))
    package["resources"].append({**package["resources"][0], "name": "other", "path": "../elsewhere.txt"})
    manifest.write_text(json.dumps(package), encoding="utf-8")


def _manifest_deep(doc: Path) -> None:
    (doc.parent / "datapackage.json").write_text("{\"resources\": " + "[" * 100_000 + "]" * 100_000 + "}")


RAW = {"manifest is a link": _manifest_link, "document is a link": _document_link,
       "a record outside raw/": _record_outside, "manifest nested deeply": _manifest_deep}


@pytest.mark.parametrize("kind", list(RAW))
def test_raw_datapackage_json_is_held_to_the_same_rules(capfd, raw: Path, tmp_path: Path, kind: str) -> None:
    """etl build and etl register refuse a linked manifest or document, or a record outside raw/: exit 2."""
    RAW[kind](raw)
    with watching() as opened:
        code, text = etl(capfd, "build", "--raw", raw, "--out", tmp_path / "catalog")
        assert code == 2, text
        code, text = etl(capfd, "register", raw)
        assert code == 2, text
    assert not (tmp_path / "catalog").exists()
    assert outside(opened, raw.parent) == []


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    """A copy of the committed catalog, beside a secret file."""
    shutil.copytree(PUBLISHED, tmp_path / "catalog")
    (tmp_path / "secret.csv").write_bytes((RELEASE / CSV).read_bytes())
    return tmp_path / "catalog"


def _catalog_file_link(catalog: Path) -> None:
    (catalog / DATASET / VERSION / CSV).unlink()
    (catalog / DATASET / VERSION / CSV).symlink_to(catalog.parent / "secret.csv")


def _catalog_dataset_link(catalog: Path) -> None:
    shutil.move(catalog / DATASET, catalog.parent / "elsewhere")
    (catalog / DATASET).symlink_to(catalog.parent / "elsewhere")


def _catalog_index_link(catalog: Path) -> None:
    shutil.move(catalog / "catalog.json", catalog.parent / "catalog.json")
    (catalog / "catalog.json").symlink_to(catalog.parent / "catalog.json")


def _catalog_index_outside(catalog: Path) -> None:
    index = json.loads((catalog / "catalog.json").read_text(encoding="utf-8"))
    index["datasets"][0]["releases"][0]["resources"][0]["path"] = "../secret.csv"
    (catalog / "catalog.json").write_text(json.dumps(index), encoding="utf-8")


def _catalog_latest_outside(catalog: Path) -> None:
    index = json.loads((catalog / "catalog.json").read_text(encoding="utf-8"))
    index["datasets"][0]["latest_release"]["resources"][0]["path"] = "../secret.csv"
    (catalog / "catalog.json").write_text(json.dumps(index), encoding="utf-8")


CATALOG = {"a release file is a link": _catalog_file_link, "a dataset folder is a link": _catalog_dataset_link,
           "catalog.json is a link": _catalog_index_link, "catalog.json points outside": _catalog_index_outside,
           "catalog.json's latest alias points outside": _catalog_latest_outside}


@pytest.mark.parametrize("kind", list(CATALOG))
def test_a_catalog_holding_links_or_pointing_outside_is_refused(capfd, catalog: Path, kind: str) -> None:
    """etl build (and --dry-run) refuses a catalog with links or an index leading outside: exit 2, unchanged."""
    CATALOG[kind](catalog)
    before = _snapshot(catalog)
    for extra in ([], ["--dry-run"]):
        with watching() as opened:
            code, text = etl(capfd, "build", "--raw", REAL, "--out", catalog, *extra)
        assert code == 2, text
        assert outside(opened, catalog, REAL.parent) == []
    assert _snapshot(catalog) == before


def _snapshot(folder: Path) -> dict[str, str]:
    """Like conftest.snapshot, but a link is recorded as where it points, never followed."""
    out = {}
    for path, dirs, files in os.walk(folder):
        for p in (Path(path) / name for name in dirs + files):
            out[str(p.relative_to(folder))] = (f"link to {os.readlink(p)}" if p.is_symlink() else "dir" if p.is_dir()
                                               else hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def test_a_catalog_holding_a_named_pipe_is_refused_not_waited_on(catalog: Path) -> None:
    """A FIFO where latest/ has a CSV: a build that compares or copies it would wait for ever. In a real
    process with a time limit, so that a regression fails instead of hanging the suite."""
    fifo = catalog / DATASET / "latest" / CSV
    fifo.unlink()
    os.mkfifo(fifo)
    listing = sorted(str(p.relative_to(catalog)) for p in catalog.rglob("*"))
    result = run_etl("build", "--raw", REAL, "--out", catalog, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "not a regular file" in result.stderr and "Traceback" not in result.stderr
    assert sorted(str(p.relative_to(catalog)) for p in catalog.rglob("*")) == listing
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_catalog_folder_that_is_a_link_is_refused(capfd, catalog: Path) -> None:
    """--out naming a link to a catalog is refused (exit 2): the build would write wherever it points."""
    (catalog.parent / "link").symlink_to(catalog)
    code, text = etl(capfd, "build", "--raw", REAL, "--out", catalog.parent / "link")
    assert code == 2 and "symbolic link" in text, text


# ── etl publish ──────────────────────────────────────────────────────────────────────────


class _Received(list):
    """The requests a portal received, as (path, headers); their bodies in `bodies`."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[bytes] = []


class _Recorder(BaseHTTPRequestHandler):
    """A loopback portal that records every request (path and headers) and answers from `reply`."""

    requests: _Received
    reply = staticmethod(lambda handler: (404, {"success": False, "error": {"__type": "Not Found Error"}}, {}))

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.requests.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.requests.append((self.path, dict(self.headers)))
        status, body, headers = self.reply(self)
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in {"Content-Type": "application/json", "Content-Length": str(len(data)), **headers}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def portal(reply=None) -> Iterator[tuple[str, list]]:
    """(URL, requests received) of a recording portal on a free loopback port."""
    handler = type("Portal", (_Recorder,), {"requests": _Received()})
    if reply is not None:
        handler.reply = staticmethod(reply)
    with serving(handler) as url:
        yield url, handler.requests


def publish(capfd, monkeypatch, release: Path, url: str) -> tuple[int, str]:
    monkeypatch.setenv("CKAN_API_TOKEN", TOKEN)
    monkeypatch.setenv("ETL_CKAN_TIMEOUT", "5")
    code, text = etl(capfd, "publish", release, "--ckan", url, "--organization", "koriyama")
    assert TOKEN not in text
    return code, text


@pytest.mark.parametrize("damage", ["path", "link"])
def test_publish_uploads_nothing_from_outside_the_release(capfd, monkeypatch, release: Path, damage: str) -> None:
    """A resource path leaving the release, or a link, stops etl publish (exit 2) before the portal is called."""
    if damage == "path":
        set_path(release, "initiatives", "../secret.csv")
    else:
        _link_file_outside(release)
    with portal() as (url, received), watching() as opened:
        code, text = publish(capfd, monkeypatch, release, url)
    assert code == 2, text
    assert received == [] and outside(opened, release, RELEASE) == []


def test_publish_sends_the_token_to_no_other_origin(capfd, monkeypatch) -> None:
    """A portal redirecting to another host and port: exit 3, no redirect followed, the token never printed."""
    with portal() as (other, at_other):
        elsewhere = other.replace("127.0.0.1", "localhost")  # another host name and another port
        redirect = lambda h: (307, {}, {"Location": f"{elsewhere}/api/3/action/package_show"})  # noqa: E731
        with portal(redirect) as (url, at_portal):
            code, text = publish(capfd, monkeypatch, RELEASE, url)
    assert code == 3, text
    assert "redirect" in text and "localhost" in text
    assert [h.get("Authorization") for _, h in at_portal] == [TOKEN]  # the token goes to --ckan only
    assert at_other == [], "a redirect to another origin must not be followed"


def test_a_portal_echoing_the_token_does_not_get_it_printed(capfd, monkeypatch) -> None:
    """A portal error message that repeats the Authorization header is shown with the token masked."""
    echo = lambda h: (403, {"success": False, "error": {"__type": "Authorization Error",  # noqa: E731
                                                        "message": f"bad key {h.headers.get('Authorization')}"}}, {})
    with portal(echo) as (url, _):
        code, text = publish(capfd, monkeypatch, RELEASE, url)
    assert code == 3 and "bad key ***" in text, text


def _accepting_uploads(handler) -> tuple[int, dict, dict]:
    """A portal that has no dataset yet, creates the one asked for and takes every upload."""
    if handler.path.endswith("/package_create"):
        return 200, {"success": True, "result": {"id": "edition", "name": "edition", "resources": []}}, {}
    if handler.path.endswith("/resource_create"):
        return 200, {"success": True, "result": {"id": f"r{len(handler.requests)}"}}, {}
    return 404, {"success": False, "error": {"__type": "Not Found Error"}}, {}


def test_publish_sends_no_file_that_changed_after_it_was_validated(capfd, monkeypatch, release: Path) -> None:
    """A release file replaced between `etl validate` and its upload: exit 3, and nothing is uploaded."""
    import etl.portal.ckan

    validated = etl.portal.ckan.validate_release

    def validate_then_replace(root: Path):
        report = validated(root)
        changed = (release / CSV).read_bytes().replace(b",2400,", b",2500,")
        assert changed != (release / CSV).read_bytes()
        (release / CSV).write_bytes(changed)
        return report

    monkeypatch.setattr(etl.portal.ckan, "validate_release", validate_then_replace)
    with portal(_accepting_uploads) as (url, received):
        code, text = publish(capfd, monkeypatch, release, url)
    assert code == 3, text
    assert f"{CSV} changed after it was validated" in text and "not uploaded:" in text
    assert any(p.endswith("/resource_create") for p, _ in received)  # the files before it went up
    assert not any(b",2500," in body for body in received.bodies)  # the changed file never did


def test_publish_refuses_a_resource_on_the_path_of_the_report(capfd, monkeypatch, release: Path) -> None:
    """report.html and datapackage.json are the portal's own files of an edition: no resource may take them."""
    (release / CSV).rename(release / "report.html")
    set_path(release, "initiatives", "report.html")
    with portal() as (url, received):
        code, text = publish(capfd, monkeypatch, release, url)
    # etl validate, which publish runs first, finds the resource at another file than its table's
    assert code == 1 and "resource 'initiatives' is 'report.html' (csv)" in text, text
    assert received == []


# ── random damaged releases ──────────────────────────────────────────────────────────────

FILES = sorted(p.name for p in RELEASE.iterdir())
PARQUETS = [n for n in FILES if n.endswith(".parquet")]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=12)
RESOURCE = st.dictionaries(st.sampled_from(["name", "path", "format", "hash", "bytes", "x-bytes", "schema"]),
                           JSON | st.sampled_from(FILES), max_size=6)
# One damage as plain values, so that a failing example reads as a recipe; indexes are taken modulo.
DAMAGE = st.one_of(
    st.tuples(st.just("path"), st.integers(0, 99), st.sampled_from([*HOSTILE_PATHS, "missing", "other"])),
    st.tuples(st.just("field"), st.integers(0, 99), st.sampled_from(["name", "format", "hash", "bytes", "schema"]),
              JSON),
    st.tuples(st.just("link"), st.integers(0, 99), st.sampled_from(["secret", "inside", "dangling", "folder"])),
    st.tuples(st.just("size"), st.integers(0, 99), st.sampled_from(["truncate", "append", "sparse"]),
              st.integers(0, 5000)),
    st.tuples(st.just("json"), st.one_of(st.binary(max_size=64), JSON, st.integers(1, 5000),
                                         st.fixed_dictionaries({"resources": st.lists(RESOURCE, max_size=3)}))),
    st.tuples(st.just("parquet"), st.integers(0, 99), st.integers(0, 10**6), st.integers(0, 255)),
)


def damage(release: Path, op: tuple) -> None:
    """Apply one DAMAGE to a release copy (beside its secret)."""
    kind, files = op[0], sorted(p.name for p in release.iterdir() if p.is_file() and not p.is_symlink())
    if kind in ("path", "field"):
        try:
            package = json.loads((release / "datapackage.json").read_bytes())
        except (OSError, ValueError, RecursionError):  # damaged by an earlier op: nothing to re-point
            return
        listed = package.get("resources") if isinstance(package, dict) else None
        resources = [r for r in listed if isinstance(r, dict)] if isinstance(listed, list) else []
        if not resources:
            return
        resource = resources[op[1] % len(resources)]
        make = HOSTILE_PATHS.get(op[2])
        if kind == "field":
            resource[op[2]] = op[3]
        else:
            resource["path"] = (make(secret(release)) if make else "missing.csv" if op[2] == "missing"
                                else FILES[op[1] % len(FILES)])
        (release / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")
    elif kind == "link" and files:
        file = release / files[op[1] % len(files)]
        file.unlink()
        target = {"secret": secret(release), "inside": release / files[0], "dangling": release.parent / "none",
                  "folder": release.parent}[op[2]]
        file.symlink_to(target)
    elif kind == "size" and files:
        file = release / files[op[1] % len(files)]
        if op[2] == "truncate":
            os.truncate(file, op[3] % (file.stat().st_size + 1))
        elif op[2] == "append":
            with open(file, "ab") as handle:
                handle.write(b"\n,\"x" * op[3])
        else:
            os.truncate(file, safety.MAX_FILE_BYTES + 1)
    elif kind == "json":
        value = op[1]
        data = value if isinstance(value, bytes) else ("[" * value + "]" * value if isinstance(value, int)
                                                        and not isinstance(value, bool) else json.dumps(value))
        (release / "datapackage.json").write_bytes(data if isinstance(data, bytes) else data.encode())
    elif kind == "parquet":
        file = release / PARQUETS[op[1] % len(PARQUETS)]
        if file.is_file() and not file.is_symlink() and file.stat().st_size:
            data = bytearray(file.read_bytes())
            data[op[2] % len(data)] = op[3]
            file.write_bytes(bytes(data))


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(DAMAGE, min_size=1, max_size=3))
def test_random_damaged_releases_fail_cleanly_and_read_nothing_outside(capfd, ops: list[tuple]) -> None:
    """Damaged paths, links, sizes, JSON and Parquet bytes: exit 0/1/2, no traceback, nothing outside opened."""
    with tempfile.TemporaryDirectory() as tmp:
        release = Path(tmp) / "release"
        shutil.copytree(RELEASE, release)
        secret(release).write_bytes((RELEASE / CSV).read_bytes())
        for op in ops:
            damage(release, op)
        for command in (["validate", release], ["diff", RELEASE, release]):
            with watching() as opened:
                code, text = etl(capfd, *command)
            assert code in {0, 1, 2}, text
            assert outside(opened, release, RELEASE) == [], text
