"""catalog.dcat.jsonld: valid JSON-LD carrying the DCAT-GOJ fields a harvester needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REAL, run_etl
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, RDF, XSD

DCAT = Namespace("http://www.w3.org/ns/dcat#")  # DCAT 3 terms (dcat:version) included
SPDX = Namespace("http://spdx.org/rdf/terms#")
SKOS = Namespace("http://www.w3.org/2004/02/skos/core#")
BASE = "https://opendata.example.jp/catalog/"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dcat")
    assert run_etl("build", "--raw", REAL, "--out", folder).returncode == 0
    return folder


@pytest.fixture(scope="module", params=["relative", "absolute"])
def graph(catalog: Path, request: pytest.FixtureRequest) -> Graph:
    """The catalog as written (relative IRIs, read from where it is served), and with a base URL
    configured (x-catalog-url in schemas/package.json), which makes every IRI absolute."""
    if request.param == "relative":
        text = (catalog / "catalog.dcat.jsonld").read_text(encoding="utf-8")
        return Graph().parse(data=text, format="json-ld", publicID=BASE)
    from etl.release.catalog import dcat

    document = dcat(catalog, BASE)
    assert document["@context"]["@base"] == BASE
    return Graph().parse(data=json.dumps(document, ensure_ascii=False), format="json-ld")


def _one(graph: Graph, subject, predicate):
    values = list(graph.objects(subject, predicate))
    assert len(values) == 1, (subject, predicate, values)
    return values[0]


def test_catalog_lists_each_release_as_a_dataset(graph: Graph) -> None:
    """One dcat:Catalog holding one dcat:Dataset per release, with absolute IRIs from the base URL, and
    per catalog dataset its series, its latest alias and its cumulative tables."""
    catalogs = list(graph.subjects(RDF.type, DCAT.Catalog))
    assert catalogs == [URIRef(BASE + "catalog.dcat.jsonld")]
    datasets = set(graph.objects(catalogs[0], DCAT.dataset))
    names = ["2023-02-10/", "", "latest/", "cumulative/"]
    assert datasets == {URIRef(BASE + "koriyama-renkei-kyotei/" + n) for n in names}


def test_the_series_points_at_its_releases_and_the_latest_alias(graph: Graph) -> None:
    """The releases are dcat:inSeries the dataset's series; its current version is the stable latest/ folder,
    a copy of the newest release, whose distributions have stable URLs."""
    series, release = URIRef(BASE + "koriyama-renkei-kyotei/"), URIRef(BASE + "koriyama-renkei-kyotei/2023-02-10/")
    latest = URIRef(BASE + "koriyama-renkei-kyotei/latest/")
    assert (series, RDF.type, DCAT.DatasetSeries) in graph
    assert _one(graph, release, DCAT.inSeries) == series
    assert _one(graph, series, DCAT["last"]) == release
    assert _one(graph, series, DCAT.hasCurrentVersion) == latest
    assert _one(graph, latest, DCTERMS.relation) == release
    assert _one(graph, latest, DCAT.version) == Literal("2023-02-10")
    urls = {str(_one(graph, d, DCAT.downloadURL)) for d in graph.objects(latest, DCAT.distribution)}
    assert BASE + "koriyama-renkei-kyotei/latest/072036_agreement_counts.csv" in urls
    cumulative = URIRef(BASE + "koriyama-renkei-kyotei/cumulative/")
    urls = {str(_one(graph, d, DCAT.downloadURL)) for d in graph.objects(cumulative, DCAT.distribution)}
    assert BASE + "koriyama-renkei-kyotei/cumulative/072036_cumulative_agreement_counts.csv" in urls


def test_dataset_has_the_dcat_goj_fields(graph: Graph) -> None:
    """Title, description, publisher, version, issued/modified, language ja, spatial 072036, temporal, licence."""
    ds = URIRef(BASE + "koriyama-renkei-kyotei/2023-02-10/")
    title = _one(graph, ds, DCTERMS.title)
    assert title.language == "ja" and "連携協定" in title
    assert _one(graph, ds, DCTERMS.description).language == "ja"
    assert _one(graph, _one(graph, ds, DCTERMS.publisher), FOAF.name) == Literal("郡山市")
    assert _one(graph, ds, DCAT.version) == Literal("2023-02-10")
    assert _one(graph, ds, DCTERMS.issued) == Literal("2023-02-10", datatype=XSD.date)
    assert _one(graph, ds, DCTERMS.modified) == Literal("2023-02-10", datatype=XSD.date)
    assert _one(graph, ds, DCTERMS.language) == Literal("ja")
    spatial = _one(graph, ds, DCTERMS.spatial)
    assert _one(graph, spatial, DCTERMS.identifier) == Literal("072036")
    assert str(_one(graph, spatial, SKOS.prefLabel)) == "福島県郡山市"
    period = _one(graph, ds, DCTERMS.temporal)
    assert _one(graph, period, DCAT.startDate) == Literal("2023-02-10", datatype=XSD.date)
    assert _one(graph, period, DCAT.endDate) == Literal("2024-03-31", datatype=XSD.date)
    assert str(_one(graph, ds, DCTERMS.license)).startswith("https://")


def test_every_file_is_a_distribution_with_url_type_and_size(catalog: Path, graph: Graph) -> None:
    """Each published file is a distribution: download URL, media type, byte size and checksum match."""
    ds = URIRef(BASE + "koriyama-renkei-kyotei/2023-02-10/")
    release = catalog / "koriyama-renkei-kyotei" / "2023-02-10"
    files = {p.name: p for p in release.iterdir()}
    dists = list(graph.objects(ds, DCAT.distribution))
    assert len(dists) == len(files)
    package = json.loads((release / "datapackage.json").read_text(encoding="utf-8"))
    hashes = {r["path"]: r["hash"].removeprefix("sha256:") for r in package["resources"]}
    for dist in dists:
        url = str(_one(graph, dist, DCAT.downloadURL))
        name = url.removeprefix(BASE + "koriyama-renkei-kyotei/2023-02-10/")
        assert name in files
        assert int(_one(graph, dist, DCAT.byteSize)) == files[name].stat().st_size
        media = str(_one(graph, dist, DCAT.mediaType))
        assert media == {"csv": "text/csv", "parquet": "application/parquet", "json": "application/json"}[
            name.rsplit(".", 1)[1]]
        if name in hashes:
            checksum = _one(graph, dist, SPDX.checksum)
            assert str(_one(graph, checksum, SPDX.checksumValue)) == hashes[name]
