"""Discovery, templates, create (201 + Location), validation, ETag/409, delete, errors."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from sandbox.common import control_headers
from sandbox.procs import Proc
from tests.sandbox_noark5.generic_client import MEDIA_TYPE, REL, RelationClient


def test_discovery_links_are_an_object_keyed_by_relation(noark5: Proc) -> None:
    response = httpx.get(noark5.extra["api_url"])  # discovery is open
    assert response.status_code == 200
    assert response.headers["content-type"] == MEDIA_TYPE
    links = response.json()["_links"]
    assert isinstance(links, dict)
    for rel in ("arkivstruktur/", "sakarkiv/", "admin/system/", "metadata/"):
        assert REL + rel in links
    assert all(rel == "self" or rel.endswith("/") for rel in links)
    assert list(links) == sorted(links)  # the standard: sorted by rel


def test_packages_advertise_templated_lists(client: RelationClient) -> None:
    root = client.root()
    sakarkiv = client.follow(root, "sakarkiv/")
    saksmapper = client.link(sakarkiv, "sakarkiv/saksmappe/")
    assert saksmapper["templated"] is True
    assert saksmapper["href"].endswith("{?$filter&$orderby&$top&$skip&$search}")
    struktur = client.follow(root, "arkivstruktur/")
    titles = {d["tittel"] for d in client.list(struktur, "arkivstruktur/arkivdel/")}
    assert {"Sakarkiv", "Personalarkiv"} <= titles


def test_admin_system_reports_protocol_version(client: RelationClient) -> None:
    system = client.follow(client.root(), "admin/system/")
    assert system["protokollversjon"] == "1.1"
    assert system["leverandoer"] and system["produkt"] and system["versjon"]


def test_json_is_answered_to_a_client_asking_for_json(noark5: Proc, auth: tuple[str, str]) -> None:
    response = httpx.get(noark5.extra["api_url"] + "/sakarkiv/", auth=auth,
                         headers={"Accept": "application/json"})
    assert response.headers["content-type"] == "application/json"


def test_template_is_prefilled_and_has_no_self(client: RelationClient, arkivdel: dict[str, Any]) -> None:
    template = client.get(client.href(arkivdel, "sakarkiv/ny-saksmappe/"))
    assert "self" not in template["_links"]
    assert template["saksstatus"]["kode"] == "B"
    assert "systemID" not in template


def test_create_answers_201_location_and_server_fields(
        client: RelationClient, arkivdel: dict[str, Any]) -> None:
    response = client.create(arkivdel, "sakarkiv/ny-saksmappe/", {
        "tittel": "Søknad om permisjon", "offentligTittel": "Søknad om permisjon *****",
        "virksomhetsspesifikkeMetadata": {"vnd-oslomet-v1:eksternid": "t:1"}})
    assert response.status_code == 201
    created = response.json()
    assert response.headers["location"] == created["_links"]["self"]["href"]
    assert response.headers["etag"]
    assert uuid.UUID(created["systemID"])
    assert re.fullmatch(r"\d{4}/\d+", created["mappeID"])
    assert created["mappeID"] == f"{created['saksaar']}/{created['sakssekvensnummer']}"
    assert re.search(r"[+-]\d{2}:\d{2}$", created["opprettetDato"])
    assert created["opprettetAv"] == "hub"
    assert created["virksomhetsspesifikkeMetadata"] == {"vnd-oslomet-v1:eksternid": "t:1"}
    fetched = client.get(response.headers["location"])
    assert fetched["tittel"] == "Søknad om permisjon"
    assert client.link(fetched, "sakarkiv/saksmappe/")["href"] == fetched["_links"]["self"]["href"]


def test_journalpost_gets_registry_numbers(client: RelationClient, make_saksmappe: Callable[..., Any]) -> None:
    mappe = make_saksmappe("Sak med journalposter")
    posts = [client.create(mappe, "sakarkiv/ny-journalpost/", {"tittel": f"Brev {i}"}).json() for i in (1, 2)]
    assert [p["journalpostnummer"] for p in posts] == [1, 2]
    assert posts[1]["journalsekvensnummer"] == posts[0]["journalsekvensnummer"] + 1
    assert posts[0]["registreringsID"] == f"{mappe['mappeID']}-1"
    listed = client.list(mappe, "sakarkiv/journalpost/")
    assert [p["systemID"] for p in listed] == [p["systemID"] for p in posts]


def test_invalid_objects_answer_400_with_feil(client: RelationClient, arkivdel: dict[str, Any]) -> None:
    href = client.href(arkivdel, "sakarkiv/ny-saksmappe/")
    cases = [
        {"offentligTittel": "no tittel"},
        {"tittel": "x", "saksstatus": {"kode": "Q"}},
        {"tittel": "x", "saksdato": "2026-01-05T10:00:00"},  # no time zone
        {"tittel": "x", "eksternid": "not a saksmappe field"},
    ]
    for body in cases:
        response = client.http.post(href, json=body, headers={"Content-Type": MEDIA_TYPE})
        assert response.status_code == 400, body
        feil = response.json()["feil"]
        assert feil["kode"] == 400 and feil["beskrivelse"]


def test_korrespondansepart_requires_navn(client: RelationClient, make_saksmappe: Callable[..., Any]) -> None:
    post = client.create(make_saksmappe("Sak"), "sakarkiv/ny-journalpost/", {"tittel": "Brev"}).json()
    missing = client.create(post, "arkivstruktur/ny-korrespondansepartperson/", {})
    assert missing.status_code == 400
    ok = client.create(post, "arkivstruktur/ny-korrespondansepartperson/",
                       {"navn": "Kari Nordmann", "korrespondanseparttype": {"kode": "EA"}})
    assert ok.status_code == 201
    assert ok.json()["korrespondanseparttype"] == {"kode": "EA", "kodenavn": "Avsender"}


def test_patch_and_put_are_guarded_by_etag(client: RelationClient, make_saksmappe: Callable[..., Any]) -> None:
    href = make_saksmappe("Sak som avsluttes")["_links"]["self"]["href"]
    first = client.http.get(href)
    old_etag = first.headers["etag"]
    patched = client.http.patch(href, json={"saksstatus": {"kode": "A"}},
                                headers={"Content-Type": "application/merge-patch+json", "If-Match": old_etag})
    assert patched.status_code == 200
    assert patched.json()["saksstatus"]["kode"] == "A"
    assert patched.headers["etag"] != old_etag
    stale = client.http.patch(href, json={"tittel": "overwritten"},
                              headers={"Content-Type": "application/merge-patch+json", "If-Match": old_etag})
    assert stale.status_code == 409 and stale.json()["feil"]["kode"] == 409
    whole = {k: v for k, v in patched.json().items() if k != "_links"}
    stale_put = client.http.put(href, json={**whole, "tittel": "PUT"}, headers={"ETag": old_etag})
    assert stale_put.status_code == 409
    put = client.http.put(href, json={**whole, "tittel": "PUT"}, headers={"ETag": patched.headers["etag"]})
    assert put.status_code == 200
    stored = client.get(href)
    assert stored["tittel"] == "PUT" and stored["saksstatus"]["kode"] == "A"
    assert stored["mappeID"] == whole["mappeID"] and stored["endretAv"] == "hub"


def test_delete_answers_204_and_removes_children(client: RelationClient, make_saksmappe: Callable[..., Any]) -> None:
    mappe = make_saksmappe("Sak som slettes")
    post = client.create(mappe, "sakarkiv/ny-journalpost/", {"tittel": "Brev"}).json()
    assert client.http.delete(mappe["_links"]["self"]["href"]).status_code == 204
    for href in (mappe["_links"]["self"]["href"], post["_links"]["self"]["href"]):
        gone = client.http.get(href)
        assert gone.status_code == 404
        assert gone.json()["feil"]["kode"] == 404


def test_unknown_id_is_404_with_feil(client: RelationClient) -> None:
    sakarkiv = client.follow(client.root(), "sakarkiv/")
    some = client.href(sakarkiv, "sakarkiv/saksmappe/").split("?")[0] + f"{uuid.uuid4()}/"
    response = client.http.get(some)
    assert response.status_code == 404
    assert response.json() == {"feil": {"kode": 404, "beskrivelse": response.json()["feil"]["beskrivelse"]}}


def test_missing_or_wrong_credentials_answer_401(noark5: Proc) -> None:
    url = noark5.extra["api_url"] + "/sakarkiv/"
    for auth in (None, ("hub", "wrong")):
        response = httpx.get(url, auth=auth)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")
        assert response.json()["feil"]["kode"] == 401


def test_injected_fault_has_a_feil_body(noark5: Proc, auth: tuple[str, str]) -> None:
    fault = {"path": "/noark5v5/api/admin", "status": 503, "count": 1, "retry_after": 2}
    assert httpx.post(noark5.url + "/_sandbox/faults", headers=control_headers(),
                      json=fault).status_code == 201
    response = httpx.get(noark5.extra["api_url"] + "/admin/system/", auth=auth)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json()["feil"]["kode"] == 503
    assert httpx.get(noark5.extra["api_url"] + "/admin/system/", auth=auth).status_code == 200


def test_code_lists_are_served_under_metadata(client: RelationClient) -> None:
    metadata = client.follow(client.root(), "metadata/")
    formats = client.follow(metadata, "metadata/format/")
    # v1.1 chapter 7 "Format": the PDF/A variants and "unknown" among the formats it lists
    assert {"fmt/354", "fmt/95", "av/0", "fmt/101"} <= {v["kode"] for v in formats["results"]}
    one = next(v for v in formats["results"] if v["kode"] == "fmt/95")
    assert client.get(one["_links"]["self"]["href"])["kodenavn"].startswith("PDF/A")


def test_cors_preflight_needs_no_credentials(noark5: Proc) -> None:
    response = httpx.options(noark5.extra["api_url"] + "/sakarkiv/",
                             headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"})
    assert response.status_code == 200
    assert "POST" in response.headers["access-control-allow-methods"]
