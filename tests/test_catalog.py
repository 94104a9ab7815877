"""The catalog folder: immutable releases, atomic publishing, crash safety, one writer at a time.

Every test runs the installed `etl` console script as a real process against real files.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DATASET, REAL, VERSION, edit, real_lines, run_etl, snapshot, write_doc

from etl import cli

ETL = Path(sys.executable).with_name("etl")
POINTS = ["staged", "verified", "renamed", "index"]
R2 = "2023-02-10-r2"


# ── helpers ───────────────────────────────────────────────────────────────────────────────


def v2_lines() -> list[str]:
    """The real document with one wording changed in a section-3 bullet (still valid data)."""
    return edit(real_lines(), 283, "ウェブツアー", "オンラインツアー")


def mtimes(folder: Path) -> dict[str, int]:
    """mtime_ns of `folder` and of every file and folder below it (a folder's changes when an entry
    is created or removed in it, even a staging folder that is gone again)."""
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in [folder, *sorted(folder.rglob("*"))]}


INDEX_FILES = {"catalog.json", "catalog.dcat.jsonld"}
DERIVED = ("latest", "cumulative")  # rebuilt from the releases together with the index files


def is_derived(rel: str) -> bool:
    """catalog.json, the DCAT file, or a file of a dataset's latest/ or cumulative/ folder."""
    return rel in INDEX_FILES or any(rel == f"{DATASET}/{d}" or rel.startswith(f"{DATASET}/{d}/") for d in DERIVED)


def is_leftover(rel: str) -> bool:
    """A staging folder (or anything in it) or an index temp file left by a killed build."""
    top = rel.split("/", 1)[0]
    return top.startswith(".staging-") or (top.startswith(".catalog.") and top.endswith(".tmp"))


def without_leftovers(snap: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in snap.items() if not is_leftover(k)}


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def release_complete(release: Path) -> None:
    """Every file named in the release's datapackage.json is there, with its size and hash."""
    package = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    assert package["resources"]
    for r in package["resources"]:
        file = release / r["path"]
        assert file.is_file(), f"{file} missing"
        assert sha256(file) == r["hash"], f"{file} has the wrong hash"
        assert file.stat().st_size == r.get("bytes", r.get("x-bytes"))


def index_of(catalog: Path) -> dict:
    return json.loads((catalog / "catalog.json").read_text(encoding="utf-8"))


def listed(catalog: Path) -> list[str]:
    """Versions of DATASET listed in catalog.json."""
    datasets = {d["name"]: d for d in index_of(catalog)["datasets"]}
    return [r["version"] for r in datasets[DATASET]["releases"]]


def release_dirs(catalog: Path) -> list[str]:
    folder = catalog / DATASET
    return sorted(p.name for p in folder.iterdir() if p.name not in DERIVED) if folder.is_dir() else []


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    out = result.stdout + result.stderr
    assert "Traceback" not in out and "internal error" not in out, out


def assert_validates(release: Path) -> None:
    """`etl validate <release>` passes (run in-process: it only reads the files)."""
    assert cli.main(["validate", str(release)]) == 0


def build(catalog: Path, raw: Path = REAL, *extra: str, env: dict[str, str] | None = None):
    return run_etl("build", "--raw", raw, "--out", catalog, *extra, env=env)


def clean_env() -> dict[str, str]:
    """The environment for a Popen'd build (the autouse fixture has removed inherited hooks)."""
    return dict(os.environ)


@pytest.fixture(autouse=True)
def _no_inherited_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    """No fault hook or lock timeout from the caller's shell leaks into the builds."""
    for name in list(os.environ):
        if name.startswith("ETL_FAULT_") or name == "ETL_LOCK_TIMEOUT":
            monkeypatch.delenv(name)


@pytest.fixture
def catalog_with_release(published: Path, tmp_path: Path) -> Path:
    """A private copy of a catalog that already holds the real document's release."""
    catalog = tmp_path / "catalog"
    shutil.copytree(published.parent.parent, catalog)
    return catalog


@pytest.fixture(scope="module")
def v2_doc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_doc(tmp_path_factory.mktemp("v2"), v2_lines())


