"""The employment-changes router's steps: read HR, keep the snapshot, start and cancel runs.

Each router run works one work item (service ``employment``), keyed by the inbox event that
started it (:func:`change_event`): a failure is a dead letter with its reason, and replay,
re-drive and the transient retry start the run again with that event.

The snapshot of a person's employment (:class:`mappings.employment.Snapshot`: ids and dates
only) lives in the ledger as a cursor, ``employment:<employee id>``. Runs are created with
deterministic idempotency keys (``leaver:<key>``, ``mover:<key>``), and their work items are
opened at once, so an operator sees a scheduled leaver in ``hub items`` and a moved end date
can mark the old one superseded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.errors import NotFound, PermanentError
from hub.flowkit import Run, step_task
from hub.leases import LEASE_TTL, LEASE_WAIT, held
from hub.ledger import InboxEvent, ItemState, Ledger
from hub.ports.hr import Employee, HrPort, OrgUnit, canonical_employee_id
from hub.runs import start_deployment_run
from mappings.employment import SNAPSHOT_CURSOR, Leave, Move, Snapshot, leaver_key, mover_key, snapshot_of

__all__ = ["EMPLOYMENT", "LEAVER", "MOVER", "LEAVER_DEPLOYMENT", "MOVER_DEPLOYMENT", "Reading", "change_event",
           "leader_of", "read_employment", "load_snapshot", "save_snapshot", "schedule_leaver", "cancel_leaver",
           "start_mover", "start_at"]

log = logging.getLogger("hub.flow.employment")

EMPLOYMENT, LEAVER, MOVER = "employment", "leaver", "mover"  # the ledger's service names
LEAVER_DEPLOYMENT, MOVER_DEPLOYMENT = "leaver/leaver", "mover/mover"


class Reading:
    """HR's record of one employment now. A plain class: Prefect walks dataclass arguments."""

    def __init__(self, employee: Employee, unit: OrgUnit | None, manager_id: str | None) -> None:
        self.employee, self.unit, self.manager_id = employee, unit, manager_id

    @property
    def snapshot(self) -> Snapshot:
        return snapshot_of(self.employee, self.unit, self.manager_id)


async def leader_of(hr: HrPort, employee: Employee, unit: OrgUnit | None, depth: int = 0) -> str | None:
    """The id of the leader the employee reports to: the unit's, or (if the employee leads the
    unit, or it has none) the parent unit's, up the tree."""
    if unit is None or depth > 10:
        return None
    if unit.manager_id and unit.manager_id != employee.id:
        return unit.manager_id
    if unit.parent_id:
        try:
            return await leader_of(hr, employee, await hr.get_org_unit(unit.parent_id), depth + 1)
        except NotFound:
            return None
    return None


def change_event(ledger: Ledger, employee_id: str | None, event_id: str | None) -> InboxEvent:
    """The inbox event a router run works on: the one it was started for, or (a run started by
    hand with an employee id only) one recorded now, so that the run, too, has an item to
    replay. Its source is ``manual``; it is marked handed over at once (no sweeper picks it up)."""
    if event_id:
        event = ledger.get_event(event_id)
        if event is None:
            raise PermanentError(f"the employment-changes router was started for event {event_id}, which the "
                                 "inbox does not hold", hint="Start it with the employee id (employee_id) instead.")
        return event
    if not employee_id:
        raise PermanentError("the employment-changes router needs an employee id or an inbox event id")
    from uuid import uuid4

    from prefect.runtime import flow_run

    key = canonical_employee_id(employee_id)
    event, _ = ledger.record_event(source="manual", kind="dfo:ansatte", subject_id=key,
                                   dedupe_key=f"manual:{key}:{uuid4().hex}", payload={"id": key}, valid_after=None)
    ledger.mark_dispatched(event.id, str(flow_run.id or "-"), None)
    return event


@step_task("read employment", ports=("hr",))
async def read_employment(run: Run, employee_id: str, *, known: bool) -> Reading | None:
    """The employee, their unit and leader; None if HR does not know the id and the hub never
    saw the person. A person the hub follows (``known``: it holds their snapshot) whom HR no
    longer knows is a dead letter: their leaver or mover would be missed without a word."""
    async with run.step("read_employment"):
        hr = run.ports.hr
        try:
            employee = await hr.get_employee(employee_id)
        except NotFound as exc:
            if not known:
                return None
            raise NotFound(f"HR no longer knows employee {employee_id}, whose employment the hub follows",
                           system="hr", status=exc.status,
                           hint="Look the employee up in DFØ (deleted or merged with another record?); once HR "
                                "answers for them again, replay this item.") from exc
        unit = await unit_of(hr, employee)
        return Reading(employee, unit, await leader_of(hr, employee, unit))


async def unit_of(hr: HrPort, employee: Employee) -> OrgUnit | None:
    """The employee's unit; None if they have none or HR no longer knows it."""
    if not employee.org_unit_id:
        return None
    try:
        return await hr.get_org_unit(employee.org_unit_id)
    except NotFound:
        return None


