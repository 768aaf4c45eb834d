"""Søke fritak: a student applies for exemption from courses; a case handler decides.

``fritak-intake`` (every minute) collects new Nettskjema submissions into the ledger and
reads each new application (fødselsnummer, courses, attachments). An invalid one is answered
by e-mail and becomes a dead letter there and then — nothing is archived. Every other
application gets one ``fritak-case`` run. Each case:

1. reads and validates the application again (a replayed item, or one the intake could not
   read, comes straight here);
2. archives it: case file, incoming journalpost with the submission PDF and attachments;
3. **suspends** until a case handler decides in the Prefect UI (a typed form: approve,
   reject or partial per course, with a justification) — the process exits while it waits;
4. journals the decision letter, closes the case (saksstatus A) and e-mails the applicant.

The time from submission to decision is recorded per case (the SLA).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact
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
    fetch_application,
    journal_decision,
    read_fritak_application,
    reject_application,
    to_decision,
)
from hub.dispatch import BULK_LIMIT, prefect_did_not_answer, start_deployment_runs
from hub.errors import HubError, InvalidInput
from hub.flowkit import Run, Tally, due_pages, run_batch, verdicts, work_item
from hub.ledger import Ledger, WorkItem
from hub.ports.forms import Submission
from hub.services import catalog
from hub.settings import OSLO, get_settings
from hub.text import table_for_prefect
from hub.wiring import Connectors, connect, get_ledger

__all__ = ["fritak_case", "fritak_intake"]

SERVICE = "fritak"

log = logging.getLogger("hub.flow")


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
    """Collect new applications, turn down the invalid ones, and start a case for each valid one."""
    settings = get_settings()
    ledger = get_ledger(settings)
    turned_down, started, left = Tally(), 0, 0
    async with connect(settings, service=SERVICE) as ports:
        added = await collect_submissions(ports.forms, ledger, service=SERVICE, form_id=settings.fritak.form_id)
        # A page at a time (a semester's backlog is never held whole); an item with a run has
        # its case run already (it may be queued).
        async for due in due_pages(SERVICE, retry_below=0, unstarted=True, ledger=ledger):
            invalid = await _triage(ports, due, max_attachment_mb=settings.fritak.max_attachment_mb)
            # An invalid application is answered and dead-lettered here, in this run: a case run
            # of its own (a process, a flow run and its task runs in Prefect) only to say "not
            # valid" made hostile or careless submissions the most expensive work of the service.
            turned_down.add(await run_batch([i for i in due if i.id in invalid], ports, _rejecting(invalid),
                                            ledger=ledger, settings=settings, key_label="submission"))
            now_started, left = await _start_cases(ledger, [i for i in due if i.id not in invalid])
            started += now_started
            if left:  # Prefect is not answering: the rest waits for the next run
                break
    if turned_down.rows:
        await acreate_table_artifact(key="fritak-intake", table=table_for_prefect(turned_down.table()),
                                     description="Applications turned down by the intake (not valid)")
    get_run_logger().info("fritak: %d new application(s), %d turned down, %d case(s) started%s",
                          added, turned_down.handled, started, f", {left} left for the next run" if left else "")
    return {"new": added, "turned_down": turned_down.handled, "started": started, "left": left}


Unanswerable = tuple[Submission, list[str]] | InvalidInput  # what makes an application not valid


async def _triage(ports: Connectors, due: list[WorkItem], *, max_attachment_mb: int) -> dict[int, Unanswerable]:
    """The due applications that are certainly not valid: their problems, or the form service's
    verdict that the submission cannot be read as one. An application the intake cannot read
    now (the form service failing) is not judged: its case run reads it again, with retries."""

    async def judge(item: WorkItem) -> Unanswerable | None:
        try:
            submission, application, problems = await fetch_application(
                ports.forms, int(item.source_key), max_attachment_mb=max_attachment_mb)
        except InvalidInput as exc:
            return exc
        except HubError as exc:
            log.info("fritak %s: not read by the intake (%s); its case run reads it again",
                     item.source_key, exc.kind)
            return None
        return (submission, problems) if application is None else None

    return await verdicts(due, judge, parallel=STARTS_AT_ONCE)


def _rejecting(invalid: dict[int, Unanswerable]) -> Callable[[Run], Awaitable[str]]:
    """A :func:`run_batch` handler answering each application with its verdict in ``invalid``."""
    return lambda run: _reject(run, invalid[run.item.id])


async def _reject(run: Run, why: Unanswerable) -> str:
    async with run.step("read_application"):
        if isinstance(why, InvalidInput):
            raise why
        await reject_application(run, *why)


async def _start_cases(ledger: Ledger, due: list[WorkItem]) -> tuple[int, int]:
    """One fritak-case run per application, created in one request per hundred (Prefect's bulk
    create); returns (cases started, applications left for the next fritak-intake). One request
    each, a backlog's cases were created one every ~2 s on a busy SQLite server (each waiting
    for the database behind the cases already started), which was what bounded a burst of
    applications, not the cases' own work.

    Each hundred is noted in the ledger as soon as Prefect answers. If Prefect does not answer
    in time (at the issue's full load, a bulk create of a hundred runs on PostgreSQL timed out
    after 60 s and failed the whole intake, the hundred before it created but not noted), the
    applications not yet started stay pending and the next fritak-intake, a minute later, asks
    again: by their idempotency keys Prefect hands back any run a lost answer had created."""
    case_runs = catalog().rerun_for(SERVICE)  # one fritak-case run per application
    assert case_runs is not None and case_runs.per_item
    by_key = {f"fritak:{item.source_key}:{item.data.get('replays', 0)}": item for item in due}
    keys, count = list(by_key), 0
    for first in range(0, len(keys), CASES_PER_REQUEST):
        wanted = {key: case_runs.parameters(by_key[key]) for key in keys[first:first + CASES_PER_REQUEST]}
        try:
            started, refused = await start_deployment_runs(case_runs.deployment, wanted)
        except Exception as exc:
            if not prefect_did_not_answer(exc):
                raise
            left = len(keys) - first
            get_run_logger().warning(
                "Prefect did not answer the request to start %d fritak case(s) in time (%s): %d application(s) "
                "stay pending for the next fritak-intake, which asks again (no case is started twice). If this "
                "repeats, look at the Prefect server's load and its database.", len(wanted),
                type(exc).__name__, left)
            return count, left

        def note(started: dict[str, str] = started) -> None:
            for key, run_id in started.items():
                ledger.set_flow_run(by_key[key].id, run_id)

        await asyncio.to_thread(note)
        count += len(started)
        if refused:
            key, why = next(iter(refused.items()))
            raise HubError(f"Prefect created no fritak-case run for {len(refused)} application(s) "
                           f"(submission {by_key[key].source_key}: {why})", system="prefect",
                           hint="Those applications stay pending and the next fritak-intake asks again; if it "
                                "repeats, compare the fritak-case deployment's parameters with the flow's.")
    return count, 0


CASES_PER_REQUEST = BULK_LIMIT  # Prefect's most per bulk create; each request's runs noted at once
STARTS_AT_ONCE = 8  # applications read at once: hides the latency, not a burst
