"""Any client that navigates by relation can archive a PDF end to end.

The client (``generic_client.RelationClient``) knows only the discovery URL and the
standard's relation keys; it was written without looking at ``connectors.n5ws``.
"""

from __future__ import annotations

import hashlib

from tests.sandbox_noark5.generic_client import RelationClient
from tests.sandbox_noark5.pdfs import make_pdf


def test_relation_only_client_archives_and_retrieves_a_pdf(client: RelationClient) -> None:
    content = make_pdf("Søknad om fritak fra undervisning")
    root = client.root()
    struktur = client.follow(root, "arkivstruktur/")
    arkivdel = client.list(struktur, "arkivstruktur/arkivdel/", filter="tittel eq 'Sakarkiv'")[0]

    mappe = client.create(arkivdel, "sakarkiv/ny-saksmappe/", {
        "tittel": "Søknad om fritak – Kari Nordmann", "offentligTittel": "Søknad om fritak – *****",
        "saksstatus": {"kode": "B"},
        "virksomhetsspesifikkeMetadata": {"vnd-generic-v1:id": "generic-1"}})
    assert mappe.status_code == 201
    post = client.create(mappe.json(), "sakarkiv/ny-journalpost/", {
        "tittel": "Søknad om fritak", "journalposttype": {"kode": "I"}, "journalstatus": {"kode": "J"},
        "dokumentetsDato": "2026-01-15T10:00:00+01:00", "mottattDato": "2026-01-15T10:05:00+01:00"})
    assert post.status_code == 201
    part = client.create(post.json(), "arkivstruktur/ny-korrespondansepartperson/",
                         {"korrespondanseparttype": {"kode": "EA"}, "navn": "Kari Nordmann"})
    assert part.status_code == 201
    beskrivelse = client.create(post.json(), "arkivstruktur/ny-dokumentbeskrivelse/", {
        "tittel": "Søknad", "dokumenttype": {"kode": "B"}, "dokumentstatus": {"kode": "F"},
        "tilknyttetRegistreringSom": {"kode": "H"}})
    assert beskrivelse.status_code == 201
    uploaded = client.upload(beskrivelse.json(), content, "application/pdf", "soknad.pdf")
    assert uploaded.status_code == 201
    assert uploaded.json()["sjekksum"] == hashlib.sha256(content).hexdigest()

    # Read it all back from the top, by relation only.
    sakarkiv = client.follow(root, "sakarkiv/")
    [found] = client.list(sakarkiv, "sakarkiv/saksmappe/", filter="vnd-generic-v1:id eq 'generic-1'")
    [journalpost] = client.list(found, "sakarkiv/journalpost/")
    [korrespondent] = client.list(journalpost, "arkivstruktur/korrespondansepart/")
    assert korrespondent["navn"] == "Kari Nordmann"
    [dokument] = client.list(journalpost, "arkivstruktur/dokumentbeskrivelse/")
    [objekt] = client.list(dokument, "arkivstruktur/dokumentobjekt/")
    downloaded = client.download(objekt, "application/pdf")
    assert downloaded.status_code == 200
    assert downloaded.content == content
