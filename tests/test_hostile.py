"""Hostile inputs, second round (issue 22): what passes `etl validate` is exactly what was checked, read
only from regular files, and shown without raw control characters.

Each test names the row of the issue's table it answers, and fails without its fix.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import DATASET, REAL, REPO, VERSION, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loopback import serving

from etl.cli import main

RELEASE = REPO / "published" / DATASET / VERSION
CSV = "072036_initiatives.csv"


def etl(capfd: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    """`etl ARGS` in this process: (exit code, stdout + stderr), never a traceback or an internal error."""
    capfd.readouterr()
    code = main([str(a) for a in args])
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "internal error" not in out + err, out + err
    return code, out + err


@pytest.fixture
def release(tmp_path: Path) -> Path:
    shutil.copytree(RELEASE, tmp_path / "release")
    return tmp_path / "release"


def _with(release: Path, change) -> Path:
    descriptor = release / "datapackage.json"
    package = json.loads(descriptor.read_text(encoding="utf-8"))
    change(package)
    descriptor.write_text(json.dumps(package, ensure_ascii=False, indent=2), encoding="utf-8")
    return release


# ── row 13: --raw a FIFO or a device ──────────────────────────────────────────────────────


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_source_that_is_not_a_regular_file_is_refused_at_once(capfd, tmp_path: Path, kind: str) -> None:
    """Row 13: --raw a named pipe (which blocked for ever) or /dev/zero (read until MemoryError): exit 2 at once."""
    if kind == "fifo":
        source = tmp_path / "koriyama-renkei-kyotei-2023-02-10.txt"
        os.mkfifo(source)
    else:
        source = Path("/dev/zero")
    done: list[tuple[int, str]] = []
    worker = threading.Thread(target=lambda: done.append(
        etl(capfd, "build", "--raw", source, "--out", tmp_path / "catalog", "--dry-run")), daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(20)
    assert done, f"etl build --raw {source} was still running after 20 s"
    code, text = done[0]
    assert code == 2 and "not a regular file" in text and time.monotonic() - started < 20, text
    assert not (tmp_path / "catalog").exists()


def test_a_source_beyond_the_size_limit_is_refused(capfd, tmp_path: Path, monkeypatch) -> None:
    """Row 13: a source document larger than MAX_SOURCE_BYTES is refused with exit 2 before it is read."""
    from etl.source import text

    monkeypatch.setattr(text, "MAX_SOURCE_BYTES", 1000)
    code, out = etl(capfd, "build", "--raw", REAL, "--out", tmp_path / "catalog", "--dry-run")
    assert code == 2 and "more than the limit of 1000" in out, out


# ── row 10: a hard link to a file outside the release ───────────────────────────────────────


def test_a_release_file_that_is_a_hard_link_is_refused(capfd, release: Path, tmp_path: Path) -> None:
    """Row 10: a release file hard-linked to a file outside the release is refused with exit 2, unread, as a
    symbolic link is (its hash was printed, its first line shown in the JSON and the HTML)."""
    outside = tmp_path / "outside.csv"
    outside.write_bytes(b"secret,line\n1,2\n")
    (release / CSV).unlink()
    os.link(outside, release / CSV)
    before = snapshot(tmp_path)
    for args in (["validate", release, "--report", tmp_path / "r.json"],
                 ["report", release, "--html", tmp_path / "p.html"]):
        code, text = etl(capfd, *args)
        assert code == 2 and "hard link" in text and "secret" not in text, text
    assert not (tmp_path / "p.html").exists()
    assert {k: v for k, v in snapshot(tmp_path).items() if k != "r.json"} == before


# ── row 11: a descriptor naming a URL ────────────────────────────────────────────────────


@contextmanager
def counting() -> Iterator[tuple[str, list[str]]]:
    """(URL, paths requested) of a loopback listener that counts the requests it gets (answering `{}`)."""
    from http.server import BaseHTTPRequestHandler

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url, hits


@pytest.mark.parametrize("key", ["dialect", "schema", "$ref", "$schema", "profile"])
def test_a_source_record_naming_a_url_is_refused_and_nothing_is_fetched(capfd, tmp_path: Path, key: str) -> None:
    """Row 11: raw/datapackage.json whose record gives its dialect, schema, a $ref or a profile as a URL: exit 2,
    and the loopback listener gets no request (frictionless fetched it, and the build exited 0 on `{}`)."""
    from conftest import write_doc

    doc = write_doc(tmp_path / "raw")
    manifest = doc.parent / "datapackage.json"
    with counting() as (url, hits):
        package = json.loads(manifest.read_text(encoding="utf-8"))
        package["resources"][0][key] = f"{url}/{key.strip('$')}.json"
        manifest.write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")
        code, text = etl(capfd, "build", "--raw", doc, "--out", tmp_path / "catalog")
    assert code == 2 and "nothing in it is fetched" in text and hits == [], (text, hits)
    assert not (tmp_path / "catalog").exists()


@pytest.mark.parametrize("where", ["resource schema", "resource dialect", "package $schema"])
def test_a_release_naming_a_url_is_refused_and_nothing_is_fetched(capfd, release: Path, where: str) -> None:
    """Row 11: a release whose descriptor names a URL for a schema, a dialect or its profile: exit 2 for
    validate, report and publish alike, and no request reaches the listener."""
    with counting() as (url, hits):
        def change(package: dict) -> None:
            if where == "package $schema":
                package["$schema"] = f"{url}/profile.json"
            else:
                package["resources"][0][where.split()[1]] = f"{url}/{where.split()[1]}.json"
        _with(release, change)
        for args in (["validate", release], ["report", release, "--html", release.parent / "p.html"]):
            code, text = etl(capfd, *args)
            assert code == 2 and "nothing in it is fetched" in text, text
    assert hits == []


# ── rows 1 and 2: what is validated is what is published ─────────────────────────────────


def _evil_twin(release: Path) -> None:
    """Row 1: a first resource named like the real one, pointing at evil.csv (correct hash, count −999, a formula)."""
    real = (release / "072036_agreement_counts.csv").read_bytes()
    evil = real.replace(b",14,", b",-999,").replace("人事".encode(), b'=HYPERLINK("http://x")', 1)
    (release / "evil.csv").write_bytes(evil)
    (release / "notes.csv").write_bytes(b"note\n<script>alert(1)</script>\n")

    def change(package: dict) -> None:
        import hashlib

        first = next(r for r in package["resources"] if r["name"] == "agreement_counts")
        twin = {**first, "path": "evil.csv", "bytes": len(evil), "hash": "sha256:" + hashlib.sha256(evil).hexdigest()}
        notes = {"name": "notes", "path": "notes.csv", "format": "csv", "bytes": 37,
                 "hash": "sha256:" + hashlib.sha256((release / "notes.csv").read_bytes()).hexdigest()}
        package["resources"][:0] = [twin, notes]
    _with(release, change)


def test_two_resources_with_one_name_and_an_extra_one_are_refused(capfd, release: Path) -> None:
    """Row 1: etl validate passed 68/68 (frictionless: names not unique) and etl publish uploaded evil.csv too.
    Now: exit 1 naming the twice-used name and the resource that is no table; publish sends nothing."""
    _evil_twin(release)
    code, text = etl(capfd, "validate", release)
    assert code == 1, text
    assert "resource name 'agreement_counts' is given 2 times (paths evil.csv, 072036_agreement_counts.csv)" in text
    assert "resource 'notes' (notes.csv) is not one of the release's tables" in text


@pytest.mark.parametrize("tamper", ["type and pattern", "no primary key", "foreign key to nothing", "a field less"])
def test_a_descriptor_whose_schema_is_not_schemas_is_refused(capfd, release: Path, tamper: str) -> None:
    """Row 2: the descriptor's own Table Schema tampered (協定数 a string with pattern x+, no primaryKey, a foreign
    key to a missing resource): etl validate exited 0 (frictionless: INVALID). Now exit 1 naming the table."""
    def change(package: dict) -> None:
        for r in (r for r in package["resources"] if r["name"] in ("agreement_counts", "agreement_counts_parquet")):
            schema = r["schema"]
            if tamper == "type and pattern":
                field = next(f for f in schema["fields"] if f["name"] == "協定数")
                field.update(type="string", constraints={"pattern": "x+"})
            elif tamper == "no primary key":
                schema.pop("primaryKey", None)
            elif tamper == "foreign key to nothing":
                schema["foreignKeys"] = [{"fields": ["時点"], "reference": {"resource": "missing", "fields": ["x"]}}]
            else:
                schema["fields"].pop()
    _with(release, change)
    code, text = etl(capfd, "validate", release)
    assert code == 1 and "descriptor_schema" in text and "is not the one of schemas/" in text, text


# ── row 9: escape sequences in a cell ────────────────────────────────────────────────────

ESCAPES = "\x1b]52;c;ZXZpbA==\x07\x1b[1A\x1b[32m67 checks ran, 67 passed, 0 failed.\x1b[0m\r\x9b2J"


def _rehash(release: Path, name: str) -> None:
    import hashlib

    data = (release / name).read_bytes()
    _with(release, lambda p: next(r for r in p["resources"] if r["path"] == name).update(
        bytes=len(data), hash="sha256:" + hashlib.sha256(data).hexdigest()))


@pytest.mark.parametrize("column", ["a number", "a text"])
def test_control_characters_in_a_cell_are_shown_escaped(capfd, release: Path, tmp_path: Path, column: str) -> None:
    """Row 9: an OSC 52 clipboard write, a cursor move and a fake green summary in a cell reached the terminal
    raw through validate, diff and report. Now every output shows them escaped (\\x1b), JSON and HTML too."""
    csv = release / CSV
    text = csv.read_text(encoding="utf-8")
    if column == "a number":  # 予算額_千円 of the first initiative: a bad integer, echoed by the types check
        text = text.replace(",2400,", f',"{ESCAPES}",', 1)
    else:  # 協定名称 of the first initiative: a text that the diff shows
        text = text.replace("子ども食堂の支援協力に関する協定", f'"子ども食堂{ESCAPES}"', 1)
    csv.write_text(text, encoding="utf-8")
    _rehash(release, CSV)
    outputs = []
    for args in (["validate", release, "--report", tmp_path / "v.json"], ["diff", RELEASE, release],
                 ["report", release, "--html", tmp_path / "p.html"]):
        code, out = etl(capfd, *args)
        outputs.append(out)
    files = [(tmp_path / "v.json").read_text(encoding="utf-8"), (tmp_path / "p.html").read_text(encoding="utf-8")]
    for out in outputs + files:
        assert not any(c in out for c in "\x1b\x07\r\x9b"), out[:2000]
    assert "\\x1b]52;c;" in outputs[0] + outputs[1] + outputs[2] and "\\x1b[1A" in files[1]
    assert "67 checks ran, 67 passed" not in "\n".join(line for out in outputs for line in out.splitlines()
                                                     if line.startswith("67 checks"))


# ── row 14: formula cells ────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("formula", ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(A1:A9)", "-2+3"])
def test_a_formula_cell_in_the_document_fails_a_named_check(capfd, tmp_path: Path, formula: str) -> None:
    """Row 14: a cell that a spreadsheet would run as a formula was published as it is; now the build exits 1,
    naming the check, the cell and its line, and publishes nothing."""
    from conftest import edit, real_lines, write_doc

    doc = write_doc(tmp_path / "raw", edit(real_lines(), 89, "子ども食堂の支援協力に関する協定", formula))
    code, text = etl(capfd, "build", "--raw", doc, "--out", tmp_path / "catalog")
    assert code == 1 and "initiatives.formula_cells" in text and "line 89" in text and "協定名称" in text, text
    assert not (tmp_path / "catalog" / DATASET).exists()


def test_numbers_and_the_real_document_are_no_formulas() -> None:
    """The real document has no formula cell, and a text that is a signed number (-5, +81) is none either."""
    import polars as pl

    from etl import pipeline
    from etl.shared import schemas
    from etl.validate.run import formula_results

    tables = pipeline.load(REAL).tables
    assert all(r.passed for ts in schemas.tables() for r in formula_results(ts, tables[ts.name]))
    ts = schemas.table("initiatives")
    frame = tables["initiatives"].with_columns(pl.lit("-5").alias("備考"))
    assert all(r.passed for r in formula_results(ts, frame))


# ── rows 7 and 8: a million bad cells, one huge cell ───────────────────────────────────────


def _bad_rows(release: Path, count: int) -> None:
    """agreement_counts with `count` rows whose 協定数 is not a number (hashes updated)."""
    csv = release / "072036_agreement_counts.csv"
    header, first = csv.read_text(encoding="utf-8").splitlines()[:2]
    cells = first.split(",")
    at = header.lstrip("\ufeff").split(",").index("協定数")
    row = ",".join(cells[:at] + ["x"] + cells[at + 1:])
    csv.write_text("\ufeff" + header.lstrip("\ufeff") + "\n" + (row + "\n") * count, encoding="utf-8")
    _rehash(release, csv.name)


def test_a_table_of_bad_cells_is_listed_a_hundred_and_counted(capfd, release: Path, tmp_path: Path) -> None:
    """Row 8: 1,000,000 rows with a bad integer took 97 s, 4.95 GB and 608 MB of output. Now a table has at most
    MAX_ROWS (100,000) rows, and one check lists its first 100 failures and counts the rest, terminal and JSON."""
    from etl.shared.safety import MAX_ROWS
    from etl.validate.run import MAX_FAILURES

    _bad_rows(release, MAX_ROWS)
    code, text = etl(capfd, "validate", release, "--report", tmp_path / "r.json")
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    types = [f for f in report["failures"] if f["check"] == "agreement_counts.types"]
    assert code == 1 and len(types) == MAX_FAILURES + 1 and f"and {MAX_ROWS - MAX_FAILURES:,} more" in text
    assert len(text) < 100_000 and (tmp_path / "r.json").stat().st_size < 1_000_000


def test_a_table_beyond_the_row_limit_is_refused_at_once(capfd, release: Path) -> None:
    """Row 8: a million rows are refused with exit 2 before any parser sees them (MAX_ROWS)."""
    from etl.shared.safety import MAX_ROWS

    _bad_rows(release, MAX_ROWS + 1)
    code, text = etl(capfd, "validate", release)
    assert code == 2 and f"more than the limit of {MAX_ROWS} rows" in text, text


def test_a_huge_cell_is_echoed_at_most_200_characters(capfd, release: Path, tmp_path: Path) -> None:
    """Row 7: one quoted 62 MB cell was echoed whole (62 MB on the terminal, 125 MB of JSON, 187 MB of HTML).
    Now a value is shown at most 200 characters, the rest counted."""
    csv = release / CSV
    cell = ("９" * 1000 + "\n") * 300  # over quoted line breaks: each line within MAX_LINE_BYTES
    csv.write_text(csv.read_text(encoding="utf-8").replace(",2400,", f',"{cell}",', 1), encoding="utf-8")
    _rehash(release, CSV)
    code, text = etl(capfd, "validate", release, "--report", tmp_path / "r.json")
    assert code == 1 and "more characters)" in text, text[:3000]
    assert len(text) < 50_000 and (tmp_path / "r.json").stat().st_size < 50_000


# ── row 5: many files, each within its limit ───────────────────────────────────────────────


def test_a_release_whose_files_add_up_beyond_the_limit_is_refused(capfd, monkeypatch, release: Path) -> None:
    """Row 5: 500 resources of 64 MiB (sparse files) were read whole (480 of them: 16 GB, then MemoryError). The
    files of one release now add up to MAX_RELEASE_BYTES at most, counted as they are read: exit 2 past it."""
    from etl.shared import safety

    monkeypatch.setattr(safety, "MAX_RELEASE_BYTES", 50_000)  # the real release has 120 KB
    code, text = etl(capfd, "validate", release)
    assert code == 2 and "add up to more than the limit of 50000 bytes" in text, text


# ── row 6: a header record carried over quoted line breaks ───────────────────────────────


@pytest.mark.parametrize("lines", [100, 400], ids=["within a line's limit", "beyond it"])
def test_a_header_carried_over_quoted_line_breaks_is_counted_as_the_parser_sees_it(
        capfd, release: Path, lines: int) -> None:
    """Row 6: a header whose first line is `a,"` went on over quoted line breaks to 2 M columns (3.1 GB, 34 s;
    7 M: polars aborted). Its columns are now counted over the whole record: exit 2 at once."""
    csv = release / CSV
    header = b'a,"\n' + (b'",' + b"," * 5000 + b'"\n') * lines + b'"\n1\n'
    csv.write_bytes(header)
    _rehash(release, CSV)
    started = time.monotonic()
    code, text = etl(capfd, "validate", release)
    assert code == 2 and "header" in text and time.monotonic() - started < 10, text


# ── rows 3 and 4: Parquet values larger than the file says ────────────────────────────────


def _dictionary_bomb(rows: int, value_bytes: int) -> bytes:
    """A Parquet file of `rows` rows that all point at one dictionary value of `value_bytes` bytes, without the
    Arrow schema (so a reader decodes plain strings, each a copy)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    column = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["a" * value_bytes]))
    out = io.BytesIO()
    pq.write_table(pa.table({"v": column}), out, compression="zstd", store_schema=False)
    return out.getvalue()


