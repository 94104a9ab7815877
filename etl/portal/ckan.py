"""Publishing a release to a CKAN portal through its Action API.

Portal layout: one CKAN dataset per edition, and one stable dataset for the latest.

* `<dataset>-<version>` (e.g. koriyama-renkei-kyotei-2025-04-01): the release's files (CSV,
  Parquet, datapackage.json) and its HTML report (report.html) uploaded as its resources, and each
  table pushed into the DataStore with the types of `schemas/`, so the portal previews it and
  answers `datastore_search`.
* `<dataset>` (the URL users bookmark and harvesters follow): the newest edition on the portal. Its
  metadata describes that release; its resources, one per file, link to that edition's uploads
  (nothing is uploaded twice); the extra `editions` lists every edition's dataset (the series).

Why not every edition's files in one dataset: CKAN returns, re-indexes and reorders the whole
dataset on each package_show, resource_create and package_resource_reorder, so publishing the
k-th edition cost calls and time growing with k (see benchmarks/bench_portal.py). Now publishing an
edition touches only its own dataset and the stable one: a bounded number of calls, and only its
own files uploaded. Resources are matched by file and compared by sha256 (and a table's DataStore
copy by the hash it was pushed from), so publishing the same release again changes nothing, an
older release never takes the stable dataset back, and a run that failed half way is completed by
the next one.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, quote_plus, urlsplit

import requests

from etl.errors import EtlError, PublishError, UsageError
from etl.report.text import render
from etl.shared import schemas
from etl.shared.faults import fault_point
from etl.shared.safety import MAX_DESCRIPTOR_BYTES, MAX_FILE_BYTES, read_file, release_descriptor
from etl.shared.schemas import PARQUET_SUFFIX, resource_schema
from etl.validate.run import descriptor_entry, read_csv, validate_release

FORMATS = {"csv": ("CSV", "text/csv"), "parquet": ("Parquet", "application/parquet")}
T = TypeVar("T")


class InvalidRelease(EtlError):
    """The release does not pass `etl validate` (exit 1)."""

    exit_code = 1


class PortalError(PublishError):
    """The portal refused a call or could not be reached (exit 3)."""


class ActionUnknown(PortalError):
    """The portal has no such action: the plugin that provides it is not loaded."""


@dataclass
class PublishSummary:
    dataset: str
    version: str
    edition: str = ""  # the CKAN dataset of this edition
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    tables_pushed: list[str] = field(default_factory=list)  # into the DataStore
    bytes_uploaded: int = 0
    datastore_missing: bool = False  # the portal runs without the DataStore: no table was pushed
    metadata_updated: bool = False  # the stable dataset (or the edition's metadata) changed
    created: bool = False

    def warnings(self, url: str) -> list[str]:
        """What a steward should act on although the publish succeeded."""
        if not self.datastore_missing:
            return []
        return [f"{url} has no DataStore, so the tables were not pushed into it (no table preview, no "
                "datastore_search); the files, the report and the stable dataset are published. To turn it on, "
                "add `datastore` to ckan.plugins and set ckan.datastore.write_url and ckan.datastore.read_url "
                "in the portal's ckan.ini (CKAN's DataStore docs), then run etl publish again."]

    def render(self, url: str) -> str:
        if not self.uploaded and not self.metadata_updated and not self.tables_pushed:
            return f"{self.dataset} {self.version} is already on {url} with identical files; nothing changed."
        verb = "created" if self.created else "updated"
        return (f"{verb} {url}/dataset/{self.edition}: uploaded {len(self.uploaded)} files of release "
                f"{self.version}, {len(self.unchanged)} already there, {len(self.tables_pushed)} tables pushed "
                "to the DataStore"
                + (f"; {url}/dataset/{self.dataset} updated." if self.metadata_updated else "."))


# What is read of one answer of the portal: CKAN's largest answer here, a package_show of an edition
# with its resources, is some tens of kB; a bigger one is not an Action API answer worth holding.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class CkanClient:
    """Minimal Action API client. The token is only ever sent in the Authorization header, to the
    --ckan URL only: no redirect is followed and no proxy of the environment is used.

    Every call has a deadline (`timeout` seconds, whatever the portal does: silent, or dripping a
    byte at a time), the whole publish another (`deadline`), and an answer is read up to
    MAX_ANSWER_BYTES."""

    def __init__(self, url: str, token: str, timeout: float = 60, deadline: float = 1800):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        # HTTP(S)_PROXY, .netrc and the like are ignored: they would hand the Authorization header to
        # a proxy, or another credential to the portal. Set in the README.
        self.session.trust_env = False
        self.session.headers["Authorization"] = token
        self.timeout = timeout
        self.ends = time.monotonic() + deadline

    def call(self, action: str, data: dict[str, Any] | None = None, files: dict | None = None) -> Any:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise PortalError(f"{action}: the publish ran past its deadline (ETL_CKAN_DEADLINE); run it again "
                              "to complete it.")
        limit = min(self.timeout, left)
        late = PortalError(f"{action}: the portal gave no complete answer within {limit:.0f} s (ETL_CKAN_TIMEOUT); "
                           "it is slow or not answering." if limit == self.timeout else
                           f"{action}: the publish reached its deadline (ETL_CKAN_DEADLINE) during this call; run "
                           "it again to complete it.")
        status, headers, content = _within(limit, lambda: self._post(action, data, files, limit), late)
        body = self._answer(action, status, headers, content)
        if not body.get("success"):
            error = body.get("error")
            if isinstance(error, dict) and error.get("__type") == "Not Found Error" and action == "package_show":
                raise LookupError(action)
            raise PortalError(f"{action}: the portal refused it (HTTP {status}): "
                              f"{self._redacted(_error_text(error))[:2000]}")
        if not isinstance(body.get("result"), dict):
            raise PortalError(f"{action}: the portal answered HTTP {status} with success but no result object; "
                              "it does not speak CKAN's Action API as etl publish expects.")
        return body["result"]

    def _post(self, action: str, data: dict[str, Any] | None, files: dict | None,
              limit: float) -> tuple[int, dict[str, str], bytes]:
        """One POST, in the worker thread: the status, the headers and at most MAX_ANSWER_BYTES + 1 bytes."""
        endpoint = f"{self.url}/api/3/action/{action}"
        # No redirect is followed: the token goes to the --ckan URL only. (requests would drop the
        # Authorization header on a redirect to another host, but it would still re-send the
        # upload, and a same-host redirect to another path keeps the header.)
        body = {"data": data, "files": files} if files else {"json": data or {}}
        try:
            # requests' own timeout only backs up the deadline of `call` (each socket read), so it is longer
            with self.session.post(endpoint, **body, timeout=limit + 5, allow_redirects=False,
                                   stream=True) as response:
                if response.is_redirect:
                    target = urlsplit(response.headers.get("Location", ""))
                    where = self._redacted(f"{target.scheme}://{target.netloc}{target.path}")[:300]
                    raise PortalError(f"{action}: the portal answered HTTP {response.status_code}, a redirect to "
                                      f"{where}; etl publish follows no "
                                      "redirect, so that the API token is sent to the --ckan URL only. Pass the "
                                      "portal's final address (e.g. https://…) as --ckan.")
                content = b""
                for chunk in response.iter_content(64 * 1024):
                    content += chunk
                    if len(content) > MAX_ANSWER_BYTES:
                        break
                return response.status_code, dict(response.headers), content
        except requests.RequestException as exc:
            raise PortalError(f"{action}: the portal {self.url} cannot be reached or broke the connection "
                              f"({type(exc).__name__}).") from None

    def _answer(self, action: str, status: int, headers: dict[str, str], content: bytes) -> dict[str, Any]:
        """The Action API's answer, a JSON object; PortalError naming the action and the status otherwise."""
        if len(content) > MAX_ANSWER_BYTES:
            raise PortalError(f"{action}: the portal's answer (HTTP {status}) is larger than "
                              f"{MAX_ANSWER_BYTES // 2**20} MiB; it is not an Action API answer.")
        try:
            body = json.loads(content)
        except ValueError:
            kind = "an HTML page" if "html" in headers.get("Content-Type", "").lower() else "no JSON"
            raise PortalError(f"{action}: the portal answered HTTP {status} with {kind}, not an Action API "
                              "answer. Is --ckan the portal's address (without /api/3)?") from None
        if isinstance(body, str) and "Action name not known" in body:
            # CKAN's answer for an action no loaded plugin provides (the DataStore's, when `datastore`
            # is not in ckan.plugins): HTTP 400 with the message as a JSON string.
            raise ActionUnknown(f"{action}: the portal does not know this action (HTTP {status}).")
        if not isinstance(body, dict):
            raise PortalError(f"{action}: the portal answered HTTP {status} with JSON that is not an Action API "
                              f"answer (a {type(body).__name__}, not an object): "
                              f"{self._redacted(json.dumps(body, ensure_ascii=False))[:200]}")
        return body

    def _redacted(self, text: str) -> str:
        """A portal's message may echo the request's headers back: the token is never printed, in
        whatever encoding it comes back (as sent, URL-encoded, in another case, in base64)."""
        token = self.session.headers.get("Authorization", "")
        return redact(text, token)

    def package(self, name: str) -> dict[str, Any] | None:
        try:
            return _kept(self.call("package_show", {"id": name}))
        except LookupError:
            return None


