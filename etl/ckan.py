"""Publishing a release to a CKAN portal through its Action API.

One CKAN dataset per dataset of the catalog (same name). Every release's files are resources of
it, named and tagged with their release version, so the portal URL stays the same from edition to
edition and older editions remain downloadable beside the newest; the dataset's own metadata
(version, as-of date, title, notes) always describes the newest release on the portal, and the
newest release's resources come first. Resources are matched by (version, file) and compared by
sha256, so publishing the same release again uploads nothing, and a run that failed half way
is completed by the next one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from etl.errors import EtlError, PublishError
from etl.faults import fault_point
from etl.validate import release_descriptor, validate_release

FORMATS = {"csv": ("CSV", "text/csv"), "parquet": ("Parquet", "application/parquet")}


class InvalidRelease(EtlError):
    """The release does not pass `etl validate` (exit 1)."""

    exit_code = 1


class PortalError(PublishError):
    """The portal refused a call or could not be reached (exit 3)."""


@dataclass
class PublishSummary:
    dataset: str
    version: str
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    metadata_updated: bool = False
    created: bool = False

    def render(self, url: str) -> str:
        if not self.uploaded and not self.metadata_updated:
            return f"{self.dataset} {self.version} is already on {url} with identical files; nothing changed."
        verb = "created" if self.created else "updated"
        return (f"{verb} {url}/dataset/{self.dataset}: uploaded {len(self.uploaded)} files of release "
                f"{self.version}, {len(self.unchanged)} already there"
                + ("; dataset metadata updated." if self.metadata_updated else "."))


class CkanClient:
    """Minimal Action API client. The token is only ever sent in the Authorization header."""

    def __init__(self, url: str, token: str, timeout: float = 60):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = token
        self.timeout = timeout

    def call(self, action: str, data: dict[str, Any] | None = None, files: dict | None = None) -> Any:
        endpoint = f"{self.url}/api/3/action/{action}"
        try:
            if files:
                response = self.session.post(endpoint, data=data, files=files, timeout=self.timeout)
            else:
                response = self.session.post(endpoint, json=data or {}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise PortalError(f"the portal {self.url} cannot be reached ({type(exc).__name__}).") from None
        try:
            body = response.json()
        except ValueError:
            raise PortalError(f"{action}: the portal answered HTTP {response.status_code} without JSON.") from None
        if not body.get("success"):
            error = body.get("error", {})
            if error.get("__type") == "Not Found Error" and action == "package_show":
                raise LookupError(action)
            raise PortalError(f"{action}: the portal refused it (HTTP {response.status_code}): "
                              f"{_error_text(error)}")
        return body["result"]

    def package(self, name: str) -> dict[str, Any] | None:
        try:
            return self.call("package_show", {"id": name})
        except LookupError:
            return None


def _error_text(error: dict[str, Any]) -> str:
    parts = [f"{k}: {v}" for k, v in error.items() if k != "__type"]
    return "; ".join(parts) or error.get("__type", "unknown error")


def publish_release(release: Path, url: str, organization: str, token: str) -> PublishSummary:
    """Create or update the portal's dataset from one validated release; idempotent and resumable."""
    root, package = release_descriptor(release)
    report = validate_release(root)
    if not report.valid:
        raise InvalidRelease(f"{root} does not pass etl validate, so it is not published:\n" + report.render())
    client = CkanClient(url, token, timeout=float(os.environ.get("ETL_CKAN_TIMEOUT", "60")))
    name, version = package["name"], package["version"]
    summary = PublishSummary(name, version)
    existing = client.package(name)
    if existing is None:
        existing = client.call("package_create", _package_fields(package, organization))
        summary.created = True
    have = {(r.get("release_version"), r.get("release_path")): r for r in existing.get("resources", [])}
    pending = _files(root, package)
    scratch = tempfile.TemporaryDirectory(prefix="etl-report-")  # removed with the object, when this returns
    local = {REPORT: _release_report(root, package, report, Path(scratch.name))}
    pending.append((REPORT, _report_fields(local[REPORT], package)))
    for i, (path, fields) in enumerate(pending):
        current = have.get((version, path))
        if current is not None and current.get("hash") == fields["hash"]:
            summary.unchanged.append(path)
            continue
        try:
            _upload(client, existing["id"], local.get(path, root / path), fields, current)
        except PortalError as exc:
            raise PortalError(_partial(summary, pending[i:], exc)) from None
        summary.uploaded.append(path)
        fault_point(f"ckan_uploaded_{len(summary.uploaded)}")
    try:
        summary.metadata_updated = _update_metadata(client, name, package, organization)
    except PortalError as exc:
        raise PortalError(f"{exc} Every file of {name} {version} is on the portal; only the dataset's "
                          "metadata or resource order was not updated. Run the same command again.") from None
    return summary


