"""Onboarding end to end on the real stack: one signed HR event → one complete trail.

Employee 10006 (Mathias Brænden) is seeded in the DFØ sandbox and starts in 6 days; his
manager is the leader of unit 10000110.
"""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from prefect.client.orchestration import get_client

from devtools.stack import Stack
from hub.ledger import ItemState, Ledger
from hub.settings import OSLO
from tests.e2e.conftest import (
    event_flow_run,
    mail_to,
    rt_laptops_held_by,
    rt_tickets,
    send_event,
    wait_flow_run,
    wait_item,
)

pytestmark = pytest.mark.e2e

HIRE = "10006"
MANAGER_EMAIL = "oysode@oslomet.no"  # leader of 10000110 in the DFØ seed


def _hr(stack: Stack, path: str) -> dict:
    response = httpx.get(f"{stack.dfo_api}/{path}", headers={"X-Gravitee-Api-Key": stack.secrets["dfo_key"]})
    response.raise_for_status()
    return response.json()


async def _trail(stack: Stack, archive, rt_http: httpx.Client, employee_id: str) -> dict:
    """Everything the onboarding of ``employee_id`` wrote, read back from the targets."""
    cases = await archive.find_case_files(f"dfo:ansatt:{employee_id}")
    entries = [e for c in cases for e in await archive.list_journal_entries(c)]
    tickets = rt_tickets(rt_http, f"'CF.{{ExternalRef}}' LIKE 'onboarding:{employee_id}:'")
    return {"cases": cases, "entries": entries, "tickets": tickets}


async def test_one_hire_event_leaves_one_complete_trail(stack: Stack, ledger: Ledger, archive,
                                                        rt_http: httpx.Client) -> None:
    employee = _hr(stack, f"ansatte/v2/{HIRE}")["ansatt"][0]
    response = send_event(stack, HIRE)
    assert response.status_code == 202, response.text
    flow_run_id = event_flow_run(stack, response.json()["event_id"])
    run = await wait_flow_run(flow_run_id)
    assert run.state.is_completed(), run.state

    item = wait_item(ledger, "onboarding", HIRE)
    assert item.state == ItemState.DONE, item.last_error
    assert {s.name: s.state for s in item.steps} == {
        "fetch_employee": "done", "validate": "done", "ensure_personnel_file": "done",
        "journal_welcome_letter": "done", "ensure_tickets": "done", "allocate_laptop": "done",
        "email_manager": "done"}
    assert item.completed_at is not None and item.completed_at >= item.requested_at

    trail = await _trail(stack, archive, rt_http, HIRE)
    # The archive: one personnel file, one outgoing journalpost, its PDF.
    assert len(trail["cases"]) == 1
    case = trail["cases"][0]
    assert case.title == f"Personalmappe – {employee['fornavn']} {employee['etternavn']}"
    assert case.public_title == "Personalmappe – *****"
    assert len(trail["entries"]) == 1
    entry = trail["entries"][0]
    assert entry.journal_type == "U" and len(entry.document_ids) == 1
    pdf = await archive.fetch_document(entry.document_ids[0])
    assert pdf.startswith(b"%PDF")
    # RT: exactly the two tickets, due on the start date, in the right queues.
    subjects = sorted(t["Subject"] for t in trail["tickets"])
    assert len(subjects) == 2
    assert subjects[0].startswith("Create user account: ") and subjects[1].startswith("Deliver laptop: ")
    queues = {t["Subject"].split(":")[0]: rt_http.get(f"/queue/{t['Queue']['id']}").json()["Name"]
              for t in trail["tickets"]}
    assert queues == {"Create user account": "User accounts", "Deliver laptop": "Equipment"}
    for ticket in trail["tickets"]:
        assert ticket["Due"].startswith(employee["startdato"])
    # One laptop, held by the new employee.
    held = rt_laptops_held_by(rt_http, employee["epost"])
    assert len(held) == 1 and held[0]["Status"] == "allocated"
    # The manager got exactly one e-mail.
    mails = mail_to(stack, MANAGER_EMAIL)
    assert len([m for m in mails if employee["etternavn"] in str(m["Subject"])]) == 1


