"""Exactly one document in 360 when the answer to CreateDocument is lost after 360 stored it.

SIF has no document external id. The sandbox's fault injector (``lost_response``) passes the
request on — the document IS created — then drops the answer (a TCP reset, as after a
client timeout, or a 502 from a gateway). The adapter must find the document by the case
and its key field before it sends the create again.
"""

from __future__ import annotations

import pytest

from connectors.p360 import P360Archive
from tests.connectors.p360.conftest import case_file, journal_entry
from tests.connectors.p360.helpers import P360Direct

CREATE_DOCUMENT = "/Biz/v2/api/call/SI.Data.RPC/SI.Data.RPC/DocumentService/CreateDocument"
CREATE_CASE = "/Biz/v2/api/call/SI.Data.RPC/SI.Data.RPC/CaseService/CreateCase"


@pytest.mark.parametrize("lost_as", ["reset", "502"])
async def test_a_lost_answer_to_create_document_leaves_one_document(p360: P360Archive, p360_direct: P360Direct,
                                                                    lost_as: str) -> None:
    case = await p360.ensure_case_file(case_file())
    new = journal_entry(attachments=1)
    before = p360_direct.injected("lost_response")
    p360_direct.arm(path=CREATE_DOCUMENT, kind="lost_response", lost_as=lost_as, count=1)
    entry = await p360.ensure_journal_entry(case, new)
    assert p360_direct.injected("lost_response") == before + 1, "the write landed and its answer was lost"
    documents = p360_direct.documents(CaseNumber=case.case_number)
    assert [d["Recno"] for d in documents] == [int(entry.system_id)]
    assert len(documents[0]["Files"]) == 2
    again = await p360.ensure_journal_entry(case, new)  # the step's retry or a replay
    assert again.system_id == entry.system_id
    assert len(p360_direct.documents(CaseNumber=case.case_number)) == 1


async def test_a_create_that_did_not_land_is_sent_again(p360: P360Archive, p360_direct: P360Direct) -> None:
    case = await p360.ensure_case_file(case_file())
    p360_direct.arm(path=CREATE_DOCUMENT, status=503, count=1, retry_after=0)  # refused before it was written
    entry = await p360.ensure_journal_entry(case, journal_entry())
    assert [d["Recno"] for d in p360_direct.documents(CaseNumber=case.case_number)] == [int(entry.system_id)]


@pytest.mark.parametrize("lost_as", ["reset", "502"])
async def test_a_lost_answer_to_create_case_leaves_one_case(p360: P360Archive, p360_direct: P360Direct,
                                                            lost_as: str) -> None:
    new = case_file()
    p360_direct.arm(path=CREATE_CASE, kind="lost_response", lost_as=lost_as, count=1)
    created = await p360.ensure_case_file(new)
    found = p360_direct.cases(ExternalId={"Id": new.external_id, "Type": p360.config.external_id_type})
    assert [c["CaseNumber"] for c in found] == [created.case_number]
