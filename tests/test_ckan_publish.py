"""`etl publish` against a real CKAN 2.12 (with PostgreSQL) started by the test suite on loopback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests
from conftest import DATASET, REAL, edit, in_fiscal_year, real_lines, run_etl, write_doc
from loopback import serving

from etl.portal.ckan import edition_name
from etl.report.text import render
from etl.shared import schemas

# One xdist worker runs every test of the real CKAN, in file order, against one stack.
pytestmark = [pytest.mark.ckan, pytest.mark.xdist_group("ckan")]
ORG = "koriyama"


@pytest.fixture(scope="module")
def stack(ckan_stack):
    assert ckan_stack.organization == ORG
    return ckan_stack


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The 2023 release, editions 2024–2026, and a re-issue of 2023 under another version name."""
    from etl import pipeline

    catalog = tmp_path_factory.mktemp("ckan-catalog")
    raw = tmp_path_factory.mktemp("ckan-raw")
    lines = edit(real_lines(), 4, "2023年２月10日", "2024年２月９日")
    lines = edit(edit(edit(lines, 25, "人事 14 8 6", "人事 15 9 6"), 30, "合計 295 54", "合計 296 55"), 43, "295件", "296件")
    docs = [(REAL, None), (write_doc(raw, lines, name="koriyama-renkei-kyotei-2024-02-09.txt"), None)]
    for year in (2025, 2026):
        later = in_fiscal_year(edit(lines, 4, "2024年", f"{year}年"), year - 1)
        docs.append((write_doc(raw, later, name=f"koriyama-renkei-kyotei-{year}-02-09.txt"), None))
    docs.append((write_doc(raw / "r2", edit(real_lines(), 283, "共催", "共催・協力")), "2023-02-10-r2"))
    for doc, version in docs:  # in-process: the build is not what these tests are about
        result = pipeline.build(doc, catalog, version)
        assert result.outcome is not None, render(result.report)
    versions = ("2023-02-10", "2024-02-09", "2025-02-09", "2026-02-09", "2023-02-10-r2")
    return {v: catalog / DATASET / v for v in versions}


