"""Søke fritak: a student applies for exemption from courses; a case handler decides.

``fritak-intake`` (every minute) collects new Nettskjema submissions into the ledger and
reads each new application (fødselsnummer, courses, attachments). An invalid one is answered
by e-mail and becomes a dead letter there and then — nothing is archived. Every valid one is
taken up to the decision by the intake itself, a few side by side:

1. read and validated (by the intake's first read; an application it could not read then is
   read again here);
2. archived: case file (saksmappe), incoming journalpost with the submission PDF and attachments;
3. its ``fritak-case`` run is created already **suspended**, asking a case handler for the
   decision in the Prefect UI (a typed form: approve, reject or partial per course, with a
   justification). No process runs while it waits, and none ran to get there.

Resumed with the decision, the case run reads the application again (the fødselsnummer is kept
nowhere in Prefect), finds what the intake archived, and:

4. journals the decision letter, closes the case (saksstatus A) and e-mails the applicant.

A case run started any other way (replay, re-drive, the retry of an application the intake
could not archive) does 1–3 itself and suspends itself. The time from submission to decision
is recorded per case (the SLA).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.forms_poll import collect_submissions
from flows.fritak_steps import (
    DECISION_KEY,
    FritakDecision,
    archive_application,
    ask_case_handler,
    asking_runs,
    close_case,
    decision_form,
    email_decision,
    fetch_application,
    given_decision,
    journal_decision,
    read_fritak_application,
    reject_application,
    to_decision,
)
from hub.dispatch import prefect_did_not_answer, start_waiting_for_input
from hub.errors import HubError, InvalidInput, TransientError
from hub.flowkit import Run, Tally, due_pages, run_batch, verdicts, work_item
from hub.ledger import WorkItem
from hub.ports.forms import Submission
from hub.services import catalog
from hub.settings import OSLO, get_settings
from hub.text import table_for_prefect
from hub.wiring import Connectors, connect, get_ledger
from mappings.fritak import FritakApplication

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
        given = await given_decision(run)  # to this run, or to one of this case that died before it acted
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
    """Collect new applications, turn down the invalid ones, and take each valid one up to the
    decision: archived, its case run waiting (suspended) for a case handler."""
    from prefect.client.orchestration import get_client

    settings = get_settings()
    ledger = get_ledger(settings)
    turned_down, asked, left = Tally(), Tally(), 0
    async with connect(settings, service=SERVICE) as ports, get_client() as client:
        added = await collect_submissions(ports.forms, ledger, service=SERVICE, form_id=settings.fritak.form_id)
        prefect = _CaseRuns(client)
        # A page at a time (a semester's backlog is never held whole); an item with a run has
        # its case run already.
        async for due in due_pages(SERVICE, retry_below=0, unstarted=True, ledger=ledger):
            invalid, read = await _triage(ports, due, max_attachment_mb=settings.fritak.max_attachment_mb)
            # An invalid application is answered and dead-lettered here, in this run: a case run
            # of its own (a process, a flow run and its task runs in Prefect) only to say "not
            # valid" made hostile or careless submissions the most expensive work of the service.
            turned_down.add(await run_batch([i for i in due if i.id in invalid], ports, _rejecting(invalid),
                                            ledger=ledger, settings=settings, key_label="submission"))
            valid = [i for i in due if i.id not in invalid]
            rows = await run_batch(valid, ports, _archiving(read, prefect), ledger=ledger, settings=settings,
                                   key_label="submission", stop=prefect.gone)
            asked.add(rows)
            if prefect.gone.is_set():  # Prefect is not answering: the rest waits for the next run
                left = len(valid) - len(rows)
                get_run_logger().warning(
                    "Prefect did not answer a request to create a fritak-case run: %d application(s) stay pending "
                    "for the next fritak-intake, which asks again (no case is started twice); the case(s) being "
                    "archived then are retried later (transient). If this repeats, look at the Prefect server's "
                    "load and its database.", left)
                break
    for name, tally in (("fritak-intake", turned_down), ("fritak-intake-cases", asked)):
        if tally.rows:
            await acreate_table_artifact(key=name, table=table_for_prefect(tally.table()),
                                         description="Applications turned down by the intake (not valid)"
                                         if tally is turned_down else "Applications archived, each waiting for a "
                                         "case handler's decision in its fritak-case run (or failed, with the reason)")
    started = asked.handled - asked.failed
    get_run_logger().info("fritak: %d new application(s), %d turned down, %d archived and waiting for a decision%s%s",
                          added, turned_down.handled, started,
                          f", {asked.failed} failed (see the table)" if asked.failed else "",
                          f", {left} left for the next run" if left else "")
    return {"new": added, "turned_down": turned_down.handled, "started": started, "failed": asked.failed,
            "left": left}


Unanswerable = tuple[Submission, list[str]] | InvalidInput  # what makes an application not valid


async def _triage(ports: Connectors, due: list[WorkItem], *, max_attachment_mb: int
                  ) -> tuple[dict[int, Unanswerable], dict[int, FritakApplication]]:
    """The due applications that are certainly not valid (their problems, or the form service's
    verdict that the submission cannot be read as one), and those read and valid, by item id.
    An application the intake cannot read now (the form service failing) is neither: it is
    read again when it is archived, with retries."""

    async def judge(item: WorkItem) -> Unanswerable | FritakApplication | None:
        try:
            submission, application, problems = await fetch_application(
                ports.forms, int(item.source_key), max_attachment_mb=max_attachment_mb)
        except InvalidInput as exc:
            return exc
        except HubError as exc:
            log.info("fritak %s: not read by the intake (%s); it is read again before it is archived",
                     item.source_key, exc.kind)
            return None
        return (submission, problems) if application is None else application

    invalid: dict[int, Unanswerable] = {}
    valid: dict[int, FritakApplication] = {}
    judged: dict[int, Unanswerable | FritakApplication] = await verdicts(due, judge, parallel=STARTS_AT_ONCE)
    for item_id, verdict in judged.items():
        if isinstance(verdict, FritakApplication):
            valid[item_id] = verdict
        else:
            invalid[item_id] = verdict
    return invalid, valid


def _rejecting(invalid: dict[int, Unanswerable]) -> Callable[[Run], Awaitable[str]]:
    """A :func:`run_batch` handler answering each application with its verdict in ``invalid``."""
    return lambda run: _reject(run, invalid[run.item.id])


async def _reject(run: Run, why: Unanswerable) -> str:
    async with run.step("read_application"):
        if isinstance(why, InvalidInput):
            raise why
        await reject_application(run, *why)


def _archiving(read: dict[int, FritakApplication], prefect: _CaseRuns) -> Callable[[Run], Awaitable[str]]:
    """A :func:`run_batch` handler taking a valid application up to the decision: archived, and
    its case run waiting for a case handler. Its steps are those of a case run, as plain calls
    (the batch's retries: :data:`hub.flowkit.BATCH_RETRY_DELAYS`)."""

    async def handle(run: Run) -> str:
        application = read.get(run.item.id)
        if application is None:  # the intake's first read failed (the form service): read it now
            application = await read_fritak_application.fn(run, int(run.item.source_key))
        else:
            async with run.step("read_application"):
                pass  # read and validated by the intake's triage
        case, entry = await archive_application.fn(run, application)
        await prefect.ask(run, decision_form(application, case, entry))
        return "archived; waiting for a case handler's decision"

    return handle


class _CaseRuns:
    """Creates each archived application's ``fritak-case`` run, already suspended and asking
    for the decision (:func:`hub.dispatch.start_waiting_for_input`), with one Prefect client;
    ``gone`` is set once Prefect does not answer, and the batch takes no more applications."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.ids: dict[str, Any] = {}
        self.gone = asyncio.Event()

    async def ask(self, run: Run, form: type[FritakDecision]) -> None:
        case_runs = catalog().rerun_for(SERVICE)  # one fritak-case run per application
        assert case_runs is not None and case_runs.per_item
        item = run.item
        try:
            run_id = await start_waiting_for_input(
                case_runs.deployment, case_runs.parameters(item), key=f"fritak:{item.source_key}:{item.data.get('replays', 0)}",
                pause_key=DECISION_KEY, form=form, client=self.client, ids=self.ids)
        except Exception as exc:
            if not prefect_did_not_answer(exc):
                raise
            self.gone.set()
            raise TransientError(f"Prefect did not answer the request to create the case run of fritak "
                                 f"{item.source_key} ({type(exc).__name__})", system="prefect",
                                 hint="The application is archived; the hub tries the case again later "
                                      "(HUB_RETRY_TRANSIENT_AFTER) and asks the case handler once. If Prefect "
                                      "stays unreachable, look at its server and database.") from exc
        await asyncio.to_thread(run.ledger.set_flow_run, item.id, run_id)
        run.wait_for("a case handler's decision in the Prefect UI",
                     decision_runs=[*(item.data or {}).get("decision_runs", []), run_id])


STARTS_AT_ONCE = 8  # applications read at once: hides the latency, not a burst
