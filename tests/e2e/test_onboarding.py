"""Onboarding end to end on the real stack: one signed HR event → one complete trail.

Employee 10006 (Mathias Brænden) is seeded in the DFØ sandbox and starts in 6 days; his
manager is the leader of unit 10000110.
"""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey
from prefect.deployments import run_deployment

from devtools.stack import Stack
from hub.ledger import ItemState, Ledger
from hub.ports.hr import NationalIdStatus
from hub.settings import OSLO, get_settings
from hub.wiring import build_hr
from sandbox.common import control_headers
from sandbox.nettskjema.forms import LAPTOP_FORM_ID
from tests.e2e.conftest import (
    event_flow_run,
    mail_to,
    rt_laptops_held_by,
    rt_tickets,
    send_event,
    submit,
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

    again = send_event(stack, HIRE)  # the same event in a new message: a repeat, for the router only
    assert again.status_code == 202 and again.json()["repeats"]

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


# ---- identities as DFØ really sends them ---------------------------------------------------------

PASSPORT = "FP6620931"  # Ana Pereira's passport (in annenId); her fnr is DFØ's placeholder
MALFORMED_FNR = "31129947"  # 8 digits


def _add_hire(stack: Stack, **fields: object) -> str:
    """What HR does in DFØ: register a hire in unit 10000110 (manager oysode), starting in 5 days."""
    body = {"organisasjonId": 10000110, "startdato": (date.today() + timedelta(days=5)).isoformat(), **fields}
    response = httpx.post(f"{stack.dfo_url}/_sandbox/ansatte", headers=control_headers(stack.sandbox_token),
                          json=body, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["ansatt"][0]["id"])


async def test_a_foreign_hire_with_a_placeholder_fnr_and_a_passport_is_onboarded_exactly_once(
        stack: Stack, ledger: Ledger, archive, rt_http: httpx.Client) -> None:
    hire = _add_hire(stack, fornavn="Ana", etternavn="Pereira", brukerident="anaper", epost="anaper@oslomet.no",
                     fnr="00000000000", tittel="1011 Førsteamanuensis",
                     annenId=[{"idType": "02", "idBeskrivelse": "Passnummer", "idNr": PASSPORT,
                               "idStartdato": "2022-01-10", "idSluttdato": "2032-01-09", "idLand": "PT"}])
    first = send_event(stack, hire)
    assert first.status_code == 202, first.text
    run = await wait_flow_run(event_flow_run(stack, first.json()["event_id"]))
    assert run.state.is_completed(), run.state

    item = wait_item(ledger, "onboarding", hire)
    assert item.state == ItemState.DONE, item.last_error
    assert item.data["identified_by"] == "passport"
    assert "another identifier (passport, PT)" in item.data["identity_note"]
    async with get_client() as client:
        artifact = await client.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[f"onboarding-{hire}"])))
    assert artifact and "another identifier (passport" in str(artifact[0].data)

    # HR's second event for the same hire: nothing new.
    second = send_event(stack, hire, date.today() - timedelta(days=1))
    assert second.status_code == 202
    again = await wait_flow_run(event_flow_run(stack, second.json()["event_id"]))
    assert again.state.message == "already onboarded; nothing new written"

    trail = await _trail(stack, archive, rt_http, hire)
    assert len(trail["cases"]) == 1 and len(trail["entries"]) == 1 and len(trail["tickets"]) == 2
    assert all("1011" not in t["Subject"] and PASSPORT not in t["Subject"] for t in trail["tickets"])
    assert PASSPORT not in (trail["cases"][0].public_title or "") + trail["cases"][0].title
    mails = [m for m in mail_to(stack, MANAGER_EMAIL) if "Pereira" in str(m["Subject"])]
    assert len(mails) == 1 and PASSPORT not in mails[0].as_string()
    assert "starts as Førsteamanuensis" in mails[0].get_body(("plain",)).get_content()


async def test_a_padded_dfo_id_an_unpadded_event_and_the_catch_up_give_one_onboarding(
        stack: Stack, ledger: Ledger, archive, rt_http: httpx.Client) -> None:
    """DFØ knows the hire as 05001240; the event says 5001240; then the daily catch-up re-reads
    HR. One work item, one trail, one e-mail to the manager."""
    _add_hire(stack, id="05001240", fornavn="Pål", etternavn="Nullstad", brukerident="palnul",
              epost="palnul@oslomet.no")
    response = send_event(stack, "5001240")
    assert response.status_code == 202
    run = await wait_flow_run(event_flow_run(stack, response.json()["event_id"]))
    assert run.state.is_completed(), run.state
    assert wait_item(ledger, "onboarding", "5001240").state == ItemState.DONE

    catchup = await run_deployment("onboarding-catchup/daily-catchup", timeout=180, poll_interval=0.5)
    assert catchup.state.is_completed(), catchup.state
    assert not [e for e in ledger.events(limit=2000) if e.source == "catchup" and e.subject_id.endswith("5001240")]
    assert ledger.get_item("onboarding", "05001240") is None  # no second item under the padded id
    trail = await _trail(stack, archive, rt_http, "5001240")
    assert len(trail["cases"]) == 1 and len(trail["tickets"]) == 2
    assert len([m for m in mail_to(stack, MANAGER_EMAIL) if "Nullstad" in str(m["Subject"])]) == 1


async def test_a_malformed_fnr_keeps_the_person_in_hr_lists_and_their_laptop_order_goes_through(
        stack: Stack, ledger: Ledger, rt_http: httpx.Client) -> None:
    hire = _add_hire(stack, fornavn="Mona", etternavn="Kortnummer", brukerident="monkor", epost="monkor@oslomet.no",
                     fnr=MALFORMED_FNR, startdato=(date.today() - timedelta(days=100)).isoformat())
    hr = build_hr(get_settings())
    try:
        listed = {e.id: e async for e in hr.list_employees()}
        found = await hr.find_by_feide_id("monkor@oslomet.no")
    finally:
        await hr.aclose()
    assert hire in listed and listed[hire].national_id_status == NationalIdStatus.MALFORMED
    assert found is not None and found.id == hire

    sid = submit(stack, LAPTOP_FORM_ID, {
        "feide": "monkor@oslomet.no", "model": "latitude-7450", "location": "pilestredet", "cost_centre": "2110",
        "justification": "Ny maskin til forskningsprosjektet.", "needed_by": "15.12.2026"})
    run = await run_deployment("laptop-orders/laptop-orders", timeout=180, poll_interval=0.5)
    assert run.state.is_completed(), run.state
    item = ledger.get_item("laptop", str(sid))
    assert item is not None and item.state == ItemState.WAITING, item.last_error
    (ticket,) = rt_tickets(rt_http, f"'CF.{{ExternalRef}}' = 'laptop-order:{sid}:order'")
    assert "Mona Kortnummer" in ticket["Subject"]