def _files(root: Path, package: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every file of the release with the resource fields describing it (datapackage.json last)."""
    version, as_of = package["version"], package.get("x-as-of", "")
    out = []
    for r in package["resources"]:
        fmt, mediatype = FORMATS[r["format"]]
        out.append((r["path"], {
            "name": f"{r['path']} ({version})",
            "description": f"{r.get('title', '')}: {r.get('description', '')}".strip(": "),
            "format": fmt, "mimetype": mediatype, "hash": r["hash"],
            "size": r.get("bytes", r.get("x-bytes")),
            "release_version": version, "release_as_of": as_of, "release_path": r["path"],
            "schema": json.dumps(r["schema"], ensure_ascii=False),
        }))
    data = (root / "datapackage.json").read_bytes()
    out.append(("datapackage.json", {
        "name": f"datapackage.json ({version})",
        "description": "Frictionless Data Package v2: metadata, table schemas and hashes of this release",
        "format": "JSON", "mimetype": "application/json",
        "hash": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data),
        "release_version": version, "release_as_of": as_of, "release_path": "datapackage.json",
    }))
    return out


REPORT = "report.html"


def _release_report(root: Path, package: dict[str, Any], report, folder: Path) -> Path:
    """The release's HTML report (etl report), written for upload beside the release's files."""
    from etl import html_report

    file = folder / REPORT
    html_report.write(html_report.release_page(root, report=report), file)
    return file


def _report_fields(file: Path, package: dict[str, Any]) -> dict[str, Any]:
    data = file.read_bytes()  # deterministic, so an unchanged release uploads nothing again
    return {
        "name": f"{REPORT} ({package['version']})",
        "description": "リリースレポート（HTML）: 検査の結果、協定数の表と印字された合計、グラフ、協定先の掲載箇所",
        "format": "HTML", "mimetype": "text/html",
        "hash": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data),
        "release_version": package["version"], "release_as_of": package.get("x-as-of", ""), "release_path": REPORT,
    }


def _upload(client: CkanClient, package_id: str, file: Path, fields: dict[str, Any],
            current: dict[str, Any] | None) -> None:
    with open(file, "rb") as handle:
        upload = {"upload": (file.name, handle, fields["mimetype"])}
        data = {k: str(v) for k, v in fields.items()}
        if current is None:
            client.call("resource_create", {"package_id": package_id, **data}, files=upload)
        else:
            client.call("resource_update", {"id": current["id"], **data}, files=upload)


def _partial(summary: PublishSummary, left: list[tuple[str, dict[str, Any]]], exc: PortalError) -> str:
    done = summary.uploaded + summary.unchanged
    return (f"{exc} Publishing {summary.dataset} {summary.version} stopped half way.\n"
            f"  on the portal: {', '.join(done) or 'nothing yet'}\n"
            f"  not uploaded:  {', '.join(p for p, _ in left)}\n"
            "Run the same command again: it uploads only what is missing.")


def _package_fields(package: dict[str, Any], organization: str) -> dict[str, Any]:
    """CKAN package fields from datapackage.json (the newest release's)."""
    municipality = package.get("x-municipality", {})
    license_ = (package.get("licenses") or [{}])[0]
    notes = "\n\n".join(filter(None, [package.get("description"), package.get("x-attribution"),
                                       f"時点: {package.get('x-as-of')}（版 {package['version']}）",
                                       f"ライセンス: {license_.get('title', '')}"]))
    extras = {
        "source": (package.get("sources") or [{}])[0].get("title", ""),
        "as_of": package.get("x-as-of", ""),
        "fiscal_year": str(package.get("x-fiscal-year", "")),
        "全国地方公共団体コード": municipality.get("全国地方公共団体コード", ""),
        "都道府県名": municipality.get("都道府県名", ""),
        "市区町村名": municipality.get("市区町村名", ""),
        "attribution": package.get("x-attribution", ""),
    }
    return {
        "name": package["name"],
        "title": package["title"],
        "notes": notes,
        "owner_org": organization,
        "license_id": license_.get("name", "notspecified"),
        "version": package["version"],
        "tags": [{"name": k} for k in package.get("keywords", [])],
        "extras": [{"key": k, "value": v} for k, v in extras.items()],
    }


def _release_order(resource: dict[str, Any]) -> tuple[str, str]:
    """Releases sort as catalog.json sorts them: by as-of date, then version name."""
    return resource.get("release_as_of") or "", resource.get("release_version") or ""


def _update_metadata(client: CkanClient, name: str, package: dict[str, Any], organization: str) -> bool:
    """Describe the newest release on the portal; newest resources first. True when anything changed."""
    current = client.package(name) or {}
    resources = current.get("resources", [])
    mine = (package.get("x-as-of", ""), package["version"])
    changed = False
    if mine >= max((_release_order(r) for r in resources), default=mine):
        wanted = _package_fields(package, organization)
        if _differs(current, wanted):
            client.call("package_patch", {"id": current.get("id", name), **{k: v for k, v in wanted.items()
                                                                           if k != "name"}})
            changed = True
    by_position = sorted(resources, key=lambda r: r.get("position", 0))
    ids = [r["id"] for r in sorted(by_position, key=_release_order, reverse=True)]  # stable: keeps file order
    if ids != [r["id"] for r in resources]:
        client.call("package_resource_reorder", {"id": current["id"], "order": ids})
        changed = True
    return changed


def _differs(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    for key, value in wanted.items():
        if key == "tags":
            if sorted(t["name"] for t in current.get("tags", [])) != sorted(t["name"] for t in value):
                return True
        elif key == "extras":
            if {e["key"]: e["value"] for e in current.get("extras", [])} != {e["key"]: e["value"] for e in value}:
                return True
        elif key == "owner_org":
            org = current.get("organization") or {}
            if value not in (org.get("name"), org.get("id"), current.get("owner_org")):
                return True
        elif current.get(key) != value:
            return True
    return False