# ── immutability and versions ─────────────────────────────────────────────────────────────


def test_identical_rebuild_touches_nothing(tmp_path: Path) -> None:
    """Building the same source twice leaves every file and folder of the catalog untouched (bytes
    and mtimes): the comparison is built outside the catalog, so a read-only catalog works too."""
    catalog = tmp_path / "catalog"
    first = build(catalog)
    assert first.returncode == 0, first.stderr
    before, before_mtimes = snapshot(catalog), mtimes(catalog)
    time.sleep(0.01)
    second = build(catalog)
    assert second.returncode == 0, second.stderr
    no_traceback(second)
    assert "already published" in second.stdout
    assert snapshot(catalog) == before
    assert mtimes(catalog) == before_mtimes


def test_different_content_same_version_is_refused_then_new_version_published(
    catalog_with_release: Path, v2_doc: Path
) -> None:
    """Other content under an existing version exits 1 with a diff; under a new version it publishes beside it."""
    catalog = catalog_with_release
    before = snapshot(catalog)
    old_release = snapshot(catalog / DATASET / VERSION)

    refused = build(catalog, v2_doc)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    no_traceback(refused)
    assert "already published with different content" in refused.stderr
    assert "partnership_activities" in refused.stderr
    assert "ウェブツアー" in refused.stderr and "オンラインツアー" in refused.stderr
    assert "--version" in refused.stderr
    assert snapshot(catalog) == before

    published = build(catalog, v2_doc, "--version", R2)
    assert published.returncode == 0, published.stderr
    assert release_dirs(catalog) == [VERSION, R2]
    assert snapshot(catalog / DATASET / VERSION) == old_release
    release_complete(catalog / DATASET / R2)
    (entry,) = index_of(catalog)["datasets"]
    assert [r["version"] for r in entry["releases"]] == [VERSION, R2]
    assert entry["latest"] == R2


def test_latest_sorts_by_as_of_before_version_name(catalog_with_release: Path, tmp_path: Path) -> None:
    """A release with a later as-of date is `latest` even when its version name sorts first."""
    catalog = catalog_with_release
    later = write_doc(tmp_path / "later", edit(real_lines(), 4, "２月10日", "３月１日"))
    result = build(catalog, later, "--version", "2023-01-31")
    assert result.returncode == 0, result.stderr
    (entry,) = index_of(catalog)["datasets"]
    assert [(r["version"], r["as_of"]) for r in entry["releases"]] == [
        (VERSION, "2023-02-10"), ("2023-01-31", "2023-03-01")]
    assert entry["latest"] == "2023-01-31"


def test_catalog_json_matches_files_on_disk(catalog_with_release: Path, v2_doc: Path) -> None:
    """catalog.json lists every dataset and release, with each resource's size and hash as on disk."""
    catalog = catalog_with_release
    assert build(catalog, v2_doc, "--version", R2).returncode == 0
    idx = index_of(catalog)
    on_disk = {(p.parent.parent.name, p.parent.name) for p in catalog.glob("*/*/datapackage.json")
               if p.parent.name not in DERIVED}
    in_index = {(d["name"], r["version"]) for d in idx["datasets"] for r in d["releases"]}
    assert in_index == on_disk == {(DATASET, VERSION), (DATASET, R2)}
    for d in idx["datasets"]:
        assert d["title"]
        assert d["latest"] in {r["version"] for r in d["releases"]}
        for r in d["releases"]:
            package_path = catalog / r["path"]
            package = json.loads(package_path.read_text(encoding="utf-8"))
            assert r["as_of"] == package["x-as-of"]
            assert [x["name"] for x in r["resources"]] == [x["name"] for x in package["resources"]]
            files = {p.name for p in package_path.parent.iterdir()} - {"datapackage.json"}
            assert {Path(x["path"]).name for x in r["resources"]} == files
            for res in r["resources"]:
                file = catalog / res["path"]
                assert file.is_file()
                assert res["bytes"] == file.stat().st_size
                assert res["hash"] == sha256(file)
                assert res["format"] in {"csv", "parquet"}


# ── SIGKILL at each fault point ──────────────────────────────────────────────────────────


