"""Exactly once when the answer to a create is lost after the archive committed it.

A fault proxy sits between the connector and the Noark 5 sandbox. ``lost_response``
passes the POST on (the record IS created), then drops the answer: a TCP reset or a 502.
The connector must find the record by its key instead of creating a second one, and
return that record. Outcomes are checked in the sandbox's store, not in the connector.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.n5ws import N5wsArchive
from hub.errors import ConfigError
from hub.ports.archive import CaseFile, Correspondent, Document, NewCaseFile, NewJournalEntry
from sandbox.common import control_headers
from sandbox.faultproxy import start_fault_proxy
from sandbox.procs import Proc
from tests.sandbox_noark5.pdfs import make_pdf

KEY = "vnd-oslomet-v1:eksternid"
OSLO = ZoneInfo("Europe/Oslo")
Stored = Callable[[str], list[dict[str, Any]]]

# Where each create is POSTed in the sandbox (nikita's layout), below the proxy's root.
API = "/noark5v5/api"
CREATE_PATHS = {
    "saksmappe": f"{API}/arkivstruktur/arkivdel/",  # .../arkivdel/<id>/ny-saksmappe/
    "journalpost": f"{API}/sakarkiv/saksmappe/",  # .../saksmappe/<id>/ny-journalpost/
    "below journalpost": f"{API}/sakarkiv/journalpost/",  # ny-korrespondansepartperson, ny-dokumentbeskrivelse
    "file": f"{API}/arkivstruktur/dokumentbeskrivelse/",  # .../dokumentbeskrivelse/<id>/fil/
}


@pytest.fixture(scope="module")
def proxy(n5ws_sandbox: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    proc: Any = start_fault_proxy(n5ws_sandbox.url, tmp_path_factory.mktemp("proxy-logs"))
    yield proc
    proc.stop()


@pytest.fixture
async def proxied(make_archive: Callable[..., N5wsArchive], proxy: Any) -> AsyncIterator[N5wsArchive]:
    """An archive connector whose every request goes through the fault proxy."""
    archive = make_archive(base_url=f"{proxy.url}/noark5v5", max_retry_seconds=10.0)
    yield archive
    await archive.aclose()
    httpx.delete(f"{proxy.url}/_sandbox/faults", headers=_control(proxy)).raise_for_status()


def _control(proxy: Any) -> dict[str, str]:
    return control_headers(proxy.extra["control_token"])


def lose_answer(proxy: Any, path: str, lost_as: str) -> None:
    """The next POST under ``path`` is committed upstream, then its answer is lost."""
    httpx.delete(f"{proxy.url}/_sandbox/faults/stats", headers=_control(proxy)).raise_for_status()
    response = httpx.post(f"{proxy.url}/_sandbox/faults", headers=_control(proxy), json={
        "path": path, "method": "POST", "kind": "lost_response", "lost_as": lost_as, "count": 1})
    assert response.status_code == 201, response.text


def lost_answers(proxy: Any) -> int:
    stats = httpx.get(f"{proxy.url}/_sandbox/faults/stats", headers=_control(proxy)).json()
    return int(stats["injected"].get("lost_response", 0))


def keyed(rows: list[dict[str, Any]], external_id: str) -> list[dict[str, Any]]:
    return [r for r in rows if (r["data"].get("virksomhetsspesifikkeMetadata") or {}).get(KEY) == external_id]


def below(stored: Stored, kind: str, parent_id: str) -> list[dict[str, Any]]:
    return [r for r in stored(kind) if r["parent"] == parent_id]


def new_entry(external_id: str, people: tuple[Correspondent, ...], pdf: bytes) -> NewJournalEntry:
    return NewJournalEntry(
        external_id=external_id, title="Arbeidsavtale – Kari Nordmann", public_title="Arbeidsavtale – *****",
        journal_type="I", document_date=datetime(2026, 1, 15, 10, 0, tzinfo=OSLO), correspondents=people,
        documents=(Document(title="Arbeidsavtale", filename="avtale.pdf", content=pdf),))


@pytest.mark.parametrize("lost_as", ["reset", "502"])
async def test_a_lost_answer_to_a_case_file_create_leaves_one_case_file(
        proxied: N5wsArchive, proxy: Any, stored: Stored, lost_as: str) -> None:
    external_id = f"dfo:ansatt:{uuid.uuid4()}"
    lose_answer(proxy, CREATE_PATHS["saksmappe"], lost_as)
    case = await proxied.ensure_case_file(NewCaseFile(
        external_id=external_id, title="Personalmappe – Kari Nordmann", public_title="Personalmappe – *****",
        series="Personalarkiv"))
    assert lost_answers(proxy) == 1  # the create was committed and its answer lost
    [row] = keyed(stored("saksmappe"), external_id)
    assert case.system_id == row["systemID"] and case.external_id == external_id
    assert case.case_number == row["data"]["mappeID"]


# The journal entry's creates, in the order the connector makes them, and which one loses
# its answer: the journalpost itself, its correspondent, its document description, its file.
STAGES = [("journalpost", CREATE_PATHS["journalpost"], True),
          ("korrespondansepart", CREATE_PATHS["below journalpost"], True),
          ("dokumentbeskrivelse", CREATE_PATHS["below journalpost"], False),  # no correspondent: first below
          ("file", CREATE_PATHS["file"], True)]


@pytest.mark.parametrize("lost_as", ["reset", "502"])
@pytest.mark.parametrize("stage,path,with_person", STAGES, ids=[s[0] for s in STAGES])
async def test_a_lost_answer_in_a_journal_entry_leaves_one_of_everything(
        proxied: N5wsArchive, proxy: Any, stored: Stored, stage: str, path: str, with_person: bool,
        lost_as: str) -> None:
    case: CaseFile = await proxied.ensure_case_file(NewCaseFile(
        external_id=f"dfo:ansatt:{uuid.uuid4()}", title="Personalmappe – Kari Nordmann",
        public_title="Personalmappe – *****", series="Personalarkiv"))
    external_id = f"dfo:kontrakt:{uuid.uuid4()}"
    people = (Correspondent(kind="EA", name="Kari Nordmann"),) if with_person else ()
    pdf = make_pdf(external_id)
    lose_answer(proxy, path, lost_as)
    entry = await proxied.ensure_journal_entry(case, new_entry(external_id, people, pdf))
    assert lost_answers(proxy) == 1, f"the {stage} create lost its answer"

    [post] = keyed(stored("journalpost"), external_id)
    assert post["parent"] == case.system_id and entry.system_id == post["systemID"]
    parts = below(stored, "korrespondansepartperson", post["systemID"])
    assert [p["data"]["navn"] for p in parts] == [p.name for p in people]
    [description] = below(stored, "dokumentbeskrivelse", post["systemID"])
    assert description["data"]["eksternReferanse"] == f"{external_id}/avtale.pdf"
    [file] = below(stored, "dokumentobjekt", description["systemID"])
    assert [d.rstrip("/").rsplit("/", 1)[-1] for d in entry.document_ids] == [file["systemID"]]
    assert await proxied.fetch_document(entry.document_ids[0]) == pdf


async def test_a_create_that_did_not_land_is_sent_again(proxied: N5wsArchive, proxy: Any, stored: Stored) -> None:
    """A 503 before the archive wrote anything: the look-up finds nothing, so it is created anew."""
    external_id = f"dfo:ansatt:{uuid.uuid4()}"
    response = httpx.post(f"{proxy.url}/_sandbox/faults", headers=_control(proxy), json={
        "path": CREATE_PATHS["saksmappe"], "method": "POST", "status": 503, "count": 2, "retry_after": 0})
    assert response.status_code == 201
    case = await proxied.ensure_case_file(NewCaseFile(
        external_id=external_id, title="Personalmappe – Ola Nordmann", public_title="Personalmappe – *****"))
    [row] = keyed(stored("saksmappe"), external_id)
    assert case.system_id == row["systemID"]
    armed = httpx.get(f"{proxy.url}/_sandbox/faults", headers=_control(proxy)).json()
    assert armed == [], "both refused creates were tried again"


class DroppingKeys(httpx.AsyncHTTPTransport):
    """A core that accepts virksomhetsspesifikkeMetadata but throws it away."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and b"virksomhetsspesifikkeMetadata" in request.content:
            body = json.loads(request.content)
            body.pop("virksomhetsspesifikkeMetadata")
            headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
            request = httpx.Request("POST", request.url, headers=headers, content=json.dumps(body).encode())
        return await super().handle_async_request(request)


async def test_a_core_that_loses_the_key_is_a_config_error_not_a_duplicate_per_replay(
        make_archive: Callable[..., N5wsArchive], stored: Stored) -> None:
    title = f"Personalmappe {uuid.uuid4()}"
    archive = make_archive(transport=DroppingKeys())
    try:
        with pytest.raises(ConfigError, match="lookup by its external key does not find it"):
            await archive.ensure_case_file(NewCaseFile(external_id=f"dfo:ansatt:{uuid.uuid4()}", title=title,
                                                       public_title="Personalmappe – *****"))
    finally:
        await archive.aclose()
    assert [r["data"]["tittel"] for r in stored("saksmappe") if r["data"]["tittel"] == title] == [title]
