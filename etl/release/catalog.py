"""The catalog folder: immutable releases, atomic publishing, one writer at a time, catalog.json.

Layout: `<catalog>/<dataset>/<version>/` per release, `<catalog>/catalog.json` as the index.
A release is written and verified in a staging folder beside its target and appears with one
`rename`, so a reader (or a crash) sees either the old catalog or the complete new release.

Derived from the releases, and rewritten with the index: `<dataset>/latest/`, a copy of the
latest release's files (a stable URL for "the newest edition"; real files, no symlink), and
`<dataset>/cumulative/`, the tables across every release (etl.release.cumulative). Each is staged and
verified beside the catalog, then exchanged with the folder it replaces in one rename.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl.errors import PublishError, UsageError
from etl.release import cumulative
from etl.shared.faults import corrupt_point, fault_point
from etl.shared.safety import check_catalog
from etl.shared.schemas import package_metadata

STAGING_PREFIX = ".staging-"
INDEX_NAME = "catalog.json"
DCAT_NAME = "catalog.dcat.jsonld"
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")
LATEST = "latest"
DERIVED = (LATEST, cumulative.FOLDER)  # folders beside the releases, rebuilt from them: no version names


class ReleaseConflict(PublishError):
    """A release of that version exists with other content (exit 1: the input disagrees)."""

    exit_code = 1


@dataclass(frozen=True)
class Outcome:
    status: str  # "published", "unchanged" or (a dry run) "would publish"
    release: Path


def check_version(version: str) -> str:
    if not _VERSION.match(version):
        raise UsageError(f"version 「{version}」 must be letters, digits, '.', '_' or '-' (e.g. 2025-04-01).")
    if version in DERIVED:
        raise UsageError(f"version 「{version}」 is reserved: <dataset>/{version}/ is derived from the releases. "
                         "Choose another name (e.g. the as-of date).")
    return version


@dataclass(frozen=True)
class Release:
    """What the catalog needs to know of a release it is asked to publish or compare."""

    dataset_name: str
    version: str
    write: Callable[[Path], None]  # writes every file of the release into the (new) folder given
    verify: Callable[[Path], None]  # raises PublishError when a written release is not right
    describe_conflict: Callable[[Path, Path], str]  # (existing, new) → what differs, for the steward
    equivalent: Callable[[Path, Path], bool] = lambda a, b: False  # same data, other bytes


def publish(catalog: Path, release: Release) -> Outcome:
    """Stage, verify and move one release into the catalog; refuse to replace a different one.

    An existing release is left alone when the staged files are byte-identical, or `equivalent`
    (same data written by another library version): then the outcome is "unchanged".
    """
    check_version(release.version)
    target = catalog / release.dataset_name / release.version
    check_catalog(catalog)  # before the lock: its folder must not be a link either
    created = [p for p in (catalog, *catalog.parents) if not p.exists()]  # deepest first
    try:
        catalog.mkdir(parents=True, exist_ok=True)
        with catalog_lock(catalog):
            check_catalog(catalog)  # again, now that no other build can change it
            remove_leftovers(catalog)
            if target.exists():
                outcome = trial(catalog, release)
                write_index(catalog)  # mends an index left stale by a crash; writes only if it differs
                return outcome
            staging = catalog / f"{STAGING_PREFIX}{release.dataset_name}-{release.version}-{os.getpid()}"
            try:
                release.write(staging)
                corrupt_point(staging)
                _fsync_tree(staging)
                fault_point("staged")
                release.verify(staging)
                fault_point("verified")
                made_parent = not target.parent.exists()
                saved = _index_bytes(catalog)
                target.parent.mkdir(exist_ok=True)
                os.rename(staging, target)
                try:
                    _fsync_dir(target.parent)
                    fault_point("renamed")
                    write_index(catalog)
                except BaseException:  # whatever failed, a failed publish leaves the catalog as it was
                    os.rename(target, staging)
                    if made_parent:
                        target.parent.rmdir()
                    _restore_index(catalog, saved)
                    raise
                return Outcome("published", target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise PublishError(_os_message(exc, catalog)) from None
    finally:
        for folder in created:  # only folders this call made, and only while empty
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


def _index_bytes(catalog: Path) -> dict[str, bytes | None]:
    return {n: (catalog / n).read_bytes() if (catalog / n).exists() else None for n in (INDEX_NAME, DCAT_NAME)}


def _restore_index(catalog: Path, saved: dict[str, bytes | None]) -> None:
    """After a rollback, put the index files back byte for byte, if the disk lets us."""
    for name, data in saved.items():
        try:
            if data is None:
                (catalog / name).unlink(missing_ok=True)
            elif (catalog / name).read_bytes() != data:
                tmp = catalog / f".{name}.{os.getpid()}.tmp"
                tmp.write_bytes(data)
                os.replace(tmp, catalog / name)
        except OSError:
            pass  # the next build rewrites both from the releases on disk


def _os_message(exc: OSError, catalog: Path) -> str:
    return (f"publishing into {catalog} failed: {_os_reason(exc)}. Nothing was published and the catalog "
            "is as it was; fix the problem and build again.")


def _os_reason(exc: OSError) -> str:
    """'the disk is full (/path)': what went wrong, in a steward's words, and where."""
    what = {errno.ENOSPC: "the disk is full", errno.EACCES: "permission denied",
            errno.EROFS: "the file system is read-only", errno.EDQUOT: "the disk quota is exceeded"}
    why = what.get(exc.errno or 0, exc.strerror or str(exc))
    return why + (f" ({exc.filename})" if exc.filename else "")


