"""The record of complete source documents: a Frictionless data package next to them.

The document prints no count of section 3 and no end mark, so a text cut off among its last
bullets reads exactly like a shorter edition. Completeness therefore has to come from outside the
text: when a steward adds an edition, `etl register` records the file's size and SHA-256 in
`datapackage.json` in the same folder (the `bytes` and `hash` of a Frictionless resource), and
`etl build` refuses a document that no longer matches its record. frictionless itself compares
them, as `frictionless validate raw/datapackage.json` does.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl.errors import EtlError, RegistrationError, SourceError, UsageError
from etl.shared import children, safety
from etl.source.text import from_bytes, read_bytes

MANIFEST = "datapackage.json"
PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
CHECK = "source.registered"
SUFFIXES = (".pdf", ".txt")  # what `etl build` takes as a document: the city's PDF, or a text of it
_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_NAME_CHARS = re.compile(r"[^-a-z0-9._]+")  # frictionless' pattern for resource names


@dataclass(frozen=True)
class Registration:
    """What `etl register` did for one file: the record it wrote, and the one it replaced."""

    path: Path
    resource: dict[str, Any]
    previous: dict[str, Any] | None

    @property
    def changed(self) -> bool:
        return self.previous != self.resource


def manifest_of(path: Path) -> Path:
    return Path(path).parent / MANIFEST


# ── checking a document against its record ───────────────────────────────────────────────


def verify(path: Path, data: bytes, allow_unregistered: bool = False) -> str | None:
    """That `data`, just read from `path`, is the complete file recorded for it: its recorded size and
    hash when it is (`source.registered` in etl.validate.run reports it).

    RegistrationError when it is not; None when the file has no record and `allow_unregistered` says
    to build it anyway. frictionless checks the file on disk; `data` is compared too, so the
    bytes that get parsed are the bytes that were verified even if the file changes meanwhile.
    """
    path = Path(path)
    record = _record(path)
    if record is None and allow_unregistered:
        return None
    if record is None:
        raise RegistrationError(
            f"{path} is not registered in {manifest_of(path)}. The document prints no end mark, so a "
            "copy cut short could not be told from a shorter edition; its registered size and SHA-256 "
            f"are what prove it complete. Check it against the city's PDF, then run: etl register {path}  "
            "(to check an unregistered file without publishing it, add --dry-run)."
        )
    _check_record(path, record)
    read = _describe_bytes(data)
    differs = _fingerprint(read) != _fingerprint(record)
    on_disk = _on_disk(path, record, differs)  # also proves the record is a valid data package
    if differs != bool(on_disk):  # the file changed under us
        raise RegistrationError(f"{path} changed while it was being read (another program is writing it). "
                                "Run the build again once the file is complete.")
    if on_disk:
        error = RegistrationError(
            f"{path} does not match its record in {manifest_of(path)}: {_differences(read, record)}. "
            "It was cut short or changed after it was registered. Restore the registered file "
            "(git checkout, or extract the city's PDF again); if the new content is the intended one, "
            f"record it with: etl register --replace {path}"
        )
        error.expected, error.actual = _size(record), _size(read)
        raise error
    return _size(record)


def _differences(read: dict[str, Any], record: dict[str, Any]) -> str:
    """The size first: a shorter file was cut short."""
    said = []
    if read["bytes"] != record["bytes"]:
        said.append(f"it has {read['bytes']} bytes, the record says {record['bytes']}")
    said.append(f"its SHA-256 is {read['hash'].removeprefix('sha256:')}, "
                f"the record says {record['hash'].removeprefix('sha256:')}")
    return "; ".join(said)


def _size(resource: dict[str, Any]) -> str:
    return f"{resource['bytes']} bytes, {resource['hash']}"


def _check_record(path: Path, record: dict[str, Any]) -> None:
    """A record without a real size and SHA-256 would prove nothing; frictionless skips empty ones."""
    size, digest = record.get("bytes"), record.get("hash")
    if not (isinstance(size, int) and not isinstance(size, bool) and size > 0
            and isinstance(digest, str) and _HASH.fullmatch(digest)):
        raise RegistrationError(
            f"the record of {path.name} in {manifest_of(path)} has no usable size and SHA-256 "
            f"(bytes: {size!r}, hash: {digest!r}; expected a positive number and 'sha256:' with 64 "
            f"lower-case hex digits). Restore the file from git, or record the document again with: "
            f"etl register --replace {path}"
        )


def start_checking(path: Path) -> None:
    """Have frictionless check the file at `path` against its record now, in the helper process
    (etl.shared.children.beside), while `etl build` loads its libraries: `verify` takes the answer
    when it checks the same file against the same record. Nothing is concluded here: a link, a file
    without a usable record, a manifest or a path that cannot be read is left for the build to
    refuse in its turn, with its own words (and its report)."""
    global _early
    _early = None
    path = Path(path)
    try:
        check_document(path)
        record = _record(path)
        if record is None:
            return
        _check_record(path, record)
    except (EtlError, OSError, ValueError):  # ValueError: a path that the system cannot take (a NUL)
        return
    _early = (path, record, children.beside(_frictionless_errors, path, record))


_early: tuple[Path, dict[str, Any], children.Pending] | None = None


def _on_disk(path: Path, record: dict[str, Any], differs: bool) -> list[str]:
    """frictionless' errors for the file on disk: the early check's, when it was of this file and
    this record and agrees with the bytes read (`differs`: they are not the recorded ones); else
    checked now, after the read, as without an early check. The early check ran before the read:
    a file changed in between (restored, or damaged for good) is judged on what is there now."""
    global _early
    early, _early = _early, None
    if early is not None and early[:2] == (path, record):
        errors = early[2].result()
        if bool(errors) == differs:
            return errors
    return _frictionless_errors(path, record)


def _frictionless_errors(path: Path, record: dict[str, Any], manifest: Path | None = None) -> list[str]:
    from frictionless import FrictionlessException, Package

    manifest = manifest or manifest_of(path)
    try:
        package = Package(str(manifest))
        resource = next(r for r in package.resources if r.path == record["path"])
        report = resource.validate()
    except (FrictionlessException, StopIteration) as exc:
        raise RegistrationError(f"{manifest_of(path)} is not a valid data package ({exc}). "
                                "Restore it from git, or register the documents again.") from None
    errors = [e for task in report.tasks for e in task.errors] + list(report.errors)
    return [f"{e.type}: {e.note}" for e in errors]


# ── registering documents ────────────────────────────────────────────────────────────────


def register(paths: Sequence[Path], replace: bool = False) -> list[Registration]:
    """Record the size and hash of readable documents; in each folder, all of them or none.

    A record whose file has changed is overwritten only with `replace`, and only one file at a
    time, so that a file damaged since (or a wildcard) never re-approves a document by accident.
    """
    paths = [Path(p) for p in paths]
    if replace and len(paths) != 1:
        raise UsageError("--replace takes exactly one file, so that no changed document is re-recorded unseen.")
    done: list[Registration] = []
    for folder in dict.fromkeys(p.parent for p in paths):
        with _locked(folder):
            manifest = _load(folder / MANIFEST)
            resources: list[dict[str, Any]] = manifest.setdefault("resources", [])
            here = [_update(resources, p, replace) for p in paths if p.parent == folder]
            changed = [r.path for r in here if r.changed]
            if changed:
                resources.sort(key=lambda r: str(r.get("path", "")))
                _write_checked(folder / MANIFEST, manifest, changed)
        done += here
    return done


def _update(resources: list[dict[str, Any]], path: Path, replace: bool) -> Registration:
    if path.name == MANIFEST or path.suffix.lower() not in SUFFIXES:
        raise UsageError(f"{path}: only source documents (.pdf or .txt files, as `etl build` reads them) are "
                         "registered.")
    check_document(path)
    data = read_bytes(path)
    source = from_bytes(path, data)  # SourceError for an empty, binary, undecodable or unreadable file
    previous = next((r for r in resources if r.get("path") == path.name), None)
    resource = {
        "name": (previous or {}).get("name") or _unique_name(path, resources),
        "path": path.name,
        **_format(source),
        **_describe_bytes(data),
    }
    if previous is None:
        resources.append(resource)
        return Registration(path, dict(resource), None)
    old = dict(previous)
    if _fingerprint(old) != _fingerprint(resource) and not replace:
        raise RegistrationError(
            f"{path} is registered with {old.get('bytes')} bytes ({old.get('hash')}), but now has "
            f"{resource['bytes']} bytes ({resource['hash']}). If the file was damaged, restore it; if the "
            f"new content is the intended one, run: etl register --replace {path}"
        )
    previous.update(resource)
    return Registration(path, dict(previous), old)


def _format(source) -> dict[str, str]:
    """A PDF is bytes; a text also records the encoding it was read in, for other readers (the
    hash is what the build checks)."""
    if source.is_pdf:
        return {"format": "pdf", "mediatype": "application/pdf"}
    return {"format": "txt", "mediatype": "text/plain",
            "encoding": "utf-8" if source.encoding == "utf-8-sig" else source.encoding}


def _describe_bytes(data: bytes) -> dict[str, Any]:
    return {"bytes": len(data), "hash": "sha256:" + hashlib.sha256(data).hexdigest()}


def _fingerprint(resource: dict[str, Any]) -> tuple[Any, Any]:
    return resource.get("bytes"), resource.get("hash")


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """flock(2) on the folder, so that two `etl register` runs never lose each other's records."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        raise SourceError(f"{folder}: cannot be opened ({exc.strerror}).") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _record(path: Path) -> dict[str, Any] | None:
    manifest = _load(manifest_of(path))
    return next((r for r in manifest.get("resources", []) if r.get("path") == path.name), None)


