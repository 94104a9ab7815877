"""Smoke test of the CKAN test harness (tests/ckan_stack.py): a real CKAN 2.12 on 127.0.0.1.

One stack is started for the module. It proves what the publisher's tests will rely on: the Action API
with a token, datasets in the organization with extras, real multipart uploads (Japanese text, a few
MB) that download back byte for byte, package_patch, the search calls served by the Solr stand-in,
and a portal that goes away and comes back with its data.
"""

from __future__ import annotations

import hashlib

import pytest
import requests
from ckan_stack import CkanApiError, CkanStack

# One xdist worker runs every test of the real CKAN, in file order, against one stack.
pytestmark = [pytest.mark.ckan, pytest.mark.xdist_group("ckan")]

CSV = ("協定名,締結日,相手方\n"
       "郡山市と日本大学工学部との包括連携協定,2015-04-01,日本大学工学部\n"
       "災害時における物資供給に関する協定,2020-10-01,株式会社ヨークベニマル\n").encode("utf-8")
CSV_NAME = "072036_renkei_kyotei.csv"


@pytest.fixture(scope="module")
def ckan(ckan_stack: CkanStack) -> CkanStack:
    return ckan_stack


def _upload(ckan: CkanStack, action: str, data: dict[str, str], name: str, content: bytes) -> dict:
    """A multipart Action API call with a file part named `upload`, as a publisher would make it."""
    r = ckan.http.post(f"{ckan.url}/api/3/action/{action}", data=data,
                       files={"upload": (name, content, "text/csv")},
                       headers={"Authorization": ckan.token}, timeout=60)
    body = r.json()
    assert r.status_code == 200 and body["success"], body
    return body["result"]


@pytest.fixture(scope="module")
def dataset(ckan: CkanStack) -> dict:
    """A dataset in the organization, with extras and one uploaded CSV resource."""
    pkg = ckan.api("package_create", name="koriyama-renkei-kyotei-smoke", title="他機関との連携協定（スモーク）",
                   owner_org=ckan.organization, license_id="cc-by",
                   extras=[{"key": "release_version", "value": "2023-02-10"},
                           {"key": "出典", "value": "郡山市「他機関との連携協定について」"}])
    _upload(ckan, "resource_create", {"package_id": pkg["id"], "name": CSV_NAME, "format": "CSV",
                                      "description": "連携協定の一覧"}, CSV_NAME, CSV)
    return ckan.api("package_show", id=pkg["id"])


def test_status_show_answers_from_ckan_2_12(ckan: CkanStack) -> None:
    status = ckan.api("status_show")
    assert status["ckan_version"] == "2.12.0"
    assert status["site_url"] == ckan.url and ckan.url.startswith("http://127.0.0.1:")
    assert ckan.api("organization_show", id=ckan.organization)["id"] == ckan.organization_id


def test_dataset_is_in_the_organization_with_its_extras(ckan: CkanStack, dataset: dict) -> None:
    assert dataset["organization"]["name"] == ckan.organization and dataset["state"] == "active"
    extras = {e["key"]: e["value"] for e in dataset["extras"]}
    assert extras == {"release_version": "2023-02-10", "出典": "郡山市「他機関との連携協定について」"}
    assert dataset["title"] == "他機関との連携協定（スモーク）"


def test_uploaded_csv_is_shown_and_downloads_byte_for_byte(ckan: CkanStack, dataset: dict) -> None:
    [res] = dataset["resources"]
    assert (res["name"], res["format"], res["url_type"]) == (CSV_NAME, "CSV", "upload")
    assert res["description"] == "連携協定の一覧" and res["size"] == len(CSV)
    assert res["url"].startswith(f"{ckan.url}/dataset/{dataset['id']}/resource/{res['id']}/download/")
    assert ckan.download(res["url"]) == CSV


def test_an_upload_of_a_few_megabytes_round_trips(ckan: CkanStack, dataset: dict) -> None:
    big = CSV + "".join(f"協定{i:07d},2023-02-10,相手方{i}\n" for i in range(110_000)).encode("utf-8")
    assert len(big) > 4_000_000
    res = _upload(ckan, "resource_create", {"package_id": dataset["id"], "name": "big.csv", "format": "CSV"},
                  "big.csv", big)
    assert hashlib.sha256(ckan.download(res["url"])).digest() == hashlib.sha256(big).digest()
    ckan.api("resource_delete", id=res["id"])


def test_package_patch_changes_only_what_it_names(ckan: CkanStack, dataset: dict) -> None:
    patched = ckan.api("package_patch", id=dataset["id"], notes="更新しました",
                       extras=[{"key": "release_version", "value": "2023-03-01"}])
    assert patched["notes"] == "更新しました" and patched["title"] == dataset["title"]
    shown = ckan.api("package_show", id=dataset["name"])
    assert {e["key"]: e["value"] for e in shown["extras"]} == {"release_version": "2023-03-01"}
    assert [r["id"] for r in shown["resources"]] == [r["id"] for r in dataset["resources"]]


def test_search_calls_are_served_by_the_stand_in(ckan: CkanStack, dataset: dict) -> None:
    """Only that the calls work and find the dataset; never relevance (the stand-in has none).

    The stack is shared by the session, so other tests' datasets may be in the organisation too.
    """
    found = ckan.api("package_search", fq=f'owner_org:"{ckan.organization_id}" AND name:"{dataset["name"]}"')
    assert found["count"] == 1 and found["results"][0]["name"] == dataset["name"]
    in_org = ckan.api("package_search", fq=f'owner_org:"{ckan.organization_id}"', rows=100)
    assert dataset["name"] in [r["name"] for r in in_org["results"]]
    facets = ckan.api("package_search", q="*:*", **{"facet.field": ["res_format"]})["search_facets"]
    assert "CSV" in [item["name"] for item in facets["res_format"]["items"]]
    assert ckan.api("organization_show", id=ckan.organization)["package_count"] == in_org["count"]


def test_api_errors_carry_ckans_error(ckan: CkanStack) -> None:
    with pytest.raises(CkanApiError) as e:
        ckan.api("package_show", id="no-such-dataset")
    assert e.value.status == 404 and e.value.type == "Not Found Error"


def test_the_portal_goes_away_and_comes_back_with_its_data(ckan: CkanStack, dataset: dict) -> None:
    ckan.stop_server()
    with pytest.raises(requests.ConnectionError):
        ckan.api("status_show")
    ckan.start_server()
    shown = ckan.api("package_show", id=dataset["name"])
    assert shown["id"] == dataset["id"]
    assert ckan.download(shown["resources"][0]["url"]) == CSV