@pytest.mark.parametrize("rows", [3000, 200])
def test_a_parquet_dictionary_bomb_is_refused_by_its_decoded_size(rows: int) -> None:
    """Rows 3 and 4: a few hundred bytes whose rows all point at a 1 MB dictionary string took 5.3 GB; the values
    are now counted as they are read, a few rows at a time, and refused past MAX_DECODED_BYTES (exit 2)."""
    from etl.shared import safety
    from etl.validate.run import read_parquet

    data = _dictionary_bomb(rows, 2**20)
    assert len(data) < 10_000
    if rows * 2**20 > safety.MAX_DECODED_BYTES:
        with pytest.raises(safety.UnsafeRelease, match="once read"):
            read_parquet(data, "bomb.parquet")
    else:
        assert read_parquet(data, "bomb.parquet").height == rows


# ── row 12: PDF decompression bombs ──────────────────────────────────────────────────────


def _pdf_bomb(inflated: int) -> bytes:
    """A one-page PDF whose content stream inflates (FlateDecode) to `inflated` zero bytes."""
    import zlib

    packer = zlib.compressobj(9)
    chunk = bytes(2**24)
    stream = b"".join(packer.compress(chunk) for _ in range(inflated // len(chunk))) + packer.flush()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Root 1 0 R /Size 5 >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def test_a_pdf_that_inflates_beyond_the_memory_limit_is_refused(monkeypatch) -> None:
    """Row 12: a 9 KB PDF whose page content inflates to 5 GiB took 10.7 GB (zlib is one C call). The PDF is read
    in a child process with RLIMIT_AS: the bomb fails there, with a message, and this process stays small."""
    import resource

    from etl.errors import SourceError
    from etl.source import pdf

    monkeypatch.setattr(pdf, "MAX_MEMORY", 64 * 2**20)  # inherited by the forked child
    bomb = _pdf_bomb(256 * 2**20)
    assert len(bomb) < 300_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(SourceError, match="needed more than 64 MiB of memory"):
        pdf.read_lines(bomb, "bomb.pdf")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB


def test_a_reader_whose_parent_has_gone_ends_instead_of_waiting_to_send(monkeypatch) -> None:
    """The reader's child closes the pipe end the fork gave it: were `etl` killed, a result larger than
    the pipe holds would otherwise keep the child waiting for ever; now its send fails and it ends."""
    from etl.source import pdf

    monkeypatch.setattr(pdf, "_read_lines", lambda data, name: b"x" * 4 * 2**20)  # far more than a pipe holds
    reading = pdf._Reading(b"%PDF-1.4", "gone.pdf")
    try:
        reading.receive.close()  # the parent has gone
        reading.child.join(20)
        assert not reading.child.is_alive()
    finally:
        reading.stop()


def test_a_pdf_reader_that_never_returns_is_killed_at_the_deadline(monkeypatch) -> None:
    """Row 12: the wall-clock limit holds even when the reader is stuck where no alarm reaches (inside zlib):
    the child is killed at MAX_SECONDS (+ a grace) and the build gets a SourceError saying so."""
    from etl.errors import SourceError
    from etl.source import pdf

    monkeypatch.setattr(pdf, "MAX_SECONDS", 0.2)
    monkeypatch.setattr(pdf, "GRACE_SECONDS", 0.3)
    monkeypatch.setattr(pdf, "_read_lines", lambda data, name: time.sleep(30))  # stuck, as in one C call
    started = time.monotonic()
    with pytest.raises(SourceError, match="took more than 0.2 s"):
        pdf.read_lines(b"%PDF-1.4", "stuck.pdf")
    assert time.monotonic() - started < 5


# ── all rows: memory bounded, measured in the child ───────────────────────────────────────

_WRAP = ("import resource, subprocess, sys\n"
         "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
         "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def _hostile(kind: str, scale: int, folder: Path) -> list[str]:
    """The etl command line for one hostile input of the given kind and size (made in `folder`)."""
    if kind == "pdf bomb":
        doc = folder / "koriyama-renkei-kyotei-2023-02-10.pdf"
        doc.write_bytes(_pdf_bomb(scale * 2**28))
        return ["build", "--raw", str(doc), "--out", str(folder / "catalog"), "--dry-run"]
    release = folder / "release"
    shutil.copytree(RELEASE, release)
    if kind == "parquet bomb":
        name = "072036_initiatives.parquet"
        (release / name).write_bytes(_dictionary_bomb(300 * scale, 2**20))
        data = (release / name).read_bytes()
        _with(release, lambda p: next(r for r in p["resources"] if r["path"] == name).update(
            {"x-bytes": len(data), "hash": "sha256:" + __import__("hashlib").sha256(data).hexdigest()}))
    elif kind == "huge cell":
        csv = release / CSV
        cell = ("９" * 1000 + "\n") * (5000 * scale)
        csv.write_text(csv.read_text(encoding="utf-8").replace(",2400,", f',"{cell}",', 1), encoding="utf-8")
        _rehash(release, CSV)
    elif kind == "bad rows":
        _bad_rows(release, 25_000 * scale)
    else:  # a header of many columns over quoted line breaks
        (release / CSV).write_bytes(b'a,"\n' + (b'",' + b"," * 5000 + b'"\n') * (100 * scale) + b'"\n1\n')
        _rehash(release, CSV)
    return ["validate", str(release)]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["pdf bomb", "parquet bomb", "huge cell", "bad rows", "header columns"]),
       scale=st.integers(1, 4))
def test_hostile_inputs_are_checked_in_bounded_memory(tmp_path_factory, kind: str, scale: int) -> None:
    """Every hostile input within the limits, at any size: exit 1 or 2, and the etl process (with the child that
    reads a PDF) never passes 1 GiB of RSS, measured with getrusage of the child."""
    args = _hostile(kind, scale, tmp_path_factory.mktemp("hostile"))
    etl_program = Path(sys.executable).with_name("etl")
    result = subprocess.run([sys.executable, "-c", _WRAP, str(etl_program), *args], capture_output=True, text=True,
                            timeout=120, cwd=REPO)
    code, rss_kib = map(int, result.stdout.split())
    assert code in (1, 2), (kind, scale, code)
    assert rss_kib < 1024 * 1024, f"{kind} ×{scale}: {rss_kib // 1024} MiB"


def _lying_footer() -> bytes:
    """Row 4: a Parquet file of 300 MiB of strings (14 kB compressed) whose footer says 140 MB instead."""
    import io
    import struct

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.table({"v": pa.array(["a" * 2**20] * 300)}), out, compression="zstd", use_dictionary=False,
                   store_schema=False)
    data = out.getvalue()
    true = pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0).total_uncompressed_size

    def varint(n: int) -> bytes:  # Thrift compact protocol: zigzag, then 7 bits a byte
        n, b = (n << 1) ^ (n >> 63), bytearray()
        while n > 0x7F:
            b.append(n & 0x7F | 0x80)
            n >>= 7
        return bytes(b + bytes([n]))

    size = struct.unpack("<I", data[-8:-4])[0]
    footer = data[-8 - size:-8]
    lie = 140_000_000  # within the metadata limit, and as long a varint as the truth, so the footer keeps its size
    assert len(varint(lie)) == len(varint(true)) and footer.count(varint(true)) == 2
    return data[:-8 - size] + footer.replace(varint(true), varint(lie)) + data[-8:]


