"""Case files: idempotent ensure, series, drift across pages, status with ETag and 409."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from connectors.n5ws import N5wsArchive
from hub.errors import InvalidInput, NotFound
from hub.ports.archive import NewCaseFile
from sandbox.procs import Proc
from tests.connectors.n5ws.conftest import PAGE_SIZE
from tests.sandbox_noark5.generic_client import RelationClient

KEY = "vnd-oslomet-v1:eksternid"
Stored = Callable[[str], list[dict[str, Any]]]


def new_case(external_id: str, **fields: Any) -> NewCaseFile:
    return NewCaseFile(external_id=external_id, title="Søknad om fritak – Kari Nordmann",
                       public_title="Søknad om fritak – *****", **fields)


def with_key(rows: list[dict[str, Any]], external_id: str) -> list[dict[str, Any]]:
    return [r for r in rows if (r["data"].get("virksomhetsspesifikkeMetadata") or {}).get(KEY) == external_id]


def arkivdel_id(stored: Stored, title: str) -> str:
    return next(r["systemID"] for r in stored("arkivdel") if r["data"]["tittel"] == title)


async def test_ensure_case_file_twice_creates_one_record(
        archive: N5wsArchive, stored: Stored, raw_http: httpx.AsyncClient) -> None:
    external_id = f"nettskjema:{uuid.uuid4()}"
    first = await archive.ensure_case_file(new_case(external_id))
    second = await archive.ensure_case_file(new_case(external_id))
    assert second.system_id == first.system_id
    [row] = with_key(stored("saksmappe"), external_id)
    assert row["systemID"] == first.system_id
    assert row["parent"] == arkivdel_id(stored, "Sakarkiv")
    assert row["data"]["tittel"] == "Søknad om fritak – Kari Nordmann"
    assert row["data"]["offentligTittel"] == "Søknad om fritak – *****"
    assert row["data"]["saksstatus"]["kode"] == "B"
    assert first.case_number == row["data"]["mappeID"] and first.external_id == external_id
    assert first.url and first.url.rstrip("/").endswith(first.system_id)
    assert (await raw_http.get(first.url)).json()["systemID"] == first.system_id


async def test_case_file_goes_to_the_named_series(archive: N5wsArchive, stored: Stored) -> None:
    external_id = f"dfo:{uuid.uuid4()}"
    case = await archive.ensure_case_file(new_case(external_id, series="Personalarkiv", classification="221"))
    [row] = with_key(stored("saksmappe"), external_id)
    assert row["parent"] == arkivdel_id(stored, "Personalarkiv")
    assert row["data"]["virksomhetsspesifikkeMetadata"]["vnd-oslomet-v1:klassering"] == "221"
    assert case.system_id == row["systemID"]


async def test_find_case_files_by_title_prefix(archive: N5wsArchive) -> None:
    prefix = f"Personalmappe {uuid.uuid4()}"
    made = [await archive.ensure_case_file(NewCaseFile(
        external_id=f"dfo:{uuid.uuid4()}", title=f"{prefix} – {name}", public_title=f"{prefix} – *****"))
        for name in ("Kari", "Ola")]
    await archive.ensure_case_file(new_case(f"x:{uuid.uuid4()}"))  # another title: not found
    found = await archive.find_case_files_by_title_prefix(prefix)
    assert [c.system_id for c in found] == [c.system_id for c in made]
    assert all(c.public_title == f"{prefix} – *****" for c in found)


async def test_unknown_series_is_not_found(archive: N5wsArchive) -> None:
    with pytest.raises(NotFound, match="Arkivdel som ikke finnes"):
        await archive.ensure_case_file(new_case(f"x:{uuid.uuid4()}", series="Arkivdel som ikke finnes"))


async def test_public_title_with_fodselsnummer_is_refused(archive: N5wsArchive, stored: Stored) -> None:
    external_id = f"nettskjema:{uuid.uuid4()}"
    bad = NewCaseFile(external_id=external_id, title="Søknad", public_title="Søknad fra 01019012345")
    with pytest.raises(InvalidInput) as caught:
        await archive.ensure_case_file(bad)
    assert "01019012345" not in str(caught.value)
    assert with_key(stored("saksmappe"), external_id) == []


async def test_find_case_files_reports_drift_across_pages(archive: N5wsArchive, n5ws_sandbox: Proc) -> None:
    """Duplicates made behind the hub's back are all found, even beyond one server page."""
    external_id = f"drift:{uuid.uuid4()}"
    auth = (n5ws_sandbox.extra["username"], n5ws_sandbox.extra["password"])
    with RelationClient(n5ws_sandbox.extra["api_url"], auth) as raw:
        struktur = raw.follow(raw.root(), "arkivstruktur/")
        sakarkiv = raw.list(struktur, "arkivstruktur/arkivdel/", filter="tittel eq 'Sakarkiv'")[0]
        made = [raw.create(sakarkiv, "sakarkiv/ny-saksmappe/", {
            "tittel": f"Kopi {i}", "virksomhetsspesifikkeMetadata": {KEY: external_id}}).json()["systemID"]
            for i in range(PAGE_SIZE + 1)]
    found = await archive.find_case_files(external_id)
    assert [c.system_id for c in found] == made
    assert (await archive.ensure_case_file(new_case(external_id))).system_id == made[0]


async def test_set_case_status_closes_the_case(archive: N5wsArchive, stored: Stored) -> None:
    case = await archive.ensure_case_file(new_case(f"nettskjema:{uuid.uuid4()}"))
    closed = await archive.set_case_status(case, "A")
    assert closed.status == "A"
    [row] = [r for r in stored("saksmappe") if r["systemID"] == case.system_id]
    assert row["data"]["saksstatus"]["kode"] == "A"
    version = row["version"]
    again = await archive.set_case_status(case, "A")  # already so: nothing written
    assert again.status == "A"
    assert [r for r in stored("saksmappe") if r["systemID"] == case.system_id][0]["version"] == version


class ConcurrentEditor(httpx.AsyncHTTPTransport):
    """A real transport that lets "another user" change the saksmappe just before our first
    PATCH reaches the server, so the server answers a genuine 409."""

    def __init__(self, auth: tuple[str, str]) -> None:
        super().__init__()
        self.auth = auth
        self.interfered = False
        self.patch_statuses: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH" and not self.interfered:
            self.interfered = True
            async with httpx.AsyncClient(auth=self.auth) as other:
                response = await other.patch(str(request.url), json={"beskrivelse": "endret av en annen"},
                                             headers={"Content-Type": "application/merge-patch+json"})
                assert response.status_code == 200
        response = await super().handle_async_request(request)
        if request.method == "PATCH":
            self.patch_statuses.append(response.status_code)
        return response


async def test_set_case_status_reloads_once_after_409(
        make_archive: Callable[..., N5wsArchive], n5ws_sandbox: Proc, stored: Stored) -> None:
    transport = ConcurrentEditor((n5ws_sandbox.extra["username"], n5ws_sandbox.extra["password"]))
    archive = make_archive(transport=transport)
    try:
        case = await archive.ensure_case_file(new_case(f"nettskjema:{uuid.uuid4()}"))
        closed = await archive.set_case_status(case, "A")
    finally:
        await archive.aclose()
    assert transport.patch_statuses == [409, 200] and closed.status == "A"
    [row] = [r for r in stored("saksmappe") if r["systemID"] == case.system_id]
    assert row["data"]["saksstatus"]["kode"] == "A"
    assert row["data"]["beskrivelse"] == "endret av en annen"  # the other change survived
    assert row["version"] == 3  # created, the other user's patch, ours
