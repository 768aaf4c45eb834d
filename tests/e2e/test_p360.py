"""OsloMet's own archive: the onboarding service runs unchanged with HUB_ARCHIVE=p360.

A small stack of its own (no Request Tracker: tickets go to TOPdesk) whose processes write
to the Public 360 sandbox. The same signed hire event, sent twice, leaves exactly one
personnel case and one welcome letter in Public 360, and their public titles carry neither
the employee's name nor the fødselsnummer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from devtools.stack import Stack, StackPorts
from hub.ledger import ItemState, Ledger
from sandbox.dfo.announce import announce
from sandbox.dfo.seed import seed
from tests.e2e.conftest import _refresh_settings, wait_item

pytestmark = pytest.mark.e2e

EMPLOYEE = "10006"


@pytest.fixture(scope="module")
def p360_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(home=tmp_path_factory.mktemp("hub-p360"), ports=StackPorts.free(),
                  extra_env={"HUB_PAUSE_SCHEDULES": "1", "HUB_ARCHIVE": "p360", "HUB_TICKETING": "topdesk"})
    saved = dict(os.environ)
    try:
        stack.start_all(progress=lambda m: print(f"[p360 stack] {m}", flush=True), with_rt=False)
        yield stack
    finally:
        stack.stop_all()
        os.environ.clear()
        os.environ.update(saved)  # a stack started earlier in the session gets its environment back
        _refresh_settings()


def _sif(stack: Stack, service: str, method: str, **parameter: Any) -> dict[str, Any]:
    response = httpx.post(f"{stack.p360_api}/{service}/{method}", params={"authkey": stack.secrets["p360_auth_key"]},
                          json={"parameter": parameter}, timeout=30)
    response.raise_for_status()
    data = dict(response.json())
    assert data["Successful"], data["ErrorMessage"]
    return data


def test_onboarding_archives_once_in_public_360(p360_stack: Stack) -> None:
    from hub.wiring import _ledger

    ledger: Ledger = _ledger(f"sqlite:///{p360_stack.home / 'ledger.db'}", False)
    hmac, intake = p360_stack.secrets["hmac"], f"{p360_stack.intake_url}/events/hr"
    first = announce(intake, hmac, EMPLOYEE, date.today())
    assert first.status_code == 202, first.text
    item = wait_item(ledger, "onboarding", EMPLOYEE, timeout=120)
    assert item.state == ItemState.DONE, item.last_error
    again = announce(intake, hmac, EMPLOYEE, date.today())  # HR sends the same hire again
    assert again.status_code in (200, 202), again.text
    time.sleep(3)
    item = wait_item(ledger, "onboarding", EMPLOYEE, timeout=120)
    assert item.state == ItemState.DONE, item.last_error
    refs = {r.name: r for r in item.refs}
    assert {"case_file", "welcome_letter"} <= set(refs)

    employee = seed(date.today())["ansatte"][EMPLOYEE]
    name = f"{employee['fornavn']} {employee['etternavn']}"
    cases = _sif(p360_stack, "CaseService", "GetCases",
                 ExternalId={"Id": refs["case_file"].external_key, "Type": "OsloMet integrasjonshub"})["Cases"]
    assert len(cases) == 1, cases
    [case] = cases
    assert str(case["Recno"]) == refs["case_file"].ref
    assert name in case["UnofficialTitle"] and case["AccessCodeCode"] == "13"
    documents = _sif(p360_stack, "DocumentService", "GetDocuments", CaseNumber=case["CaseNumber"],
                     IncludeFiles=True, IncludeCustomFields=True)["Documents"]
    letters = [d for d in documents if {"Name": "CF_hubReference", "Value": refs["welcome_letter"].external_key}
               in d["CustomFields"]]
    assert len(letters) == 1 and len(documents) == 1, documents
    [letter] = letters
    assert str(letter["Recno"]) == refs["welcome_letter"].ref and letter["Type"]["Code"] == "U"
    assert name in letter["Title"] and [f["RelationTypeCode"] for f in letter["Files"]] == ["H"]
    assert letter["Contacts"][0]["Role"] == "Mottaker" and letter["Contacts"][0]["IsUnofficial"]
    for public in (case["Title"], letter["OfficialTitle"]):
        assert "*****" in public
        for secret in (employee["fornavn"], employee["etternavn"], str(employee["fnr"])):
            assert secret not in public, public


async def test_fritak_application_and_decision_letter_land_in_one_public_360_case(p360_stack: Stack) -> None:
    """Fritak unchanged on Public 360: the application and its attachments archived once (the
    intake seeing the submission again starts nothing new), the decision letter in the same
    case, the case closed; public titles without the applicant's name or fødselsnummer."""
    from prefect.deployments import run_deployment
    from prefect.flow_runs import aresume_flow_run

    from hub.settings import get_settings
    from hub.wiring import _ledger, build_archive
    from tests.e2e.conftest import wait_flow_run
    from tests.e2e.test_fritak import APPLICANT, _apply, _case_run, _wait_paused

    ledger: Ledger = _ledger(f"sqlite:///{p360_stack.home / 'ledger.db'}", False)
    sid = _apply(p360_stack, email="p360.fritak@student.oslomet.no")
    flow_run_id = await _case_run(ledger, sid)
    run = await _wait_paused(flow_run_id)
    assert run.state.is_paused(), run.state
    await run_deployment("fritak-intake/fritak-intake", timeout=180)  # the same submission seen again
    assert ledger.get_item("fritak", str(sid)).flow_run_id == flow_run_id

    await aresume_flow_run(run.id, run_input={
        "outcome": "approve", "justification": "Begge emnene dekkes av tidligere emner.",
        "decided_by": "Kari Saksbehandler",
        "courses": [{"course": "DATA1100", "verdict": "approved"}, {"course": "MATA1000", "verdict": "approved"}]})
    final = await wait_flow_run(flow_run_id, timeout=180)
    assert final.state.is_completed(), final.state

    archive = build_archive(get_settings())
    try:
        [case] = await archive.find_case_files(f"fritak:{sid}:sak")
        assert case.status == "A"
        entries = await archive.list_journal_entries(case)
        assert sorted(e.journal_type for e in entries) == ["I", "U"]
        letter = await archive.fetch_document([e for e in entries if e.journal_type == "U"][0].document_ids[0])
        assert letter.startswith(b"%PDF")
    finally:
        await archive.aclose()

    cases = _sif(p360_stack, "CaseService", "GetCases",
                 ExternalId={"Id": f"fritak:{sid}:sak", "Type": "OsloMet integrasjonshub"})["Cases"]
    assert len(cases) == 1, cases
    documents = _sif(p360_stack, "DocumentService", "GetDocuments", CaseNumber=cases[0]["CaseNumber"],
                     IncludeFiles=True)["Documents"]
    assert sorted(d["Type"]["Code"] for d in documents) == ["I", "U"], documents  # one application, one letter
    for public in (cases[0]["Title"], *(d["OfficialTitle"] for d in documents)):
        for secret in ("Åsmund", "Bjørnstad", APPLICANT["fnr"]):
            assert secret not in public, public
