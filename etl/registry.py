"""The record of complete source documents: a Frictionless data package next to them.

The document prints no count of section 3 and no end mark, so a text cut off among its last
bullets reads exactly like a shorter edition. Completeness therefore has to come from outside the
text: when a steward adds an edition, `etl register` records the file's size and SHA-256 in
`datapackage.json` in the same folder (the `bytes` and `hash` of a Frictionless resource), and
`etl build` refuses a document that no longer matches its record. frictionless itself compares
them, as `frictionless validate raw/datapackage.json` does.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl.errors import SourceError
from etl.report import CheckResult, passed
from etl.source import read_source

MANIFEST = "datapackage.json"
PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
CHECK = "source.registered"
# frictionless' pattern for resource names
_NAME_CHARS = re.compile(r"[^-a-z0-9._]+")


@dataclass(frozen=True)
class Registration:
    """What `etl register` did: the resource it recorded, and the record it replaced (if any)."""

    resource: dict[str, Any]
    previous: dict[str, Any] | None

    @property
    def changed(self) -> bool:
        return self.previous != self.resource


def manifest_of(path: Path) -> Path:
    return Path(path).parent / MANIFEST


def verify(path: Path, allow_unregistered: bool = False) -> CheckResult | None:
    """The check that `path` is the complete file recorded for it; SourceError when it is not.

    None when the file has no record and `allow_unregistered` says to build it anyway."""
    path = Path(path)
    record = _record(path)
    if record is None and allow_unregistered:
        return None
    if record is None:
        raise SourceError(
            f"{path} is not registered in {manifest_of(path)}. The document prints no end mark, so a "
            "copy cut short could not be told from a shorter edition; its registered size and SHA-256 "
            f"are what prove it complete. Check it against the city's PDF, then run: etl register {path}  "
            "(for a trial build of an unregistered file, add --allow-unregistered)."
        )
    problems = _frictionless_errors(path, record)
    if problems:
        raise SourceError(
            f"{path} does not match its record in {manifest_of(path)} ({'; '.join(problems)}). "
            "It was cut short or changed after it was registered. Restore the registered file "
            "(git checkout, or extract the city's PDF again); if the new content is the intended one, "
            f"record it with: etl register --replace {path}"
        )
    size = f"{record['bytes']} bytes, {record['hash']}"
    return passed(CHECK, "source", label=path.name, expected=size, actual=size)


def _frictionless_errors(path: Path, record: dict[str, Any]) -> list[str]:
    from frictionless import FrictionlessException, Package

    try:
        package = Package(str(manifest_of(path)))
        resource = next(r for r in package.resources if r.path == record["path"])
        report = resource.validate()
    except (FrictionlessException, StopIteration) as exc:
        raise SourceError(f"{manifest_of(path)} is not a valid data package ({exc}). "
                          "Restore it from git or register the documents again.") from None
    errors = [e for task in report.tasks for e in task.errors] + list(report.errors)
    errors.sort(key=lambda e: e.type != "byte-count")  # the size says most: shorter means cut short
    return [_describe(e.type, e.note) for e in errors]


def _describe(kind: str, note: str) -> str:
    numbers = re.findall(r'"([^"]*)"', note)
    if kind == "byte-count" and len(numbers) == 2:
        return f"it has {numbers[1]} bytes, the record says {numbers[0]}"
    if kind == "hash-count" and len(numbers) == 2:
        return f"its SHA-256 is {numbers[1]}, the record says {numbers[0]}"
    return f"{kind}: {note}"


def register(path: Path, replace: bool = False) -> Registration:
    """Record the size and hash of a readable document; refuse to overwrite a different record
    unless `replace`, so that a file damaged since cannot be registered by accident."""
    path = Path(path)
    source = read_source(path)  # SourceError for missing, empty, binary or undecodable files
    data = path.read_bytes()
    manifest = _load(manifest_of(path))
    resources: list[dict[str, Any]] = manifest.setdefault("resources", [])
    previous = next((r for r in resources if r.get("path") == path.name), None)
    resource = {
        "name": previous["name"] if previous else _unique_name(path, resources),
        "path": path.name,
        "format": path.suffix.lstrip(".").lower() or "txt",
        "mediatype": "text/plain",
        "encoding": "utf-8" if source.encoding == "utf-8-sig" else source.encoding,
        "bytes": len(data),
        "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
    }
    if previous is not None and _fingerprint(previous) != _fingerprint(resource) and not replace:
        raise SourceError(
            f"{path} is registered with {previous.get('bytes')} bytes ({previous.get('hash')}), but now has "
            f"{resource['bytes']} bytes ({resource['hash']}). If the file was damaged, restore it; if the "
            f"new content is the intended one, run: etl register --replace {path}"
        )
    old = dict(previous) if previous is not None else None
    if previous is not None:
        previous.update(resource)
        resource = previous
    else:
        resources.append(resource)
    if old != resource:
        resources.sort(key=lambda r: str(r.get("path", "")))
        _write(manifest_of(path), manifest)
    return Registration(resource=dict(resource), previous=old)


def _fingerprint(resource: dict[str, Any]) -> tuple[Any, Any]:
    return resource.get("bytes"), resource.get("hash")


def _record(path: Path) -> dict[str, Any] | None:
    manifest = _load(manifest_of(path))
    return next((r for r in manifest.get("resources", []) if r.get("path") == path.name), None)


def _load(manifest: Path) -> dict[str, Any]:
    if not manifest.exists():
        return {"$schema": PROFILE, "name": _name(manifest.parent.resolve().name or "sources"), "resources": []}
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"{manifest} cannot be read as JSON ({exc}). Restore it from git.") from None
    if not isinstance(data, dict) or not isinstance(data.get("resources", []), list) \
            or not all(isinstance(r, dict) for r in data.get("resources", [])):
        raise SourceError(f"{manifest} is not a data package (no list of resources). Restore it from git.")
    return data


def _write(manifest: Path, data: dict[str, Any]) -> None:
    """Write through a temporary file and one rename, so the record is never half written."""
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    tmp = manifest.parent / f".{manifest.name}.{os.getpid()}.tmp"
    try:
        tmp.write_bytes(text.encode("utf-8"))
        os.replace(tmp, manifest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SourceError(f"{manifest} could not be written ({exc.strerror}); it is unchanged.") from None


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
