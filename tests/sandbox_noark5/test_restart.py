"""Data survives a restart: stop the process, start it again on the same data dir."""

from __future__ import annotations

from pathlib import Path

from sandbox.noark5.process import start_noark5_sandbox
from tests.sandbox_noark5.generic_client import RelationClient
from tests.sandbox_noark5.pdfs import make_pdf


def _sakarkiv_arkivdel(client: RelationClient) -> dict[str, object]:
    struktur = client.follow(client.root(), "arkivstruktur/")
    return client.list(struktur, "arkivstruktur/arkivdel/", filter="tittel eq 'Sakarkiv'")[0]


def test_restart_keeps_objects_files_and_counters(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    content = make_pdf("overlever omstart")
    proc = start_noark5_sandbox(data, logs)
    try:
        with RelationClient(proc.extra["api_url"], (proc.extra["username"], proc.extra["password"])) as client:
            mappe = client.create(_sakarkiv_arkivdel(client), "sakarkiv/ny-saksmappe/", {
                "tittel": "Før omstart", "virksomhetsspesifikkeMetadata": {"vnd-oslomet-v1:eksternid": "r:1"}}).json()
            post = client.create(mappe, "sakarkiv/ny-journalpost/", {"tittel": "Brev"}).json()
            desc = client.create(post, "arkivstruktur/ny-dokumentbeskrivelse/", {"tittel": "Brev"}).json()
            assert client.upload(desc, content, "application/pdf").status_code == 201
    finally:
        proc.stop()
    assert not proc.alive()

    proc = start_noark5_sandbox(data, logs)  # a new port: hrefs follow the address used
    try:
        with RelationClient(proc.extra["api_url"], (proc.extra["username"], proc.extra["password"])) as client:
            sakarkiv = client.follow(client.root(), "sakarkiv/")
            found = client.list(sakarkiv, "sakarkiv/saksmappe/", filter="vnd-oslomet-v1:eksternid eq 'r:1'")
            assert [m["systemID"] for m in found] == [mappe["systemID"]]
            post = client.list(found[0], "sakarkiv/journalpost/")[0]
            desc = client.list(post, "arkivstruktur/dokumentbeskrivelse/")[0]
            objekt = client.list(desc, "arkivstruktur/dokumentobjekt/")[0]
            assert client.download(objekt).content == content
            struktur = client.follow(client.root(), "arkivstruktur/")
            arkiver = client.list(struktur, "arkivstruktur/arkiv/")
            assert len(arkiver) == 1  # seeded once, not again on restart
            after = client.create(_sakarkiv_arkivdel(client), "sakarkiv/ny-saksmappe/", {"tittel": "Etter"}).json()
            assert after["sakssekvensnummer"] == mappe["sakssekvensnummer"] + 1
    finally:
        proc.stop()