def _within(seconds: float, work: Callable[[], T], late: Exception) -> T:
    """`work()`, or `late` raised once `seconds` have passed, however the socket reads drip in.

    requests' timeout bounds each read of the socket, not the answer: a portal sending a byte every
    few seconds would hold a call for ever. The call runs in a daemon thread, so a late one is left
    to the portal's closing the connection and never holds the process at its exit."""
    done: dict[str, Any] = {}

    def run() -> None:
        try:
            done["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
            done["error"] = exc

    worker = threading.Thread(target=run, daemon=True, name="etl-ckan-call")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise late
    if "error" in done:
        raise done["error"]
    return done["value"]


def token_forms(token: str) -> list[str]:
    """Every way a portal might echo the token back: as sent, URL-encoded, base64 (any alphabet)."""
    raw = token.encode()
    forms = {token, quote(token, safe=""), quote_plus(token)}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        forms |= {encoded.decode(), encoded.decode().rstrip("=")}
    return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)


def redact(text: str, token: str) -> str:
    """`text` with every form of `token` replaced by ***, whatever its letter case."""
    for form in token_forms(token) if token else []:
        text = re.sub(re.escape(form), "***", text, flags=re.IGNORECASE)
    return text


PACKAGE_KEYS = ("id", "name", "title", "notes", "owner_org", "license_id", "version", "tags", "extras")