def _load(manifest: Path) -> dict[str, Any]:
    """The manifest, read without following a link, within the limits of a release's descriptor."""
    try:
        safety.check_not_link(manifest.parent, f"the folder of {manifest}")
        safety.check_not_link(manifest, str(manifest))
        if not manifest.exists():
            return {"$schema": PROFILE, "name": _name(manifest.parent.resolve().name or "sources"), "resources": []}
        try:
            data = safety.load_json(safety.read_file(manifest.parent, manifest.name, str(manifest),
                                                     safety.MAX_DESCRIPTOR_BYTES), str(manifest))
        except (OSError, ValueError) as exc:
            raise RegistrationError(f"{manifest} cannot be read as JSON ({exc}). Restore it from git.") from None
        if not isinstance(data, dict) or not isinstance(data.get("resources", []), list) \
                or not all(isinstance(r, dict) for r in data.get("resources", [])):
            raise RegistrationError(f"{manifest} is not a data package (no list of resources). Restore it from git.")
        safety.check_descriptor_limits(data, str(manifest))
        for r in data.get("resources", []):  # a record names a document beside the manifest, nothing else
            if len(safety.path_parts(r.get("path"), f"the record {r.get('name')!r} in {manifest}")) != 1:
                raise safety.UnsafeRelease(f"the record {r.get('name')!r} in {manifest} (path {r.get('path')!r}) "
                                           "is refused: a record names a file in the manifest's own folder.")
    except safety.UnsafeRelease as exc:
        raise RegistrationError(f"{exc} Restore {manifest} from git.") from None
    return data


