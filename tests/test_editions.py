"""Many editions in one catalog: the cumulative tables, the latest alias, and their agreement with etl diff.

Ten synthetic consecutive editions of the real document (one a year) are built one by one into one
catalog, in-process, once for the module. Edition e moves two cells consistently (事業×学 += e//2,
災害×民 += e, with the row totals, the 合計 row and the headline total), and lists two synthetic
partners: the one added in edition e and the one added in e-1 (each stays two editions, then goes).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import DATASET, REAL, dataset_of, edit, in_fiscal_year, real_lines, snapshot, write_doc

from etl import cli, pipeline
from etl.release.diff import diff_releases
from etl.report.text import render
from etl.shared import schemas
from etl.validate.run import integrity_results, read_csv, schema_results, validate_dataset, validate_release

# One xdist group: the ten editions are built once, by the worker that runs them all.
pytestmark = pytest.mark.xdist_group("editions")

EDITIONS = 10


def as_of(e: int) -> date:
    return date(2023 + e, 2, 10)


def synthetic(j: int) -> str:
    return f"テスト連携{j}号株式会社"


def present(e: int) -> list[int]:
    """The synthetic partners listed in edition e (added in e-1 and in e)."""
    return [j for j in (e - 1, e) if j >= 1]


def edition_lines(e: int) -> list[str]:
    """The real document as edition e: other as-of date, two counts moved, partners added and removed."""
    lines = edit(real_lines(), 4, "2023年", f"{2023 + e}年")
    # The fiscal year moves with the date: edition e is the initial-budget material of 年度 2023+e.
    lines = in_fiscal_year(lines, 2023 + e)
    lines = edit(lines, 27, "事業 97 13 73 10 1", f"事業 {97 + e // 2} 13 73 {10 + e // 2} 1")
    lines = edit(lines, 28, "災害 136 17 116 1 2", f"災害 {136 + e} 17 {116 + e} 1 2")
    lines = edit(lines, 30, "合計 295 54 215 22 4", f"合計 {295 + e + e // 2} 54 {215 + e} {22 + e // 2} 4")
    lines = edit(lines, 43, "295件", f"{295 + e + e // 2}件")
    lines = edit(lines, 66, "21団体", f"{21 + len(present(e))}団体")
    return lines[:64] + [synthetic(j) for j in present(e)] + lines[64:]


@pytest.fixture(scope="module")
def editions(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Build the real document and ten editions one by one; record the catalog after each build."""
    catalog, raw = tmp_path_factory.mktemp("editions"), tmp_path_factory.mktemp("editions-raw")
    states = []
    for e in range(EDITIONS + 1):
        doc = REAL if e == 0 else write_doc(raw, edition_lines(e), name=f"koriyama-renkei-kyotei-{as_of(e)}.txt")
        result = pipeline.build(doc, catalog)
        assert result.outcome is not None and result.outcome.status == "published", render(result.report)
        states.append(_state(catalog, str(as_of(e))))
    return {"catalog": catalog, "states": states}


def _state(catalog: Path, version: str) -> dict:
    folder = catalog / DATASET / "cumulative"
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    by_name = {r["name"]: r for r in package["resources"]}
    tables, problems = {}, []
    for ts in schemas.cumulative_tables():
        data, results = integrity_results(folder, by_name[ts.name])
        frame, read = read_csv(ts, data, by_name[ts.name]["path"])
        problems += [r.message for r in results + read + schema_results(ts, frame) if not r.passed]
        tables[ts.name] = frame
    latest = catalog / DATASET / "latest"
    same = sorted(p.name for p in latest.iterdir()) == sorted(p.name for p in (catalog / DATASET / version).iterdir())
    same = same and all(p.read_bytes() == (catalog / DATASET / version / p.name).read_bytes() for p in latest.iterdir())
    index = json.loads((catalog / "catalog.json").read_text(encoding="utf-8"))["datasets"][0]
    return {"version": version, "tables": tables, "problems": problems, "package": package,
            "latest_is_copy": same, "index": index}


def _real_table(name: str) -> pl.DataFrame:
    """A table of the real document's published release, typed by its schema."""
    file = REAL.parent.parent / "published" / DATASET / "2023-02-10" / f"072036_{name}.csv"
    return read_csv(schemas.table(name), file.read_bytes(), file.name)[0]


