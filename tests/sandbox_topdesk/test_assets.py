"""The sandbox's Asset Management subset: lists, filters, ETag/If-Match, assignments."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest


def laptops(api: httpx.Client, **params: str | int) -> httpx.Response:
    return api.get("assetmgmt/assets", params={"templateName": "Laptop", **params})


def test_twelve_seeded_laptops_page_with_206(api: httpx.Client) -> None:
    everything = laptops(api, fields="model,lifecycle-status,@type")
    assert everything.status_code == 200
    rows = everything.json()["dataSet"]
    assert [r["name"] for r in rows] == [f"LT-{n}" for n in range(1001, 1013)]
    assert sum(r["model"] == "Lenovo ThinkPad T14 Gen 5" for r in rows) == 6
    assert {r["lifecycle-status"] for r in rows} == {"In stock"} and rows[0]["@type"]["name"] == "Laptop"
    pages = [laptops(api, pageSize=5, pageStart=s) for s in (0, 5, 10)]
    assert [p.status_code for p in pages] == [206, 206, 200]
    assert sum(len(p.json()["dataSet"]) for p in pages) == 12
    assert laptops(api, pageSize=1001).status_code == 400
    assert api.get("assetmgmt/assets", params={"templateName": "Spaceship"}).json()["dataSet"] == []
    assert api.get("assetmgmt/templates").json()["dataSet"][0]["text"] == "Laptop"


def test_filter_by_fields(api: httpx.Client) -> None:
    airs = laptops(api, **{"$filter": "model eq 'apple macbook air 13 m3' and lifecycle-status eq 'In stock'"})
    assert [r["name"] for r in airs.json()["dataSet"]] == ["LT-1008", "LT-1009"]
    assert laptops(api, **{"$filter": "hub-reference eq 'x'' or ''a''=''a'"}).json()["dataSet"] == []
    assert len(laptops(api, **{"$filter": "hub-reference eq null"}).json()["dataSet"]) == 12
    assert laptops(api, nameFragment="lt-101").json()["dataSet"][0]["name"] == "LT-1010"
    assert laptops(api, **{"$filter": "model gt 'a'"}).status_code == 400


def _asset_id(api: httpx.Client, name: str) -> str:
    return str(laptops(api, nameFragment=name).json()["dataSet"][0]["id"])


def test_if_match_refuses_a_stale_update(api: httpx.Client) -> None:
    asset_id = _asset_id(api, "LT-1012")
    first = api.get(f"assetmgmt/assets/{asset_id}")
    etag = first.headers["ETag"]
    assert first.json()["data"]["@etag"] == etag.strip('"')
    ok = api.patch(f"assetmgmt/assets/{asset_id}", headers={"If-Match": etag},
                   json={"lifecycle-status": "Allocated", "hub-reference": "first"})
    assert ok.status_code == 200 and ok.headers["ETag"] != etag
    stale = api.patch(f"assetmgmt/assets/{asset_id}", headers={"If-Match": etag}, json={"hub-reference": "second"})
    assert stale.status_code == 412 and "stale" in stale.json()["errors"][0]["message"]
    body_stale = api.post(f"assetmgmt/assets/{asset_id}", json={"@etag": etag.strip('"'), "hub-reference": "third"})
    assert body_stale.status_code == 412
    assert api.get(f"assetmgmt/assets/{asset_id}").json()["data"]["hub-reference"] == "first"
    assert api.patch(f"assetmgmt/assets/{asset_id}", json={"lifecycle-status": "Lost"}).status_code == 400
    assert api.patch(f"assetmgmt/assets/{asset_id}", json={"colour": "red"}).status_code == 400


def test_racing_updates_with_one_etag_have_exactly_one_winner(api: httpx.Client) -> None:
    asset_id = _asset_id(api, "LT-1011")
    etag = api.get(f"assetmgmt/assets/{asset_id}").headers["ETag"]

    def claim(n: int) -> int:
        return api.patch(f"assetmgmt/assets/{asset_id}", headers={"If-Match": etag},
                         json={"lifecycle-status": "Allocated", "hub-reference": f"racer-{n}"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(claim, range(8)))
    assert sorted(statuses) == [200] + [412] * 7
    winner = api.get(f"assetmgmt/assets/{asset_id}").json()["data"]["hub-reference"]
    assert winner.startswith("racer-")


def test_assignments_link_persons(api: httpx.Client) -> None:
    asset_id = _asset_id(api, "LT-1010")
    person = api.post("persons", json={"surName": "Nordmann", "firstName": "Kari", "email": "kari@oslomet.test",
                                       "branch": {"name": "OsloMet"}})
    assert person.status_code == 201 and person.json()["dynamicName"] == "Nordmann, Kari"
    person_id = person.json()["id"]
    before = api.get(f"assetmgmt/assets/{asset_id}").headers["ETag"]
    for _ in range(2):  # linking twice links once
        linked = api.put(f"assetmgmt/assets/{asset_id}/assignments", json={"linkType": "person", "linkToId": person_id})
        assert linked.status_code == 200
    persons = api.get(f"assetmgmt/assets/{asset_id}/assignments").json()["persons"]
    assert [(p["person"]["id"], p["person"]["name"]) for p in persons] == [(person_id, "Nordmann, Kari")]
    assert api.get(f"assetmgmt/assets/{asset_id}").headers["ETag"] != before
    held = laptops(api, linkedTo=f"person/{person_id}", showAssignments="true").json()["dataSet"]
    assert [r["id"] for r in held] == [asset_id] and held[0]["@assignments"]["persons"][0]["linkId"]
    assert api.put(f"assetmgmt/assets/{asset_id}/assignments",
                   json={"linkType": "person", "linkToId": "nobody"}).status_code == 400
    assert api.delete(f"assetmgmt/assets/{asset_id}/assignments/{persons[0]['linkId']}").status_code == 204
    assert laptops(api, linkedTo=f"person/{person_id}").json()["dataSet"] == []


@pytest.mark.parametrize("body", [{"surName": ""}, {"surName": "X", "email": "not-an-address"},
                                  {"surName": "X", "branch": {"name": "Nowhere"}},
                                  {"surName": "X", "fnr": "01017012345", "branch": {"name": "OsloMet"}}])
def test_invalid_persons_are_refused(api: httpx.Client, body: dict[str, object]) -> None:
    assert api.post("persons", json={"branch": {"name": "OsloMet"}, **body}).status_code == 400


def test_persons_branches_and_groups_search(api: httpx.Client) -> None:
    found = api.get("persons", params={"query": "email==it.servicedesk@oslomet.no"})
    assert found.status_code == 200 and found.json()[0]["networkLoginName"] == "servicedesk"
    assert api.get("persons", params={"query": "email==nobody@oslomet.test"}).status_code == 204
    assert api.get("branches", params={"query": "name==oslomet"}).json()[0]["name"] == "OsloMet"
    groups = api.get("operatorgroups").json()
    assert sorted(g["groupName"] for g in groups) == ["Equipment", "User accounts"]
    statuses = [s["name"] for s in api.get("incidents/processing_status").json()]
    assert statuses[:2] == ["Logged", "In progress"] and "Rejected" in statuses
