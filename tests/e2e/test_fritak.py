"""Søke fritak end to end: Nettskjema → archive → a case handler's decision through
``resume_flow_run`` → decision letter journaled, case closed, student e-mailed."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.flow_runs import aresume_flow_run
from prefect.input.actions import aread_flow_run_input
from prefect.input.run_input import keyset_from_paused_state

from devtools.stack import Stack
from hub.ledger import ItemState, Ledger
from hub.privacy import contains_fnr
from sandbox.nettskjema.forms import FRITAK_FORM_ID
from tests.e2e.conftest import mail_to, pdf_bytes, submit, wait_flow_run

pytestmark = pytest.mark.e2e

APPLICANT = {"name": "Åsmund Bjørnstad-Ødegård", "student_number": "s351207", "fnr": "05499024837",
             "email": "asmund.bjornstad@student.oslomet.no", "courses": ["DATA1100", "MATA1000"],
             "grounds": "Jeg har tatt tilsvarende emner ved Høgskolen i Innlandet (7,5 sp hver).",
             "earlier_institution": "Høgskolen i Innlandet", "completed": "20.06.2024", "credits": "15,0"}
PDF = "application/pdf"


def _apply(stack: Stack, **changes: object) -> int:
    answers = {**APPLICANT, **changes}
    attachments = {"attachment_1": [("vitnemål.pdf", PDF, pdf_bytes("Vitnemål"))],
                   "attachment_2": [("emnebeskrivelse.pdf", PDF, pdf_bytes("Emnebeskrivelse"))]}
    return submit(stack, FRITAK_FORM_ID, answers, attachments)


async def _case_run(ledger: Ledger, sid: int) -> str:
    run = await run_deployment("fritak-intake/fritak-intake", timeout=180)
    assert run.state.is_completed(), run.state
    item = ledger.get_item("fritak", str(sid))
    assert item is not None and item.flow_run_id, "the intake started no case run"
    return item.flow_run_id


async def _turned_down(ledger: Ledger, sid: int) -> Any:
    """The intake answers an invalid application itself: a dead letter, and no case run."""
    run = await run_deployment("fritak-intake/fritak-intake", timeout=180)
    assert run.state.is_completed(), run.state
    item = ledger.get_item("fritak", str(sid))
    assert item is not None and item.flow_run_id == str(run.id), "not turned down by the intake"
    return item


async def _wait_paused(flow_run_id: str, timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    async with get_client() as client:
        while time.monotonic() < deadline:
            run = await client.read_flow_run(flow_run_id)
            if run.state.is_paused() or run.state.is_final():
                return run
            await asyncio.sleep(0.3)
    raise AssertionError("the case never paused for a decision")


async def _ledger_state(ledger: Ledger, sid: int, state: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = ledger.get_item("fritak", str(sid))
        if item is not None and item.state == state:
            return item
        await asyncio.sleep(0.3)
    return ledger.get_item("fritak", str(sid))


async def test_application_waits_for_a_decision_then_is_decided(stack: Stack, ledger: Ledger, archive) -> None:
    sid = _apply(stack)
    flow_run_id = await _case_run(ledger, sid)
    run = await _wait_paused(flow_run_id)
    assert run.state.is_paused() and run.state.name == "Suspended", run.state
    item = await _ledger_state(ledger, sid, ItemState.WAITING)
    assert item.state == ItemState.WAITING and "decision" in item.last_error
    assert run.start_time is None  # created waiting by the intake: no process ran up to the question

    # Archived before the decision: the case file, the incoming journalpost with H + V documents.
    cases = await archive.find_case_files(f"fritak:{sid}:sak")
    assert len(cases) == 1 and cases[0].public_title == "Søknad om fritak – DATA1100, MATA1000 – *****"
    entries = await archive.list_journal_entries(cases[0])
    assert [(e.journal_type, len(e.document_ids)) for e in entries] == [("I", 3)]

    # What the case handler sees: courses, grounds, links to the documents; no fødselsnummer.
    keyset = keyset_from_paused_state(run.state)
    description = await aread_flow_run_input(keyset["description"], flow_run_id=run.id)
    assert "DATA1100" in description and "Høgskolen i Innlandet" in description
    assert entries[0].document_ids[0] in description
    assert not contains_fnr(description) and APPLICANT["fnr"] not in description
    schema = await aread_flow_run_input(keyset["schema"], flow_run_id=run.id)
    assert {"outcome", "courses", "justification"} <= set(schema["properties"])

    # The same submission seen again: no second case.
    await run_deployment("fritak-intake/fritak-intake", timeout=180)
    assert ledger.get_item("fritak", str(sid)).flow_run_id == flow_run_id

    await aresume_flow_run(run.id, run_input={
        "outcome": "partial", "justification": "DATA1100 dekkes av tidligere emne; MATA1000 gjør ikke det.",
        "decided_by": "Kari Saksbehandler",
        "courses": [{"course": "DATA1100", "verdict": "approved"}, {"course": "MATA1000", "verdict": "rejected"}]})
    final = await wait_flow_run(flow_run_id, timeout=180)
    assert final.state.is_completed(), final.state

    done = ledger.get_item("fritak", str(sid))
    assert done.state == ItemState.DONE and done.data["outcome"] == "partial"
    assert done.data["within_sla"] is True and done.data["decision_days"] >= 0
    case = (await archive.find_case_files(f"fritak:{sid}:sak"))[0]
    assert case.status == "A"
    entries = await archive.list_journal_entries(case)
    assert sorted(e.journal_type for e in entries) == ["I", "U"]
    letter = await archive.fetch_document([e for e in entries if e.journal_type == "U"][0].document_ids[0])
    assert letter.startswith(b"%PDF")
    mails = [m for m in mail_to(stack, APPLICANT["email"]) if "Vedtak" in str(m["Subject"])]
    assert len(mails) == 1 and "delvis innvilget" in str(mails[0]["Subject"])
    assert any(part.get_filename() == f"vedtak-{sid}.pdf" for part in mails[0].iter_attachments())


async def test_invalid_application_is_rejected_by_mail_and_nothing_is_archived(stack: Stack, ledger: Ledger,
                                                                              archive) -> None:
    sid = _apply(stack, fnr="05499024838", email="feil.fnr@student.oslomet.no")  # wrong check digit
    item = await _turned_down(ledger, sid)
    assert item.state == ItemState.FAILED and "not valid" in item.last_error and "fødselsnummer" in item.last_error
    assert "05499024838" not in item.last_error
    assert await archive.find_case_files(f"fritak:{sid}:sak") == []
    mails = mail_to(stack, "feil.fnr@student.oslomet.no")
    assert len(mails) == 1 and "kunne ikke behandles" in str(mails[0]["Subject"])


async def test_overdue_cases_are_flagged(stack: Stack, ledger: Ledger) -> None:
    sid = _apply(stack, email="treg.sak@student.oslomet.no")
    await _wait_paused(await _case_run(ledger, sid))
    from datetime import datetime, timedelta

    from hub.settings import OSLO

    later = (datetime.now(OSLO) + timedelta(days=30)).isoformat()
    run = await run_deployment("fritak-sla/daily-sla", parameters={"now": later}, timeout=120)
    assert run.state.is_completed()
    assert ledger.get_item("fritak", str(sid)).data.get("sla_breached") is True


# ---- hostile text -------------------------------------------------------------------------

GROUNDS_FNR = "15076500565"  # synthetic, valid check digits: a student types it into the grounds


async def test_an_address_without_a_domain_is_a_readable_dead_letter(stack: Stack, ledger: Ledger, archive) -> None:
    """``kari@`` crashed the case with IndexError while building the To header."""
    sid = _apply(stack, email="kari@")
    item = await _turned_down(ledger, sid)
    assert item.state == ItemState.FAILED and item.error_kind == "invalid_input", (item.error_kind, item.last_error)
    assert (f"fritak application {sid} is not valid: the e-mail address 'kari@' is not valid: There must be "
            "something after the @-sign.") in item.last_error
    assert "nobody was told" in item.last_error and "s351207" in item.last_error
    assert await archive.find_case_files(f"fritak:{sid}:sak") == []


async def test_a_text_file_named_pdf_is_refused_and_nothing_is_archived(stack: Stack, ledger: Ledger,
                                                                        archive) -> None:
    answers = {**APPLICANT, "email": "tekstfil@student.oslomet.no"}
    sid = submit(stack, FRITAK_FORM_ID, answers, {"attachment_1": [
        ("vitnemål.pdf", PDF, "Vitnemål\nBachelor i informatikk\n".encode())]})
    item = await _turned_down(ledger, sid)
    assert item.state == ItemState.FAILED
    assert "attachment 'vitnemål.pdf' is not a PDF but plain text; only PDF is accepted" in item.last_error
    assert await archive.find_case_files(f"fritak:{sid}:sak") == []
    (mail,) = mail_to(stack, "tekstfil@student.oslomet.no")
    assert "vitnemål.pdf' is not a PDF but plain text" in mail.get_body(("plain",)).get_content()


async def test_the_case_handler_sees_hostile_text_as_text_and_no_fodselsnummer(stack: Stack,
                                                                              ledger: Ledger) -> None:
    name = "Kari <img src=x onerror=alert(1)> <b>Fet</b>"
    grounds = (f"Jeg har tatt emnene før. Fødselsnummeret mitt er {GROUNDS_FNR[:6]} {GROUNDS_FNR[6:]}.\n"
               "Se [her](javascript:alert(1)) og https://evil.example/x")
    sid = _apply(stack, name=name, grounds=grounds, email="fet.kari@student.oslomet.no")
    run = await _wait_paused(await _case_run(ledger, sid))
    assert run.state.is_paused(), run.state
    description = await _description(run)
    assert not re.search(r"(?<!\\)[<>\[\]]", description.split("### Archived documents")[0]), description
    assert "\\<img src=x onerror=alert(1)\\> \\<b\\>Fet\\</b\\>" in description
    assert GROUNDS_FNR not in description and GROUNDS_FNR[6:] not in description and not contains_fnr(description)
    assert "Fødselsnummeret mitt er \\*\\*\\*\\*\\*\\*\\*\\*\\*\\*\\*." in description
    assert "https\\://evil.example/x" in description  # shown, not a link

    # And in the Prefect UI's resume form, as a case handler sees it (headless Chromium).
    shown, tags = await _resume_form(stack, str(run.id))
    assert f"Søknad om fritak — {name} (s351207)" in shown and "Fødselsnummeret mitt er ***********." in shown
    assert "Se [her](javascript:alert(1)) og https://evil.example/x" in shown
    assert tags == {"img[src='x']": 0, "h2 b": 0, "a[href^='javascript']": 0, "a[href*='evil']": 0}


async def _description(run: Any, timeout: float = 30) -> str:
    """The description the case handler is shown; Prefect may store it a moment after the run
    is suspended (a fresh-clone run once read None right after the pause)."""
    keyset = keyset_from_paused_state(run.state)
    deadline = time.monotonic() + timeout
    while (description := await aread_flow_run_input(keyset["description"], flow_run_id=run.id)) is None:
        assert time.monotonic() < deadline, "the suspended case has no description for the case handler"
        await asyncio.sleep(0.3)
    return str(description)


async def _resume_form(stack: Stack, flow_run_id: str) -> tuple[str, dict[str, int]]:
    """The text of the Resume dialog in the Prefect UI, and how many elements the hostile
    text would have made if it were rendered."""
    import shutil

    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, headless=True,
                                          args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await page.goto(f"{stack.prefect_ui}/runs/flow-run/{flow_run_id}")
            await page.get_by_role("button", name="Resume").first.click(timeout=60_000)
            dialog = page.locator(".p-modal__body").first
            await dialog.get_by_text("Grounds").first.wait_for(timeout=30_000)
            counts = {selector: await dialog.locator(selector).count()
                      for selector in ("img[src='x']", "h2 b", "a[href^='javascript']", "a[href*='evil']")}
            return await dialog.inner_text(), counts
        finally:
            await browser.close()
