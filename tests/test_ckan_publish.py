"""`etl publish` against a real CKAN 2.12 (with PostgreSQL) started by the test suite on loopback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATASET, REAL, edit, real_lines, run_etl, write_doc

pytestmark = pytest.mark.ckan
ORG = "koriyama"


@pytest.fixture(scope="module")
def stack(ckan_stack):
    assert ckan_stack.organization == ORG
    return ckan_stack


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The 2023 release, a 2024 edition, and a re-issue of 2023 under another version name."""
    catalog = tmp_path_factory.mktemp("ckan-catalog")
    raw = tmp_path_factory.mktemp("ckan-raw")
    lines = edit(real_lines(), 4, "2023年２月10日", "2024年２月９日")
    lines = edit(edit(edit(lines, 25, "人事 14 8 6", "人事 15 9 6"), 30, "合計 295 54", "合計 296 55"), 43, "295件", "296件")
    edition_2024 = write_doc(raw, lines, name="koriyama-renkei-kyotei-2024-02-09.txt")
    reissue = write_doc(raw / "r2", edit(real_lines(), 283, "共催", "共催・協力"))
    for doc, extra in ((REAL, []), (edition_2024, []), (reissue, ["--version", "2023-02-10-r2"])):
        result = run_etl("build", "--raw", doc, "--out", catalog, *extra)
        assert result.returncode == 0, result.stdout + result.stderr
    return {v: catalog / DATASET / v for v in ("2023-02-10", "2024-02-09", "2023-02-10-r2")}


