"""Employment changes: HR says something changed about a person; what must follow?

Started for every ``dfo:ansatte`` and ``dfo:stillinger`` event (beside onboarding; also for
every new message repeating an event already received: HR's events carry no change id, so a
change reversed with the same gyldigEtter comes as such a repeat), and by the daily catch-up
for an end date (sluttdato) within 14 days. One work item per event (service ``employment``,
keyed by the inbox event id): a failure is a dead letter with its reason, replayed, re-driven
and retried like any other service's item. The events of a burst come to one run together
(``burst``, see :mod:`hub.dispatch`), each still its own item: a burst of hires is one
router run, not one per hire beside each onboarding.

1. read the employee, their unit and leader from HR;
2. compare with the hub's last snapshot of the employment (:func:`mappings.employment.decide`);
3. cancel a leaver run whose end date was moved or withdrawn; schedule the leaver run on a
   new end date; start a mover run for a change of unit, manager or position;
4. store the new snapshot — last, so a crash before it repeats the same (idempotent) writes.

Nothing is written to the archive, tickets or mail here: the leaver and mover runs do that.

Steps 1–4 hold the person's lease in the ledger (:func:`flows.employment_steps.one_change_at_a_time`):
two runs of one person at once, on any worker, go one after the other. Otherwise a reversal's
run that loaded the snapshot before the move's run stored it would see no change, and the
move's snapshot stored afterwards would hide the reversal until the next morning's catch-up.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.employment_steps import (
    EMPLOYMENT,
    cancel_leaver,
    change_event,
    load_snapshot,
    one_change_at_a_time,
    read_employment,
    save_snapshot,
    schedule_leaver,
    start_mover,
)
from hub.flowkit import Run, each_side_by_side, work_item
from hub.ports.hr import canonical_employee_id
from hub.services import burst_run_name
from hub.wiring import get_ledger
from mappings.employment import Decision, Snapshot, decide

__all__ = ["employment_changes"]


async def route_change(run: Run, employee_id: str, decision: Decision, *, today: date) -> str:
    """Cancel, schedule and start what ``decision`` says; store its snapshot last."""
    settings, ledger = run.settings, run.ledger
    done = [decision.why]
    start_hour = settings.onboarding.start_hour
    async with run.step("route_change"):
        if decision.cancel:
            done.append(await cancel_leaver(ledger, employee_id, decision.cancel, reason=decision.why))
        if decision.leave:
            await schedule_leaver(ledger, employee_id, decision.leave, tz=settings.tz, start_hour=start_hour)
            done.append(f"leaver scheduled for {decision.leave.end.isoformat()}")
        if decision.move:
            await start_mover(ledger, employee_id, decision.move, tz=settings.tz, start_hour=start_hour, today=today)
            done.append("mover started")
        await asyncio.to_thread(save_snapshot, ledger, employee_id, decision.snapshot)
    return "; ".join(done)


async def _previous(run: Run, employee_id: str) -> Snapshot | None:
    return await asyncio.to_thread(load_snapshot, run.ledger, employee_id)


@flow(name="employment-changes", flow_run_name=burst_run_name("employment", "changes", "employee_id", "event_id"), log_prints=False)
async def employment_changes(employee_id: str | None = None, event_id: str | None = None,
                             burst: list[dict[str, str]] | None = None) -> State:
    """Route HR changes of employments to the leaver and mover services: one change, or the
    changes of a burst (``burst``: the intake hands a burst's events to one run), each its
    own work item."""
    if burst:
        return await _route_all(burst)
    return Completed(message=await _route_one(employee_id, event_id))


async def _route_all(burst: list[dict[str, str]]) -> State:
    """Each change as its own work item, a few at a time (``HUB_BURST_PARALLEL``). One person's
    changes still go one after the other (their lease)."""
    return await each_side_by_side(burst, lambda change: _route_one(change.get("employee_id"), change["event_id"]),
                                   key="event_id", service=EMPLOYMENT, what="changes", done="routed")


async def _route_one(employee_id: str | None, event_id: str | None) -> str:
    """One HR change, as its work item: what was done, or why nothing was."""
    event = await asyncio.to_thread(change_event, get_ledger(), employee_id, event_id)
    employee_id = canonical_employee_id(event.subject_id)
    title = f"Employment change: DFØ employee {employee_id} ({event.kind}, {event.source})"
    async with work_item(EMPLOYMENT, event.id, title=title, requested_at=event.received_at) as run:
        if run.already_done:
            return (run.item.data or {}).get("outcome") or "already done; nothing new written"
        today = datetime.now(run.settings.tz).date()
        effective = event.valid_after if event.valid_after and event.valid_after > today else today
        # One person's changes are routed one after the other: a reversal read while the move
        # before it is still being routed would compare with the snapshot from before the move.
        async with one_change_at_a_time(run.ledger, employee_id):
            previous = await _previous(run, employee_id)
            reading = await read_employment(run, employee_id, known=previous is not None)
            if reading is None:
                outcome = f"HR does not know employee {employee_id}: no employment to compare"
            else:
                decision = decide(previous, reading.snapshot, today=today, effective=effective)
                outcome = await route_change(run, employee_id, decision, today=today)
        await asyncio.to_thread(run.ledger.update_data, run.item.id, employee_id=employee_id, outcome=outcome)
    get_run_logger().info("employee %s: %s", employee_id, outcome)
    return outcome
