"""Onboarding of a new employee (onboarde nyansatte), started by HR's new-hire event.

HR (DFØ) reports a hire → this flow, once per employee:

1. fetch the employee from HR and validate the data;
2. ensure the personnel file (Personalmappe) in the archive;
3. journal a welcome letter (PDF) to the new employee;
4. ensure the tickets "Create user account" and "Deliver laptop", due on the start date;
5. allocate a free laptop to the employee;
6. e-mail the manager.

Every step is recorded in the ledger; a re-run or a repeated event creates nothing new.
Every change to an employee's record (``dfo:ansatte``) reaches this flow, not only hires:
before an item is opened, a record whose start date lies long past
(:func:`mappings.hire.not_a_new_hire`) ends the run as completed with nothing written — no
item, no dead letter; the employment-changes router handles such changes.
The item is keyed by the canonical employee id (:func:`hub.ports.hr.canonical_employee_id`),
as the catch-up and replay find it. A hire without a Norwegian national id yet (HR's
placeholder and a passport) is onboarded on the passport; the item and the summary say so.

The hires of a burst (an August) come to one run together (``burst``, see
:mod:`hub.dispatch`), each still its own work item, twelve side by side, their steps recorded
in the ledger and not as task runs (:func:`hub.flowkit.each_side_by_side`): a flow run
and nine task runs per hire cost Prefect's server and services more CPU than the archive,
the ticketing system and the mail server spent on the hire itself.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.onboarding_steps import (
    allocate_laptop,
    email_manager,
    ensure_onboarding_tickets,
    ensure_personnel_file,
    fetch_employee,
    journal_welcome_letter,
    publish_summary,
    validate_hire,
)
from hub.errors import HubError
from hub.flowkit import burst_ports, each_side_by_side, work_item
from hub.ports.hr import Employee, canonical_employee_id
from hub.services import burst_run_name
from hub.settings import get_settings
from hub.wiring import build_hr, get_ledger
from mappings.hire import not_a_new_hire

__all__ = ["onboarding"]


async def _requested_at(event_id: str | None) -> datetime | None:
    """Lead time counts from when HR's event reached the hub."""
    if not event_id:
        return None
    event = await asyncio.to_thread(get_ledger().get_event, event_id)
    return event.received_at if event else None


async def _not_a_hire(employee_id: str) -> tuple[str | None, Employee | None]:
    """Why this changed record is no hire to onboard, and HR's record as read to say so.

    No reason if it may be a hire, if the employee was seen by onboarding before (a replay
    goes on as before, and its steps read HR again), or if HR cannot say now (the item's own
    steps read it again, with retries and a dead letter if need be). A new employee's record
    read here is the one the item's first step takes: one read of HR per new hire, as the
    bare client makes."""
    settings = get_settings()
    if await asyncio.to_thread(get_ledger(settings).get_item, "onboarding", employee_id) is not None:
        return None, None
    shared = burst_ports("onboarding")  # a burst's hires: the run's HR client, not one each
    hr = shared.hr if shared is not None else build_hr(settings)
    try:
        employee = await hr.get_employee(employee_id)
    except HubError:
        return None, None
    finally:
        if shared is None:
            await hr.aclose()
    return not_a_new_hire(employee, today=datetime.now(settings.tz).date()), employee


@flow(name="onboarding", flow_run_name=burst_run_name("onboarding", "hires", "employee_id"), log_prints=False)
async def onboarding(employee_id: str | None = None, event_id: str | None = None,
                     burst: list[dict[str, str]] | None = None) -> str | State:
    """Onboard one new employee reported by HR (DFØ), or the hires of a burst (each hire's
    ``employee_id`` and ``event_id``)."""
    if burst:
        return await each_side_by_side(burst, lambda hire: onboard(hire["employee_id"], hire.get("event_id")),
                                       key="employee_id", service="onboarding", what="hires", done="onboarded")
    if not employee_id:
        raise ValueError("onboarding needs employee_id (one hire) or burst (the hires of a burst)")
    return await onboard(employee_id, event_id)


async def onboard(employee_id: str, event_id: str | None) -> str | State:
    """The onboarding of one employee, as its work item."""
    employee_id = canonical_employee_id(employee_id)  # "05001234" and "5001234": one item, one onboarding
    why, read = await _not_a_hire(employee_id)
    if why:
        return Completed(message=f"{why}; nothing written")
    async with work_item("onboarding", employee_id, title=f"Onboarding of DFØ employee {employee_id}",
                         requested_at=await _requested_at(event_id)) as run:
        if run.already_done:  # shown as the run's state message in the Prefect UI
            return Completed(message="already onboarded; nothing new written")
        employee = await fetch_employee(run, employee_id, read=read)
        hire = await validate_hire(run, employee)
        case_file = await ensure_personnel_file(run, hire)
        await journal_welcome_letter(run, hire, case_file)
        tickets = await ensure_onboarding_tickets(run, hire)
        laptop = await allocate_laptop(run, hire, tickets)
        await email_manager(run, hire, case_file, tickets, laptop)
        await publish_summary(run, hire)
    return "onboarded"