def test_a_parquet_footer_that_lies_about_its_size_is_caught_by_the_values(tmp_path: Path) -> None:
    """Row 4: the footer's total_uncompressed_size said 140 MB of 300 MiB (the metadata check passed; 1.97 GB
    were read): the values, counted as they are read, are refused past MAX_DECODED_BYTES."""
    import io

    import pyarrow.parquet as pq

    from etl.shared import safety
    from etl.validate.run import read_parquet

    data = _lying_footer()
    assert pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0).total_uncompressed_size == 140_000_000
    safety.check_parquet_limits(data, "resource 'x'", "x.parquet")  # the footer alone passes
    with pytest.raises(safety.UnsafeRelease, match="once read"):
        read_parquet(data, "liar.parquet")


# ── found by review: what a descriptor may still say, and odd inputs ─────────────────────


@pytest.mark.parametrize("change", [{"encoding": "shift_jis"}, {"dialect": {"delimiter": ";", "header": False}},
                                    {"mediatype": "text/plain"}])
def test_a_resource_read_otherwise_than_it_was_checked_is_refused(capfd, release: Path, change: dict) -> None:
    """A descriptor giving a table another encoding, a dialect or another mediatype (frictionless then reads other
    data than etl validate checked) fails datapackage.resources: exit 1."""
    _with(release, lambda p: next(r for r in p["resources"] if r["name"] == "agreement_counts").update(change))
    code, text = etl(capfd, "validate", release)
    assert code == 1 and "datapackage.resources" in text and next(iter(change)) in text, text


