"""Daily catch-up: a safety net under the event-driven onboarding.

Events can be lost upstream (a queue purged, a consumer down for days). Every morning this
flow re-reads HR's employees and, for everyone starting within the next
``HUB_ONBOARDING__CATCHUP_DAYS`` (14) days who is not onboarded yet, puts a synthetic event
in the inbox and hands it to Prefect like any other. Already onboarded hires are skipped;
repeated catch-ups on the same day start nothing twice (the inbox deduplicates).

The same pass is the leavers' safety net: anyone whose end of employment (sluttdato) falls
within the same 14 days, and whose end date the hub's employment snapshot does not hold yet
(the event was lost), gets a synthetic ``dfo:ansatte`` event too; the employment-changes
router then schedules the leaver (onboarding sees no new hire in it and writes nothing).
And the movers' safety net: anyone whose unit or position differs from the snapshot gets a
synthetic ``dfo:stillinger`` event for the router (a move, or a move reversed, whose message
never reached the hub; the intake hands a reversal announced with the same ``gyldigEtter``
to the router itself, as a repeat of the first event: see :mod:`hub.intake`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact

from flows.employment_steps import load_snapshot
from hub.dispatch import Dispatcher
from hub.ledger import ItemState
from hub.ports.hr import canonical_employee_id
from hub.settings import get_settings
from hub.text import table_for_prefect
from hub.wiring import build_hr, get_ledger

__all__ = ["onboarding_catchup"]


@flow(name="onboarding-catchup", log_prints=False)
async def onboarding_catchup(days: int | None = None) -> dict[str, int]:
    """Dispatch onboarding for every hire starting soon who has not been onboarded."""
    settings = get_settings()
    ledger = get_ledger(settings)
    horizon = days or settings.onboarding.catchup_days
    today = datetime.now(settings.tz).date()
    until = today + timedelta(days=horizon)
    dispatcher = Dispatcher(ledger, tz=settings.tz, start_hour=settings.onboarding.start_hour,
                            deployment_overrides={"onboarding/onboarding": settings.onboarding.deployment})
    logger = get_run_logger()
    counts = {"starting_soon": 0, "already_done": 0, "dispatched": 0, "leaving_soon": 0, "leavers_dispatched": 0,
              "moves_dispatched": 0}
    rows: list[dict[str, str]] = []

    async def hand_over(kind: str, key: str, dedupe_key: str, found_by: str) -> str:
        """A synthetic HR event in the inbox, handed to Prefect like any other (once a day:
        the inbox deduplicates); the flow run's id, or "-"."""
        event, _ = await asyncio.to_thread(
            ledger.record_event, source="catchup", kind=kind, subject_id=key, dedupe_key=dedupe_key,
            payload={"id": key, "uri": kind, "found_by": found_by}, valid_after=None)
        return event.flow_run_id or await dispatcher.dispatch(event) or "-"

    hr = build_hr(settings)
    try:
        async for employee in hr.list_employees():
            end = employee.end_date
            key = canonical_employee_id(employee.id)
            seen = await asyncio.to_thread(load_snapshot, ledger, key)
            if seen is not None and (seen.unit, seen.position) != (employee.org_unit_id, employee.position_id):
                # A move (or its reversal) whose event never came: the router compares again.
                run_id = await hand_over(
                    "dfo:stillinger", key, f"catchup:stilling:{key}:{employee.org_unit_id}:{employee.position_id}:"
                    f"{today.isoformat()}", "daily catch-up (move)")
                counts["moves_dispatched"] += 1
                rows.append({"employee": key, "starts": "moved", "state before": "move not seen", "flow run": run_id})
            if end is not None and today <= end <= until:
                counts["leaving_soon"] += 1
                if seen is None or seen.end != end:
                    run_id = await hand_over("dfo:ansatte", key, f"catchup:sluttdato:{key}:{end.isoformat()}:"
                                             f"{today.isoformat()}", "daily catch-up (sluttdato)")
                    counts["leavers_dispatched"] += 1
                    rows.append({"employee": key, "starts": f"leaves {end.isoformat()}",
                                 "state before": "end date not seen", "flow run": run_id})
            if employee.start_date is None or not today <= employee.start_date <= until:
                continue
            counts["starting_soon"] += 1
            item = await asyncio.to_thread(ledger.get_item, "onboarding", key)  # keyed as the event's onboarding
            if item is not None and item.state == ItemState.DONE:
                counts["already_done"] += 1
                continue
            run_id = await hand_over("dfo:ansatte", key, f"catchup:dfo:ansatte:{key}:{today.isoformat()}",
                                     "daily catch-up")
            counts["dispatched"] += 1
            rows.append({"employee": key, "starts": employee.start_date.isoformat(),
                         "state before": item.state if item else "never seen", "flow run": run_id})
    finally:
        await hr.aclose()
    logger.info("catch-up %s..%s: %s", today, until, counts)
    await acreate_table_artifact(key="onboarding-catchup", table=table_for_prefect(rows) or [{"employee": "-", "starts": "-",
                                 "state before": "nothing to catch up", "flow run": "-"}],
                                 description=f"Hires starting {today}..{until} not yet onboarded")
    return counts
