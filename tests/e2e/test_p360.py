"""OsloMet's own systems: the services run unchanged with HUB_ARCHIVE=p360 and HUB_TICKETING=topdesk.

One stack of its own for this module (Public 360 for the archive, TOPdesk for tickets and
laptops, no Request Tracker; see :mod:`tests.e2e.alt_stack`). Every service with an archive
trail — onboarding, fritak, laptop delivery — leaves it in Public 360 exactly once: the same
event seen again, and a write whose answer 360 lost (the sandbox carries out CreateCase or
CreateDocument, then drops the answer), give no second case or document. Public titles
carry neither names nor fødselsnummer. Onboarding's tickets and laptop land in TOPdesk
(portability), IT hands laptops over in TOPdesk, and reconciliation finds drift planted
in Public 360.

scripts/test.sh runs this file in a pytest process of its own (beside the shared stack's).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from prefect.deployments import run_deployment

from devtools.stack import Stack
from hub.ledger import ItemState, Ledger, WorkItem
from sandbox.dfo.announce import announce
from sandbox.dfo.seed import seed
from sandbox.nettskjema.forms import LAPTOP_FORM_ID
from tests.e2e.alt_stack import (
    CREATE_CASE,
    CREATE_DOCUMENT,
    arm,
    artifact,
    cases,
    clear_faults,
    documents,
    injected,
    plant,
    sif,
    start_alt_stack,
    topdesk,
)
from tests.e2e.conftest import mail_to, submit, wait_item

pytestmark = pytest.mark.e2e

EMPLOYEE = "10006"       # Mats Brå (matbra@oslomet.no), hired: onboarding
REQUESTER = "10009"      # Nora Strøm (norstr@oslomet.no), orders a laptop: no personnel file yet


@pytest.fixture(scope="module")
def alt_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with start_alt_stack(tmp_path_factory) as stack:
        yield stack


@pytest.fixture(scope="module")
def ledger(alt_stack: Stack) -> Ledger:
    from hub.wiring import _ledger

    return _ledger(f"sqlite:///{alt_stack.home / 'ledger.db'}", False)


def _secrets(employee_id: str) -> tuple[str, ...]:
    employee = seed(date.today())["ansatte"][employee_id]
    return employee["fornavn"], employee["etternavn"], str(employee["fnr"])


def _public_titles_hide(titles: list[str], secrets: tuple[str, ...]) -> None:
    for public in titles:
        assert "*****" in public, public
        for secret in secrets:
            assert secret not in public, public


async def _run(name: str) -> None:
    run = await run_deployment(name, timeout=180, poll_interval=0.5)
    assert run.state.is_completed(), run.state


# --- onboarding ------------------------------------------------------------------------------

@dataclass
class Onboarded:
    item: WorkItem
    lost: int  # answers 360 lost after carrying out the write


@pytest.fixture(scope="module")
def onboarded(alt_stack: Stack, ledger: Ledger) -> Onboarded:
    """One hire, as HR sends it: the answers to 360's CreateCase and CreateDocument are lost once
    each after 360 stored the record; then HR sends the same hire again."""
    before = injected(alt_stack)
    arm(alt_stack, CREATE_CASE, lost_as="502")
    arm(alt_stack, CREATE_DOCUMENT, lost_as="reset")
    hmac, intake = alt_stack.secrets["hmac"], f"{alt_stack.intake_url}/events/hr"
    try:
        first = announce(intake, hmac, EMPLOYEE, date.today())
        assert first.status_code == 202, first.text
        item = wait_item(ledger, "onboarding", EMPLOYEE, timeout=180)
        assert item.state == ItemState.DONE, item.last_error
    finally:
        clear_faults(alt_stack)
    lost = injected(alt_stack) - before
    again = announce(intake, hmac, EMPLOYEE, date.today())  # HR sends the same hire again
    assert again.status_code in (200, 202), again.text
    time.sleep(3)
    item = wait_item(ledger, "onboarding", EMPLOYEE, timeout=120)
    assert item.state == ItemState.DONE, item.last_error
    return Onboarded(item, lost)


def test_onboarding_archives_once_in_public_360(alt_stack: Stack, onboarded: Onboarded) -> None:
    assert onboarded.lost == 2, "360 created the case and the letter, and both answers were lost"
    refs = {r.name: r for r in onboarded.item.refs}
    assert {"case_file", "welcome_letter"} <= set(refs)

    employee = seed(date.today())["ansatte"][EMPLOYEE]
    name = f"{employee['fornavn']} {employee['etternavn']}"
    found = cases(alt_stack, refs["case_file"].external_key)
    assert len(found) == 1, found
    [case] = found
    assert str(case["Recno"]) == refs["case_file"].ref
    assert name in case["UnofficialTitle"] and case["AccessCodeCode"] == "13"
    docs = documents(alt_stack, case["CaseNumber"])
    letters = [d for d in docs if {"Name": "CF_hubReference", "Value": refs["welcome_letter"].external_key}
               in d["CustomFields"]]
    assert len(letters) == 1 and len(docs) == 1, docs
    [letter] = letters
    assert str(letter["Recno"]) == refs["welcome_letter"].ref and letter["Type"]["Code"] == "U"
    assert name in letter["Title"] and [f["RelationTypeCode"] for f in letter["Files"]] == ["H"]
    assert letter["Contacts"][0]["Role"] == "Mottaker" and letter["Contacts"][0]["IsUnofficial"]
    _public_titles_hide([case["Title"], letter["OfficialTitle"]], _secrets(EMPLOYEE))


def test_onboarding_runs_unchanged_on_topdesk(alt_stack: Stack, onboarded: Onboarded) -> None:
    """Portability: the same hire's tickets and laptop are in TOPdesk (there is no RT here)."""
    refs = {r.name: r for r in onboarded.item.refs}
    assert {"ticket_account", "ticket_laptop", "laptop"} <= set(refs)
    with topdesk(alt_stack) as td:
        for name, subject in (("ticket_account", "Create user account"), ("ticket_laptop", "Deliver laptop")):
            incident = td.get(f"/incidents/id/{refs[name].ref}").json()
            assert incident["briefDescription"].startswith(subject)
            assert incident["optionalFields1"]["text1"] == refs[name].external_key
            assert incident["operatorGroup"]["name"] in ("User accounts", "Equipment")
        found = td.get("/incidents", params={"query": f"optionalFields1.text1=='onboarding:{EMPLOYEE}:account'"})
        assert found.status_code == 200 and len(found.json()) == 1  # exactly one, also after the repeat
        assignments = td.get(f"/assetmgmt/assets/{refs['laptop'].ref}/assignments").json()
        person_ids = [p["person"]["id"] for p in assignments.get("persons", [])]
        assert len(person_ids) == 1
        holder = td.get(f"/persons/id/{person_ids[0]}").json()
        assert holder.get("email") == "matbra@oslomet.no"


