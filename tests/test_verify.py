"""Verification of a staged release: damage done after writing is caught before anything is published.

Each damage keeps datapackage.json's sizes and hashes in step with the damaged file (a faulty
writer, not only a faulty disk), except the flipped byte. The build's verification (files against
the validated tables) must refuse each one. For the two where the old check's reason differs most
(a count changed; Parquet that frictionless would read with NaN integers) the full re-validation
(`etl validate`'s checks and frictionless over every resource, ~0.6 s each) is run too, to show the
faster one catches what it caught; the schema loosened in datapackage.json only the new one sees.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import REAL

from etl import pipeline
from etl.errors import PublishError
from etl.release.publish import write_release


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    """The real document's tables and an undamaged release written from them."""
    dataset = pipeline.load(REAL)
    folder = tmp_path_factory.mktemp("verify") / "release"
    write_release(dataset, folder, dataset.as_of)
    return dataset, folder


def _rehash(folder: Path, name: str) -> None:
    """datapackage.json describes the (damaged) file again: size and hash as it is now."""
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    for r in package["resources"]:
        if r["path"] == name:
            data = (folder / name).read_bytes()
            r["hash"] = "sha256:" + hashlib.sha256(data).hexdigest()
            r["bytes" if r["format"] == "csv" else "x-bytes"] = len(data)
    (folder / "datapackage.json").write_text(json.dumps(package, ensure_ascii=False, indent=2), encoding="utf-8")


def _csv(name: str, change: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        file = folder / name
        file.write_bytes(change(file.read_bytes()))
        _rehash(folder, name)
    return damage


def _parquet(name: str, change: Callable) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        table = change(pq.read_table(folder / name))
        pq.write_table(table, folder / name, compression="zstd")
        _rehash(folder, name)
    return damage


def _descriptor(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
        change(package)
        (folder / "datapackage.json").write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")
    return damage


def _flip(folder: Path) -> None:
    file = folder / "072036_initiatives.parquet"
    data = bytearray(file.read_bytes())
    data[-1] ^= 1
    file.write_bytes(bytes(data))


def _count_plus_one(data: bytes) -> bytes:
    header, first, rest = data.split(b"\n", 2)
    cells = first.split(b",")
    cells[-1] = str(int(cells[-1]) + 1).encode()  # 協定数, the last column, of the first row
    return b"\n".join([header, b",".join(cells), rest])


def _count_field(package: dict) -> dict:
    return next(f for f in package["resources"][0]["schema"]["fields"] if f["name"] == "協定数")


def _field_type(package: dict) -> None:
    _count_field(package)["type"] = "strng"


def _schema_loosened(package: dict) -> None:
    _count_field(package)["constraints"].pop("minimum")


COUNTS = "072036_agreement_counts.csv"
DAMAGES = {
    # damage: (how, what the build's verification says, the full re-validation catches it too)
    "flipped byte": (_flip, "has hash", False),
    "a count changed": (_csv(COUNTS, _count_plus_one), "does not hold the validated table", True),
    "a blank line": (_csv(COUNTS, lambda d: d.replace(b"\n", b"\n\n", 1)), "does not hold the validated table", False),
    "a column more": (_csv(COUNTS, lambda d: d.replace(b"\n", b",x\n")), "does not hold the validated table", False),
    "a row fewer": (_csv(COUNTS, lambda d: d[: d.rindex(b"\n", 0, len(d) - 1) + 1]),
                    "does not hold the validated table", False),
    "Parquet without pandas metadata": (
        _parquet("072036_initiatives.parquet", lambda t: t.replace_schema_metadata(None)),
        "lacks the pandas metadata", True),
    "Parquet rows reversed": (_parquet("072036_initiatives.parquet", lambda t: t.take(list(range(t.num_rows))[::-1])),
                              "does not hold the validated table", False),
    "unknown field type": (_descriptor(_field_type), "frictionless", False),
    "schema not the one of schemas/": (_descriptor(_schema_loosened), "is not the one of schemas/", False),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_staged_release_is_refused(written, damage: str, tmp_path: Path) -> None:
    """The build's verification refuses the damage, naming it; the full re-validation agrees where it could see it."""
    dataset, clean = written
    how, said, full_sees_it = DAMAGES[damage]
    folder = tmp_path / "release"
    shutil.copytree(clean, folder)
    how(folder)
    with pytest.raises(PublishError) as caught:
        pipeline.verify_release(folder, dataset.tables)
    assert said in str(caught.value)
    if full_sees_it:
        with pytest.raises(PublishError):
            pipeline.verify_release(folder)


def test_an_undamaged_release_verifies_both_ways(written) -> None:
    """The same release passes the build's verification and the full re-validation."""
    dataset, clean = written
    pipeline.verify_release(clean, dataset.tables)
    pipeline.verify_release(clean)


def test_bad_cells_are_reported_whatever_the_file_names_its_columns() -> None:
    """A CSV with an extra column named like a helper column ('_row') and a bad cell: its failures are
    listed with their row numbers (it used to crash read_csv with polars' DuplicateError)."""
    from etl.shared import schemas
    from etl.validate.run import read_csv

    ts = schemas.table("initiatives")
    csv = pipeline.load(REAL).tables["initiatives"].write_csv()
    header, first, *rest = csv.splitlines()
    first = first.replace(",2023,", ",20x3,", 1)
    assert ",20x3," in first
    text = "\n".join([header + ",_row", *(line + ",x" for line in [first, *rest])]) + "\n"
    _, results = read_csv(ts, text.encode(), "072036_initiatives.csv")
    assert [r.message for r in results if not r.passed] == ["row 1, 年度: 「20x3」 is not a valid integer."]
