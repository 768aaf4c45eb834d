"""Søke fritak: a student applies for exemption from courses; a case handler decides.

``fritak-intake`` (every minute) collects new Nettskjema submissions into the ledger and takes
each new application up to the decision itself, a few side by side (the batch's parallelism):

1. read and validated (fødselsnummer, courses, attachments). An invalid one is answered by
   e-mail and becomes a dead letter there and then — nothing is archived;
2. archived: case file (saksmappe), incoming journalpost with the submission PDF and attachments;
3. its ``fritak-case`` run is created already **suspended**, asking a case handler for the
   decision in the Prefect UI (a typed form: approve, reject or partial per course, with a
   justification). No process runs while it waits, and none ran to get there. The runs are
   created beside the batch, those asked for while a request is on its way in the next
   (:class:`_CaseRuns`); one Prefect did not create is started by ``redrive-stuck`` once the
   intake has ended, and asks itself.

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
    given_decision,
    journal_decision,
    read_application_unless_failing,
    read_fritak_application,
    to_decision,
)
from hub.errors import InvalidInput
from hub.flowkit import Progress, Run, Tally, due_pages, run_batch, tried_again, work_item
from hub.ledger import Ledger, WorkItem
from hub.privacy import mask
from hub.runs import Coalesced, prefect_did_not_answer, start_waiting_for_inputs
from hub.services import catalog
from hub.settings import OSLO, get_settings
from hub.text import table_for_prefect
from hub.wiring import connect, get_ledger

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
            await run.wait_for("a case handler's decision in the Prefect UI", decision_runs=asking_runs(run))
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
    turned_down, archived, left = Tally(), Tally(), 0
    async with (connect(settings, service=SERVICE) as ports, get_client() as client,
                _CaseRuns(client, ledger) as case_runs):
        added = await collect_submissions(ports.forms, ledger, service=SERVICE, form_id=settings.fritak.form_id)
        # A page at a time (a semester's backlog is never held whole); an item with a run has
        # its case run already. An invalid application is answered and dead-lettered here, in
        # this run: a case run of its own (a process, a flow run and its task runs in Prefect)
        # only to say "not valid" made hostile or careless submissions the most expensive work
        # of the service.
        total = await asyncio.to_thread(ledger.count_due, SERVICE, retry_below=0, unstarted=True)
        async with Progress(SERVICE, total) as progress:
            async for due in due_pages(SERVICE, retry_below=0, unstarted=True, ledger=ledger):
                turned: set[str] = set()
                rows = await run_batch(due, ports, _taking(case_runs, turned), ledger=ledger, settings=settings,
                                       key_label="submission", stop=case_runs.gone, progress=progress)
                turned_down.add([r for r in rows if r["submission"] in turned])
                archived.add([r for r in rows if r["submission"] not in turned])
                if case_runs.gone.is_set():  # Prefect is not answering: the rest waits for the next run
                    left = len(due) - len(rows)
                    break
    if case_runs.gone.is_set():
        get_run_logger().warning(
            "Prefect created no fritak-case run for %d archived application(s) (the reason is logged above): they "
            "wait without one, and redrive-stuck starts a case run for each once this run has ended; %d "
            "application(s) stay pending for the next fritak-intake. If this repeats, look at the Prefect "
            "server's load and its database.", case_runs.unasked, left)
    for name, tally in (("fritak-intake", turned_down), ("fritak-intake-cases", archived)):
        if tally.rows:
            await acreate_table_artifact(key=name, table=table_for_prefect(tally.table()),
                                         description="Applications turned down by the intake (not valid)"
                                         if tally is turned_down else "Applications archived, each to wait for a "
                                         "case handler's decision in its fritak-case run (or failed, with the reason)")
    failed = archived.failed
    get_run_logger().info("fritak: %d new application(s), %d turned down, %d archived and waiting for a decision%s%s",
                          added, turned_down.handled, case_runs.asked,
                          f", {failed} failed (see the table)" if failed else "",
                          f", {left} left for the next run" if left else "")
    return {"new": added, "turned_down": turned_down.handled, "started": case_runs.asked, "failed": failed,
            "unasked": case_runs.unasked, "left": left}


def _taking(case_runs: _CaseRuns, turned: set[str]) -> Callable[[Run], Awaitable[str]]:
    """A :func:`run_batch` handler taking an application up to the decision: read and checked,
    archived, and waiting for its case run, which ``case_runs`` creates beside the batch. Its
    steps are those of a case run, as plain calls (the batch's retries:
    :data:`hub.flowkit.BATCH_RETRY_DELAYS`). One that is not valid (its problems, or the form
    service's verdict that the submission cannot be read as one) is turned down: the applicant
    told, the item a dead letter, its key added to ``turned``."""

    async def handle(run: Run) -> str:
        try:
            application = await read_application_unless_failing(run, int(run.item.source_key))
        except InvalidInput:
            turned.add(run.item.source_key)
            raise
        case, entry = await archive_application.fn(run, application)
        await run.wait_for("a case handler's decision in the Prefect UI")
        case_runs.ask(run.item, decision_form(application, case, entry))
        return "archived; waiting for a case handler's decision"

    return handle


class _CaseRuns:
    """Creates each archived application's ``fritak-case`` run, already suspended and asking
    for the decision (:func:`hub.runs.start_waiting_for_inputs`), beside the batch, and
    notes it on its item (its flow run, ``decision_runs``) once Prefect answers. The runs asked
    for while a request is on its way go together in the next one (one bulk create, then each
    run's form): Prefect's round trips were a third of an application's time in the intake
    when each case waited for its own, and a create each cost the API more than its work.

    An item is ``waiting`` (on this intake's run) from its archiving until its case run is
    noted. If Prefect does not answer (after 1 s and 5 s more), ``gone`` is set, the batch takes
    no more applications, and the items asked for wait without a case run: once this intake's
    run has ended, ``redrive-stuck`` starts a case run for each like for any item whose run
    died, and that run asks the case handler. Leaving the block waits for every creation."""

    def __init__(self, client: Any, ledger: Ledger) -> None:
        self.client, self.ledger = client, ledger
        self.ids: dict[str, Any] = {}
        self.gone = asyncio.Event()
        self.asked = self.unasked = 0
        self._runs: Coalesced[tuple[WorkItem, type[FritakDecision]]] = Coalesced(self._send, name="fritak case runs")

    async def __aenter__(self) -> _CaseRuns:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._runs.drain()

    def ask(self, item: WorkItem, form: type[FritakDecision]) -> None:
        if self.gone.is_set():  # Prefect did not answer the last request: no more tries from this run
            self._unasked([item], "Prefect did not answer the intake's requests before")
            return
        self._runs.add((item, form))

    async def _send(self, chunk: list[tuple[WorkItem, type[FritakDecision]]]) -> None:
        if self.gone.is_set():  # asked for before Prefect stopped answering
            self._unasked([item for item, _ in chunk], "Prefect did not answer the intake's requests")
        else:
            await self._create(chunk)

    async def _create(self, chunk: list[tuple[WorkItem, type[FritakDecision]]]) -> None:
        case_runs = catalog().rerun_for(SERVICE)  # one fritak-case run per application
        assert case_runs is not None and case_runs.per_item
        by_key = {f"fritak:{item.source_key}:{item.data.get('replays', 0)}": (item, form) for item, form in chunk}
        wanted = {key: (case_runs.parameters(item), form) for key, (item, form) in by_key.items()}
        try:
            started, refused = await tried_again(
                lambda: start_waiting_for_inputs(case_runs.deployment, wanted, pause_key=DECISION_KEY,
                                                 client=self.client, ids=self.ids, tries=REFUSED_TRIES),
                ASK_AGAIN_AFTER, when=prefect_did_not_answer, what=f"{len(chunk)} fritak case run(s)")
        except Exception as exc:
            self.gone.set()
            self._unasked([item for item, _ in chunk], f"{type(exc).__name__}: {mask(str(exc))[:300]}")
            return
        for key, why in refused.items():
            self._unasked([by_key[key][0]], f"Prefect refused it: {mask(why)[:300]}")

        noted: dict[int, tuple[str, dict[str, Any]]] = {}
        for key, run_id in started.items():
            item = by_key[key][0]
            noted[item.id] = (run_id, {"decision_runs": [*(item.data or {}).get("decision_runs", []), run_id]})
        await asyncio.to_thread(self.ledger.set_flow_runs, noted)  # one transaction for the chunk
        self.asked += len(started)

    def _unasked(self, items: list[WorkItem], why: str) -> None:
        self.unasked += len(items)
        for item in items:
            log.error("fritak %s: archived, but no case run was created (%s); redrive-stuck starts one once this "
                      "intake has ended", item.source_key, why)


REFUSED_TRIES = 3  # a case run Prefect refuses for itself (a run that does not fit) is asked for this often;
# one refused while its database was locked, for as long as a busy server (hub.runs.BUSY_TRIES)
ASK_AGAIN_AFTER = (1.0, 5.0)  # a creation Prefect did not answer is asked again after these