async def test_same_event_again_and_a_second_event_write_nothing_new(stack: Stack, ledger: Ledger, archive,
                                                                     rt_http: httpx.Client) -> None:
    wait_item(ledger, "onboarding", HIRE)  # the first test onboarded the hire
    before = await _trail(stack, archive, rt_http, HIRE)
    mails_before = len(mail_to(stack, MANAGER_EMAIL))

    again = send_event(stack, HIRE)  # byte-identical event
    assert again.status_code == 200 and again.json()["duplicate"] is True

    second = send_event(stack, HIRE, date.today() - timedelta(days=1))  # a new event, same hire
    assert second.status_code == 202
    run = await wait_flow_run(event_flow_run(stack, second.json()["event_id"]))
    assert run.state.is_completed()
    assert run.state.message == "already onboarded; nothing new written"

    after = await _trail(stack, archive, rt_http, HIRE)
    assert len(after["cases"]) == len(before["cases"]) == 1
    assert len(after["entries"]) == len(before["entries"]) == 1
    assert sorted(t["id"] for t in after["tickets"]) == sorted(t["id"] for t in before["tickets"])
    assert len(mail_to(stack, MANAGER_EMAIL)) == mails_before


async def test_rerunning_the_flow_itself_writes_nothing_new(stack: Stack, ledger: Ledger, archive,
                                                            rt_http: httpx.Client) -> None:
    """Even with the ledger's 'done' forgotten, every ensure_* finds its record."""
    item = wait_item(ledger, "onboarding", HIRE)
    before = await _trail(stack, archive, rt_http, HIRE)
    ledger.finish_item(item.id, ItemState.FAILED, error="forced replay in a test", error_kind="test")
    from prefect.deployments import run_deployment

    run = await run_deployment("onboarding/onboarding", parameters={"employee_id": HIRE}, timeout=90, poll_interval=0.5)
    assert run.state.is_completed(), run.state
    after = await _trail(stack, archive, rt_http, HIRE)
    assert [c.system_id for c in after["cases"]] == [c.system_id for c in before["cases"]]
    assert [e.system_id for e in after["entries"]] == [e.system_id for e in before["entries"]]
    assert sorted(t["id"] for t in after["tickets"]) == sorted(t["id"] for t in before["tickets"])
    assert ledger.get_item("onboarding", HIRE).state == ItemState.DONE


async def test_unknown_employee_fails_clearly_and_writes_nothing(stack: Stack, ledger: Ledger, archive,
                                                                 rt_http: httpx.Client) -> None:
    response = send_event(stack, "99999")
    assert response.status_code == 202
    run = await wait_flow_run(event_flow_run(stack, response.json()["event_id"]))
    assert run.state.is_failed()
    assert "99999" in run.state.message and "DFØ" in run.state.message  # what the Prefect UI shows

    item = wait_item(ledger, "onboarding", "99999")
    assert item.state == ItemState.FAILED and item.error_kind == "not_found"
    assert "99999" in item.last_error and "check the id" in item.last_error.lower()
    assert [s.name for s in item.steps] == ["fetch_employee"] and item.steps[0].state == "failed"
    assert item.refs == []
    trail = await _trail(stack, archive, rt_http, "99999")
    assert trail == {"cases": [], "entries": [], "tickets": []}


async def test_future_valid_after_is_scheduled_for_that_day(stack: Stack) -> None:
    day = date.today() + timedelta(days=9)
    response = send_event(stack, "10007", day)
    assert response.status_code == 202
    flow_run_id = event_flow_run(stack, response.json()["event_id"])
    async with get_client() as client:
        run = await client.read_flow_run(flow_run_id)
    assert run.state.is_scheduled()
    start = run.expected_start_time.astimezone(OSLO)
    assert (start.date(), start.hour, start.minute) == (day, 6, 0)
