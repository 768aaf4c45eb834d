"""Søke fritak, through the real ``fritak-case`` flow, with forms, archive and mail in memory.

Suspending needs a flow run of a deployment (Prefect refuses to suspend any other), so the
case runs as a worker would run it, in this process: a deployment of ``fritak-case`` is
registered with the temporary server, a flow run created from it, and that run executed by
Prefect's flow engine here. It suspends; the test resumes it with a case handler's decision
(as the Prefect UI does) and executes it again, as the worker would after the resume.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from prefect import get_client
from prefect.client.schemas.objects import FlowRun, State
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow
from prefect.flow_runs import aresume_flow_run
from prefect.input import keyset_from_paused_state
from prefect.input.actions import aread_flow_run_input

from flows.fritak import fritak_case
from hub.ledger import ItemState
from tests.flows.conftest import Fakes
from tests.mappings.test_fritak import FNR, real_pdf, submission

SID = 3000042  # the submission tests.mappings.test_fritak builds
CASE_KEY = f"fritak:{SID}:sak"


def _apply(hub: Fakes, **answers: Any) -> None:
    hub.forms.submit(submission(**answers), attachments={71: real_pdf()}, pdf=real_pdf("Søknad om fritak"))


async def _case_run() -> FlowRun:
    """A flow run of the fritak-case deployment, as fritak-intake starts one per application."""
    deployment = await fritak_case.ato_deployment(name="fritak-case")
    deployment_id = await deployment.apply()
    async with get_client() as client:
        return await client.create_flow_run_from_deployment(deployment_id, parameters={"submission_id": SID})


async def _execute(flow_run: FlowRun) -> State:
    """Run (or go on with) the flow run here, as a worker's process would."""
    async with get_client() as client:
        current = await client.read_flow_run(flow_run.id)
    try:
        await run_flow(fritak_case, flow_run=current, parameters=current.parameters,  # type: ignore[misc]
                       return_type="state")
    except Pause:
        pass  # suspended: a worker's process exits here
    async with get_client() as client:
        state = (await client.read_flow_run(flow_run.id)).state
    assert state is not None
    return state


async def test_an_application_is_archived_the_case_waits_for_a_decision_then_is_decided(hub: Fakes) -> None:
    _apply(hub)
    flow_run = await _case_run()

    suspended = await _execute(flow_run)

    assert suspended.is_paused() and suspended.name == "Suspended", suspended
    item = hub.ledger.get_item("fritak", str(SID))
    assert item is not None and item.state == ItemState.WAITING and "decision" in (item.last_error or "")
    (stored,) = hub.archive.case_files.values()
    assert stored.case_file.external_id == CASE_KEY
    assert stored.case_file.public_title == "Søknad om fritak – DATA1100, MATA1000 – *****"
    (application,) = stored.entries
    assert application.entry.journal_type == "I"
    assert [d.role for d in application.new.documents] == ["H", "V"]
    assert hub.mail.sent == []

    keyset = keyset_from_paused_state(suspended)
    description = await aread_flow_run_input(keyset["description"], flow_run_id=flow_run.id)
    assert "DATA1100" in description and "Høgskolen i Innlandet" in description and FNR not in description

    await aresume_flow_run(flow_run.id, run_input={
        "outcome": "partial", "justification": "DATA1100 dekkes av tidligere emne; MATA1000 gjør ikke det.",
        "decided_by": "Kari Saksbehandler",
        "courses": [{"course": "DATA1100", "verdict": "approved"}, {"course": "MATA1000", "verdict": "rejected"}]})
    final = await _execute(flow_run)

    assert final.is_completed(), final
    done = hub.ledger.get_item("fritak", str(SID))
    assert done is not None and done.state == ItemState.DONE and done.data["outcome"] == "partial"
    assert done.data["decision_days"] >= 0
    assert done.data["within_sla"] is (done.data["decision_days"] <= 21)  # HUB_FRITAK__SLA_DAYS's default
    (stored,) = hub.archive.case_files.values()
    assert stored.case_file.status == "A"  # closed (avsluttet)
    assert sorted(e.entry.journal_type for e in stored.entries) == ["I", "U"]
    (mail,) = hub.mail.sent
    assert mail.to == ("asmund.bjornstad@student.oslomet.no",) and "delvis innvilget" in mail.subject
    assert [a.filename for a in mail.attachments] == [f"vedtak-{SID}.pdf"]
    assert FNR not in mail.body