@contextmanager
def catalog_lock(catalog: Path) -> Iterator[None]:
    """An exclusive lock on the catalog folder; waits up to ETL_LOCK_TIMEOUT seconds (default 60).

    The lock is flock(2) on the folder itself: no lock file to leave behind, and the kernel
    releases it when its holder dies, so a killed build never leaves a stale lock.
    """
    timeout = float(os.environ.get("ETL_LOCK_TIMEOUT", "60"))
    fd = os.open(catalog, os.O_RDONLY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PublishError(
                        f"another build is publishing into {catalog} (waited {timeout:g}s for it). "
                        "Nothing was published; run again when it has finished."
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def trial(catalog: Path, release: Release) -> Outcome:
    """Build and verify the release in a temporary folder outside the catalog, compare it with the
    catalog's release of that version, and change nothing.

    "unchanged" when the catalog holds the same data, "would publish" when the version is new;
    ReleaseConflict when it holds other data. Releases are immutable, so an existing version never
    needs staging next to it: an identical rebuild writes nothing, even on a read-only catalog.
    """
    check_version(release.version)
    check_catalog(catalog)
    target = catalog / release.dataset_name / release.version
    try:
        with tempfile.TemporaryDirectory(prefix="etl-trial-") as tmp:
            built = Path(tmp) / release.version
            release.write(built)
            corrupt_point(built)
            release.verify(built)
            if target.exists() and not (_same_files(built, target) or release.equivalent(target, built)):
                raise ReleaseConflict(release.describe_conflict(target, built))
    except OSError as exc:
        raise PublishError(f"the release could not be built in a temporary folder to compare it: {_os_reason(exc)}. "
                           "Nothing was published; free space there or point TMPDIR elsewhere.") from None
    return Outcome("unchanged" if target.exists() else "would publish", target)


def remove_leftovers(catalog: Path) -> None:
    """Staging folders of interrupted runs (only the lock holder writes, so any found are dead)."""
    for staging in catalog.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(staging, ignore_errors=True)
    for tmp in catalog.glob(".catalog.*.tmp"):
        tmp.unlink(missing_ok=True)


def _same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def _fsync_tree(folder: Path) -> None:
    for file in folder.iterdir():
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ── catalog.json ──────────────────────────────────────────────────────────────────────────


def releases(catalog: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(dataset, version, datapackage) for every complete release in the catalog.

    A folder whose datapackage.json is unreadable, or lists a file that is not there, is not a
    release the index can describe: it is left out (and `etl validate` on it says why).
    """
    found = []
    for package in sorted(catalog.glob("*/*/datapackage.json")):
        release = package.parent
        if release.name.startswith(".") or release.parent.name.startswith(".") or release.name in DERIVED:
            continue
        try:
            descriptor = json.loads(package.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if _describes_its_files(release, descriptor):
            found.append((release.parent.name, release.name, descriptor))
    return found


def _describes_its_files(release: Path, descriptor: Any) -> bool:
    if not isinstance(descriptor, dict) or not isinstance(descriptor.get("resources"), list):
        return False
    keys = ("name", "path", "format", "hash")
    return all(isinstance(r, dict) and all(isinstance(r.get(k), str) for k in keys)
               and (release / r["path"]).is_file() for r in descriptor["resources"])


def index(catalog: Path, found: list[tuple[str, str, dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The catalog index: every dataset and release, its resources and hashes, and the latest.

    `found` is `releases(catalog)` when the caller has read them already."""
    found = releases(catalog) if found is None else found
    datasets: dict[str, dict[str, Any]] = {}
    for name, version, package in found:
        entry = datasets.setdefault(name, {"name": name, "title": package.get("title", ""), "releases": []})
        entry["releases"].append({
            "version": version,
            "as_of": package.get("x-as-of"),
            "path": f"{name}/{version}/datapackage.json",
            "resources": [
                {"name": r["name"], "path": f"{name}/{version}/{r['path']}", "format": r.get("format"),
                 "bytes": r.get("bytes", r.get("x-bytes")), "hash": r.get("hash")}
                for r in package.get("resources", [])
            ],
        })
    for entry in datasets.values():
        entry["releases"].sort(key=lambda r: (r["as_of"] or "", r["version"]))
        entry["latest"] = entry["releases"][-1]["version"]
        entry["title"] = next(p.get("title", "") for n, v, p in found
                              if n == entry["name"] and v == entry["latest"])
        entry.update(_derived_entries(catalog, entry["name"]))
    return {"datasets": [datasets[k] for k in sorted(datasets)]}


def _derived_entries(catalog: Path, name: str) -> dict[str, Any]:
    """Where the latest alias and the cumulative tables are, as written beside the releases."""
    out: dict[str, Any] = {}
    for kind in DERIVED:
        package = _package(catalog / name / kind)
        if package is None:
            continue
        out[f"{kind}_release" if kind == LATEST else kind] = {
            "version": package.get("version"), "path": f"{name}/{kind}/datapackage.json",
            "resources": [{"name": r["name"], "path": f"{name}/{kind}/{r['path']}", "format": r.get("format"),
                           "bytes": r.get("bytes", r.get("x-bytes")), "hash": r.get("hash")}
                          for r in package.get("resources", [])]}
    return out


def _package(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def dcat(catalog: Path, base_url: str = "", found: list[tuple[str, str, dict[str, Any]]] | None = None
         ) -> dict[str, Any]:
    """The catalog as DCAT JSON-LD (see etl.release.dcat)."""
    from etl.release.dcat import catalog_document

    entries = []
    for name, version, package in releases(catalog) if found is None else found:
        folder = catalog / name / version
        sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
        entries.append((name, version, package, sizes))
    derived = {}
    for name in dict.fromkeys(n for n, _, _, _ in entries):
        for kind in DERIVED:
            package = _package(catalog / name / kind)
            if package is not None:
                derived[(name, kind)] = (package, {p.name: p.stat().st_size for p in (catalog / name / kind).iterdir()})
    return catalog_document(entries, base_url, derived)


def write_index(catalog: Path) -> bool:
    """Rewrite catalog.json and catalog.dcat.jsonld where they changed; True when written.

    Both are written to temporary files first and only then renamed into place, so a full disk
    while writing leaves both as they were.
    """
    found = releases(catalog)
    staged = _stage_derived(catalog, found)  # (staging, target) of each derived folder that changes
    swapped: list[tuple[Path, Path, bool]] = []
    temps: dict[str, Path] = {}
    try:
        for stage, target in staged:  # exchanged first, so that the index describes what is there
            swapped.append((stage, target, _swap_in(stage, target)))
        base_url = package_metadata().get("x-catalog-url", "")  # committed config: every build agrees
        texts = {name: json.dumps(content, ensure_ascii=False, indent=2) + "\n"
                 for name, content in ((INDEX_NAME, index(catalog, found)), (DCAT_NAME, dcat(catalog, base_url, found)))}
        changed = {name: text for name, text in texts.items()
                   if not (catalog / name).exists() or (catalog / name).read_bytes() != text.encode("utf-8")}
        temps = {name: catalog / f".{name}.{os.getpid()}.tmp" for name in changed}
        for name, text in changed.items():
            with open(temps[name], "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        fault_point("index")
        for name in changed:
            os.replace(temps[name], catalog / name)
    except BaseException:
        for stage, target, replaced in reversed(swapped):  # the derived folders as they were
            _swap_back(stage, target, replaced)
        raise
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        for stage, _ in staged:  # the new folder after a failure, the old one after success
            shutil.rmtree(stage, ignore_errors=True)
    if changed or staged:
        _fsync_dir(catalog)
    return bool(changed or staged)


# ── derived folders: the latest alias and the cumulative tables ───────────────────────────


def _stage_derived(catalog: Path, found: list[tuple[str, str, dict[str, Any]]]) -> list[tuple[Path, Path]]:
    """Stage and verify, beside the catalog, each derived folder whose files would change.

    Each is first rendered in a temporary folder outside the catalog and compared with what is
    there, so that an identical rebuild writes nothing in the catalog."""
    by_dataset: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name, version, package in found:
        by_dataset.setdefault(name, []).append((version, package))
    staged: list[tuple[Path, Path]] = []
    try:
        for name, ordered in sorted(by_dataset.items()):
            ordered.sort(key=lambda vp: (vp[1].get("x-as-of") or "", vp[0]))
            for kind, render, verify in _derived_kinds(catalog, name, ordered):
                target = catalog / name / kind
                with tempfile.TemporaryDirectory(prefix="etl-derived-") as tmp:
                    render(Path(tmp) / kind)
                    if target.is_dir() and _same_files(Path(tmp) / kind, target):
                        continue
                    stage = catalog / f"{STAGING_PREFIX}{name}-{kind}-{os.getpid()}"
                    staged.append((stage, target))
                    shutil.copytree(Path(tmp) / kind, stage)
                _fsync_tree(stage)
                problems = verify(stage)
                if problems:
                    raise PublishError(f"the staged {name}/{kind}/ failed verification and was not published:\n  "
                                       + "\n  ".join(problems))
    except BaseException:
        for stage, _ in staged:
            shutil.rmtree(stage, ignore_errors=True)
        raise
    return staged


def _derived_kinds(catalog: Path, name: str, found: list[tuple[str, dict[str, Any]]]):
    """(folder name, write it into a folder, what is wrong with a written one) of each derived folder."""
    latest = catalog / name / found[-1][0]

    def copy_latest(folder: Path) -> None:
        folder.mkdir()
        for file in sorted(latest.iterdir()):
            shutil.copyfile(file, folder / file.name)

    yield LATEST, copy_latest, lambda folder: [] if _same_files(folder, latest) else [
        f"{folder.name} is not a copy of {latest}"]
    tables = cumulative.build_tables(catalog, name, found)
    yield (cumulative.FOLDER, lambda folder: cumulative.write(folder, name, found, tables),
           lambda folder: cumulative.problems(folder, tables))


_RENAME_EXCHANGE = 2  # renameat2(2) flag: swap two paths in one step
_AT_FDCWD = -100


def _swap_in(stage: Path, target: Path) -> bool:
    """Put `stage` at `target` in one step; True when a folder was there (it is now at `stage`)."""
    if not target.exists():
        os.rename(stage, target)
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, "renameat2", None) is None:  # not Linux: two renames, a moment without the folder
        os.rename(target, Path(f"{stage}.old"))
        os.rename(stage, target)
        os.rename(Path(f"{stage}.old"), stage)
        return True
    if libc.renameat2(_AT_FDCWD, os.fsencode(stage), _AT_FDCWD, os.fsencode(target), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(target))
    return True


def _swap_back(stage: Path, target: Path, replaced: bool) -> None:
    """Undo `_swap_in` (best effort: the next build rebuilds derived folders from the releases)."""
    try:
        if replaced:
            _swap_in(stage, target)
        else:
            os.rename(target, stage)
    except OSError:
        pass