def start_paused(catalog: Path, raw: Path, point: str, *extra: str) -> subprocess.Popen[bytes]:
    """Start a build that stops at `point`; return once it says so on stderr."""
    env = {**clean_env(), "ETL_FAULT_PAUSE": point}
    proc = subprocess.Popen([str(ETL), "build", "--raw", str(raw), "--out", str(catalog), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while f"etl: paused at {point}".encode() not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise AssertionError(f"the build never paused at {point}: {seen.decode(errors='replace')}")
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"the build exited before {point}: {seen.decode(errors='replace')}")
            seen += chunk
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        sel.close()
    return proc


@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("start", ["empty", "other-release"])
def test_sigkill_at_fault_point(point: str, start: str, published: Path, tmp_path: Path, v2_doc: Path) -> None:
    """A build killed at any point leaves the old catalog or the complete new release; the next build mends it."""
    catalog = tmp_path / "catalog"
    if start == "empty":
        raw, extra, version = REAL, (), VERSION
    else:
        shutil.copytree(published.parent.parent, catalog)
        raw, extra, version = v2_doc, ("--version", R2), R2
    before = snapshot(catalog)
    release = catalog / DATASET / version

    proc = start_paused(catalog, raw, point, *extra)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    proc.stderr.close()

    after = without_leftovers(snapshot(catalog))
    if after != before:
        # Otherwise the new release must be there, complete, and nothing old may have changed.
        release_complete(release)
        prefix = f"{DATASET}/{version}"
        for key, value in before.items():
            if not is_derived(key):
                assert after.get(key) == value, key
        extra_keys = {k for k in set(after) - set(before) - {DATASET} if not is_derived(k)}
        assert all(k == prefix or k.startswith(prefix + "/") for k in extra_keys), extra_keys
        if "catalog.json" in after and after.get("catalog.json") != before.get("catalog.json"):
            assert version in listed(catalog)

    result = build(catalog, raw, *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    no_traceback(result)
    assert not [p.name for p in catalog.iterdir() if is_leftover(p.name)]
    release_complete(release)
    assert_validates(release)
    expected = [VERSION] if start == "empty" else [VERSION, R2]
    assert listed(catalog) == expected
    assert release_dirs(catalog) == expected
    if start == "other-release":
        old = f"{DATASET}/{VERSION}"
        in_old = lambda k: k == old or k.startswith(old + "/")  # noqa: E731
        assert {k: v for k, v in snapshot(catalog).items() if in_old(k)} == {
            k: v for k, v in before.items() if in_old(k)}


# ── disk full / permission denied ────────────────────────────────────────────────────────


FAILURES = [(p, "ENOSPC") for p in POINTS] + [("staged", "EACCES"), ("index", "EACCES")]
CAUSE = {"ENOSPC": "disk is full", "EACCES": "permission denied"}


@pytest.mark.parametrize(("point", "code"), FAILURES)
def test_publish_failure_into_existing_catalog(point: str, code: str, catalog_with_release: Path,
                                               v2_doc: Path) -> None:
    """A write failing at any point exits 3 with its cause and leaves an existing catalog unchanged."""
    catalog = catalog_with_release
    before = snapshot(catalog)
    result = build(catalog, v2_doc, "--version", R2, env={"ETL_FAULT_FAIL": point, "ETL_FAULT_ERRNO": code})
    assert result.returncode == 3, result.stdout + result.stderr
    no_traceback(result)
    assert CAUSE[code] in result.stderr
    assert "Nothing was published" in result.stderr
    assert "published " + str(catalog) not in result.stdout
    assert snapshot(catalog) == before


@pytest.mark.parametrize(("point", "code"), FAILURES)
def test_publish_failure_into_missing_catalog(point: str, code: str, tmp_path: Path) -> None:
    """A write failing at any point exits 3 and a catalog folder that did not exist still does not."""
    catalog = tmp_path / "catalog"
    result = build(catalog, env={"ETL_FAULT_FAIL": point, "ETL_FAULT_ERRNO": code})
    assert result.returncode == 3, result.stdout + result.stderr
    no_traceback(result)
    assert CAUSE[code] in result.stderr
    assert not catalog.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_publish_failure_leaves_no_parent_folders(tmp_path: Path) -> None:
    """A failing build into a catalog whose parent folders are missing leaves no new folders at all."""
    catalog = tmp_path / "a" / "b" / "catalog"
    result = build(catalog, env={"ETL_FAULT_FAIL": "staged"})
    assert result.returncode == 3, result.stdout + result.stderr
    assert not catalog.exists()
    assert snapshot(tmp_path) == {}


def test_index_failure_after_catalog_json_rolls_back_catalog_json(catalog_with_release: Path) -> None:
    """A real write error on the second index file (EFBIG via RLIMIT_FSIZE) leaves catalog.json as it was."""
    catalog = catalog_with_release
    assert build(catalog, REAL, "--version", "2023-02-10-r1").returncode == 0
    before = snapshot(catalog)
    # A file-size limit above every release file and the new catalog.json but below the new
    # catalog.dcat.jsonld (three releases): only that last write fails, as on a nearly full disk.
    biggest_release_file = max(p.stat().st_size for p in (catalog / DATASET / VERSION).iterdir())
    limit = biggest_release_file + 4096
    assert (catalog / "catalog.json").stat().st_size * 3 // 2 < limit
    assert (catalog / "catalog.dcat.jsonld").stat().st_size * 3 // 2 > limit + 4096

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run([str(ETL), "build", "--raw", str(REAL), "--out", str(catalog), "--version", R2],
                            capture_output=True, text=True, env=clean_env(), preexec_fn=limit_file_size,
                            timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    no_traceback(result)
    assert "File too large" in result.stderr
    assert release_dirs(catalog) == [VERSION, "2023-02-10-r1"]
    assert R2 not in listed(catalog)
    assert snapshot(catalog) == before


# ── one writer at a time ─────────────────────────────────────────────────────────────────


def test_two_concurrent_builds_publish_once(tmp_path: Path) -> None:
    """Two builds started together into an empty catalog publish exactly one consistent release."""
    catalog = tmp_path / "catalog"
    cmd = [str(ETL), "build", "--raw", str(REAL), "--out", str(catalog)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env())
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    for out, err in outs:
        assert "Traceback" not in out + err and "internal error" not in out + err, err
    assert codes in ([0, 0], [0, 3]), outs
    stdout = [o for o, _ in outs]
    if codes == [0, 0]:
        assert sum("already published" in o for o in stdout) == 1, stdout
        assert sum(f"published {catalog}" in o for o in stdout) == 1, stdout
    else:
        failed = [e for p, (_, e) in zip(procs, outs) if p.returncode == 3][0]
        assert "another build is publishing" in failed
    assert release_dirs(catalog) == [VERSION]
    assert not [p.name for p in catalog.iterdir() if is_leftover(p.name)]
    assert listed(catalog) == [VERSION]
    release_complete(catalog / DATASET / VERSION)
    assert_validates(catalog / DATASET / VERSION)


def test_lock_held_elsewhere_times_out(catalog_with_release: Path, v2_doc: Path) -> None:
    """While another process holds the catalog lock, a build gives up after ETL_LOCK_TIMEOUT with exit 3."""
    catalog = catalog_with_release
    before = snapshot(catalog)
    fd = os.open(catalog, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        started = time.monotonic()
        result = build(catalog, v2_doc, "--version", R2, env={"ETL_LOCK_TIMEOUT": "1"})
        waited = time.monotonic() - started
    finally:
        os.close(fd)
    assert result.returncode == 3, result.stdout + result.stderr
    no_traceback(result)
    assert "another build is publishing" in result.stderr
    assert waited >= 1
    assert snapshot(catalog) == before


# ── leftovers of interrupted runs ────────────────────────────────────────────────────────


@pytest.mark.parametrize("kind", ["publishes", "unchanged"])
def test_leftovers_removed_by_next_successful_build(kind: str, catalog_with_release: Path, v2_doc: Path) -> None:
    """Staging folders and index temp files of an interrupted run are gone after the next successful build."""
    catalog = catalog_with_release
    staging = catalog / ".staging-x"
    (staging / "sub").mkdir(parents=True)
    (staging / "datapackage.json").write_text("{}", encoding="utf-8")
    (staging / "sub" / "file.csv").write_text("a\n1\n", encoding="utf-8")
    (catalog / ".catalog.json.123.tmp").write_text("{", encoding="utf-8")
    (catalog / ".catalog.dcat.jsonld.456.tmp").write_text("{", encoding="utf-8")
    args = (v2_doc, "--version", R2) if kind == "publishes" else (REAL,)
    result = build(catalog, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not staging.exists()
    assert not (catalog / ".catalog.json.123.tmp").exists()
    assert not (catalog / ".catalog.dcat.jsonld.456.tmp").exists()
    assert not [p.name for p in catalog.iterdir() if is_leftover(p.name)]
    assert {p.name for p in catalog.iterdir()} <= INDEX_FILES | {DATASET}
    assert listed(catalog) == ([VERSION, R2] if kind == "publishes" else [VERSION])



def test_same_data_from_another_parquet_writer_counts_as_unchanged(tmp_path: Path) -> None:
    """A release whose Parquet bytes came from another pyarrow version is kept, not a conflict."""
    import pyarrow.parquet as pq

    catalog = tmp_path / "catalog"
    assert build(catalog).returncode == 0
    release = catalog / DATASET / VERSION
    parquet = release / "072036_initiatives.parquet"
    pq.write_table(pq.read_table(parquet), parquet, compression="snappy")  # other writer, same data
    package = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    entry = next(r for r in package["resources"] if r["path"] == parquet.name)
    entry["hash"] = "sha256:" + hashlib.sha256(parquet.read_bytes()).hexdigest()
    entry["x-bytes"] = parquet.stat().st_size
    (release / "datapackage.json").write_text(json.dumps(package, ensure_ascii=False, indent=2) + "\n",
                                              encoding="utf-8")
    from etl.release.catalog import write_index

    write_index(catalog)  # as that other build would have left it
    assert_rebuild_is_a_noop(catalog)


def assert_rebuild_is_a_noop(catalog: Path) -> None:
    """Building the real document again into `catalog` exits 0, says so, and changes nothing."""
    before = snapshot(catalog)
    result = build(catalog)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already published" in result.stdout
    assert snapshot(catalog) == before


def test_the_committed_release_is_what_raw_builds_today(tmp_path: Path) -> None:
    """Building raw/ into a copy of published/ is a no-op: code changes that alter the output show here,
    not as a refused scheduled build."""
    catalog = tmp_path / "published"
    shutil.copytree(Path(__file__).resolve().parent.parent / "published", catalog)
    assert_rebuild_is_a_noop(catalog)


def test_a_staged_release_that_fails_verification_is_not_published(tmp_path: Path) -> None:
    """A staged file damaged after writing (bad disk, bad writer) is caught by verification: exit 3."""
    catalog = tmp_path / "catalog"
    assert build(catalog).returncode == 0
    before = snapshot(catalog)
    result = build(catalog, REAL, "--version", R2, env={"ETL_FAULT_CORRUPT": "072036_initiatives.parquet"})
    assert result.returncode == 3, result.stdout + result.stderr
    assert "failed verification" in result.stderr and "072036_initiatives.parquet" in result.stderr
    assert snapshot(catalog) == before


def test_no_room_for_the_comparison_is_reported_as_such(tmp_path: Path) -> None:
    """A rebuild of an existing version builds its comparison in a temporary folder; when that
    fails, the message says so (exit 3), rather than blaming the catalog, which stays as it was."""
    from etl.errors import PublishError
    from etl.release import catalog as cat

    def no_space(folder: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "x.csv"))

    (tmp_path / DATASET / VERSION).mkdir(parents=True)
    before = snapshot(tmp_path)
    with pytest.raises(PublishError) as caught:
        cat.publish(tmp_path, cat.Release(DATASET, VERSION, write=no_space, verify=lambda f: None,
                                          describe_conflict=lambda a, b: ""))
    assert caught.value.exit_code == 3
    assert "temporary folder to compare it: the disk is full" in str(caught.value)
    assert snapshot(tmp_path) == before