# --- fritak ----------------------------------------------------------------------------------

async def test_fritak_application_and_decision_letter_land_in_one_public_360_case(alt_stack: Stack,
                                                                                 ledger: Ledger) -> None:
    """Fritak unchanged on Public 360: the application and its attachments archived once (the
    intake seeing the submission again starts nothing new; the answers to the case's and the
    application's creation lost), the decision letter in the same case (its answer lost too),
    the case closed; public titles without the applicant's name or fødselsnummer."""
    from prefect.flow_runs import aresume_flow_run

    from hub.settings import get_settings
    from hub.wiring import build_archive
    from tests.e2e.conftest import wait_flow_run
    from tests.e2e.test_fritak import APPLICANT, _apply, _case_run, _wait_paused

    before = injected(alt_stack)
    arm(alt_stack, CREATE_CASE, lost_as="reset")
    arm(alt_stack, CREATE_DOCUMENT, lost_as="502")
    try:
        sid = _apply(alt_stack, email="p360.fritak@student.oslomet.no")
        flow_run_id = await _case_run(ledger, sid)
        run = await _wait_paused(flow_run_id)
        assert run.state.is_paused(), run.state
        assert injected(alt_stack) - before == 2, "the case and the application were created, the answers lost"
        await run_deployment("fritak-intake/fritak-intake", timeout=180)  # the same submission seen again
        assert ledger.get_item("fritak", str(sid)).flow_run_id == flow_run_id

        arm(alt_stack, CREATE_DOCUMENT, lost_as="reset")
        await aresume_flow_run(run.id, run_input={
            "outcome": "approve", "justification": "Begge emnene dekkes av tidligere emner.",
            "decided_by": "Kari Saksbehandler",
            "courses": [{"course": "DATA1100", "verdict": "approved"}, {"course": "MATA1000", "verdict": "approved"}]})
        final = await wait_flow_run(flow_run_id, timeout=180)
        assert final.state.is_completed(), final.state
        assert injected(alt_stack) - before == 3, "the decision letter was created, the answer lost"
    finally:
        clear_faults(alt_stack)

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

    found = cases(alt_stack, f"fritak:{sid}:sak")
    assert len(found) == 1, found
    docs = documents(alt_stack, found[0]["CaseNumber"])
    assert sorted(d["Type"]["Code"] for d in docs) == ["I", "U"], docs  # one application, one letter
    for public in (found[0]["Title"], *(d["OfficialTitle"] for d in docs)):
        for secret in ("Åsmund", "Bjørnstad", APPLICANT["fnr"]):
            assert secret not in public, public