def publish(stack, release: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_etl("publish", release, "--ckan", stack.url, "--organization", ORG,
                   env={"CKAN_API_TOKEN": stack.token, **env})


def portal_with(stack, releases: dict[str, Path], *versions: str) -> None:
    """Start a test from a known portal: exactly these releases published, so that any test can
    run alone or in any order. A portal holding other releases is purged first; one holding these
    gets them published again, which uploads only what is missing (hashes are compared)."""
    from ckan_stack import CkanApiError

    try:
        present = {r.get("release_version") for r in stack.api("package_show", id=DATASET)["resources"]}
    except CkanApiError as exc:
        if exc.type != "Not Found Error":
            raise
        present = set()
    if present != set(versions) and present:
        stack.api("dataset_purge", id=DATASET)
    for version in versions:
        result = publish(stack, releases[version])
        assert result.returncode == 0, result.stdout + result.stderr


def resources_of(stack, version: str) -> list[dict]:
    package = stack.api("package_show", id=DATASET)
    return [r for r in package["resources"] if r.get("release_version") == version]


def test_publish_creates_the_dataset_with_every_file(stack, releases: dict[str, Path]) -> None:
    """Package metadata and one resource per file, read back through the Action API, bytes included."""
    portal_with(stack, releases)
    release = releases["2023-02-10"]
    result = publish(stack, release)
    assert result.returncode == 0, result.stdout + result.stderr
    assert stack.token not in result.stdout + result.stderr
    datapackage = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    package = stack.api("package_show", id=DATASET)
    assert package["title"] == datapackage["title"] and package["version"] == "2023-02-10"
    assert package["organization"]["name"] == ORG
    assert package["license_id"] == datapackage["licenses"][0]["name"]
    assert {t["name"] for t in package["tags"]} == set(datapackage["keywords"])
    extras = {e["key"]: e["value"] for e in package["extras"]}
    assert extras["as_of"] == "2023-02-10" and extras["全国地方公共団体コード"] == "072036"
    assert "他機関との連携協定について" in extras["source"]
    assert datapackage["x-attribution"] in package["notes"]
    files = {p.name: p for p in release.iterdir()}
    uploaded = resources_of(stack, "2023-02-10")
    assert sorted(r["release_path"] for r in uploaded) == sorted([*files, "report.html"])
    report = next(r for r in uploaded if r["release_path"] == "report.html")
    page = stack.download(report["url"]).decode("utf-8")  # the release's own HTML report (etl report)
    assert (report["format"], report["mimetype"]) == ("HTML", "text/html") and '<html lang="ja">' in page
    assert 'data-check="agreement_counts.row_totals"' in page and "<svg" in page
    for r in (r for r in uploaded if r["release_path"] != "report.html"):
        assert stack.download(r["url"]) == files[r["release_path"]].read_bytes(), r["release_path"]
        if r["release_path"].endswith(".csv"):
            assert (r["format"], r["mimetype"]) == ("CSV", "text/csv")
            described = next(x for x in datapackage["resources"] if x["path"] == r["release_path"])
            assert json.loads(r["schema"]) == described["schema"]
            assert r["hash"] == described["hash"]


def test_publishing_the_same_release_again_changes_nothing(stack, releases: dict[str, Path]) -> None:
    """A second publish compares hashes, uploads nothing and leaves the portal's metadata untouched."""
    portal_with(stack, releases, "2023-02-10")
    before = stack.api("package_show", id=DATASET)
    result = publish(stack, releases["2023-02-10"])
    assert result.returncode == 0 and "nothing changed" in result.stdout
    after = stack.api("package_show", id=DATASET)
    assert after["metadata_modified"] == before["metadata_modified"]
    assert [r["id"] for r in after["resources"]] == [r["id"] for r in before["resources"]]


def test_a_newer_release_updates_the_dataset_and_keeps_the_older_files(stack, releases: dict[str, Path]) -> None:
    """The 2024 edition becomes the dataset's version, listed first; 2023's files stay downloadable."""
    portal_with(stack, releases, "2023-02-10")
    result = publish(stack, releases["2024-02-09"])
    assert result.returncode == 0, result.stdout + result.stderr
    package = stack.api("package_show", id=DATASET)
    assert package["version"] == "2024-02-09"
    assert {e["key"]: e["value"] for e in package["extras"]}["as_of"] == "2024-02-09"
    versions = [r["release_version"] for r in package["resources"]]
    assert versions == sorted(versions, reverse=True) and versions.count("2023-02-10") == len(versions) // 2
    old = next(r for r in resources_of(stack, "2023-02-10") if r["release_path"] == "072036_agreement_counts.csv")
    assert stack.download(old["url"]) == (releases["2023-02-10"] / "072036_agreement_counts.csv").read_bytes()


def test_an_invalid_release_is_refused(stack, releases: dict[str, Path], tmp_path: Path) -> None:
    """A release that fails etl validate is not published (exit 1) and the portal is unchanged."""
    portal_with(stack, releases, "2023-02-10")
    bad = tmp_path / "bad"
    shutil.copytree(releases["2023-02-10-r2"], bad)
    csv = bad / "072036_agreement_counts.csv"
    csv.write_bytes(csv.read_bytes().replace(b",8\n", b",9\n", 1))
    before = stack.api("package_show", id=DATASET)
    result = publish(stack, bad)
    assert result.returncode == 1 and "does not pass etl validate" in result.stderr
    assert stack.api("package_show", id=DATASET)["metadata_modified"] == before["metadata_modified"]


def test_the_token_comes_only_from_the_environment(stack, releases: dict[str, Path]) -> None:
    """Without CKAN_API_TOKEN the command stops (exit 2) and there is no option to pass a token."""
    result = run_etl("publish", releases["2023-02-10"], "--ckan", stack.url, "--organization", ORG,
                     env={"CKAN_API_TOKEN": ""})
    assert result.returncode == 2 and "CKAN_API_TOKEN" in result.stderr
    assert "--token" not in run_etl("publish", "--help").stdout


def test_the_portal_going_away_mid_publish_is_reported_and_the_rerun_completes(
    stack, releases: dict[str, Path], tmp_path: Path
) -> None:
    """Stop CKAN after 3 uploads: exit 3 naming what was and was not uploaded; the next run finishes."""
    portal_with(stack, releases, "2023-02-10", "2024-02-09")
    resume = tmp_path / "resume"
    exe = Path(sys.executable).with_name("etl")
    env = {**os.environ, "CKAN_API_TOKEN": stack.token, "ETL_FAULT_PAUSE": "ckan_uploaded_3",
           "ETL_FAULT_RESUME": str(resume)}
    proc = subprocess.Popen([str(exe), "publish", str(releases["2023-02-10-r2"]), "--ckan", stack.url,
                             "--organization", ORG], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        seen = []
        while not seen or "paused at ckan_uploaded_3" not in seen[-1]:
            seen.append(proc.stderr.readline())
            assert seen[-1], f"publish ended before pausing: {''.join(seen)}"
        stack.stop_server()
        resume.touch()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    assert proc.returncode == 3, out + err
    assert "stopped half way" in err and "not uploaded:" in err and "Traceback" not in err
    assert stack.token not in out + err
    stack.start_server()
    assert len(resources_of(stack, "2023-02-10-r2")) == 3
    result = publish(stack, releases["2023-02-10-r2"])
    assert result.returncode == 0, result.stdout + result.stderr
    paths = sorted(r["release_path"] for r in resources_of(stack, "2023-02-10-r2"))
    assert paths == sorted([*(p.name for p in releases["2023-02-10-r2"].iterdir()), "report.html"])
    # The re-issue is older than 2024: the dataset still describes the newest release.
    assert stack.api("package_show", id=DATASET)["version"] == "2024-02-09"


def test_republishing_any_release_changes_nothing_and_keeps_the_newest_first(
    stack, releases: dict[str, Path]
) -> None:
    """Publishing old releases again flips nothing: the newest (by as-of date, then version) stays on top."""
    portal_with(stack, releases, "2023-02-10", "2024-02-09", "2023-02-10-r2")
    before = stack.api("package_show", id=DATASET)
    for version in ("2023-02-10-r2", "2023-02-10", "2024-02-09"):
        result = publish(stack, releases[version])
        assert result.returncode == 0 and "nothing changed" in result.stdout, result.stdout + result.stderr
    after = stack.api("package_show", id=DATASET)
    assert after["metadata_modified"] == before["metadata_modified"] and after["version"] == "2024-02-09"
    order = list(dict.fromkeys(r["release_version"] for r in after["resources"]))
    assert order == ["2024-02-09", "2023-02-10-r2", "2023-02-10"]