def expected_counts(k: int) -> pl.DataFrame:
    """agreement_counts of editions 0…k, from the real release's counts and the edits made."""
    base = _real_table("agreement_counts")
    frames = []
    for e in range(k + 1):
        moved = (pl.when((pl.col("協定種別") == "事業") & (pl.col("相手方区分") == "学")).then(e // 2)
                 .when((pl.col("協定種別") == "災害") & (pl.col("相手方区分") == "民")).then(e).otherwise(0))
        frames.append(base.with_columns(時点=pl.lit(as_of(e)), 版=pl.lit(str(as_of(e))),
                                        協定数=pl.col("協定数") + moved))
    return schemas.table("cumulative_agreement_counts").conform(pl.concat(frames))


def test_every_intermediate_state_is_valid(editions: dict) -> None:
    """After each build the cumulative files match their hashes and schemas, latest/ is a byte copy of
    the newest release (each passed verification when published; etl validate passes on the last),
    and catalog.json points at both."""
    assert validate_release(editions["catalog"] / DATASET / "latest").valid
    for state in editions["states"]:
        assert state["problems"] == [], state["version"]
        assert state["latest_is_copy"], state["version"]
        index = state["index"]
        assert index["latest"] == state["version"] and index["latest_release"]["version"] == state["version"]
        assert index["latest_release"]["path"] == f"{DATASET}/latest/datapackage.json"
        assert index["cumulative"]["path"] == f"{DATASET}/cumulative/datapackage.json"
        assert state["package"]["x-releases"] == [r["version"] for r in index["releases"]]


def test_the_cumulative_counts_hold_every_edition(editions: dict) -> None:
    """cumulative_agreement_counts after edition k is the counts of editions 0…k, one 時点 each."""
    for k, state in enumerate(editions["states"]):
        assert state["tables"]["cumulative_agreement_counts"].equals(expected_counts(k)), k


def test_the_cumulative_partners_span_first_and_last_edition(editions: dict) -> None:
    """Each partner's 初出時点, 最終時点 and 掲載時点数 follow the editions that list it."""
    real = _real_table("partnership_partners")["協定先名称"].to_list()
    for k, state in enumerate(editions["states"]):
        spans = {r["協定先名称"]: (r["初出時点"], r["最終時点"], r["掲載時点数"])
                 for r in state["tables"]["cumulative_partners"].iter_rows(named=True)}
        expected = {name: (as_of(0), as_of(k), k + 1) for name in real}
        expected |= {synthetic(j): (as_of(j), as_of(min(j + 1, k)), min(j + 1, k) - j + 1) for j in range(1, k + 1)}
        assert spans == expected, k


def test_etl_diff_and_the_cumulative_tables_agree(editions: dict) -> None:
    """Between consecutive editions, the counts etl diff reports changed and the partners it reports
    added or removed are exactly what the cumulative tables say."""
    catalog, final = editions["catalog"], editions["states"][-1]["tables"]
    counts, spans = final["cumulative_agreement_counts"], final["cumulative_partners"]
    for e in range(1, EDITIONS + 1):
        diffs = {d.table: d for d in diff_releases(catalog / DATASET / str(as_of(e - 1)), catalog / DATASET / str(as_of(e)))}
        changed = {(k["協定種別"], k["相手方区分"], old, new) for k, col, old, new in diffs["agreement_counts"].changed
                   if col == "協定数"}
        pair = counts.filter(pl.col("時点").is_in([as_of(e - 1), as_of(e)])).pivot(
            "時点", index=["協定種別", "相手方区分"], values="協定数")
        moved = {(r[0], r[1], r[2], r[3]) for r in pair.iter_rows() if r[2] != r[3]}
        assert changed == moved and changed, e
        partners = diffs["partnership_partners"]
        added = {r["協定先名称"] for r in partners.added}
        removed = {r["協定先名称"] for r in partners.removed}
        assert added == set(spans.filter(pl.col("初出時点") == as_of(e))["協定先名称"]), e
        ended = spans.filter((pl.col("最終時点") == as_of(e - 1)))["協定先名称"]
        assert removed == set(ended), e


def test_the_cumulative_package_passes_frictionless(editions: dict) -> None:
    """frictionless validates the cumulative datapackage.json (both tables, CSV and Parquet)."""
    from frictionless import Package, system

    with system.use_context(trusted=True):
        report = Package(str(editions["catalog"] / DATASET / "cumulative" / "datapackage.json")).validate()
    assert report.valid, report.flatten(["type", "note"])


def test_a_derived_folder_name_is_no_version(tmp_path: Path) -> None:
    """`--version latest` (or cumulative) is refused with exit 2: those folders are rebuilt from the releases."""
    for name in ("latest", "cumulative"):
        assert cli.main(["build", "--raw", str(REAL), "--out", str(tmp_path / "c"), "--version", name]) == 2
    assert not (tmp_path / "c").exists()


def test_a_damaged_older_release_stops_publishing_and_changes_nothing(editions: dict, tmp_path: Path) -> None:
    """When an older release cannot be read, the cumulative tables cannot be built: exit 3, catalog unchanged."""
    import shutil

    catalog = tmp_path / "catalog"
    shutil.copytree(editions["catalog"], catalog)
    damaged = catalog / DATASET / str(as_of(3)) / "072036_agreement_counts.csv"
    damaged.write_bytes(b"not,this,table\n1,2,3\n")
    before = snapshot(catalog)
    code = cli.main(["build", "--raw", str(REAL), "--out", str(catalog), "--version", "2023-02-10-r2"])
    assert code == 3
    assert snapshot(catalog) == before


def test_a_reiwa_6_edition_with_a_new_field_and_a_new_initiative_builds_its_tables() -> None:
    """令和６年度: other date and year, a new 分野 with a new initiative in section 2 and a new row in
    section 3. No code knows any of it; the tables say it."""
    lines = edition_lines(1)
    at = lines.index("42,477千円") + 1  # after the last スポーツ row, before 防災
    new_row = ["", "観", "", "光", "", "観光振興に関する連携協定 株式会社日本旅行 観光PRｲﾍﾞﾝﾄの開催", "", "1,200千円"]
    lines = lines[:at] + new_row + lines[at:]
    lines = [*lines, "", "観光", "", "株式会社日本旅行 ・旅行商品の造成"]
    ds = dataset_of(lines)
    report = validate_dataset(ds)
    assert report.valid, [r.message for r in report.results if not r.passed]
    initiatives = ds.tables["initiatives"]
    assert initiatives.height == 10 and set(initiatives["年度"]) == {2024}
    tourism = initiatives.filter(pl.col("分野") == "観光").row(0, named=True)
    assert (tourism["取組ID"], tourism["協定名称"], tourism["予算額_千円"], tourism["協定先数"]) == (
        9, "観光振興に関する連携協定", 1200, 1)
    assert initiatives.filter(pl.col("取組ID") == 10)["分野"].item() == "防災"
    partner = ds.tables["initiative_partners"].filter(pl.col("取組ID") == 9).row(0, named=True)
    listed = ds.tables["partnership_partners"].filter(pl.col("協定先名称") == "株式会社日本旅行")["協定先ID"].item()
    assert partner["協定先名称"] == "株式会社日本旅行" and partner["協定先ID"] == listed
    items = ds.tables["initiative_items"].filter(pl.col("取組ID") == 9)["取組内容"].to_list()
    assert items == ["観光PRイベントの開催"]
    rows = ds.tables["activity_rows"]
    assert rows.height == 12 and set(rows["年度"]) == {2024}
    fields = ds.tables["activity_fields"].filter(pl.col("掲載行番号") == 12)["分野"].to_list()
    assert fields == ["観光"]
    last = ds.tables["partnership_activities"].filter(pl.col("掲載行番号") == 12)["取組内容"].to_list()
    assert last == ["旅行商品の造成"]
    assert ds.tables["agreement_counts"]["時点"].unique().to_list() == [date(2024, 2, 10)]


def test_the_programme_is_named_as_the_document_names_it(tmp_path: Path) -> None:
    """An edition that renames the partnership programme (section 1's box, section 3's heading) publishes
    titles with the new name; schemas/ only says where the name goes."""
    from etl.release.publish import write_release
    from etl.report.html import build_page, render

    old = "公民協奏"
    lines = [t.replace(old, "こおりやま共創").replace("公民協奏ﾊﾟｰﾄﾅｰｼｯﾌﾟ", "こおりやま共創ﾊﾟｰﾄﾅｰｼｯﾌﾟ")
             for t in real_lines()]
    ds = dataset_of(lines)
    assert ds.programme == "こおりやま共創パートナーシップ包括連携協定"
    package = write_release(ds, tmp_path / "release", "2023-02-10")
    titles = {r["name"]: r["title"] for r in package["resources"]}
    assert titles["partnership_partners"] == "こおりやま共創パートナーシップ包括連携協定 協定先一覧"
    assert schemas.programme_of(package) == ds.programme
    assert old not in json.dumps(package, ensure_ascii=False)
    page = render(build_page(validate_dataset(ds), REAL, ds))
    assert "協定先（こおりやま共創パートナーシップ包括連携協定）と掲載箇所" in page and old not in page