# --- laptop ----------------------------------------------------------------------------------

def _incidents(td: Any, key: str) -> list[dict[str, Any]]:
    response = td.get("/incidents", params={"query": f"optionalFields1.text1=='{key}'"})
    assert response.status_code in (200, 204), response.text
    return list(response.json()) if response.status_code == 200 else []


def _assets(td: Any, key: str) -> list[dict[str, Any]]:
    response = td.get("/assetmgmt/assets", params={"templateName": "Laptop", "$filter": f"hub-reference eq '{key}'",
                                                   "fields": "name,lifecycle-status,hub-reference"})
    response.raise_for_status()
    return [a for a in response.json()["dataSet"] if a.get("hub-reference") == key]


async def test_laptop_delivery_receipt_is_journaled_once_in_public_360(alt_stack: Stack, ledger: Ledger) -> None:
    """Order a laptop on the alternative stack: the order is an incident and a reserved asset in
    TOPdesk; IT hands the laptop over in TOPdesk; the delivery receipt is journaled once in the
    employee's personnel file in Public 360 — created for it, the answers to both creations
    lost — however often the order and the delivery are looked at again."""
    employee = seed(date.today())["ansatte"][REQUESTER]
    email = employee["epost"]
    sid = submit(alt_stack, LAPTOP_FORM_ID, {
        "feide": email, "model": "macbook-air-13", "location": "pilestredet", "cost_centre": "2110",
        "justification": "Trenger en lettere maskin til undervisning på Kjeller og i Pilestredet.",
        "needed_by": "15.12.2026"})
    await _run("laptop-orders/laptop-orders")
    item = ledger.get_item("laptop", str(sid))
    assert item.state == ItemState.WAITING and item.data["stage"] == "awaiting_delivery", item.last_error
    with topdesk(alt_stack) as td:
        [incident] = _incidents(td, f"laptop-order:{sid}:order")
        assert "Apple MacBook Air 13 M3" in incident["briefDescription"]
        [asset] = _assets(td, f"laptop-order:{sid}:asset")
        assert asset["lifecycle-status"] == "Allocated"
        assert td.get(f"/assetmgmt/assets/{asset['id']}/assignments").json().get("persons", []) == []

        await _run("laptop-orders/laptop-orders")  # the same submission seen again: nothing new
        assert len(_incidents(td, f"laptop-order:{sid}:order")) == 1
        assert len(_assets(td, f"laptop-order:{sid}:asset")) == 1
        await _run("laptop-delivery/laptop-delivery")  # not handed over yet: still waiting
        assert ledger.get_item("laptop", str(sid)).state == ItemState.WAITING
        assert cases(alt_stack, f"dfo:ansatt:{REQUESTER}") == []

        # IT hands it over in TOPdesk: the employee (the incident's caller) is linked to the
        # asset, and the incident is closed.
        caller = incident["caller"]["id"]
        td.put(f"/assetmgmt/assets/{asset['id']}/assignments",
               json={"linkType": "person", "linkToId": caller}).raise_for_status()
        td.put(f"/incidents/id/{incident['id']}", json={"processingStatus": {"name": "Closed"}}).raise_for_status()

    before = injected(alt_stack)
    arm(alt_stack, CREATE_CASE, lost_as="reset")
    arm(alt_stack, CREATE_DOCUMENT, lost_as="502")
    try:
        await _run("laptop-delivery/laptop-delivery")
    finally:
        clear_faults(alt_stack)
    done = ledger.get_item("laptop", str(sid))
    assert done.state == ItemState.DONE, done.last_error
    assert injected(alt_stack) - before == 2, "the personnel file and the receipt were created, the answers lost"
    for name in ("laptop-delivery/laptop-delivery", "laptop-orders/laptop-orders"):  # looked at again
        await _run(name)

    refs = {r.name: r for r in ledger.get_item("laptop", str(sid)).refs}
    found = cases(alt_stack, f"dfo:ansatt:{REQUESTER}")
    assert len(found) == 1, found  # the personnel file, created because Nora had none
    [case] = found
    assert str(case["Recno"]) == refs["case_file"].ref
    docs = documents(alt_stack, case["CaseNumber"])
    assert len(docs) == 1, docs
    [receipt] = docs
    assert {"Name": "CF_hubReference", "Value": f"laptop-order:{sid}:receipt"} in receipt["CustomFields"]
    assert str(receipt["Recno"]) == refs["receipt"].ref and receipt["Type"]["Code"] == "U"
    assert "Utleveringskvittering" in receipt["Title"] and employee["etternavn"] in receipt["Title"]
    assert [f["RelationTypeCode"] for f in receipt["Files"]] == ["H"]
    _public_titles_hide([case["Title"], receipt["OfficialTitle"]], _secrets(REQUESTER))
    assert len([m for m in mail_to(alt_stack, email) if "Laptop delivered" in str(m["Subject"])]) == 1