def publish(stack, release: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_etl("publish", release, "--ckan", stack.url, "--organization", ORG,
                   env={"CKAN_API_TOKEN": stack.token, **env})


def package(stack, name: str) -> dict | None:
    from ckan_stack import CkanApiError

    try:
        return stack.api("package_show", id=name)
    except CkanApiError as exc:
        if exc.type != "Not Found Error":
            raise
        return None


def editions_listed(stack) -> dict[str, str]:
    stable = package(stack, DATASET)
    return json.loads({e["key"]: e["value"] for e in stable["extras"]}["editions"]) if stable else {}


def portal_with(stack, releases: dict[str, Path], *versions: str) -> None:
    """Start a test from a known portal: exactly these releases published, so that any test can
    run alone or in any order. A portal holding other releases is purged first; one holding these
    gets them published again, which uploads only what is missing (hashes are compared)."""
    if set(editions_listed(stack)) != set(versions):
        for name in [DATASET, *(edition_name(DATASET, v) for v in releases)]:
            if package(stack, name) is not None:
                stack.api("dataset_purge", id=name)
    for version in versions:
        result = publish(stack, releases[version])
        assert result.returncode == 0, result.stdout + result.stderr


def resources_of(stack, version: str) -> list[dict]:
    return stack.api("package_show", id=edition_name(DATASET, version))["resources"]


def test_publish_creates_the_edition_and_the_stable_dataset(stack, releases: dict[str, Path]) -> None:
    """One dataset for the edition (metadata, one uploaded resource per file, bytes included) and the
    stable dataset describing it, whose resources link to the edition's files."""
    portal_with(stack, releases)
    release = releases["2023-02-10"]
    result = publish(stack, release)
    assert result.returncode == 0, result.stdout + result.stderr
    assert stack.token not in result.stdout + result.stderr
    datapackage = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    for name in (DATASET, edition_name(DATASET, "2023-02-10")):
        pkg = stack.api("package_show", id=name)
        assert pkg["version"] == "2023-02-10" and datapackage["title"] in pkg["title"]
        assert pkg["organization"]["name"] == ORG
        assert pkg["license_id"] == datapackage["licenses"][0]["name"]
        assert {t["name"] for t in pkg["tags"]} == set(datapackage["keywords"])
        extras = {e["key"]: e["value"] for e in pkg["extras"]}
        assert extras["as_of"] == "2023-02-10" and extras["全国地方公共団体コード"] == "072036"
        assert "他機関との連携協定について" in extras["source"]
        assert datapackage["x-attribution"] in pkg["notes"]
    files = {p.name: p for p in release.iterdir()}
    uploaded = resources_of(stack, "2023-02-10")
    assert [r["release_path"] for r in uploaded] == [r["path"] for r in datapackage["resources"]] + [
        "datapackage.json", "report.html"]
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
    links = stack.api("package_show", id=DATASET)["resources"]
    assert [(r["release_path"], r["url"], r["hash"]) for r in links] == [
        (r["release_path"], r["url"], r["hash"]) for r in uploaded]
    assert editions_listed(stack) == {"2023-02-10": edition_name(DATASET, "2023-02-10")}


def test_each_table_is_in_the_datastore_with_its_schema_types(stack, releases: dict[str, Path]) -> None:
    """datastore_search answers every table's rows with the types of schemas/ (int, date, text); a
    second publish pushes nothing."""
    from etl.validate.run import read_csv

    portal_with(stack, releases, "2023-02-10")
    release = releases["2023-02-10"]
    for r in (r for r in resources_of(stack, "2023-02-10") if r["release_path"].endswith(".csv")):
        ts = schemas.table(r["release_path"].removeprefix("072036_").removesuffix(".csv"))
        found = stack.api("datastore_search", resource_id=r["id"], limit=1000, sort="_id")
        types = {f["id"]: f["type"] for f in found["fields"] if f["id"] != "_id"}
        # integer → int (PostgreSQL reports int4), date → date, string → text
        assert types == {f["name"]: {"integer": "int4", "date": "date", "string": "text"}[f["type"]] for f in ts.fields}
        frame, _ = read_csv(ts, (release / r["release_path"]).read_bytes(), r["release_path"])
        rows = [{k: v for k, v in row.items() if k != "_id"} for row in found["records"]]
        expected = json.loads(frame.write_json())
        assert [{k: (v[:10] if types[k] == "date" and v else v) for k, v in row.items()} for row in rows] == expected
        assert r["datastore_active"] and r["datastore_hash"] == r["hash"]
    result = publish(stack, release)
    assert "nothing changed" in result.stdout, result.stdout + result.stderr


def test_publishing_the_same_release_again_changes_nothing(stack, releases: dict[str, Path]) -> None:
    """A second publish compares hashes, uploads and pushes nothing and leaves both datasets untouched."""
    portal_with(stack, releases, "2023-02-10")
    names = (DATASET, edition_name(DATASET, "2023-02-10"))
    before = [stack.api("package_show", id=n) for n in names]
    result = publish(stack, releases["2023-02-10"])
    assert result.returncode == 0 and "nothing changed" in result.stdout, result.stdout + result.stderr
    after = [stack.api("package_show", id=n) for n in names]
    assert [p["metadata_modified"] for p in after] == [p["metadata_modified"] for p in before]


def test_a_newer_release_becomes_the_stable_dataset_and_the_older_edition_stays(
        stack, releases: dict[str, Path]) -> None:
    """The 2024 edition gets its own dataset and becomes the stable one's version and links; 2023's
    dataset and files are untouched."""
    portal_with(stack, releases, "2023-02-10")
    old = stack.api("package_show", id=edition_name(DATASET, "2023-02-10"))
    result = publish(stack, releases["2024-02-09"])
    assert result.returncode == 0, result.stdout + result.stderr
    stable = stack.api("package_show", id=DATASET)
    assert stable["version"] == "2024-02-09"
    assert {e["key"]: e["value"] for e in stable["extras"]}["as_of"] == "2024-02-09"
    new = {r["release_path"]: r["url"] for r in resources_of(stack, "2024-02-09")}
    assert {r["release_path"]: r["url"] for r in stable["resources"]} == new
    assert set(editions_listed(stack)) == {"2023-02-10", "2024-02-09"}
    assert stack.api("package_show", id=edition_name(DATASET, "2023-02-10"))["metadata_modified"] == old[
        "metadata_modified"]
    counts = next(r for r in resources_of(stack, "2023-02-10") if r["release_path"] == "072036_agreement_counts.csv")
    assert stack.download(counts["url"]) == (releases["2023-02-10"] / "072036_agreement_counts.csv").read_bytes()


def test_an_invalid_release_is_refused(stack, releases: dict[str, Path], tmp_path: Path) -> None:
    """A release that fails etl validate is not published (exit 1) and the portal is unchanged."""
    if not editions_listed(stack):  # any portal with a release will do
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


def test_republishing_any_release_changes_nothing_and_keeps_the_newest_stable(
    stack, releases: dict[str, Path]
) -> None:
    """Publishing old releases again flips nothing: the newest (by as-of date, then version) stays the stable one."""
    portal_with(stack, releases, "2023-02-10", "2024-02-09", "2023-02-10-r2")
    before = stack.api("package_show", id=DATASET)
    for version in ("2023-02-10-r2", "2023-02-10", "2024-02-09"):
        result = publish(stack, releases[version])
        assert result.returncode == 0 and "nothing changed" in result.stdout, result.stdout + result.stderr
    after = stack.api("package_show", id=DATASET)
    assert after["metadata_modified"] == before["metadata_modified"] and after["version"] == "2024-02-09"
    assert {r["release_version"] for r in after["resources"]} == {"2024-02-09"}
    assert set(editions_listed(stack)) == {"2023-02-10", "2024-02-09", "2023-02-10-r2"}


def test_publishing_edition_k_makes_a_bounded_number_of_calls(stack, releases: dict[str, Path], monkeypatch) -> None:
    """Counted through the client: each new edition makes the same calls and uploads only its own files,
    however many editions the portal already holds (2025 and 2026 come after every other test's)."""
    from etl.portal import ckan

    if not editions_listed(stack):
        portal_with(stack, releases, "2023-02-10", "2024-02-09")
    calls: list[str] = []
    real_call = ckan.CkanClient.call
    monkeypatch.setattr(ckan.CkanClient, "call", lambda self, action, *a, **k: calls.append(action)
                        or real_call(self, action, *a, **k))
    seen = []
    for version in ("2025-02-09", "2026-02-09"):
        calls.clear()
        summary = ckan.publish_release(releases[version], stack.url, ORG, stack.token)
        assert sorted(summary.uploaded) == sorted([*(p.name for p in releases[version].iterdir()), "report.html"])
        report = next(r for r in resources_of(stack, version) if r["release_path"] == "report.html")
        assert summary.bytes_uploaded == sum(p.stat().st_size for p in releases[version].iterdir()) + int(
            report["size"])
        seen.append(sorted(calls))
    tables = len(schemas.tables())
    assert seen[0] == seen[1] == sorted(["package_show", "package_create"] + ["resource_create"] * len(
        summary.uploaded) + ["datastore_create"] * tables + ["package_show", "package_patch"]), seen


def test_a_portal_without_the_datastore_gets_everything_but_the_tables(stack, releases: dict[str, Path]) -> None:
    """CKAN 2.12 in its default configuration (ckan.plugins = activity, no DataStore): etl publish puts the
    files, the report and the stable dataset there, says in one line that the tables were not pushed and
    how to turn the DataStore on, and exits 0; run again, it changes nothing."""
    from ckan_stack import CkanApiError

    portal_with(stack, releases)
    release = releases["2023-02-10"]
    previous = stack.set_config({"ckan.plugins": "activity", "ckan.views.default_views": "image_view datatables_view"})
    try:
        with pytest.raises(CkanApiError, match="Action name not known"):  # the portal really is without it
            stack.api("datastore_search", resource_id="any")
        first, again = publish(stack, release), publish(stack, release)
        for result in (first, again):
            assert result.returncode == 0, result.stdout + result.stderr
            notes = [line for line in result.stderr.splitlines() if line.strip()]
            assert len(notes) == 1 and "has no DataStore" in notes[0], result.stderr
            assert "add `datastore` to ckan.plugins" in notes[0] and "internal error" not in result.stderr
        assert "nothing changed" in again.stdout
        edition = resources_of(stack, "2023-02-10")
        files = sorted([p.name for p in release.iterdir()] + ["report.html"])
        assert sorted(r["release_path"] for r in edition) == files
        assert not any(r.get("datastore_active") in (True, "True", "true") for r in edition)
        stable = package(stack, DATASET)
        assert stable is not None and [r["url"] for r in stable["resources"]] == [r["url"] for r in edition]
    finally:
        stack.set_config(previous)
        portal_with(stack, releases)  # the next test starts from an empty portal with the DataStore


@contextmanager
def failing_once(target: str, action: str, after: bool) -> Iterator[str]:
    """The URL of a loopback proxy to the real CKAN that fails the first call of `action`: before CKAN
    sees it (503), or after CKAN did it (its answer lost on the way back, 502)."""
    failed: list[bool] = []

    class Proxy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            fail = self.path.rsplit("/", 1)[-1] == action and not failed
            if not fail or after:
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")}
                answer = requests.post(target + self.path, data=body, headers=headers, timeout=120)
            if fail:
                failed.append(True)
                status, kind, content = (502 if after else 503), "text/html", b"<h1>Bad Gateway</h1>"
            else:
                status, kind, content = answer.status_code, answer.headers.get("Content-Type", ""), answer.content
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Proxy) as url:
        yield url
    assert failed, f"{action} was never called"


