"""Registered sources: a document cut at any line (or byte), or changed in any way since it was
registered, is refused with exit 2 before it is parsed, and the catalog is left as it was.

The text alone cannot show a cut among section 3's bullets (test_transform.py pins that limit);
the record of the file's size and SHA-256 in raw/datapackage.json can."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from conftest import REAL, REPO, run_etl, snapshot, write_doc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.cli import main

PUBLISHED = REPO / "published"
DATA = REAL.read_bytes()
FUZZ = settings(deadline=None, max_examples=40,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def etl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`etl` run in this process: the same `main` as the console script, without a start-up per
    call (test_cli.py and the unregistered-document test below run the real process)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def registered_copy(folder: Path) -> Path:
    """The real document and raw/'s record of it, copied as they are into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "raw" / "datapackage.json", folder / "datapackage.json")
    shutil.copy2(REAL, folder / REAL.name)
    return folder / REAL.name


def refused(capfd: pytest.CaptureFixture[str], data: bytes, tmp: Path | None = None) -> str:
    """Build `data` in place of the registered document into a copy of the committed catalog;
    assert exit 2, an explanation and no traceback, and an untouched catalog. Returns stderr.
    `tmp` (a folder) lets a loop reuse one copy: an untouched catalog stays a valid starting point."""
    capfd.readouterr()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(tmp or scratch)
        doc, catalog = folder / "raw" / REAL.name, folder / "catalog"
        if not catalog.exists():
            registered_copy(folder / "raw")
            shutil.copytree(PUBLISHED, catalog)
        before = snapshot(catalog)
        doc.write_bytes(data)
        code = main(["build", "--raw", str(doc), "--out", str(catalog)])
        out, err = capfd.readouterr()
        assert code == 2, out + err
        assert "Traceback" not in out + err
        assert snapshot(catalog) == before
        return err


def cut_named(cut: bytes, err: str) -> bool:
    """The message gives both sizes (a cut before any text is simply an empty file)."""
    if cut.isspace():
        return "is empty" in err
    return f"it has {len(cut)} bytes, the record says {len(DATA)}" in err


def test_the_committed_sources_are_all_registered_and_match() -> None:
    """Every raw/*.pdf and raw/*.txt has a record, and frictionless itself finds raw/datapackage.json valid."""
    package = json.loads((REPO / "raw" / "datapackage.json").read_text(encoding="utf-8"))
    recorded = {r["path"] for r in package["resources"]}
    assert recorded == {p.name for p in (REPO / "raw").iterdir() if p.suffix in {".pdf", ".txt"}}
    exe = Path(sys.executable).with_name("frictionless")
    result = subprocess.run([str(exe), "validate", "--json", "datapackage.json"], cwd=REPO / "raw",
                            capture_output=True, text=True, timeout=120)
    assert json.loads(result.stdout)["valid"], result.stdout