async def test_an_invalid_application_is_answered_by_mail_and_nothing_is_archived(hub: Fakes) -> None:
    _apply(hub, fnr="05499024838", email="feil.fnr@student.oslomet.no")  # wrong check digit

    state = await fritak_case(submission_id=SID, return_state=True)

    assert state.is_failed()
    item = hub.ledger.get_item("fritak", str(SID))
    assert item is not None and item.state == ItemState.FAILED and item.error_kind == "invalid_input"
    assert "fødselsnummer" in (item.last_error or "") and "05499024838" not in (item.last_error or "")
    assert hub.archive.case_files == {}
    (mail,) = hub.mail.sent
    assert mail.to == ("feil.fnr@student.oslomet.no",) and "kunne ikke behandles" in mail.subject


async def test_the_intake_archives_a_valid_application_and_its_case_run_waits_for_the_decision_without_running(
        hub: Fakes) -> None:
    """The intake takes a valid application up to the decision itself: archived, and its case
    run created already suspended with the case handler's form. No process ran it; resumed, it
    runs once, finds what the intake archived, and finishes the case."""
    from flows.fritak import fritak_intake

    _apply(hub)
    await (await fritak_case.ato_deployment(name="fritak-case")).apply()

    counts = await fritak_intake()

    assert counts == {"new": 1, "turned_down": 0, "started": 1, "failed": 0, "unasked": 0, "left": 0}
    item = hub.ledger.get_item("fritak", str(SID))
    assert item is not None and item.state == ItemState.WAITING and "decision" in (item.last_error or "")
    assert item.data["decision_runs"] == [item.flow_run_id]
    assert [(s.name, s.state) for s in item.steps] == [("archive_application", "done")]  # the read is no step
    (stored,) = hub.archive.case_files.values()
    assert stored.case_file.external_id == CASE_KEY and [e.entry.journal_type for e in stored.entries] == ["I"]
    async with get_client() as client:
        case_run = await client.read_flow_run(UUID(item.flow_run_id))
    assert case_run.parameters == {"submission_id": SID} and case_run.deployment_id is not None
    assert case_run.state is not None and case_run.state.name == "Suspended" and case_run.start_time is None
    keyset = keyset_from_paused_state(case_run.state)
    description = await aread_flow_run_input(keyset["description"], flow_run_id=case_run.id)
    assert "DATA1100" in description and "Høgskolen i Innlandet" in description and FNR not in description
    schema = await aread_flow_run_input(keyset["schema"], flow_run_id=case_run.id)
    assert {"outcome", "courses", "justification"} <= set(schema["properties"])
    assert hub.mail.sent == []

    await aresume_flow_run(case_run.id, run_input={
        "outcome": "approve", "justification": "Tilsvarende emner er bestått.", "decided_by": "Kari Saksbehandler",
        "courses": [{"course": "DATA1100", "verdict": "approved"}, {"course": "MATA1000", "verdict": "approved"}]})
    final = await _execute(case_run)

    assert final.is_completed(), final
    done = hub.ledger.get_item("fritak", str(SID))
    assert done is not None and done.state == ItemState.DONE and done.data["outcome"] == "approve"
    (stored,) = hub.archive.case_files.values()
    assert stored.case_file.status == "A" and sorted(e.entry.journal_type for e in stored.entries) == ["I", "U"]
    (mail,) = hub.mail.sent
    assert mail.to == ("asmund.bjornstad@student.oslomet.no",) and FNR not in mail.body
    assert await fritak_intake() == {"new": 0, "turned_down": 0, "started": 0, "failed": 0, "unasked": 0, "left": 0}


