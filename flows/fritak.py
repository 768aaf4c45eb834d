"""Søke fritak: a student applies for exemption from courses; a case handler decides.

``fritak-intake`` (every minute) collects new Nettskjema submissions into the ledger and
starts one ``fritak-case`` run per application. Each case:

1. reads and validates the application (fødselsnummer, courses, attachments); an invalid
   one is answered by e-mail and becomes a dead letter — nothing is archived;
2. archives it: case file, incoming journalpost with the submission PDF and attachments;
3. **suspends** until a case handler decides in the Prefect UI (a typed form: approve,
   reject or partial per course, with a justification) — the process exits while it waits;
4. journals the decision letter, closes the case (saksstatus A) and e-mails the applicant.

The time from submission to decision is recorded per case (the SLA).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.forms_poll import collect_submissions
from flows.fritak_steps import (
    archive_application,
    ask_case_handler,
    asking_runs,
    close_case,
    decision_form,
    earlier_decision,
    email_decision,
    journal_decision,
    read_fritak_application,
    to_decision,
)
from hub.dispatch import start_deployment_run
from hub.flowkit import Run, work_item
from hub.ledger import ItemState, WorkItem
from hub.services import catalog
from hub.settings import OSLO, get_settings
from hub.wiring import build_forms, get_ledger

__all__ = ["fritak_case", "fritak_intake"]

SERVICE = "fritak"


@flow(name="fritak-case", flow_run_name="fritak-{submission_id}", persist_result=True, log_prints=False)
async def fritak_case(submission_id: int) -> str | State:
    """One application for exemption, from submission to decision letter."""
    async with work_item(SERVICE, str(submission_id), title=f"Søknad om fritak #{submission_id}") as run:
        if run.already_done:
            return Completed(message="decided already; nothing new written")
        application = await read_fritak_application(run, submission_id)
        case, entry = await archive_application(run, application)
        given = await earlier_decision(run)  # given to a run of this case that died before it acted
        if given is None:
            run.wait_for("a case handler's decision in the Prefect UI", decision_runs=asking_runs(run))
            given = await ask_case_handler(decision_form(application, case, entry))
            run.waiting_reason = None
        decision = to_decision(application, given)
        letter = await journal_decision(run, application, case, decision)
        await close_case(run, case)
        await email_decision(run, application, decision, letter)
        _record_sla(run, application.submitted, decision.outcome)
    return f"decided: {decision.outcome}"


def _record_sla(run: Run, submitted: datetime, outcome: str) -> None:
    data = run.ledger.item(run.item.id).data
    decided = datetime.fromisoformat(data["decided_at"]) if data.get("decided_at") else datetime.now(OSLO)
    days = (decided - submitted).total_seconds() / 86400
    run.ledger.update_data(run.item.id, outcome=outcome, submitted_at=submitted.isoformat(),
                           decision_days=round(days, 2),
                           within_sla=days <= run.settings.fritak.sla_days)


@flow(name="fritak-intake", log_prints=False)
async def fritak_intake() -> dict[str, int]:
    """Collect new applications and start a case for each one not yet started."""
    settings = get_settings()
    ledger = get_ledger(settings)
    forms = build_forms(settings)
    try:
        added = await collect_submissions(forms, ledger, service=SERVICE, form_id=settings.fritak.form_id)
    finally:
        await forms.aclose()
    case_runs = catalog().rerun_for(SERVICE)  # one fritak-case run per application
    assert case_runs is not None and case_runs.per_item
    due = [item for item in await asyncio.to_thread(ledger.items, service=SERVICE, states=[ItemState.PENDING],
                                                    limit=None)
           if not item.flow_run_id]  # an item with a run has its case run already (it may be queued)
    # Side by side, on one Prefect client: one at a time, a few hundred new applications took
    # this run many minutes (a run created every few seconds on a busy server).
    gate, ids = asyncio.Semaphore(STARTS_AT_ONCE), dict[str, Any]()
    async with get_client() as client:
        async def start(item: WorkItem) -> None:
            async with gate:
                run_id = await start_deployment_run(
                    case_runs.deployment, case_runs.parameters(item), client=client, ids=ids,
                    key=f"fritak:{item.source_key}:{item.data.get('replays', 0)}")
                await asyncio.to_thread(ledger.set_flow_run, item.id, run_id)

        await asyncio.gather(*(start(item) for item in due))
    get_run_logger().info("fritak: %d new application(s), %d case(s) started", added, len(due))
    return {"new": added, "started": len(due)}


STARTS_AT_ONCE = 8  # case runs created at once: enough to hide the API's latency, not a burst

