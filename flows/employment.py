"""Employment changes: HR says something changed about a person; what must follow?

Started for every ``dfo:ansatte`` and ``dfo:stillinger`` event (beside onboarding), and by
the daily catch-up for an end date (sluttdato) within 14 days:

1. read the employee, their unit and leader from HR;
2. compare with the hub's last snapshot of the employment (:func:`mappings.employment.decide`);
3. cancel a leaver run whose end date was moved or withdrawn; schedule the leaver run on a
   new end date; start a mover run for a change of unit, manager or position;
4. store the new snapshot — last, so a crash before it repeats the same (idempotent) writes.

Nothing is written to the archive, tickets or mail here: the leaver and mover runs do that.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.employment_steps import (
    cancel_leaver,
    load_snapshot,
    read_employment,
    save_snapshot,
    schedule_leaver,
    start_mover,
)
from hub.ports.hr import canonical_employee_id
from hub.settings import get_settings
from hub.wiring import build_hr, get_ledger
from mappings.employment import decide

__all__ = ["employment_changes"]


@flow(name="employment-changes", flow_run_name="employment-{employee_id}", log_prints=False)
async def employment_changes(employee_id: str, event_id: str | None = None) -> State:
    """Route one HR change of an employment to the leaver and mover services."""
    employee_id = canonical_employee_id(employee_id)
    settings = get_settings()
    ledger = get_ledger(settings)
    today = datetime.now(settings.tz).date()
    event = await asyncio.to_thread(ledger.get_event, event_id) if event_id else None
    effective = event.valid_after if event and event.valid_after and event.valid_after > today else today
    hr = build_hr(settings)
    try:
        reading = await read_employment(hr, employee_id)
    finally:
        await hr.aclose()
    if reading is None:
        return Completed(message=f"HR does not know employee {employee_id}: no employment to compare")
    decision = decide(await asyncio.to_thread(load_snapshot, ledger, employee_id), reading.snapshot,
                      today=today, effective=effective)
    done = [decision.why]
    start_hour = settings.onboarding.start_hour
    if decision.cancel:
        done.append(await cancel_leaver(ledger, employee_id, decision.cancel, reason=decision.why))
    if decision.leave:
        await schedule_leaver(ledger, employee_id, decision.leave, tz=settings.tz, start_hour=start_hour)
        done.append(f"leaver scheduled for {decision.leave.end.isoformat()}")
    if decision.move:
        await start_mover(ledger, employee_id, decision.move, tz=settings.tz, start_hour=start_hour, today=today)
        done.append("mover started")
    await asyncio.to_thread(save_snapshot, ledger, employee_id, decision.snapshot)
    get_run_logger().info("employee %s: %s", employee_id, "; ".join(done))
    return Completed(message="; ".join(done))