def _kept(package: dict[str, Any]) -> dict[str, Any]:
    """Only the fields of a dataset that etl publish reads: an answer may hold anything else, none is kept.
    PortalError when the answer is not shaped like a CKAN dataset."""
    if not isinstance(package.get("id"), str):
        raise PortalError("the portal answered with a dataset without an id; it does not speak CKAN's Action API "
                          "as etl publish expects.")
    out = {k: package[k] for k in PACKAGE_KEYS if k in package}
    for key in ("extras", "tags"):  # lists of objects in CKAN; anything else is left out
        if key in out:
            out[key] = [x for x in out[key] if isinstance(x, dict)] if isinstance(out[key], list) else []
    out["extras"] = [x for x in out.get("extras", []) if isinstance(x.get("key"), str)]
    out["tags"] = [x for x in out.get("tags", []) if isinstance(x.get("name"), str)]
    org = package.get("organization")
    if isinstance(org, dict):
        out["organization"] = {k: org.get(k) for k in ("id", "name")}
    resources = package.get("resources")
    out["resources"] = [_kept_resource(r) for r in resources if isinstance(r, dict)] if isinstance(
        resources, list) else []
    return out


def _kept_resource(resource: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(resource.get("id"), str):
        raise PortalError("the portal answered with a resource without an id; it does not speak CKAN's Action API "
                          "as etl publish expects.")
    return {k: resource[k] for k in (*LINKED, "id", "datastore_active", "datastore_hash") if k in resource}


def _error_text(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error) if error else "no error given"  # redacted, then cut, by the caller
    parts = [f"{k}: {v}" for k, v in error.items() if k != "__type"]
    return "; ".join(parts) or str(error.get("__type", "unknown error"))


def check_token(token: str) -> None:
    """An API token is printable ASCII: a line break or a character HTTP headers cannot carry is a copy
    mistake (a CRLF file, the README's placeholder …), said as such rather than as an unreachable portal."""
    if not token.isascii() or not token.isprintable() or token != token.strip():
        raise UsageError("CKAN_API_TOKEN holds a space, a line break or a character that is not ASCII: copy "
                         "the token itself (the portal's user page shows it) into the variable.")


def check_portal_url(url: str, insecure: bool = False) -> None:
    """The token travels only over HTTPS, or plain HTTP to this machine (or with --insecure)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--ckan {url}: give the portal's address, such as https://data.example.jp.")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK and not insecure:
        raise UsageError(f"--ckan {url}: refusing to send the API token in clear text over http:// to "
                         f"{parts.hostname}. Use the portal's https:// address, or add --insecure if this "
                         "network is trusted.")


def _seconds(name: str, default: float) -> float:
    text = os.environ.get(name, "")
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1
    if not value > 0:
        raise UsageError(f"{name}={text!r}: give a number of seconds greater than 0 (default {default:g}).")
    return value


def edition_name(dataset: str, version: str) -> str:
    """The CKAN name of one edition's dataset (CKAN names are lower case: a-z, 0-9, '-', '_')."""
    return f"{dataset}-{version}".lower().replace(".", "-")


def publish_release(release: Path, url: str, organization: str, token: str,
                    insecure: bool = False) -> PublishSummary:
    """Create or update the edition's dataset and the stable one from one validated release; idempotent."""
    check_portal_url(url, insecure)
    check_token(token)
    timeout, deadline = _seconds("ETL_CKAN_TIMEOUT", 60), _seconds("ETL_CKAN_DEADLINE", 1800)
    root, package = release_descriptor(release)
    report = validate_release(root)
    if not report.valid:
        raise InvalidRelease(f"{root} does not pass etl validate, so it is not published:\n" + render(report))
    files = _files(root, package)  # what goes on the portal, refused before the portal is called
    client = CkanClient(url, token, timeout=timeout, deadline=deadline)
    name, version = package["name"], package["version"]
    summary = PublishSummary(name, version, edition=edition_name(name, version))
    existing = client.package(summary.edition)
    wanted = _edition_fields(package, organization, summary.edition)
    if existing is None:
        existing = _kept(client.call("package_create", wanted))
        summary.created = True
    elif _differs(existing, wanted):  # published by an older version of this code: describe it afresh
        existing = _kept(client.call("package_patch", {"id": existing["id"], **{k: v for k, v in wanted.items()
                                                                                if k != "name"}}))
        summary.metadata_updated = True
    with tempfile.TemporaryDirectory(prefix="etl-report-") as scratch:
        # The release's HTML report is not one of its files: written here, uploaded from here.
        pending = files + [(REPORT, _release_report(root, package, report, Path(scratch)))]
        resources = _upload_files(client, summary, existing, pending, {"": root, REPORT: Path(scratch)})
    try:
        _push_tables(client, summary, root, package, resources)
        summary.metadata_updated |= _update_stable(client, package, organization, summary.edition, resources)
    except PublishError as exc:
        raise PublishError(f"{exc} Every file of {name} {version} is on the portal in {summary.edition}; the "
                          "DataStore tables or the stable dataset are not all updated. Run the same command "
                          "again.") from None
    return summary


def _upload_files(client: CkanClient, summary: PublishSummary, existing: dict[str, Any],
                  pending: list[tuple[str, dict[str, Any]]], roots: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Upload each file whose hash the edition's dataset does not have; its resources by file.

    A file is read from the folder `roots` gives for its path ("" for the release's own files)."""
    have = {r.get("release_path"): r for r in existing.get("resources", [])}
    for i, (path, fields) in enumerate(pending):
        current = have.get(path)
        if current is not None and current.get("hash") == fields["hash"]:
            summary.unchanged.append(path)
            continue
        try:
            if current is not None and _active(current):  # its rows are the old file's: gone before it is
                client.call("datastore_delete", {"resource_id": current["id"], "force": True,
                                                 "calculate_record_count": False})
            have[path], size = _upload(client, existing["id"], roots.get(path, roots[""]), path, fields, current)
        except PublishError as exc:
            raise PublishError(_partial(summary, pending[i:], exc)) from None
        summary.uploaded.append(path)
        summary.bytes_uploaded += size
        fault_point(f"ckan_uploaded_{len(summary.uploaded)}")
    return have


def _files(root: Path, package: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every file of the release with the resource fields describing it (datapackage.json last).

    One place lists the release's files that go on the portal (beside them only its report.html):
    a new kind of file is one more entry here."""
    if not all(isinstance(package.get(k), str) and package.get(k) for k in ("name", "version")):
        raise InvalidRelease(f"the datapackage.json of {root} gives no name or version (text); the portal's "
                             "datasets are named after them.")
    version, as_of = package["version"], str(package.get("x-as-of", ""))
    out = []
    for r in package["resources"]:
        if r.get("path") in ("datapackage.json", REPORT):  # each file of the portal has a path of its own
            raise InvalidRelease(f"resource {r.get('name')!r} has the path {r.get('path')!r}, which the release's "
                                 "descriptor or its report takes on the portal.")
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
            # the schema of schemas/ (etl validate has just proved the descriptor's is the same)
            "schema": json.dumps(resource_schema(schemas.table(r["name"].removesuffix(PARQUET_SUFFIX)), r["format"]),
                                 ensure_ascii=False),
            # The file its DataStore table is (to be) pushed from; the table counts only once the
            # push has made the resource datastore_active, which a re-upload first undoes.
            **({"datastore_hash": r["hash"]} if _is_table(r) else {}),
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


REPORT = "report.html"


def _release_report(root: Path, package: dict[str, Any], report, folder: Path) -> dict[str, Any]:
    """The release's HTML report (etl report) written into `folder`, and its resource fields."""
    from etl.report import html as html_report

    file = folder / REPORT
    html_report.write(html_report.release_page(root, report=report), file)
    data = file.read_bytes()  # deterministic, so an unchanged release uploads nothing again
    return {
        "name": f"{REPORT} ({package['version']})",
        "description": "リリースレポート（HTML）: 検査の結果、協定数の表と印字された合計、グラフ、協定先の掲載箇所",
        "format": "HTML", "mimetype": "text/html",
        "hash": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data),
        "release_version": package["version"], "release_as_of": package.get("x-as-of", ""), "release_path": REPORT,
    }


def _upload(client: CkanClient, package_id: str, root: Path, path: str, fields: dict[str, Any],
            current: dict[str, Any] | None) -> tuple[dict[str, Any], int]:
    """Upload one file of the release, opened without leaving its folder (see etl.shared.safety); the
    resource the portal now has, and the bytes sent."""
    content = _validated_bytes(root, path, fields["hash"])
    upload = {"upload": (Path(path).name, io.BytesIO(content), fields["mimetype"])}
    data = {k: str(v) for k, v in fields.items()}
    if current is None:
        return _kept_resource(client.call("resource_create", {"package_id": package_id, **data},
                                          files=upload)), len(content)
    return _kept_resource(client.call("resource_update", {"id": current["id"], **data}, files=upload)), len(content)


def _validated_bytes(root: Path, path: str, validated: str) -> bytes:
    """The file's bytes, read without leaving its folder (etl.shared.safety), and only if they are still
    the ones validated: what goes to the portal is what was checked, even if the file is replaced."""
    limit = MAX_DESCRIPTOR_BYTES if path == "datapackage.json" else MAX_FILE_BYTES
    content = read_file(root, path, f"the file {path} of {root}", limit)
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    if digest != validated:
        raise PublishError(f"{path} changed after it was validated (its hash is now {digest}, was {validated}); "
                           "it was not sent.")
    return content


def _partial(summary: PublishSummary, left: list[tuple[str, dict[str, Any]]], exc: PublishError) -> str:
    done = summary.uploaded + summary.unchanged
    return (f"{exc} Publishing {summary.dataset} {summary.version} stopped half way.\n"
            f"  on the portal: {', '.join(done) or 'nothing yet'}\n"
            f"  not uploaded:  {', '.join(p for p, _ in left)}\n"
            "Run the same command again: it uploads only what is missing.")


def _package_fields(package: dict[str, Any], organization: str) -> dict[str, Any]:
    """CKAN package fields from datapackage.json (the newest release's)."""
    municipality = package.get("x-municipality", {})
    license_ = descriptor_entry(package, "licenses")
    notes = "\n\n".join(filter(None, [package.get("description"), package.get("x-attribution"),
                                       f"時点: {package.get('x-as-of')}（版 {package['version']}）",
                                       f"ライセンス: {license_.get('title', '')}"]))
    extras = {
        "source": str(descriptor_entry(package, "sources").get("title", "")),
        "as_of": package.get("x-as-of", ""),
        "fiscal_year": str(package.get("x-fiscal-year", "")),
        "全国地方公共団体コード": municipality.get("全国地方公共団体コード", ""),
        "都道府県名": municipality.get("都道府県名", ""),
        "市区町村名": municipality.get("市区町村名", ""),
        "attribution": package.get("x-attribution", ""),
    }
    return {
        "name": package["name"],
        "title": str(package.get("title") or package["name"]),
        "notes": notes,
        "owner_org": organization,
        "license_id": license_.get("name", "notspecified"),
        "version": package["version"],
        "tags": [{"name": k} for k in package.get("keywords") or [] if isinstance(k, str)],
        "extras": [{"key": k, "value": v} for k, v in extras.items()],
    }


def _edition_fields(package: dict[str, Any], organization: str, edition: str) -> dict[str, Any]:
    """One edition's dataset: the release's metadata, its version in the title, the series it is in."""
    fields = _package_fields(package, organization)
    fields["name"], fields["title"] = edition, f"{package['title']}（{package['version']}）"
    fields["extras"].append({"key": "series", "value": package["name"]})
    return fields


DATASTORE_TYPES = {"integer": "int", "date": "date", "string": "text", "number": "numeric", "boolean": "bool"}


def _push_tables(client: CkanClient, summary: PublishSummary, root: Path, package: dict[str, Any],
                 resources: dict[str, dict[str, Any]]) -> None:
    """Each CSV table into the DataStore, typed by its schema, unless it is there from this file; on a
    portal without the DataStore (many run CKAN so), none, and the summary says so."""
    try:
        _push_each(client, summary, root, package, resources)
    except ActionUnknown:
        summary.datastore_missing = True


def _push_each(client: CkanClient, summary: PublishSummary, root: Path, package: dict[str, Any],
               resources: dict[str, dict[str, Any]]) -> None:
    for r in filter(_is_table, package["resources"]):
        resource = resources.get(r["path"])
        if resource is None or (_active(resource) and resource.get("datastore_hash") == r["hash"]):
            continue
        ts = schemas.table(r["name"])
        frame, _ = read_csv(ts, _validated_bytes(root, r["path"], r["hash"]), r["path"])  # validated above
        if _active(resource):  # a table pushed from another file, which an earlier run left
            client.call("datastore_delete", {"resource_id": resource["id"], "force": True,
                                             "calculate_record_count": False})
        client.call("datastore_create", {
            # force: an uploaded file's resource is "read-only" to the DataStore (its rows come from the
            # file). No table statistics job: that needs the portal's background workers (Redis), and
            # datastore_search counts the rows itself.
            "resource_id": resource["id"], "force": True, "primary_key": ts.primary_key,
            "calculate_record_count": False,
            "fields": [{"id": f["name"], "type": DATASTORE_TYPES[f["type"]],
                        "info": {"label": f.get("title", f["name"]), "notes": f.get("description", "")}}
                       for f in ts.fields],
            "records": json.loads(frame.write_json()),  # dates as ISO 8601 text, nulls as null
        })
        if resource.get("datastore_hash") != r["hash"]:  # uploaded by a version that did not record it
            client.call("resource_patch", {"id": resource["id"], "datastore_hash": r["hash"]})
        summary.tables_pushed.append(r["path"])


def _is_table(resource: dict[str, Any]) -> bool:
    return resource.get("format") == "csv" and resource.get("name") in {ts.name for ts in schemas.tables()}


def _active(resource: dict[str, Any]) -> bool:
    return resource.get("datastore_active") in (True, "True", "true")


def _update_stable(client: CkanClient, package: dict[str, Any], organization: str, edition: str,
                   resources: dict[str, dict[str, Any]]) -> bool:
    """The stable dataset: the newest edition's metadata and links to its files, and every edition;
    one package_patch at most (CKAN re-indexes a dataset on each call that changes it)."""
    current = client.package(package["name"])
    changed = current is None
    if current is None:
        current = _kept(client.call("package_create", {**_package_fields(package, organization),
                                                       "extras": _stable_extras(package, {}, edition)}))
    extras = {e["key"]: e["value"] for e in current.get("extras", [])}
    mine = (package.get("x-as-of", ""), package["version"])
    newest = mine >= (extras.get("as_of", ""), current.get("version") or "")
    if newest:
        wanted = _package_fields(package, organization)
    else:  # an older edition never takes the stable dataset back; it only joins the list
        wanted = {k: current.get(k) for k in ("title", "notes", "version")}
    wanted["extras"] = _stable_extras(package if newest else None, extras, edition, package["version"])
    wanted.pop("name", None)
    links = _links(current, resources) if newest else None
    if _differs(current, wanted) or links is not None:
        client.call("package_patch", {"id": current["id"], **wanted, **({"resources": links} if links else {})})
        changed = True
    return changed


LINKED = ("name", "description", "format", "mimetype", "hash", "size", "release_version", "release_as_of",
          "release_path", "schema", "url")


def _links(stable: dict[str, Any], resources: dict[str, dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The stable dataset's resources: one per file of the newest edition, its URL that edition's
    upload (no second upload), keeping each file's resource id; None when they are so already."""
    have = {r.get("release_path"): r for r in stable.get("resources", [])}
    wanted = []
    for path, resource in resources.items():
        fields = {k: resource[k] for k in LINKED if resource.get(k) is not None}
        fields["release_path"] = path  # the file it is, whether or not the portal echoed the field back
        if path in have:
            fields["id"] = have[path]["id"]
        wanted.append(fields)
    order = [r.get("release_path") for r in stable.get("resources", [])]
    same = order == [w["release_path"] for w in wanted] and all(
        have.get(w["release_path"], {}).get(k) == v for w in wanted for k, v in w.items())
    return None if same else wanted


def _stable_extras(newest: dict[str, Any] | None, extras: dict[str, str], edition: str,
                   version: str | None = None) -> list[dict[str, str]]:
    """The newest release's extras (or the ones there), and `editions`: version → edition's dataset."""
    out = dict(extras)
    if newest is not None:
        out.update({e["key"]: e["value"] for e in _package_fields(newest, "")["extras"]})
    try:  # the extra may have been edited by hand on the portal
        listed = json.loads(extras.get("editions") or "{}")
    except ValueError:
        listed = {}
    listed = listed if isinstance(listed, dict) else {}
    listed[version or (newest or {}).get("version", "")] = edition
    out["editions"] = json.dumps(dict(sorted(listed.items())), ensure_ascii=False)
    return [{"key": k, "value": v} for k, v in out.items()]


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
