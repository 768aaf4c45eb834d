"""A stranger builds a whole archive from the root by following N5WS v1.1 relations.

The client knows the discovery URL and the relation keys of v1.1 chapter 7 (Arkivstruktur:
ny-arkivskaper → Arkivskaper: ny-arkiv → Arkiv: ny-arkivdel → Arkivdel: ny-mappe,
ny-registrering, sakarkiv/ny-saksmappe → Mappe: ny-registrering, sakarkiv/ny-journalpost
→ Registrering: ny-dokumentbeskrivelse → Dokumentbeskrivelse: ny-dokumentobjekt, fil);
every href comes from ``_links``.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from tests.sandbox_noark5.generic_client import REL, RelationClient
from tests.sandbox_noark5.pdfs import make_pdf

NY_ARKIVSKAPER = "https://rel.arkivverket.no/noark5/v5/api/arkivstruktur/ny-arkivskaper/"
NY_ARKIV = "https://rel.arkivverket.no/noark5/v5/api/arkivstruktur/ny-arkiv/"
NY_ARKIVDEL = "https://rel.arkivverket.no/noark5/v5/api/arkivstruktur/ny-arkivdel/"
NY_MAPPE = "https://rel.arkivverket.no/noark5/v5/api/arkivstruktur/ny-mappe/"
NY_SAKSMAPPE = "https://rel.arkivverket.no/noark5/v5/api/sakarkiv/ny-saksmappe/"
NY_REGISTRERING = "https://rel.arkivverket.no/noark5/v5/api/arkivstruktur/ny-registrering/"
NY_JOURNALPOST = "https://rel.arkivverket.no/noark5/v5/api/sakarkiv/ny-journalpost/"
NY_DOKUMENTBESKRIVELSE = "https://rel.arkivverket.no/noark5/v5/api/arkivstruktur/ny-dokumentbeskrivelse/"
NY_DOKUMENTOBJEKT = "https://rel.arkivverket.no/noark5/v5/api/arkivstruktur/ny-dokumentobjekt/"
FIL = "https://rel.arkivverket.no/noark5/v5/api/arkivstruktur/fil/"


def ids(objects: list[dict[str, Any]]) -> list[str]:
    return [o["systemID"] for o in objects]


def self_href(obj: dict[str, Any]) -> str:
    return str(obj["_links"]["self"]["href"])


def test_stranger_builds_the_structure_and_archives_a_pdf(client: RelationClient) -> None:
    content = make_pdf("Årsrapport for arkivskaperen")
    tag = uuid.uuid4().hex[:8]
    struktur = client.follow(client.root(), "arkivstruktur/")
    assert client.link(struktur, "arkivstruktur/arkivskaper/")["templated"] is True

    skaper = client.made(struktur, NY_ARKIVSKAPER, {"arkivskaperID": f"974767880-{tag}",
                                                     "arkivskaperNavn": "OsloMet – storbyuniversitetet"})
    assert skaper["arkivskaperNavn"] == "OsloMet – storbyuniversitetet" and uuid.UUID(skaper["systemID"])
    arkiv = client.made(skaper, NY_ARKIV, {"tittel": f"Arkiv {tag}"})
    assert ids(client.list(arkiv, "arkivstruktur/arkivskaper/")) == [skaper["systemID"]]
    assert ids(client.list(skaper, "arkivstruktur/arkiv/")) == [arkiv["systemID"]]
    medskaper = client.made(arkiv, "arkivstruktur/ny-arkivskaper/",
                            {"arkivskaperID": f"m-{tag}", "arkivskaperNavn": "Medskaper"})
    assert ids(client.list(arkiv, "arkivstruktur/arkivskaper/")) == [skaper["systemID"], medskaper["systemID"]]
    assert ids(client.list(medskaper, "arkivstruktur/arkiv/")) == [arkiv["systemID"]]
    listed = client.list(struktur, "arkivstruktur/arkivskaper/", filter=f"arkivskaperID eq '974767880-{tag}'")
    assert ids(listed) == [skaper["systemID"]]

    arkivdel = client.made(arkiv, NY_ARKIVDEL, {"tittel": "Fagarkiv"})
    assert client.link(arkivdel, "arkivstruktur/arkiv/")["href"] == self_href(arkiv)

    # Arkivstruktur alone: mappe → registrering → dokumentbeskrivelse → dokumentobjekt → file.
    mappe_template = client.get(client.href(arkivdel, NY_MAPPE))
    assert "self" not in mappe_template["_links"]
    assert "virksomhetsspesifikkeMetadata" in mappe_template  # v1.1 ch. 6: null or defaults
    mappe = client.made(arkivdel, NY_MAPPE, {
        "tittel": "Årsrapporter", "virksomhetsspesifikkeMetadata": {"vnd-oslomet-v1:eksternid": f"m:{tag}"}})
    assert mappe["mappeID"] and client.link(mappe, "arkivstruktur/arkivdel/")["href"] == self_href(arkivdel)
    assert client.link(mappe, "arkivstruktur/mappe/")["href"] == self_href(mappe)
    registrering = client.made(mappe, NY_REGISTRERING, {"tittel": "Årsrapport 2025"})
    assert registrering["registreringsID"].startswith(mappe["mappeID"])
    assert client.link(registrering, "arkivstruktur/mappe/")["href"] == self_href(mappe)
    beskrivelse = client.made(registrering, NY_DOKUMENTBESKRIVELSE, {
        "tittel": "Årsrapport", "dokumentstatus": {"kode": "F"}, "tilknyttetRegistreringSom": {"kode": "H"}})
    objekt = client.made(beskrivelse, NY_DOKUMENTOBJEKT, {
        "mimeType": "application/pdf", "filnavn": "aarsrapport.pdf", "sjekksumAlgoritme": "SHA-256",
        "sjekksum": hashlib.sha256(content).hexdigest(), "filstoerrelse": len(content)})
    stored = client.http.post(client.href(objekt, FIL), content=content,
                              headers={"Content-Type": "application/pdf"})
    assert stored.status_code == 201, stored.text
    assert client.download(objekt, "application/pdf").content == content

    # Sakarkiv in the same arkivdel: saksmappe → registrering and journalpost → PDF.
    saksmappe = client.made(arkivdel, NY_SAKSMAPPE, {"tittel": "Søknad om fritak"})
    logget = client.made(saksmappe, NY_REGISTRERING, {"tittel": "Notat uten journalføring"})
    journalpost = client.made(saksmappe, NY_JOURNALPOST, {"tittel": "Søknad", "journalposttype": {"kode": "I"}})
    brev = client.made(journalpost, NY_DOKUMENTBESKRIVELSE, {"tittel": "Søknad"})
    uploaded = client.http.post(client.href(brev, FIL), content=content, headers={"Content-Type": "application/pdf"})
    assert uploaded.status_code == 201, uploaded.text
    assert client.link(logget, "sakarkiv/saksmappe/")["href"] == self_href(saksmappe)

    # Read back from the top, by relation only.
    [arkivdel_again] = client.list(arkiv, "arkivstruktur/arkivdel/")
    assert ids(client.list(arkivdel_again, "arkivstruktur/mappe/")) == [mappe["systemID"], saksmappe["systemID"]]
    assert ids(client.list(mappe, "arkivstruktur/registrering/")) == [registrering["systemID"]]
    assert ids(client.list(saksmappe, "arkivstruktur/registrering/")) == [logget["systemID"], journalpost["systemID"]]
    assert ids(client.list(saksmappe, "sakarkiv/journalpost/")) == [journalpost["systemID"]]
    [found] = client.list(arkivdel_again, "arkivstruktur/mappe/", filter=f"vnd-oslomet-v1:eksternid eq 'm:{tag}'")
    assert found["systemID"] == mappe["systemID"]
    [doc] = client.list(registrering, "arkivstruktur/dokumentbeskrivelse/")
    [obj] = client.list(doc, "arkivstruktur/dokumentobjekt/")
    assert obj["sjekksum"] == hashlib.sha256(content).hexdigest()


def test_registrering_straight_under_an_arkivdel(client: RelationClient, arkivdel: dict[str, Any]) -> None:
    """v1.1: an arkivdel of a system without mapper holds registreringer (ny-registrering)."""
    registrering = client.made(arkivdel, NY_REGISTRERING, {"tittel": "Logget dokument"})
    assert client.link(registrering, "arkivstruktur/arkivdel/")["href"] == self_href(arkivdel)
    assert ids(client.list(arkivdel, "arkivstruktur/registrering/")) == [registrering["systemID"]]


def test_journalpost_in_a_plain_mappe(client: RelationClient, arkivdel: dict[str, Any]) -> None:
    mappe = client.made(arkivdel, NY_MAPPE, {"tittel": "Mappe"})
    post = client.made(mappe, NY_JOURNALPOST, {"tittel": "Brev"})
    assert client.link(post, "arkivstruktur/mappe/")["href"] == self_href(mappe)
    assert REL + "sakarkiv/saksmappe/" not in post["_links"]  # its mappe is not a saksmappe


def test_deleting_an_arkivskaper_leaves_its_arkiv(client: RelationClient) -> None:
    struktur = client.follow(client.root(), "arkivstruktur/")
    skaper = client.made(struktur, NY_ARKIVSKAPER, {"arkivskaperID": "x", "arkivskaperNavn": "Kortlevd"})
    arkiv = client.made(skaper, NY_ARKIV, {"tittel": "Overlever"})
    assert client.http.delete(self_href(skaper)).status_code == 204
    assert client.http.get(self_href(arkiv)).status_code == 200
    assert client.list(arkiv, "arkivstruktur/arkivskaper/") == []


def _feil(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    feil = response.json()["feil"]
    assert feil["kode"] == status and feil["beskrivelse"]
    return str(feil["beskrivelse"])


def test_bad_input_to_the_new_relations_is_a_4xx_with_feil(client: RelationClient, arkivdel: dict[str, Any]) -> None:
    struktur = client.follow(client.root(), "arkivstruktur/")
    assert "arkivskaperNavn" in _feil(client.post(struktur, NY_ARKIVSKAPER, {"arkivskaperID": "1"}), 400)
    assert "tittel" in _feil(client.post(struktur, NY_ARKIVSKAPER, {"arkivskaperID": "1", "arkivskaperNavn": "N",
                                                                     "tittel": "no such field"}), 400)
    assert _feil(client.post(struktur, NY_ARKIVSKAPER, ["not", "an", "object"]), 400)
    not_json = client.http.post(client.href(struktur, NY_ARKIVSKAPER), content=b"{",
                                headers={"Content-Type": "application/vnd.noark5+json"})
    _feil(not_json, 400)
    _feil(client.http.put(client.href(struktur, NY_ARKIVSKAPER), json={}), 405)

    assert "saksstatus" in _feil(client.post(arkivdel, NY_MAPPE, {"tittel": "x", "saksstatus": {"kode": "B"}}), 400)
    assert "tittel" in _feil(client.post(arkivdel, NY_MAPPE, {}), 400)
    mappe = client.made(arkivdel, NY_MAPPE, {"tittel": "Mappe"})
    assert "journalposttype" in _feil(client.post(mappe, NY_REGISTRERING, {
        "tittel": "x", "journalposttype": {"kode": "I"}}), 400)
    _feil(client.post(mappe, NY_REGISTRERING, {"tittel": "x", "dokumentmedium": {"kode": "Q"}}), 400)
    # a field the VSM catalogue knows must have the catalogue's type
    assert "vnd-oslomet-v1:eksternid" in _feil(client.post(arkivdel, NY_MAPPE, {
        "tittel": "x", "virksomhetsspesifikkeMetadata": {"vnd-oslomet-v1:eksternid": 42}}), 400)
    assert ids(client.list(arkivdel, "arkivstruktur/mappe/")) == [mappe["systemID"]]
