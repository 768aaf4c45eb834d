"""File upload (checksums, format detection, limits) and download (406 on a wrong Accept)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from tests.sandbox_noark5.conftest import MAX_UPLOAD
from tests.sandbox_noark5.generic_client import MEDIA_TYPE, RelationClient
from tests.sandbox_noark5.pdfs import make_pdf, pdfa_1b


@pytest.fixture
def beskrivelse(client: RelationClient, make_saksmappe: Callable[..., Any]) -> dict[str, Any]:
    post = client.create(make_saksmappe("Sak med filer"), "sakarkiv/ny-journalpost/", {"tittel": "Søknad"}).json()
    response = client.create(post, "arkivstruktur/ny-dokumentbeskrivelse/",
                             {"tittel": "Søknad", "eksternReferanse": "nettskjema:1/soknad.pdf"})
    assert response.status_code == 201
    return dict(response.json())


def test_upload_creates_dokumentobjekt_with_checksum(client: RelationClient, beskrivelse: dict[str, Any]) -> None:
    content = make_pdf("Søknad om fritak")
    response = client.upload(beskrivelse, content, "application/pdf", "soknad.pdf")
    assert response.status_code == 201
    objekt = response.json()
    assert response.headers["location"] == objekt["_links"]["self"]["href"]
    assert objekt["sjekksum"] == hashlib.sha256(content).hexdigest()
    assert objekt["sjekksumAlgoritme"] == "SHA-256"
    assert objekt["filstoerrelse"] == len(content)
    assert objekt["mimeType"] == "application/pdf" and objekt["filnavn"] == "soknad.pdf"
    assert objekt["format"]["kode"] == "av/0" and objekt["variantformat"]["kode"] == "P"
    assert objekt["referanseDokumentfil"] == client.href(objekt, "arkivstruktur/fil/")
    listed = client.list(beskrivelse, "arkivstruktur/dokumentobjekt/")
    assert [o["systemID"] for o in listed] == [objekt["systemID"]]


def test_pdfa_is_recognised_as_archive_format(client: RelationClient, beskrivelse: dict[str, Any]) -> None:
    objekt = client.upload(beskrivelse, pdfa_1b(), "application/pdf").json()
    assert objekt["format"]["kode"] == "fmt/354"
    assert objekt["variantformat"]["kode"] == "A"


def test_download_is_byte_identical_and_406_on_wrong_accept(
        client: RelationClient, beskrivelse: dict[str, Any]) -> None:
    content = make_pdf("nedlasting")
    objekt = client.upload(beskrivelse, content, "application/pdf", "brev.pdf").json()
    for accept in ("*/*", "application/pdf", "application/*"):
        response = client.download(objekt, accept)
        assert response.status_code == 200, accept
        assert response.content == content
        assert response.headers["content-type"] == "application/pdf"
    refused = client.download(objekt, "text/plain")
    assert refused.status_code == 406
    assert refused.json()["feil"]["kode"] == 406


def _declared_objekt(client: RelationClient, beskrivelse: dict[str, Any], content: bytes,
                     **overrides: Any) -> dict[str, Any]:
    declared = {"mimeType": "application/pdf", "filnavn": "vedlegg.pdf", "sjekksumAlgoritme": "SHA-256",
                "sjekksum": hashlib.sha256(content).hexdigest(), "filstoerrelse": len(content), **overrides}
    response = client.create(beskrivelse, "arkivstruktur/ny-dokumentobjekt/", declared)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_declared_dokumentobjekt_is_verified_on_upload(client: RelationClient, beskrivelse: dict[str, Any]) -> None:
    content = make_pdf("vedlegg")
    wrong_sum = _declared_objekt(client, beskrivelse, content, sjekksum="0" * 64)
    refused = client.upload(wrong_sum, content, "application/pdf")
    assert refused.status_code == 400
    assert "sjekksum" in refused.json()["feil"]["beskrivelse"]
    assert client.download(wrong_sum).status_code == 404  # nothing was stored

    wrong_size = _declared_objekt(client, beskrivelse, content, filstoerrelse=len(content) + 1)
    assert client.upload(wrong_size, content, "application/pdf").status_code == 400

    right = _declared_objekt(client, beskrivelse, content)
    accepted = client.upload(right, content, "application/pdf")
    assert accepted.status_code == 201
    assert accepted.json()["systemID"] == right["systemID"]
    assert client.download(right).content == content
    again = client.upload(right, content, "application/pdf")
    assert again.status_code == 409  # a stored file is never overwritten


def test_too_large_upload_is_refused_with_403(client: RelationClient, beskrivelse: dict[str, Any]) -> None:
    system = client.follow(client.root(), "admin/system/")
    assert system["bulkgrense"] == MAX_UPLOAD
    response = client.upload(beskrivelse, b"%PDF-" + b"0" * MAX_UPLOAD, "application/pdf")
    assert response.status_code == 403
    assert response.json()["feil"]["kode"] == 403
    assert client.list(beskrivelse, "arkivstruktur/dokumentobjekt/") == []


def test_json_body_that_is_not_json_is_400(client: RelationClient, beskrivelse: dict[str, Any]) -> None:
    href = client.href(beskrivelse, "arkivstruktur/ny-dokumentobjekt/")
    response = client.http.post(href, content=b"{not json", headers={"Content-Type": MEDIA_TYPE})
    assert response.status_code == 400 and response.json()["feil"]["kode"] == 400