def start_reading(path: Path) -> None:
    """If `path` is a PDF, start its reader now (etl.source.pdf.start_early): `from_bytes` takes its
    lines when given the same bytes. A link is not read (check_document), and a file that cannot be
    read is left for the build to refuse in its turn."""
    from etl.source import pdf

    try:
        check_document(path)
        data = read_bytes(Path(path))
    except SourceError:
        return
    if pdf.is_pdf(data):
        pdf.start_early(data, Path(path).name)


def check_document(path: Path) -> None:
    """A source document is a file of its own, not a link to one (checked before it is read)."""
    try:
        safety.check_not_link(Path(path), f"the source document {path}")
    except safety.UnsafeRelease as exc:
        raise SourceError(f"{exc} Register and build the file itself, not a link to it.") from None


def _write_checked(manifest: Path, data: dict[str, Any], changed: list[Path]) -> None:
    """Write a temporary manifest, have frictionless check the changed files against it, then
    rename it into place: a record that no build could verify is never written."""
    tmp = manifest.parent / f".{manifest.name}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if manifest.exists():
            os.chmod(tmp, manifest.stat().st_mode & 0o777)
        for path in changed:
            record = next(r for r in data["resources"] if r.get("path") == path.name)
            problems = _frictionless_errors(path, record, manifest=tmp)
            if problems:
                raise RegistrationError(f"{path}: frictionless cannot check this file ({'; '.join(problems)}). "
                                        "Give it a plain name: letters, digits, '-' and '.', ending in .pdf or .txt.")
        os.replace(tmp, manifest)
    except OSError as exc:
        raise SourceError(f"{manifest} could not be written ({exc.strerror}); it is unchanged.") from None
    finally:
        tmp.unlink(missing_ok=True)


def _name(text: str) -> str:
    return _NAME_CHARS.sub("-", text.lower()).strip("-.") or "source"


def _unique_name(path: Path, resources: list[dict[str, Any]]) -> str:
    taken = {r.get("name") for r in resources}
    base = _name(path.stem)
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


# Which document `etl build` takes when none is named: the newest in raw/.
_DATED = re.compile(r"(\d{4}-\d{2}-\d{2})")


def newest_document(raw_dir: Path) -> Path:
    """The raw document with the latest date in its file name (…-YYYY-MM-DD.pdf or .txt).

    For one date the PDF wins over a text: it is the city's document as published, the text only
    an extraction of it (see `selection_note`)."""
    return _documents(raw_dir)[-1]


def selection_note(raw_dir: Path, chosen: Path) -> str | None:
    """What a steward should know about the default choice: the texts of its date left aside."""
    others = [p for p in _documents(raw_dir) if _date_of(p) == _date_of(chosen) and p.suffix.lower() != ".pdf"]
    if chosen.suffix.lower() != ".pdf" or not others:
        return None
    return (f"{chosen} was chosen over {', '.join(map(str, others))} of the same date: the PDF is the city's "
            "document as published. Pass --raw FILE to build another.")


def _documents(raw_dir: Path) -> list[Path]:
    if not raw_dir.is_dir():
        raise UsageError(f"{raw_dir}/ not found: pass --raw FILE or run from the repository root.")
    docs = [p for p in raw_dir.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file()]
    docs.sort(key=lambda p: (_date_of(p), p.suffix.lower() == ".pdf", p.name))
    if not docs:
        raise UsageError(f"no source document (*.pdf or *.txt) in {raw_dir}/.")
    return docs


def _date_of(path: Path) -> str:
    return (_DATED.findall(path.name)[-1:] or [""])[0]