async def test_the_intake_turns_down_an_invalid_application_itself_and_archives_only_the_valid_one(
        hub: Fakes) -> None:
    """An invalid application costs no case run (a process, a flow run and its task runs):
    the intake answers it and dead-letters it; a valid one is archived and gets its case run."""
    from flows.fritak import fritak_intake

    valid = submission()
    invalid = submission(fnr="05499024838", email="feil.fnr@student.oslomet.no")  # wrong check digit
    invalid = invalid.model_copy(update={"meta": invalid.meta.model_copy(update={"submission_id": SID + 1})})
    hub.forms.submit(valid, attachments={71: real_pdf()}, pdf=real_pdf("Søknad om fritak"))
    hub.forms.submit(invalid)
    await (await fritak_case.ato_deployment(name="fritak-case")).apply()

    counts = await fritak_intake()

    assert counts == {"new": 2, "turned_down": 1, "started": 1, "failed": 0, "unasked": 0, "left": 0}
    turned_down = hub.ledger.get_item("fritak", str(SID + 1))
    assert turned_down is not None and turned_down.state == ItemState.FAILED
    assert turned_down.error_kind == "invalid_input" and "fødselsnummer" in (turned_down.last_error or "")
    assert "05499024838" not in (turned_down.last_error or "")
    step = hub.ledger.step(turned_down.id, "read_application")
    assert step is not None and step.state == "failed"
    (mail,) = hub.mail.sent
    assert mail.to == ("feil.fnr@student.oslomet.no",) and "kunne ikke behandles" in mail.subject
    accepted = hub.ledger.get_item("fritak", str(SID))
    assert accepted is not None and accepted.state == ItemState.WAITING and accepted.flow_run_id
    async with get_client() as client:  # the server is shared by this module's tests: look at this run's
        runs = await client.read_flow_runs()
    assert not [r for r in runs if r.parameters.get("submission_id") == SID + 1]
    assert [c.case_file.external_id for c in hub.archive.case_files.values()] == [CASE_KEY]  # the valid one only


async def test_an_application_the_intake_cannot_read_is_read_again_before_it_is_archived(hub: Fakes) -> None:
    """The form service failing is no verdict on the application: it is read again when it is
    archived. Still failing, it is a dead letter with the form service's reason, nothing
    archived and nobody told; a transient failure is tried again later by the hub."""
    from flows.fritak import fritak_intake
    from hub.errors import TransientError

    _apply(hub)
    second = submission()
    second = second.model_copy(update={"meta": second.meta.model_copy(update={"submission_id": SID + 2})})
    hub.forms.submit(second, attachments={71: real_pdf()}, pdf=real_pdf("Søknad om fritak"))
    hub.forms.attachments.clear()  # the attachment is gone (404 from the form service)
    hub.forms.broken[SID + 2] = TransientError("the form service answered 503", system="forms", status=503)
    await (await fritak_case.ato_deployment(name="fritak-case")).apply()

    counts = await fritak_intake()

    assert counts == {"new": 2, "turned_down": 0, "started": 0, "failed": 2, "unasked": 0, "left": 0}
    gone = hub.ledger.get_item("fritak", str(SID))
    assert gone is not None and gone.state == ItemState.FAILED and gone.error_kind == "not_found"
    assert "attachment 71" in (gone.last_error or "")
    busy = hub.ledger.get_item("fritak", str(SID + 2))
    assert busy is not None and busy.state == ItemState.FAILED and busy.error_kind == "transient"
    assert hub.ledger.step(busy.id, "read_application").state == "failed"  # type: ignore[union-attr]
    assert hub.archive.case_files == {} and hub.mail.sent == []


async def test_a_submission_the_form_service_calls_unreadable_is_turned_down_by_the_intake(hub: Fakes) -> None:
    """The connector's own verdict (a submission that is not a valid answer set) is as final as
    the application's problems: the intake dead-letters it; no case run only to fail again."""
    from flows.fritak import fritak_intake
    from hub.errors import InvalidInput

    _apply(hub)
    hub.forms.broken[SID] = InvalidInput("submissionMetadata.createdDate is not a date", system="forms")
    await (await fritak_case.ato_deployment(name="fritak-case")).apply()

    counts = await fritak_intake()

    assert counts == {"new": 1, "turned_down": 1, "started": 0, "failed": 0, "unasked": 0, "left": 0}
    item = hub.ledger.get_item("fritak", str(SID))
    assert item is not None and item.state == ItemState.FAILED and item.error_kind == "invalid_input"
    assert "createdDate" in (item.last_error or "")
    assert hub.mail.sent == []  # nobody to tell: the submission could not be read