@pytest.mark.parametrize("damage", ["$schema an object", "fields as names"])
def test_a_strange_descriptor_is_a_clear_refusal(capfd, release: Path, damage: str) -> None:
    """`"$schema": {}` and a schema whose fields are bare names: exit 2 or 1 with a message, no internal error."""
    def change(package: dict) -> None:
        if damage == "$schema an object":
            package["$schema"] = {}
        else:
            schema = package["resources"][0]["schema"]
            schema["fields"] = [f["name"] for f in schema["fields"]]
    _with(release, change)
    code, text = etl(capfd, "validate", release)
    assert code in (1, 2) and ("fetch" in text or "descriptor_schema" in text), text


def test_a_quote_inside_a_header_field_is_text(capfd, release: Path) -> None:
    """A quote in the middle of a field opens nothing (as for polars): `a,b"` then 200,000 commas is counted as
    200,001 columns and refused, not read into a frame of that many columns."""
    (release / CSV).write_bytes(b'a,b"' + b",x" * 200_000 + b'\n"\n' + b"1\n" * 60)
    _rehash(release, CSV)
    code, text = etl(capfd, "validate", release)
    assert code == 2 and "columns, more than the limit" in text, text


def test_an_unreadable_source_path_is_a_source_error(capfd, tmp_path: Path) -> None:
    """A name too long for the file system (or any error opening it): exit 2 with the reason, no internal error."""
    code, text = etl(capfd, "build", "--raw", tmp_path / ("x" * 300 + ".txt"), "--out", tmp_path / "c", "--dry-run")
    assert code == 2 and "cannot be read (File name too long)" in text, text