# --- reconciliation (last: it plants drift) -------------------------------------------------

async def test_reconciliation_finds_drift_planted_in_public_360(alt_stack: Stack, ledger: Ledger,
                                                                onboarded: Onboarded) -> None:
    clean = await run_deployment("reconciliation/nightly", timeout=180, poll_interval=0.5)
    assert clean.state.is_completed(), clean.state.message

    # Drift 1: an archivist deletes the welcome letter in 360. Drift 2: a second personnel file
    # under the same external id (360's API refuses that; a migration did it).
    refs = {r.name: r for r in onboarded.item.refs}
    plant(alt_stack, "DELETE", "documents", int(refs["welcome_letter"].ref))
    copy = sif(alt_stack, "CaseService", "CreateCase", Title="Personalmappe – kopi", UnofficialTitle="Personalmappe",
               ExternalId={"Id": "migrering:kopi", "Type": "Migrering"})
    plant(alt_stack, "PATCH", "cases", int(copy["Recno"]),
          ExternalId={"Id": refs["case_file"].external_key, "Type": "OsloMet integrasjonshub"})
    assert len(cases(alt_stack, refs["case_file"].external_key)) == 2

    run = await run_deployment("reconciliation/nightly", timeout=180, poll_interval=0.5)
    assert run.state.is_failed() and "drift found" in run.state.message, run.state
    report = await artifact("reconciliation")
    assert (f"**missing** | onboarding | {EMPLOYEE} | archive journal entry "
            f"{refs['welcome_letter'].external_key}") in report, report
    assert f"**duplicate** | onboarding | {EMPLOYEE} | archive case file {refs['case_file'].external_key}" in report