def test_a_registered_document_cut_at_any_line_is_refused(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Every cut between two lines, with or without the line break, including every cut among
    section 3's bullets that the text alone would take for a shorter edition."""
    lines = DATA.split(b"\n")
    for n in range(len(lines)):
        for cut in {b"\n".join(lines[:n]), b"\n".join(lines[:n]) + b"\n"} - {DATA, b""}:
            err = refused(capfd, cut, tmp_path)
            assert cut_named(cut, err), (n, err)
            assert cut.isspace() or ("cut short" in err and "etl register --replace" in err)


@FUZZ
@given(at=st.integers(min_value=1, max_value=len(DATA) - 1))
def test_a_registered_document_cut_at_any_byte_is_refused(capfd: pytest.CaptureFixture[str], at: int) -> None:
    """A cut inside a line, even inside a multi-byte character, is named as a cut, not as bad text."""
    assert cut_named(DATA[:at], refused(capfd, DATA[:at]))


@FUZZ
@given(data=st.data())
def test_any_change_to_a_registered_document_is_refused(capfd: pytest.CaptureFixture[str], data) -> None:
    """Lines deleted, duplicated or swapped, or one digit changed: the size or the hash tells."""
    lines = DATA.split(b"\n")
    i = data.draw(st.integers(0, len(lines) - 1))
    j = data.draw(st.integers(0, len(lines) - 1))
    kind = data.draw(st.sampled_from(["delete", "duplicate", "swap", "digit"]))
    if kind == "delete":
        mutated = lines[:i] + lines[i + 1:]
    elif kind == "duplicate":
        mutated = lines[:i] + [lines[i]] + lines[i:]
    elif kind == "swap":
        mutated = list(lines)
        mutated[i], mutated[j] = mutated[j], mutated[i]
    else:
        digits = [m.start() for m in re.finditer(rb"[0-9]", DATA)]
        k = data.draw(st.sampled_from(digits))
        new = data.draw(st.sampled_from([d for d in b"0123456789" if d != DATA[k]]))
        mutated = (DATA[:k] + bytes([new]) + DATA[k + 1:]).split(b"\n")
    changed = b"\n".join(mutated)
    if changed != DATA:
        assert "does not match its record" in refused(capfd, changed)


def test_an_unregistered_document_is_refused_but_a_dry_run_checks_it(tmp_path: Path) -> None:
    """No record: exit 2 saying how to register it. --dry-run checks it with a warning, publishes
    nothing, and the JSON report says that its completeness was not checked."""
    doc = write_doc(tmp_path / "raw", register=False)
    catalog = tmp_path / "catalog"
    result = run_etl("build", "--raw", doc, "--out", catalog)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"etl register {doc}" in result.stderr and "--dry-run" in result.stderr
    assert not catalog.exists() and not (tmp_path / "raw" / "datapackage.json").exists()

    report = tmp_path / "report.json"
    result = run_etl("build", "--raw", doc, "--out", catalog, "--dry-run", "--report", report)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not registered, so its completeness was not checked" in result.stderr
    assert "Nothing was published" in result.stdout and not catalog.exists()
    payload = json.loads(report.read_text(encoding="utf-8"))
    outcome = payload["outcome"]
    assert (outcome["status"], outcome["dry_run"], outcome["source_registered"]) == ("would publish", True, False)
    assert "source.registered" not in {c["check"] for c in payload["checks"]}


def test_the_report_lists_the_source_check_with_what_it_compared(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = etl("build", "--raw", REAL, "--out", tmp_path / "catalog", "--report", report)
    assert result.returncode == 0, result.stderr
    payload = json.loads(report.read_text(encoding="utf-8"))
    check = next(c for c in payload["checks"] if c["check"] == "source.registered")
    assert check["passed"] and check["table"] == "source"
    assert check["compared"][0]["label"] == REAL.name
    assert check["compared"][0]["actual"].startswith(f"{len(DATA)} bytes, sha256:")
    assert payload["outcome"]["source_registered"] is True


def test_register_records_a_new_edition_that_then_builds(tmp_path: Path) -> None:
    """A new folder gets a valid data package; registering again is a no-op that rewrites nothing."""
    doc = write_doc(tmp_path / "raw", register=False, name="koriyama-renkei-kyotei-2024-02-09.txt")
    result = etl("register", doc)
    assert result.returncode == 0, result.stderr
    assert f"{len(DATA)} bytes" in result.stdout and "utf-8" in result.stdout
    manifest = tmp_path / "raw" / "datapackage.json"
    before = (manifest.read_bytes(), manifest.stat().st_mtime_ns)
    package = json.loads(before[0])
    assert package["resources"][0]["name"] == "koriyama-renkei-kyotei-2024-02-09"
    assert package["resources"][0]["bytes"] == len(DATA)
    again = etl("register", doc)
    assert again.returncode == 0 and "already registered" in again.stdout
    assert (manifest.read_bytes(), manifest.stat().st_mtime_ns) == before
    assert etl("build", "--raw", doc, "--out", tmp_path / "catalog").returncode == 0
    assert not list((tmp_path / "raw").glob(".*.tmp"))


def test_register_refuses_to_overwrite_a_changed_record_without_replace(tmp_path: Path) -> None:
    """A damaged file is not registered by accident: the old record stays until --replace."""
    doc = registered_copy(tmp_path / "raw")
    manifest = tmp_path / "raw" / "datapackage.json"
    before = manifest.read_bytes()
    doc.write_bytes(DATA[:-50])
    result = etl("register", doc)
    assert result.returncode == 2
    assert f"registered with {len(DATA)} bytes" in result.stderr and f"now has {len(DATA) - 50} bytes" in result.stderr
    assert manifest.read_bytes() == before
    replaced = etl("register", "--replace", doc)
    assert replaced.returncode == 0, replaced.stderr
    assert f"was {len(DATA)} bytes" in replaced.stdout and f"now {len(DATA) - 50} bytes" in replaced.stdout
    assert json.loads(manifest.read_text(encoding="utf-8"))["resources"][0]["bytes"] == len(DATA) - 50


def test_register_records_the_encoding_and_keeps_other_records(tmp_path: Path) -> None:
    """A Shift_JIS edition beside a UTF-8 one: both recorded, sorted by path, and both build
    (▶ has no Shift_JIS code; an edition saved in Shift_JIS would print another mark)."""
    utf8 = registered_copy(tmp_path / "raw")
    sjis = write_doc(tmp_path / "raw", data=DATA.decode("utf-8").replace("▶", "■").encode("cp932"), name="z-cp932.txt",
                     register=False)
    assert etl("register", sjis).returncode == 0
    package = json.loads((tmp_path / "raw" / "datapackage.json").read_text(encoding="utf-8"))
    assert [r["path"] for r in package["resources"]] == [utf8.name, sjis.name]
    assert package["resources"][1]["encoding"] == "cp932"
    for doc in (utf8, sjis):
        assert etl("build", "--raw", doc, "--out", tmp_path / "catalog").returncode == 0


@pytest.mark.parametrize("data", [b"", b"\x00\x01binary", b"\xff\xfe\xfa not text"],
                         ids=["empty", "binary", "undecodable"])
def test_register_refuses_what_no_build_could_read(tmp_path: Path, data: bytes) -> None:
    doc = write_doc(tmp_path / "raw", data=data, register=False)
    result = etl("register", doc)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "raw" / "datapackage.json").exists()


BROKEN_RECORDS = {
    "truncated": ("{", "cannot be read as JSON"),
    "not an object": ("[]", "is not a data package"),
    "invalid resource": ('{"resources": [{"path": "DOC", "name": "Not Valid", "bytes": 1, "hash": "sha256:HEX"}]}',
                         "is not a valid data package"),
    "no size or hash": ('{"resources": [{"path": "DOC", "name": "doc"}]}', "no usable size and SHA-256"),
    "zero size, empty hash": ('{"resources": [{"path": "DOC", "name": "doc", "bytes": 0, "hash": ""}]}',
                              "no usable size and SHA-256"),
    "hash without algorithm": ('{"resources": [{"path": "DOC", "name": "doc", "bytes": 8832, "hash": "HEX"}]}',
                               "no usable size and SHA-256"),
}


@pytest.mark.parametrize(("manifest", "words"), BROKEN_RECORDS.values(), ids=BROKEN_RECORDS.keys())
def test_a_broken_record_is_refused_with_exit_2(tmp_path: Path, manifest: str, words: str) -> None:
    """A record that proves nothing refuses even a document cut among section 3's bullets (which the
    text alone would build): frictionless skips an empty size or hash, so the build checks them."""
    doc = registered_copy(tmp_path / "raw")
    doc.write_bytes(b"\n".join(DATA.split(b"\n")[:275]))  # the text of this cut builds without a record
    text = manifest.replace("DOC", doc.name).replace("HEX", "0" * 64)
    (tmp_path / "raw" / "datapackage.json").write_text(text, encoding="utf-8")
    result = etl("build", "--raw", doc, "--out", tmp_path / "catalog")
    assert result.returncode == 2, result.stdout + result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert not (tmp_path / "catalog").exists()


def test_the_cut_used_above_would_build_without_its_record(tmp_path: Path) -> None:
    """Keeps the broken-record test honest: its cut document is one the text alone accepts."""
    doc = write_doc(tmp_path / "raw", data=b"\n".join(DATA.split(b"\n")[:275]), register=False)
    result = etl("build", "--raw", doc, "--out", tmp_path / "catalog", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid and its release verifies" in result.stdout


@pytest.mark.parametrize("name", ["edition.csv", "datapackage.json", "README.md"])
def test_register_takes_only_source_documents(tmp_path: Path, name: str) -> None:
    """Not the manifest itself, not a CSV that frictionless would read as a table: exit 2, nothing written."""
    registered_copy(tmp_path / "raw")
    if name != "datapackage.json":
        (tmp_path / "raw" / name).write_bytes(DATA)
    before = snapshot(tmp_path / "raw")
    result = etl("register", tmp_path / "raw" / name)
    assert result.returncode == 2 and "only source documents" in result.stderr
    assert snapshot(tmp_path / "raw") == before


def test_a_file_name_frictionless_cannot_read_is_not_registered(tmp_path: Path) -> None:
    """A record no build could verify is never written: frictionless checks the new record first."""
    doc = write_doc(tmp_path / "raw", name="http:edition.txt", register=False)
    result = etl("register", doc)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "frictionless cannot check this file" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == [doc.name]


def test_register_is_all_or_nothing_and_replace_takes_one_file(tmp_path: Path) -> None:
    good = write_doc(tmp_path / "raw", register=False, name="a.txt")
    bad = write_doc(tmp_path / "raw", data=b"\x00binary", register=False, name="b.txt")
    result = etl("register", good, bad)
    assert result.returncode == 2 and "binary" in result.stderr
    assert not (tmp_path / "raw" / "datapackage.json").exists()
    result = etl("register", "--replace", good, good)
    assert result.returncode == 2 and "exactly one file" in result.stderr
    assert not (tmp_path / "raw" / "datapackage.json").exists()


def test_concurrent_registrations_keep_every_record(tmp_path: Path) -> None:
    """Four `etl register` processes at once in one folder: the folder lock keeps all four records."""
    exe = Path(sys.executable).with_name("etl")
    docs = [write_doc(tmp_path / "raw", register=False, name=f"e{i}.txt") for i in range(4)]
    procs = [subprocess.Popen([str(exe), "register", str(d)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for d in docs]
    assert [p.wait(timeout=120) for p in procs] == [0] * 4
    package = json.loads((tmp_path / "raw" / "datapackage.json").read_text(encoding="utf-8"))
    assert [r["path"] for r in package["resources"]] == [d.name for d in docs]
    assert not list((tmp_path / "raw").glob(".*.tmp"))


def test_a_bom_file_is_recorded_as_utf8(tmp_path: Path) -> None:
    """Data Package encodings are IANA names: a BOM is part of the bytes, not another encoding."""
    doc = write_doc(tmp_path / "raw", data=b"\xef\xbb\xbf" + DATA, register=False)
    assert etl("register", doc).returncode == 0
    package = json.loads((tmp_path / "raw" / "datapackage.json").read_text(encoding="utf-8"))
    assert package["resources"][0]["encoding"] == "utf-8"
    assert package["resources"][0]["bytes"] == len(DATA) + 3


def test_the_bytes_parsed_are_the_bytes_verified(tmp_path: Path) -> None:
    """A file still being written can pass the check on disk after a partial read: refused too."""
    from etl.errors import RegistrationError
    from etl.source.registry import verify

    doc = registered_copy(tmp_path / "raw")
    assert verify(doc, DATA) == f"{len(DATA)} bytes, sha256:{hashlib.sha256(DATA).hexdigest()}"
    with pytest.raises(RegistrationError, match="changed while it was being read"):
        verify(doc, DATA[:-10])  # a partial read of a complete file
    doc.write_bytes(DATA[:-10])
    with pytest.raises(RegistrationError, match="changed while it was being read"):
        verify(doc, DATA)  # a complete read of a file cut since
    with pytest.raises(RegistrationError, match="does not match its record"):
        verify(doc, DATA[:-10])


@pytest.mark.parametrize(("data", "checks"), [
    (DATA[:-100], [("source.registered", False)]),
    (b" \n", [("source.readable", False)]),
    ((REPO / "README.md").read_bytes(), [("source.registered", True), ("source.readable", True),
                                         ("source.layout", False)]),
], ids=["cut", "empty", "another document"])
def test_a_refused_input_still_gets_a_json_report(tmp_path: Path, data: bytes, checks: list) -> None:
    """Exit 2 writes --report too, so a pipeline can show why without scraping stderr: not valid,
    the checks that ran before the refusal, the failed one with the whole message, the outcome."""
    doc = registered_copy(tmp_path / "raw")
    if checks[-1][0] == "source.layout":
        doc = write_doc(tmp_path / "other", data=data)  # registered: only its text is wrong
    else:
        doc.write_bytes(data)
    report = tmp_path / "report.json"
    result = etl("build", "--raw", doc, "--out", tmp_path / "catalog", "--report", report)
    assert result.returncode == 2, result.stdout + result.stderr
    payload = json.loads(report.read_text(encoding="utf-8"))
    assert payload["valid"] is False
    assert [(c["check"], c["passed"]) for c in payload["checks"]] == checks
    failure = payload["failures"][0]
    assert failure["label"] == doc.name and failure["message"] in result.stderr
    if checks == [("source.registered", False)]:  # the sizes and hashes it compared, as data
        assert failure["expected"].startswith(f"{len(DATA)} bytes, sha256:")
        assert failure["actual"].startswith(f"{len(data)} bytes, sha256:")
    assert payload["outcome"] == {"status": "refused", "exit_code": 2, "message": failure["message"],
                                  "source_registered": checks[0] == ("source.registered", True),
                                  "dry_run": False}
    assert not (tmp_path / "catalog").exists()


@pytest.mark.parametrize("case", ["not registered", "record without hash", "broken manifest"])
def test_every_registration_refusal_is_reported_as_source_registered(tmp_path: Path, case: str) -> None:
    doc = registered_copy(tmp_path / "raw")
    manifest = tmp_path / "raw" / "datapackage.json"
    if case == "not registered":
        manifest.unlink()
    elif case == "record without hash":
        package = json.loads(manifest.read_text(encoding="utf-8"))
        del package["resources"][0]["hash"]
        manifest.write_text(json.dumps(package), encoding="utf-8")
    else:
        manifest.write_text("{", encoding="utf-8")
    report = tmp_path / "report.json"
    result = etl("build", "--raw", doc, "--out", tmp_path / "catalog", "--report", report)
    assert result.returncode == 2, result.stdout + result.stderr
    payload = json.loads(report.read_text(encoding="utf-8"))
    assert [(c["check"], c["passed"]) for c in payload["checks"]] == [("source.registered", False)]


def test_a_build_report_is_never_left_over_from_an_earlier_run(tmp_path: Path) -> None:
    """A refusal that writes no report (wrong usage) removes the previous run's, so that a pipeline
    never reads an old 'valid: true' for a failed build."""
    report = tmp_path / "report.json"
    assert etl("build", "--raw", REAL, "--out", tmp_path / "c", "--report", report).returncode == 0
    payload = json.loads(report.read_text(encoding="utf-8"))
    assert [c["check"] for c in payload["checks"][:3]] == ["source.registered", "source.readable", "source.layout"]
    result = etl("build", "--raw", REAL, "--out", tmp_path / "c", "--version", "bad/ver", "--report", report)
    assert result.returncode == 2
    assert not report.exists()


@FUZZ
@given(data=st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(lambda t: t.encode("utf-8"))))
def test_register_then_build_never_crashes(data: bytes) -> None:
    """Any bytes: register exits 0 or 2, and a registered file then builds with exit 0, 1 or 2,
    always with a message and never a traceback."""
    with tempfile.TemporaryDirectory() as tmp:
        doc = write_doc(Path(tmp) / "raw", data=data, register=False)
        registered = etl("register", doc)
        assert registered.returncode in {0, 2}, registered.stderr
        assert "Traceback" not in registered.stderr and "internal error" not in registered.stderr
        if registered.returncode == 2:
            assert registered.stderr.strip()
            assert not (Path(tmp) / "raw" / "datapackage.json").exists()
            return
        built = etl("build", "--raw", doc, "--out", Path(tmp) / "catalog")
        assert built.returncode in {0, 1, 2}, built.stdout + built.stderr
        assert "Traceback" not in built.stderr and "internal error" not in built.stderr


def test_a_dry_run_never_touches_the_catalog_but_still_checks_the_record(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Identical → exit 0, other data for the same version → exit 1 as the real build would, new
    version → exit 0, invalid → exit 1, cut → exit 2; in every case the catalog stays as it was."""
    catalog = tmp_path / "catalog"
    shutil.copytree(PUBLISHED, catalog)
    before = snapshot(catalog)
    doc = registered_copy(tmp_path / "raw")
    other = write_doc(tmp_path / "v2", data=DATA.replace("42,477千円".encode(), "42,478千円".encode()))
    invalid = write_doc(tmp_path / "bad", data=DATA.replace("合計 295".encode(), "合計 296".encode()))
    cases = [((doc,), 0, "is already published with identical content"),
             ((other,), 1, "already published with different content"),
             ((other, "--version", "2023-02-10-r2"), 0, "would be published"),
             ((invalid,), 1, "is not valid; nothing was published")]
    for (path, *extra), code, words in cases:
        result = etl("build", "--raw", path, "--out", catalog, "--dry-run", *extra)
        assert result.returncode == code, result.stdout + result.stderr
        assert words in result.stdout + result.stderr
        assert snapshot(catalog) == before
    doc.write_bytes(DATA[:-40])
    result = etl("build", "--raw", doc, "--out", catalog, "--dry-run")
    assert result.returncode == 2 and "does not match its record" in result.stderr
    assert snapshot(catalog) == before


def test_a_dry_run_verifies_its_release_like_a_real_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A release damaged after writing fails verification in a dry run too (exit 3), and the JSON
    report still lists the data checks, which all passed."""
    monkeypatch.setenv("ETL_FAULT_CORRUPT", "072036_agreement_counts.parquet")
    report = tmp_path / "report.json"
    result = etl("build", "--raw", REAL, "--out", tmp_path / "catalog", "--dry-run", "--report", report)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "failed verification" in result.stderr and not (tmp_path / "catalog").exists()
    payload = json.loads(report.read_text(encoding="utf-8"))
    assert payload["valid"] and payload["outcome"]["status"] == "not published"
    assert payload["outcome"]["dry_run"] is True and payload["outcome"]["exit_code"] == 3