def test_report_of_an_invalid_release_whose_page_cannot_be_written_is_exit_1(capfd, release: Path,
                                                                             tmp_path: Path) -> None:
    """Exit 3 is for valid data with an output missing: an invalid release stays exit 1, the file still named."""
    _with(release, lambda p: p["resources"][0].update(hash="sha256:" + "0" * 64))
    code, text = etl(capfd, "report", release, "--html", tmp_path / "no-such-folder" / "p.html")
    assert code == 1 and "--html" in text and "could not be written" in text, text


def test_find_knows_only_the_release_s_tables() -> None:
    """find() answers for ids of real tables only."""
    from etl.validate.run import find

    assert find("initiatives.schema").__name__ == "schema_results"
    with pytest.raises(KeyError):
        find("nosuch.schema")


def test_the_pdf_reader_stays_within_a_hard_memory_limit_set_from_outside() -> None:
    """Under `ulimit -v` (a hard RLIMIT_AS), the reader's child sets its own limit within it, not above (which
    failed with ValueError for every PDF)."""
    code = ("import resource, sys\n"
            "from etl.source import pdf\n"
            "held = pdf._address_space()\n"
            "resource.setrlimit(resource.RLIMIT_AS, (held + 300 * 2**20, held + 300 * 2**20))\n"
            "try:\n"
            "    pdf.read_lines(b'%PDF-1.4 not really', 'x.pdf')\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert out.startswith("SourceError") and "damaged" in out, out
