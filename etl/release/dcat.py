"""The catalog as DCAT (JSON-LD) with the DCAT-GOJ field set, for harvesters such as ckanext-dcat.

One dcat:Dataset per release (its version, as-of date, coverage and licence) with one
dcat:Distribution per file (download URL, media type, byte size, sha256 checksum). IRIs are
relative to the catalog folder unless a base URL is given, so the file works wherever the
catalog is served.

Across editions (DCAT 3): each catalog dataset is a dcat:DatasetSeries `<dataset>/` whose
releases are dcat:inSeries it, with dcat:first and dcat:last; `<dataset>/latest/` is a
dcat:Dataset with stable URLs holding the latest release (the series' dcat:hasCurrentVersion;
dct:relation names the release it copies), and `<dataset>/cumulative/` one for the tables
across every release.
"""

from __future__ import annotations

from typing import Any

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "spdx": "http://spdx.org/rdf/terms#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
MEDIA = {"csv": ("CSV", "text/csv"), "parquet": ("Parquet", "application/parquet"),
         "json": ("JSON", "application/json")}


def _date(value: str) -> dict[str, str]:
    return {"@value": value, "@type": "xsd:date"}


def _ja(value: str) -> dict[str, str]:
    return {"@value": value, "@language": "ja"}


Derived = dict[tuple[str, str], tuple[dict[str, Any], dict[str, int]]]  # (dataset, folder) → (package, sizes)


def catalog_document(releases: list[tuple[str, str, dict[str, Any], dict[str, int]]],
                     base_url: str = "", derived: Derived | None = None) -> dict[str, Any]:
    """DCAT JSON-LD for (dataset, version, datapackage, file sizes) of every release, and the
    derived folders (latest, cumulative) of each dataset."""
    context: dict[str, Any] = dict(CONTEXT)
    if base_url:
        context["@base"] = base_url.rstrip("/") + "/"
    datasets = [_dataset(name, version, package, sizes) for name, version, package, sizes in releases]
    for release in datasets:
        release["dcat:inSeries"] = {"@id": release["dct:identifier"].rsplit("/", 1)[0] + "/"}
    datasets += _across_editions(releases, derived or {})
    publishers = {p["foaf:name"]: p for d in datasets if "dct:publisher" in d for p in [d["dct:publisher"]]}
    return {
        "@context": context,
        "@id": "catalog.dcat.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": _ja("オープンデータカタログ（" + "・".join(publishers) + "）"),
        "dct:description": _ja("etl build が公開したデータセットとその版の一覧"),
        "dct:publisher": next(iter(publishers.values()), {"@type": "foaf:Organization", "foaf:name": ""}),
        "dct:language": "ja",
        "dcat:dataset": datasets,
    }


def _across_editions(releases: list[tuple[str, str, dict[str, Any], dict[str, int]]],
                     derived: Derived) -> list[dict[str, Any]]:
    """Per catalog dataset: the series of its releases, the latest alias and the cumulative tables."""
    out = []
    for name in dict.fromkeys(n for n, _, _, _ in releases):
        ordered = sorted(((p.get("x-as-of") or v, v) for n, v, p, _ in releases if n == name))
        series: dict[str, Any] = {
            "@id": f"{name}/", "@type": "dcat:DatasetSeries", "dct:identifier": name,
            "dct:title": _ja(next(p.get("title", name) for n, v, p, _ in releases
                                  if n == name and v == ordered[-1][1])),
            "dcat:first": {"@id": f"{name}/{ordered[0][1]}/"}, "dcat:last": {"@id": f"{name}/{ordered[-1][1]}/"},
        }
        out.append(series)
        for folder in ("latest", "cumulative"):
            if (name, folder) not in derived:
                continue
            package, sizes = derived[(name, folder)]
            dataset = _dataset(name, package.get("version", ""), package, sizes, folder=folder)
            dataset["dct:relation"] = {"@id": f"{name}/{package.get('version')}/"} if folder == "latest" else {
                "@id": f"{name}/"}
            if folder == "latest":
                series["dcat:hasCurrentVersion"] = {"@id": dataset["@id"]}
            out.append(dataset)
    return out


def _dataset(name: str, version: str, package: dict[str, Any], sizes: dict[str, int],
             folder: str | None = None) -> dict[str, Any]:
    """A release (or a derived folder: `folder` instead of the version in its IRIs)."""
    folder = folder or version
    municipality = package.get("x-municipality", {})
    as_of = package.get("x-as-of", version)
    fiscal_year = package.get("x-fiscal-year")
    city = municipality.get("市区町村名", "")
    dataset: dict[str, Any] = {
        "@id": f"{name}/{folder}/",
        "@type": "dcat:Dataset",
        "dct:identifier": f"{name}/{folder}",
        "dct:title": _ja(package.get("title", name)),
        "dct:description": _ja(package.get("description", "")),
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": city},
        "dcat:version": version,
        "dct:issued": _date(as_of),
        "dct:modified": _date(as_of),
        "dct:language": "ja",
        "dcat:keyword": [_ja(k) for k in package.get("keywords", [])],
        "dct:spatial": {
            "@type": "dct:Location",
            "dct:identifier": municipality.get("全国地方公共団体コード", ""),
            "skos:prefLabel": _ja(municipality.get("都道府県名", "") + city),
        },
        "dct:temporal": {
            "@type": "dct:PeriodOfTime",
            "dcat:startDate": _date(as_of),
            **({"dcat:endDate": _date(f"{int(fiscal_year) + 1}-03-31")} if fiscal_year else {}),
        },
        "dct:source": _ja((package.get("sources") or [{}])[0].get("title", "")),
        "dct:rights": _ja(package.get("x-attribution", "")),
        "dcat:distribution": [
            _distribution(name, folder, r["path"], r["format"], r.get("title", ""), r["hash"], sizes[r["path"]])
            for r in package.get("resources", [])
        ] + [_distribution(name, folder, "datapackage.json", "json", "datapackage.json",
                           None, sizes["datapackage.json"])],
    }
    licenses = package.get("licenses") or []
    if licenses and licenses[0].get("path"):
        dataset["dct:license"] = {"@id": licenses[0]["path"]}
    return dataset


def _distribution(name: str, version: str, path: str, fmt: str, title: str, digest: str | None,
                  size: int) -> dict[str, Any]:
    label, media = MEDIA[fmt]
    url = f"{name}/{version}/{path}"
    dist: dict[str, Any] = {
        "@id": url,
        "@type": "dcat:Distribution",
        "dct:title": _ja(f"{title}（{label}）" if title != path else path),
        "dcat:downloadURL": {"@id": url},
        "dcat:accessURL": {"@id": url},
        "dcat:mediaType": media,
        "dct:format": label,
        "dcat:byteSize": {"@value": str(size), "@type": "xsd:nonNegativeInteger"},
    }
    if digest:
        dist["spdx:checksum"] = {
            "@type": "spdx:Checksum",
            "spdx:algorithm": {"@id": "http://spdx.org/rdf/terms#checksumAlgorithm_sha256"},
            "spdx:checksumValue": digest.removeprefix("sha256:"),
        }
    return dist
