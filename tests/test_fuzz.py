"""Fuzzing `etl build` in-process: any input gives a clean exit code, and a failing build never
touches the catalog. Plus re-encodings of the real document that must give the same data files."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import DATASET, REAL, VERSION, edit, real_lines, snapshot, write_doc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.cli import main
from etl.shared import schemas

# In CI the "ci" profile (conftest.py) fixes the examples, so a run fails only when the code changed.
FUZZ = settings(deadline=None, max_examples=30,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PUBLISHED = Path(__file__).resolve().parent.parent / "published"
LINES = real_lines()
DIGIT = re.compile(r"[0-9０-９]")


def run_build(capfd: pytest.CaptureFixture[str], data: bytes) -> None:
    """Build `data` into a copy of the committed catalog and check the exit code, output and catalog.

    The catalog already holds the real release, so a mutation that keeps the as-of date but changes
    the data meets the 'version exists with other content' refusal, which must not touch it either.
    """
    capfd.readouterr()
    with tempfile.TemporaryDirectory() as tmp:
        raw = write_doc(Path(tmp) / "in", data=data)
        catalog = Path(tmp) / "catalog"
        shutil.copytree(PUBLISHED, catalog)
        before = snapshot(catalog)
        code = main(["build", "--raw", str(raw), "--out", str(catalog)])
        out, err = capfd.readouterr()
        text = out + err
        assert code in {0, 1, 2}, text
        assert "Traceback" not in text, text
        assert "internal error" not in text, text
        if code == 0:
            assert (catalog / "catalog.json").is_file()
            assert len(list(catalog.glob(f"{DATASET}/*/datapackage.json"))) >= 1
            assert not list(catalog.glob(".staging-*"))
        else:
            assert snapshot(catalog) == before
            assert err.strip(), "a failing build must say why on stderr"


# ── (a) arbitrary bytes ──────────────────────────────────────────────────────────────────


@FUZZ
@given(data=st.one_of(st.binary(max_size=4000),
                      st.text(max_size=2000).map(lambda s: s.encode("utf-8", "surrogatepass"))))
def test_arbitrary_bytes(capfd: pytest.CaptureFixture[str], data: bytes) -> None:
    """Arbitrary bytes (or text) exit 0, 1 or 2 without a traceback, leaving the catalog untouched."""
    run_build(capfd, data)


# ── (b) mutations of the real document ───────────────────────────────────────────────────


# One edit as plain numbers, so that a failing example reads as a recipe:
# ("delete", line, count), ("duplicate", line), ("swap", line, other), ("digit", line, position, digit),
# ("truncate", line). Line numbers are 0-based and taken modulo the current length.
EDIT = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, len(LINES) - 1), st.integers(1, 5)),
    st.tuples(st.just("duplicate"), st.integers(0, len(LINES) - 1)),
    st.tuples(st.just("swap"), st.integers(0, len(LINES) - 1), st.integers(0, len(LINES) - 1)),
    st.tuples(st.just("digit"), st.integers(0, len(LINES) - 1), st.integers(0, 40),
              st.sampled_from("0123456789０１２３４５６７８９")),
    st.tuples(st.just("truncate"), st.integers(0, len(LINES) - 1)),
)


def apply_edit(lines: list[str], op: tuple) -> list[str]:
    """Apply one edit (see EDIT) to a copy of `lines`."""
    if not lines:
        return lines
    kind, i = op[0], op[1] % len(lines)
    out = list(lines)
    if kind == "delete":
        del out[i:i + op[2]]
    elif kind == "duplicate":
        out.insert(i, out[i])
    elif kind == "swap":
        j = op[2] % len(out)
        out[i], out[j] = out[j], out[i]
    elif kind == "digit":
        # the i-th line (cyclically) that holds a digit; change the position-th digit in it
        numbered = [m for m, line in enumerate(out) if DIGIT.search(line)]
        if numbered:
            m = numbered[i % len(numbered)]
            spots = [x.start() for x in DIGIT.finditer(out[m])]
            pos = spots[op[2] % len(spots)]
            out[m] = out[m][:pos] + op[3] + out[m][pos + 1:]
    else:
        out = out[:i]
    return out


def mutate(ops: list[tuple]) -> bytes:
    lines = LINES
    for op in ops:
        lines = apply_edit(lines, op)
    return "\n".join(lines).encode("utf-8")


@FUZZ
@given(ops=st.lists(EDIT, min_size=1, max_size=3))
def test_mutated_real_document(capfd: pytest.CaptureFixture[str], ops: list[tuple]) -> None:
    """The real document with lines deleted, duplicated, swapped, digits changed or truncated fails cleanly."""
    run_build(capfd, mutate(ops))


@FUZZ
@given(cut=st.integers(0, len(LINES)))
def test_truncated_real_document(capfd: pytest.CaptureFixture[str], cut: int) -> None:
    """The real document cut after any line fails cleanly (or builds, if nothing that matters was cut)."""
    run_build(capfd, "\n".join(LINES[:cut]).encode("utf-8"))


# ── (c) re-encodings must give the same data ─────────────────────────────────────────────


def _data_files(release: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(release.iterdir()) if p.suffix in {".csv", ".parquet"}}


TEXT = REAL.read_text(encoding="utf-8")
VARIANTS = {
    "utf-8-bom": b"\xef\xbb\xbf" + TEXT.encode("utf-8"),
    "cp932": TEXT.replace("▶", "■").encode("cp932"),
    "crlf": TEXT.replace("\n", "\r\n").encode("utf-8"),
    "trailing-spaces": "\n".join(line + "  \t " for line in TEXT.split("\n")).encode("utf-8"),
}


def test_reencodings_give_identical_data_files(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """UTF-8 with BOM, cp932, CRLF and trailing spaces each build the same CSV and Parquet bytes as the original."""
    releases = {}
    for name, data in {"original": REAL.read_bytes(), **VARIANTS}.items():
        raw = write_doc(tmp_path / name / "in", data=data)
        catalog = tmp_path / name / "catalog"
        code = main(["build", "--raw", str(raw), "--out", str(catalog)])
        out, err = capfd.readouterr()
        assert code == 0, f"{name}: {out}{err}"
        assert "Traceback" not in out + err
        releases[name] = _data_files(catalog / DATASET / VERSION)
    assert len(releases["original"]) == 2 * len(schemas.tables())
    for name in VARIANTS:
        assert releases[name] == releases["original"], name


# ── found by fuzzing ───────────────────────────────────────────────────────────────


@pytest.mark.parametrize(("line", "old", "new"), [
    (82, "令和５年度", "令和０年度"),  # the fiscal year in section 2's table header
    (4, "2023年２月10日", "令和０年２月10日"),  # the as-of date
    (4, "2023年２月10日", "令和99999999999999999999年２月10日"),
], ids=["fiscal-year-0", "as-of-year-0", "as-of-year-huge"])
def test_impossible_era_year_is_reported_not_crashed(capfd: pytest.CaptureFixture[str], line: int, old: str,
                                                     new: str) -> None:
    """A document whose era year is 0 or absurdly large fails cleanly, not as an internal error."""
    run_build(capfd, "\n".join(edit(LINES, line, old, new)).encode("utf-8"))