def publish_here(capfd, monkeypatch, stack, release: Path, url: str) -> tuple[int, str]:
    """`etl publish` in this process (cheaper than a new one for the many runs below)."""
    from etl.cli import main

    monkeypatch.setenv("CKAN_API_TOKEN", stack.token)
    capfd.readouterr()
    code = main(["publish", str(release), "--ckan", url, "--organization", ORG])
    out, err = capfd.readouterr()
    return code, out + err


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("action", ["package_show", "package_create", "resource_create", "datastore_create",
                                    "package_patch"])
def test_a_publish_broken_at_any_action_is_completed_by_the_next_run(
        capfd, monkeypatch, stack, releases: dict[str, Path], action: str, when: str) -> None:
    """Each action of a first publish fails once (before or after the portal did it): exit 3 naming it;
    the next run exits 0 and leaves the portal as one clean publish does; a third changes nothing."""
    portal_with(stack, releases)
    release = releases["2023-02-10"]
    with failing_once(stack.url, action, after=when == "after") as proxy:
        code, text = publish_here(capfd, monkeypatch, stack, release, proxy)
    assert code == 3 and f"{action}: the portal answered HTTP {502 if when == 'after' else 503}" in text, text
    code, text = publish_here(capfd, monkeypatch, stack, release, stack.url)
    assert code == 0, text
    edition = resources_of(stack, "2023-02-10")
    files = [r["path"] for r in json.loads((release / "datapackage.json").read_text())["resources"]]
    assert sorted(r["release_path"] for r in edition) == sorted(files + ["datapackage.json", "report.html"])
    tables = [r for r in edition if r["release_path"].endswith(".csv")]
    assert all(r["datastore_active"] and r["datastore_hash"] == r["hash"] for r in tables)
    links = stack.api("package_show", id=DATASET)["resources"]
    assert sorted((r["release_path"], r["url"]) for r in links) == sorted(
        (r["release_path"], r["url"]) for r in edition)
    assert editions_listed(stack) == {"2023-02-10": edition_name(DATASET, "2023-02-10")}
    code, text = publish_here(capfd, monkeypatch, stack, release, stack.url)
    assert code == 0 and "nothing changed" in text, text