PERSON_LEASE = "lease:employment:{employee_id}"


@asynccontextmanager
async def one_change_at_a_time(ledger: Ledger, employee_id: str, *, ttl: timedelta = LEASE_TTL,
                               wait: timedelta = LEASE_WAIT, poll: float = 0.25) -> AsyncIterator[None]:
    """Hold the person's lease (in the ledger, across processes and workers) while their change
    is compared and routed: two runs of one person at once would both compare with the same
    snapshot, and a move reversed within a second would be lost until the next morning."""
    async with held(ledger, PERSON_LEASE.format(employee_id=employee_id), ttl=ttl, wait=wait, poll=poll,
                    what=f"another change of employee {employee_id} was still being routed",
                    hint="The hub tries again by itself; if this repeats, look for a stuck "
                         "employment-changes run of this person in Prefect."):
        yield


def load_snapshot(ledger: Ledger, employee_id: str) -> Snapshot | None:
    stored = ledger.get_cursor(SNAPSHOT_CURSOR.format(employee_id=employee_id))
    return Snapshot.from_json(json.loads(stored)) if stored else None


def save_snapshot(ledger: Ledger, employee_id: str, snapshot: Snapshot) -> None:
    ledger.set_cursor(SNAPSHOT_CURSOR.format(employee_id=employee_id),
                      json.dumps(snapshot.to_json(), separators=(",", ":")))


def start_at(day: date, tz: ZoneInfo, start_hour: int) -> datetime:
    """``day`` at the start hour, Europe/Oslo (like a future gyldigEtter)."""
    return datetime.combine(day, time(hour=start_hour), tzinfo=tz)


async def schedule_leaver(ledger: Ledger, employee_id: str, leave: Leave, *, tz: ZoneInfo, start_hour: int,
                          deployment: str = LEAVER_DEPLOYMENT) -> str:
    """The leaver's run on the end date (the same run for the same key, however often asked)."""
    key = leaver_key(employee_id, leave)
    when = start_at(leave.end, tz, start_hour)
    # Requested now, when the hub learnt of it (as a hire's future gyldigEtter): the lead time
    # includes the wait for the day, and an open item's age is never negative.
    item = await asyncio.to_thread(ledger.ensure_item, LEAVER, key,
                                   title=f"Leaver: DFØ employee {employee_id}, sluttdato {leave.end.isoformat()}",
                                   data={"employee_id": employee_id, "end": leave.end.isoformat(),
                                         "generation": leave.generation})
    run_id = await start_deployment_run(deployment, {"leaver_key": key}, key=f"leaver:{key}", when=when)
    await asyncio.to_thread(ledger.set_flow_run, item.id, run_id)
    log.info("leaver %s scheduled for %s (flow run %s)", key, when.isoformat(), run_id)
    return run_id


async def cancel_leaver(ledger: Ledger, employee_id: str, leave: Leave, *, reason: str) -> str:
    """Cancel the leaver run not yet started for ``leave``; its item ends as superseded. A run
    that has started is left alone (it re-reads HR and stops if the date no longer holds)."""
    key = leaver_key(employee_id, leave)
    item = await asyncio.to_thread(ledger.get_item, LEAVER, key)
    if item is None or item.state != ItemState.PENDING:
        return f"leaver {key}: {item.state if item else 'no item'}, left as it is"
    if item.flow_run_id:
        await _cancel_flow_run(item.flow_run_id, reason)
    await asyncio.to_thread(ledger.update_data, item.id, outcome=f"superseded: {reason}")
    await asyncio.to_thread(ledger.finish_item, item.id, ItemState.DONE)
    log.info("leaver %s superseded: %s", key, reason)
    return f"leaver {key} cancelled"


async def _cancel_flow_run(flow_run_id: str, reason: str) -> None:
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    async with get_client() as client:
        run = await client.read_flow_run(uuid.UUID(flow_run_id))
        if run.state is not None and (run.state.is_scheduled() or run.state.is_pending()):
            await client.set_flow_run_state(run.id, Cancelled(message=reason))


async def start_mover(ledger: Ledger, employee_id: str, move: Move, *, tz: ZoneInfo, start_hour: int,
                      today: date, deployment: str = MOVER_DEPLOYMENT) -> str:
    """The mover's run (on the effective date, if later than today); one per change."""
    key = mover_key(employee_id, move)
    when = start_at(move.effective, tz, start_hour) if move.effective > today else None
    data: dict[str, Any] = {"employee_id": employee_id, "move": move.to_json()}
    item = await asyncio.to_thread(ledger.ensure_item, MOVER, key, data=data,
                                   title=f"Mover: DFØ employee {employee_id}, from {move.effective.isoformat()}")
    run_id = await start_deployment_run(deployment, {"mover_key": key}, key=f"mover:{key}", when=when)
    await asyncio.to_thread(ledger.set_flow_run, item.id, run_id)
    return run_id