async def test_the_intake_reads_a_backlog_a_page_at_a_time_and_starts_every_case_once(
        hub: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    """A semester's backlog is never held whole: the intake reads it a page at a time (here
    three), turns down the invalid and archives and asks for each valid application on each page,
    and goes on to the last page in the same run. A second run starts nothing again."""
    import hub.flowkit as flowkit
    from flows.fritak import fritak_intake

    monkeypatch.setattr(flowkit, "PAGE", 3)
    first = SID + 100
    for n in range(7):
        answers = {"fnr": "05499024838", "email": "feil.fnr@student.oslomet.no"} if n in (1, 5) else {}
        application = submission(**answers)
        application = application.model_copy(update={"meta": application.meta.model_copy(
            update={"submission_id": first + n})})
        hub.forms.submit(application, attachments={71: real_pdf()}, pdf=real_pdf("Søknad om fritak"))
    await (await fritak_case.ato_deployment(name="fritak-case")).apply()

    assert await fritak_intake() == {"new": 7, "turned_down": 2, "started": 5, "failed": 0, "unasked": 0, "left": 0}
    items = [hub.ledger.get_item("fritak", str(first + n)) for n in range(7)]
    assert [i.state if i else None for i in items] == [ItemState.WAITING, ItemState.FAILED, ItemState.WAITING,
                                                       ItemState.WAITING, ItemState.WAITING, ItemState.FAILED,
                                                       ItemState.WAITING]
    run_ids = [i.flow_run_id for i in items if i and i.state == ItemState.WAITING]
    assert len(set(run_ids)) == 5 and all(run_ids)
    assert await fritak_intake() == {"new": 0, "turned_down": 0, "started": 0, "failed": 0, "unasked": 0, "left": 0}


async def test_an_intake_prefect_stops_answering_loses_no_case_and_asks_no_case_handler_twice(
        hub: Fakes, prefect_server: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefect, saturated by a backlog, stops answering the requests to create case runs (at the
    issue's full load a bulk create timed out after 60 s and failed the whole intake). The cases
    asked for before stay noted; the intake ends without failing; an application archived whose
    run was never created waits without one, and redrive-stuck, once the intake has ended,
    starts a case run for it. Each application has one case run."""
    import httpx
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.settings import PREFECT_API_REQUEST_TIMEOUT, PREFECT_API_URL, temporary_settings

    import flows.fritak
    from flows.fritak import fritak_intake
    from hub.replay import redrive_stuck
    from sandbox.common import control_headers
    from sandbox.faultproxy import start_fault_proxy

    monkeypatch.setenv("HUB_BATCH_PARALLEL", "1")  # one application after another: the order is known
    monkeypatch.setattr(flows.fritak, "ASK_AGAIN_AFTER", (0.1,))
    first = SID + 300
    for n in range(5):
        application = submission()
        application = application.model_copy(update={"meta": application.meta.model_copy(
            update={"submission_id": first + n})})
        hub.forms.submit(application, attachments={71: real_pdf()}, pdf=real_pdf("Søknad om fritak"))
    deployment_id = await (await fritak_case.ato_deployment(name="fritak-case")).apply()
    proxy: Any = start_fault_proxy(prefect_server.removesuffix("/api"), tmp_path)
    try:
        # From the second on, every request to create case runs is held unanswered, longer than
        # the client waits (and never reaches the server). The first carries the first case
        # alone (sent as soon as it is asked for); the cases asked for while it is on its way go
        # together in the second.
        armed = httpx.post(f"{proxy.url}/_sandbox/faults", headers=control_headers(proxy.extra.get("control_token")),
                           json={"path": "/api/deployments/", "method": "POST", "kind": "timeout", "hold": 4,
                                 "skip": 1, "count": 50}, timeout=5)
        assert armed.status_code == 201, armed.text
        with temporary_settings(updates={PREFECT_API_URL: f"{proxy.url}/api", PREFECT_API_REQUEST_TIMEOUT: 1.0}):
            counts = await fritak_intake()
    finally:
        proxy.stop()
    assert counts["new"] == 5 and counts["started"] == 1 and counts["failed"] == 0, counts
    assert counts["unasked"] >= 1 and counts["started"] + counts["unasked"] + counts["left"] == 5, counts
    items = [hub.ledger.get_item("fritak", str(first + n)) for n in range(5)]
    assert all(i is not None for i in items)
    asked = [i for i in items if i and i.data.get("decision_runs")]
    unasked = [i for i in items if i and i.state == ItemState.WAITING and not i.data.get("decision_runs")]
    assert len(asked) == counts["started"] and len(unasked) == counts["unasked"]
    assert [i.state for i in items if i and i not in asked and i not in unasked] == [ItemState.PENDING] * counts["left"]

    results = await redrive_stuck(hub.ledger)  # the intake's run has ended: its unasked items are stuck

    assert sorted(r.source_key for r in results if r.outcome == "redriven") == sorted(i.source_key for i in unasked)
    assert await fritak_intake() == {"new": 0, "turned_down": 0, "started": counts["left"], "failed": 0,
                                     "unasked": 0, "left": 0}
    items = [hub.ledger.get_item("fritak", str(first + n)) for n in range(5)]
    async with get_client() as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])), limit=200)
    mine = [r for r in runs if first <= r.parameters.get("submission_id", 0) < first + 5]
    assert sorted(r.parameters["submission_id"] for r in mine) == [first + n for n in range(5)]  # one each
    assert {str(r.id) for r in mine} == {i.flow_run_id for i in items if i}


async def test_a_waiting_run_nobody_noted_is_harmless_the_first_decision_wins(hub: Fakes) -> None:
    """An intake killed between Prefect creating a case run and the hub noting it leaves a
    Suspended run that nothing points to; redrive-stuck then starts a case run that asks
    itself. Both can be answered: the first decision is carried out, and the other run finds
    the case decided and writes nothing (one decision letter, one e-mail)."""
    from flows.fritak_steps import DECISION_KEY, decision_form
    from hub.ports.archive import CaseFile, JournalEntry
    from hub.runs import start_waiting_for_input
    from mappings.fritak import COURSES, read_application

    _apply(hub)
    await (await fritak_case.ato_deployment(name="fritak-case")).apply()
    # The orphan: created waiting with the application's form, never noted on the item.
    application, problems = read_application(submission(), courses=COURSES, contents={71: real_pdf()})
    assert application is not None, problems
    form = decision_form(application, CaseFile(system_id="s", external_id=CASE_KEY, title="t", public_title="t"),
                         JournalEntry(system_id="j", external_id="e", title="t", journal_type="I"))
    # (Its key is the intake's, fritak:<sid>:<replays>, in production; this module's Prefect
    # server already holds that one from the tests before, so the orphan gets one of its own.)
    orphan = await start_waiting_for_input("fritak-case/fritak-case", {"submission_id": SID},
                                           key=f"fritak:{SID}:orphan-{uuid4().hex}",
                                           pause_key=DECISION_KEY, form=form)
    redriven = await _case_run()  # started by redrive-stuck: it reads, archives and asks itself
    assert (await _execute(redriven)).is_paused()
    item = hub.ledger.get_item("fritak", str(SID))
    assert item is not None and item.state == ItemState.WAITING and item.data["decision_runs"] == [str(redriven.id)]

    decision = {"outcome": "approve", "justification": "Tilsvarende emner er bestått.", "decided_by": "Kari",
                "courses": [{"course": "DATA1100", "verdict": "approved"}, {"course": "MATA1000", "verdict": "approved"}]}
    await aresume_flow_run(UUID(orphan), run_input=decision)
    await aresume_flow_run(redriven.id, run_input={**decision, "outcome": "reject", "decided_by": "Ola"})
    async with get_client() as client:
        orphan_run = await client.read_flow_run(UUID(orphan))
    first = await _execute(orphan_run)  # the orphan's answer is carried out first
    second = await _execute(redriven)

    assert first.is_completed() and second.is_completed(), (first, second)
    assert "decided already" in (second.message or "")
    done = hub.ledger.get_item("fritak", str(SID))
    assert done is not None and done.state == ItemState.DONE and done.data["outcome"] == "approve"
    (stored,) = hub.archive.case_files.values()
    assert sorted(e.entry.journal_type for e in stored.entries) == ["I", "U"]  # one decision letter
    (mail,) = hub.mail.sent
    assert "innvilget" in mail.subject
