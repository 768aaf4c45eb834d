"""The sandbox's incident API: create, read, update, progress trail, FIQL, 206 paging."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.sandbox_topdesk.conftest import incident_body, results

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_create_and_read_by_id_and_number(api: httpx.Client) -> None:
    response = api.post("incidents", json=incident_body(
        briefDescription="Ny PC", optionalFields1={"text1": "ref:create"}, category={"name": "Utstyr"},
        targetDate="2026-12-01T16:00:00+01:00", status="secondLine"))
    assert response.status_code == 201, response.text
    created = response.json()
    assert UUID.match(created["id"]) and re.match(r"^I \d{4} \d{3}$", created["number"])
    assert created["processingStatus"]["name"] == "Logged" and created["closed"] is False
    assert created["operatorGroup"]["name"] == "Equipment" and created["category"]["name"] == "Utstyr"
    assert created["targetDate"] == "2026-12-01T15:00:00.000+0000"
    assert created["optionalFields1"]["text1"] == "ref:create" and created["optionalFields2"]["text1"] == ""
    by_id = api.get(f"incidents/id/{created['id']}").json()
    by_number = api.get(f"incidents/number/{created['number'].lower()}").json()
    assert by_id == by_number and by_id["briefDescription"] == "Ny PC"
    second = api.post("incidents", json=incident_body()).json()
    assert int(second["number"][-3:]) == int(created["number"][-3:]) + 1


@pytest.mark.parametrize(("fields", "message"), [
    ({"briefDescription": "x" * 81}, "cannot be longer than 80"),
    ({"operatorGroup": {"name": "No such group"}}, "No operatorGroup found"),
    ({"caller": None, "callerLookup": {"email": "nobody@oslomet.test"}}, "No person found"),
    ({"optionalFields1": {"text1": "r" * 101}}, "at most 100"),
    ({"targetDate": "tomorrow"}, "not a valid date"),
    ({"number": "I 9999 999"}, "read-only"),
    ({"status": "partial"}, "firstLine"),
])
def test_invalid_incidents_are_refused_with_400(api: httpx.Client, fields: dict[str, object],
                                                message: str) -> None:
    body = {k: v for k, v in {**incident_body(), **fields}.items() if v is not None}
    response = api.post("incidents", json=body)
    assert response.status_code == 400
    assert message in response.json()[0]["message"]


def test_updates_append_actions_and_move_status(api: httpx.Client) -> None:
    incident = api.post("incidents", json=incident_body()).json()
    path = f"incidents/id/{incident['id']}"
    updated = api.put(path, json={"action": "Første", "actionInvisibleForCaller": True}).json()
    assert updated["processingStatus"]["name"] == "Logged"
    api.patch(path, json={"action": "Andre", "processingStatus": {"name": "In progress"}})
    trail = api.get(f"{path}/progresstrail").json()
    assert [(e["type"], e["memoText"]) for e in trail] == [("action", "Andre"), ("action", "Første"),
                                                           ("request", "Hei")]
    assert trail[1]["invisibleForCaller"] is True and trail[0]["operator"]["name"] == "hub"
    assert [a["memoText"] for a in api.get(f"{path}/actions").json()] == ["Andre", "Første"]
    closed = api.put(path, json={"closed": True}).json()
    assert closed["closed"] and closed["completed"] and closed["processingStatus"]["name"] == "Closed"
    assert api.put(path, json={"processingStatus": {"name": "Nope"}}).status_code == 400
    assert api.put(path, json={"id": "other"}).status_code == 400
    assert api.get(f"incidents/id/{uuid.uuid4()}").status_code == 404
    assert api.get(f"{path}/attachments-nope").status_code == 404


@pytest.fixture(scope="module")
def fiql_set(api: httpx.Client) -> dict[str, str]:
    """Six incidents to search: name → id."""
    tag = uuid.uuid4().hex[:6]
    specs = {
        "a": {"briefDescription": f"{tag} alpha", "optionalFields1": {"text1": f"{tag}:a"}},
        "b": {"briefDescription": f"{tag} beta", "optionalFields1": {"text1": f"{tag}:b"},
              "operatorGroup": {"name": "User accounts"}},
        "c": {"briefDescription": f"{tag} gamma", "optionalFields1": {"text1": f"{tag}:o'brien \"q\""}},
        "d": {"briefDescription": f"{tag} delta", "optionalFields1": {"text1": f"{tag}:d"},
              "processingStatus": {"name": "Closed"}},
        "e": {"briefDescription": f"{tag} epsilon", "optionalFields1": {"text1": f"{tag}:x;y,z"}},
        "f": {"briefDescription": f"{tag} zeta", "optionalFields1": {"text1": f"{tag}:f"}},
    }
    ids = {name: api.post("incidents", json=incident_body(**spec)).json()["id"] for name, spec in specs.items()}
    return {"tag": tag, **ids}


def _names(api: httpx.Client, fiql_set: dict[str, str], query: str) -> list[str]:
    found = results(api.get("incidents", params={"query": query, "page_size": 100}))
    by_id = {v: k for k, v in fiql_set.items() if k != "tag"}
    return sorted(by_id[i["id"]] for i in found if i["id"] in by_id)


def test_fiql_operators(api: httpx.Client, fiql_set: dict[str, str]) -> None:
    tag = fiql_set["tag"]
    cases = {
        f"optionalFields1.text1=={tag}:a": ["a"],
        f"optionalFields1.text1=={tag.upper()}:A": ["a"],  # case-insensitive
        f"briefDescription=={tag}*;briefDescription!=\"{tag} alpha\"": ["b", "c", "d", "e", "f"],
        f"optionalFields1.text1=in=({tag}:a,{tag}:f)": ["a", "f"],
        f"optionalFields1.text1=={tag}:a,optionalFields1.text1=={tag}:b": ["a", "b"],
        f"briefDescription=={tag}*;closed==true": ["d"],
        f"briefDescription=={tag}*;operatorGroup.name==\"User accounts\"": ["b"],
        f"briefDescription=={tag}*;(optionalFields1.text1=={tag}:a,closed==true);briefDescription!=*delta": ["a"],
        f"optionalFields1.text1==\"{tag}:o'brien \\\"q\\\"\"": ["c"],
        f"optionalFields1.text1=='{tag}:o\\'brien \"q\"'": ["c"],
        f"optionalFields1.text1==\"{tag}:x;y,z\"": ["e"],
        f"briefDescription=={tag}*;optionalFields1.text1=out=({tag}:a,{tag}:b);closed==false": ["c", "e", "f"],
        "caller.email==nobody@oslomet.test": [],
    }
    for query, expected in cases.items():
        assert _names(api, fiql_set, query) == expected, query


@pytest.mark.parametrize(("query", "message"), [
    ("briefDescription", "expected an operator"), ("briefDescription==a b", "unexpected"),
    ("request==x", "cannot be used in a query"), ("closed==maybe", "not a boolean"),
    ("number==\"open", "unterminated"), ("(number==a", "expected ')'"),
])
def test_bad_queries_are_400(api: httpx.Client, query: str, message: str) -> None:
    response = api.get("incidents", params={"query": query})
    assert response.status_code == 400 and message in response.json()[0]["message"]


def test_paging_answers_206_until_the_last_page(api: httpx.Client, fiql_set: dict[str, str]) -> None:
    query = f"briefDescription=={fiql_set['tag']}*"
    pages = [api.get("incidents", params={"query": query, "page_size": 4, "start": s}) for s in (0, 4, 8)]
    assert [p.status_code for p in pages] == [206, 200, 204]
    assert len(pages[0].json()) == 4 and len(pages[1].json()) == 2 and pages[2].content == b""
    whole = api.get("incidents", params={"query": query, "page_size": 6})
    assert whole.status_code == 200 and len(whole.json()) == 6
    ids = [i["id"] for i in pages[0].json() + pages[1].json()]
    assert ids == [fiql_set[k] for k in "abcdef"]  # creation order, stable across pages
    newest = api.get("incidents", params={"query": query, "sort": "briefDescription:desc", "page_size": 1})
    assert newest.status_code == 206 and newest.json()[0]["id"] == fiql_set["f"]  # "zeta"
    narrow = api.get("incidents", params={"query": query, "page_size": 1, "fields": "number"})
    assert set(narrow.json()[0]) == {"id", "number"}
    assert api.get("incidents", params={"query": "number==none"}).status_code == 204
    for bad in ({"page_size": 0}, {"page_size": 10001}, {"start": -1}, {"start": "x"}):
        assert api.get("incidents", params=bad).status_code == 400
    assert api.get("incidents").status_code in (200, 206)
