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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from etl.errors import EtlError, PublishError
from etl.faults import fault_point
from etl.safety import MAX_DESCRIPTOR_BYTES, MAX_FILE_BYTES, open_file, read_file
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
        # No redirect is followed: the token goes to the --ckan URL only. (requests would drop the
        # Authorization header on a redirect to another host, but it would still re-send the
        # upload, and a same-host redirect to another path keeps the header.)
        try:
            if files:
                response = self.session.post(endpoint, data=data, files=files, timeout=self.timeout,
                                             allow_redirects=False)
            else:
                response = self.session.post(endpoint, json=data or {}, timeout=self.timeout,
                                             allow_redirects=False)
        except requests.RequestException as exc:
            raise PortalError(f"the portal {self.url} cannot be reached ({type(exc).__name__}).") from None
        if response.is_redirect:
            target = urlsplit(response.headers.get("Location", ""))
            raise PortalError(f"{action}: the portal answered HTTP {response.status_code}, a redirect to "
                              f"{target.scheme}://{target.netloc}{target.path}; etl publish follows no redirect, "
                              "so that the API token is sent to the --ckan URL only. Pass the portal's final "
                              "address (e.g. https://…) as --ckan.")
        try:
            body = response.json()
        except ValueError:
            raise PortalError(f"{action}: the portal answered HTTP {response.status_code} without JSON.") from None
        if not body.get("success"):
            error = body.get("error", {})
            if error.get("__type") == "Not Found Error" and action == "package_show":
                raise LookupError(action)
            raise PortalError(f"{action}: the portal refused it (HTTP {response.status_code}): "
                              f"{self._redacted(_error_text(error))}")
        return body["result"]

    def _redacted(self, text: str) -> str:
        """A portal's message may echo the request's headers back: the token is never printed."""
        token = self.session.headers.get("Authorization", "")
        return text.replace(token, "***") if token else text

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
    for i, (path, fields) in enumerate(pending):
        current = have.get((version, path))
        if current is not None and current.get("hash") == fields["hash"]:
            summary.unchanged.append(path)
            continue
        try:
            _upload(client, existing["id"], root, path, fields, current)
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
        if r.get("format") not in FORMATS:  # only the release's own tables are published
            raise InvalidRelease(f"resource {r.get('name')!r} ({r.get('path')!r}) has format {r.get('format')!r}; "
                                 f"a release holds only {', '.join(FORMATS)} files and datapackage.json.")
        fmt, mediatype = FORMATS[r["format"]]
        out.append((r["path"], {
            "name": f"{r['path']} ({version})",
            "description": f"{r.get('title', '')}: {r.get('description', '')}".strip(": "),
            "format": fmt, "mimetype": mediatype, "hash": r["hash"],
            "size": r.get("bytes", r.get("x-bytes")),
            "release_version": version, "release_as_of": as_of, "release_path": r["path"],
            "schema": json.dumps(r["schema"], ensure_ascii=False),
        }))
    data = read_file(root, "datapackage.json", f"the descriptor of {root}", MAX_DESCRIPTOR_BYTES)
    out.append(("datapackage.json", {
        "name": f"datapackage.json ({version})",
        "description": "Frictionless Data Package v2: metadata, table schemas and hashes of this release",
        "format": "JSON", "mimetype": "application/json",
        "hash": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data),
        "release_version": version, "release_as_of": as_of, "release_path": "datapackage.json",
    }))
    return out


def _upload(client: CkanClient, package_id: str, root: Path, path: str, fields: dict[str, Any],
            current: dict[str, Any] | None) -> None:
    """Upload one file of the release, opened without leaving its folder (see etl.safety)."""
    limit = MAX_DESCRIPTOR_BYTES if path == "datapackage.json" else MAX_FILE_BYTES
    with open_file(root, path, f"the file {path} of {root}", limit) as (handle, _size):
        upload = {"upload": (Path(path).name, handle, fields["mimetype"])}
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
