"""The contract suite's Public 360 peer, behind its fault proxy: a write whose answer is lost.

The proxy (sandbox/faultproxy) passes CreateCase / CreateDocument on to 360, which stores the
record, then loses the answer (a reset connection, or a gateway's 502). The adapter, built
against the proxy, must find what it wrote instead of writing it again: one case, one
document — read back from 360 directly, not through the adapter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from connectors.registry import ADAPTERS
from hub.ports.archive import Correspondent, Document, NewCaseFile, NewJournalEntry
from sandbox.common import control_headers
from sandbox.p360 import RPC_PREFIX
from tests.contract.conftest import Pool

P360 = next(a for a in ADAPTERS if a.name == "p360")


async def _arm(proxy_url: str, method: str, lost_as: str) -> None:
    async with httpx.AsyncClient(base_url=proxy_url) as http:
        (await http.delete("/_sandbox/faults", headers=control_headers())).raise_for_status()
        (await http.post("/_sandbox/faults", headers=control_headers(), json={
            "path": f"{RPC_PREFIX}/{method}", "kind": "lost_response", "lost_as": lost_as, "count": 1,
        })).raise_for_status()


async def _lost(proxy_url: str) -> int:
    async with httpx.AsyncClient(base_url=proxy_url) as http:
        stats = (await http.get("/_sandbox/faults/stats", headers=control_headers())).json()
    return int(stats["injected"].get("lost_response", 0))


def _direct(running: Any, service: str, method: str, **parameter: Any) -> list[dict[str, Any]]:
    config = running.peer.config
    response = httpx.post(f"{config.base_url}/{service}/{method}", params={"authkey": config.auth_key.get_secret_value()},
                          json={"parameter": parameter}, timeout=10)
    response.raise_for_status()
    body = response.json()
    assert body["Successful"], body["ErrorMessage"]
    return list(body["Cases" if service == "CaseService" else "Documents"])


def _letter(key: str) -> NewJournalEntry:
    sent = datetime(2026, 11, 30, 9, 0)
    return NewJournalEntry(external_id=key, title="Brev – Kari Nordmann", public_title="Brev – *****",
                           journal_type="U", document_date=sent, sent_date=sent,
                           correspondents=(Correspondent(kind="EM", name="Kari Nordmann", email="kari@example.org"),),
                           documents=(Document(title="Brev", filename="brev.pdf", content=b"%PDF-1.4 kontrakt"),))


@pytest.mark.parametrize("lost_as", ["reset", "502"])
async def test_p360_a_lost_answer_after_a_write_leaves_one_record(pool: Pool, lost_as: str) -> None:
    running = await pool.get(P360)
    proxy = running.proxy.url
    client = running.proxied()
    key = f"contract:lost:{lost_as}"
    try:
        before = await _lost(proxy)
        await _arm(proxy, "CaseService/CreateCase", lost_as)
        case = await client.ensure_case_file(NewCaseFile(external_id=key, title="Kontrakt – tapt svar",
                                                         public_title="Kontrakt – *****", series="Sakarkiv"))
        await _arm(proxy, "DocumentService/CreateDocument", lost_as)
        entry = await client.ensure_journal_entry(case, _letter(f"{key}:brev"))
        assert await _lost(proxy) == before + 2, "both writes landed in 360 and both answers were lost"
        again = await client.ensure_journal_entry(case, _letter(f"{key}:brev"))  # the step's retry
        assert again.system_id == entry.system_id
    finally:
        async with httpx.AsyncClient(base_url=proxy) as http:
            await http.delete("/_sandbox/faults", headers=control_headers())
        await client.aclose()
    found = _direct(running, "CaseService", "GetCases", ExternalId={"Id": key, "Type": running.peer.config.external_id_type})
    assert [str(c["Recno"]) for c in found] == [case.system_id]
    documents = _direct(running, "DocumentService", "GetDocuments", CaseNumber=found[0]["CaseNumber"])
    assert [str(d["Recno"]) for d in documents] == [entry.system_id]
